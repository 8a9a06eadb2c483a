"""UDVD: the unsupervised deep video denoiser (Sheth et al. 2021), 5 frames in, middle out.

A shared first-stage blind U-Net reads each frame triplet (t-2, t-1, t), (t-1, t, t+1),
(t, t+1, t+2); their features, concatenated, feed a second-stage blind U-Net. Everything runs
on the four rotations of the input; the rotated outputs are shifted, rotated back and fused by
1x1 convolutions, so output pixel (i, j) never reads input pixel (i, j) of any frame.
``frames=1`` gives the single-frame variant: the same blind-spot network on one frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fluxion.denoising.models.base import Denoiser
from fluxion.denoising.models.blind import BlindUNet, pad_to_multiple, unrotate
from fluxion.errors import ParameterError


class UDVD(Denoiser):
    """Blind-spot video denoiser.

    Parameters
    ----------
    frames
        Odd number of input frames; 5 as published, 1 for the single-frame variant.
    width
        Base width of the blind U-Nets (48 as published; the CPU demo uses ~16).
        Their inner width, the second stage's output and the fusion head scale with it.
    triplet_channels
        Output channels of the first stage per triplet (32 as published).
    """

    def __init__(self, frames: int = 5, width: int = 48, triplet_channels: int = 32) -> None:
        super().__init__()
        if frames < 1 or frames % 2 == 0:
            raise ParameterError(f"UDVD frames must be odd (1, 3, 5, ...), got {frames}.")
        self.frames = frames
        self.method = "udvd" if frames > 1 else "udvd-single"
        self.width = width
        self.triplet_channels = triplet_channels
        wide = 2 * width
        if frames == 1:
            self.first = None
            self.second = BlindUNet(1, wide, width)
        else:
            self.first = BlindUNet(3, triplet_channels, width)
            self.second = BlindUNet(triplet_channels * (frames - 2), wide, width)
        fused = 4 * wide
        self.fusion = nn.Sequential(
            nn.Conv2d(fused, fused, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(fused, wide, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(wide, 1, 1),
        )

    def architecture(self) -> dict:
        return {"frames": self.frames, "width": self.width,
                "triplet_channels": self.triplet_channels}

    def self_weight(self) -> float:
        """0: no output pixel reads its own input pixel (the blind spot)."""
        return 0.0

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The upper-half-plane network on (N, frames, H, W): one rotation's features."""
        if self.first is None:
            return self.second(x)
        return self.second(self.second_stage_input(self.first_stage(x)))

    def first_stage(self, x: torch.Tensor) -> torch.Tensor:
        """First-stage features of every triplet, stacked on the batch axis (triplet-major)."""
        triplets = [x[:, i:i + 3] for i in range(self.frames - 2)]
        return self.first(torch.cat(triplets, dim=0))

    def second_stage_input(self, features: torch.Tensor) -> torch.Tensor:
        """Concatenate per-triplet features (triplet-major batch) on the channel axis."""
        return torch.cat(features.chunk(self.frames - 2, dim=0), dim=1)

    def rotation_batches(self, x: torch.Tensor) -> list[tuple[tuple[int, ...], torch.Tensor]]:
        """The four rotations of x batched by shape: one batch for square frames, else
        0/180 and 90/270 degrees. Returns (rotations, batch) pairs."""
        if x.shape[-2] == x.shape[-1]:
            ks: list[tuple[int, ...]] = [(0, 1, 2, 3)]
        else:
            ks = [(0, 2), (1, 3)]
        return [(group, torch.cat([torch.rot90(x, k, dims=(-2, -1)) for k in group], dim=0))
                for group in ks]

    def fuse(self, groups: list[tuple[int, ...]], outputs: list[torch.Tensor]) -> torch.Tensor:
        """Shift, de-rotate and fuse the rotated branch outputs (batched as in
        :meth:`rotation_batches`) into one frame."""
        branches = {}
        for group, out in zip(groups, outputs, strict=True):
            branches.update(zip(group, out.chunk(len(group), dim=0), strict=True))
        return self.fusion(unrotate([branches[k] for k in range(4)]))

    def denoise(self, x: torch.Tensor) -> torch.Tensor:
        x, (height, width) = pad_to_multiple(x, 4)
        batches = self.rotation_batches(x)
        outputs = [self.branch(batch) for _, batch in batches]
        return self.fuse([group for group, _ in batches], outputs)[..., :height, :width]


class GaussianDenoiser(Denoiser):
    """The classical baseline: a Gaussian filter (sigma in pixels) behind the denoiser interface."""

    frames = 1
    method = "gaussian"

    def architecture(self) -> dict:
        return {"sigma": self.sigma}

    def self_weight(self) -> float:
        """The filter's centre weight (away from the frame's edges)."""
        centre = float(self.kernel[self.kernel.numel() // 2])
        return centre * centre

    def __init__(self, sigma: float = 2.0) -> None:
        super().__init__()
        if not sigma > 0:
            raise ParameterError(f"Gaussian sigma must be > 0 pixels, got {sigma}.")
        self.sigma = float(sigma)
        radius = int(4 * sigma + 0.5)
        taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
        kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
        self.register_buffer("kernel", kernel / kernel.sum())

    def denoise(self, x: torch.Tensor) -> torch.Tensor:
        radius = self.kernel.numel() // 2
        mode = "reflect" if min(x.shape[-2:]) > radius else "replicate"
        k = self.kernel.to(x.dtype)
        x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode=mode), k.view(1, 1, 1, -1))
        return F.conv2d(F.pad(x, (0, 0, radius, radius), mode=mode), k.view(1, 1, -1, 1))
