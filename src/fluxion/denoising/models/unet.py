"""The plain U-Net trained by Neighbor2Neighbor (Huang et al. 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fluxion.denoising.models.base import Denoiser
from fluxion.errors import ParameterError


def _block(a: int, b: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.LeakyReLU(0.1),
                         nn.Conv2d(b, b, 3, padding=1), nn.LeakyReLU(0.1))


class N2NUNet(Denoiser):
    """U-Net with ``depth`` 2x2 poolings, ``width`` channels per level (x2 in the decoder).

    Input is reflect-padded to a multiple of ``2**depth`` and cropped back, so any H x W works.
    """

    frames = 1
    method = "n2n"

    def architecture(self) -> dict:
        return {"width": self.width, "depth": self.depth}

    def __init__(self, width: int = 48, depth: int = 3) -> None:
        super().__init__()
        if depth < 1 or width < 1:
            raise ParameterError(f"N2NUNet needs depth >= 1 and width >= 1, got {depth}, {width}.")
        self.width, self.depth = width, depth
        self.head = _block(1, width)
        self.down = nn.ModuleList(_block(width, width) for _ in range(depth))
        # decoder level i: upsample, concat the skip of the same size, block -> 2 * width
        self.up = nn.ModuleList(_block((2 if i == 0 else 3) * width, 2 * width)
                                for i in range(depth))
        self.tail = nn.Sequential(nn.Conv2d(2 * width, width, 3, padding=1), nn.LeakyReLU(0.1),
                                  nn.Conv2d(width, 1, 1))

    def denoise(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = (-height) % multiple, (-width) % multiple
        mode = "reflect" if min(height, width) > max(pad_h, pad_w) else "replicate"
        y = F.pad(x, (0, pad_w, 0, pad_h), mode=mode) if pad_h or pad_w else x
        skips = [self.head(y)]
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        y = skips.pop()
        for block in self.up:
            y = block(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"),
                                 skips.pop()], 1))
        return self.tail(y)[..., :height, :width]
