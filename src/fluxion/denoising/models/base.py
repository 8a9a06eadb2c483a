"""What every denoiser shares: the (B, frames, H, W) -> (B, 1, H, W) contract and count scaling."""

from __future__ import annotations

import torch
from torch import nn

from fluxion.errors import ParameterError


class Denoiser(nn.Module):
    """Base class: subclasses set ``frames`` and implement :meth:`denoise` on scaled input.

    The movie's mean and standard deviation are buffers (saved with the weights), so a trained
    model maps raw counts to denoised counts: ``forward`` scales its input by them, calls
    :meth:`denoise` and scales the result back.
    """

    frames: int = 1
    method: str = ""

    def architecture(self) -> dict:
        """The constructor keywords that rebuild this network (see ``build_model``)."""
        return {}

    @property
    def spec(self) -> dict:
        """Method name and architecture: enough to rebuild the module before loading weights."""
        return {"method": self.method, "architecture": self.architecture()}

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("count_mean", torch.tensor(0.0))
        self.register_buffer("count_std", torch.tensor(1.0))

    def self_weight(self) -> float | None:
        """d f_i / d y_i, the output pixel's derivative by the same pixel of the target frame,
        when the architecture fixes it (0 through a blind spot, the centre tap of a linear
        filter); None when it must be estimated (see :mod:`fluxion.scoring.risk`)."""
        return None

    def set_count_scale(self, mean: float, std: float) -> None:
        """Record the movie's count mean and std (std must be > 0)."""
        if not std > 0:
            raise ParameterError(f"count std must be > 0, got {std}; is the movie constant?")
        self.count_mean.fill_(float(mean))
        self.count_std.fill_(float(std))

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a clear error for a wrong rank, dtype or number of frames (no device sync)."""
        if not isinstance(x, torch.Tensor):
            raise ParameterError(f"{type(self).__name__} takes a torch.Tensor, got {type(x)}.")
        if x.ndim != 4:
            raise ParameterError(f"{type(self).__name__} takes (batch, frames, height, width), "
                                 f"got a tensor of shape {tuple(x.shape)}.")
        if x.shape[1] != self.frames:
            raise ParameterError(f"{type(self).__name__} reads {self.frames} frame(s) per output "
                                 f"frame, got {x.shape[1]} (shape {tuple(x.shape)}).")
        if not x.is_floating_point():
            raise ParameterError(f"{type(self).__name__} takes floating-point counts, got "
                                 f"{x.dtype}; convert with .float().")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        scaled = (x - self.count_mean) / self.count_std
        return self.denoise(scaled) * self.count_std + self.count_mean

    def denoise(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError
