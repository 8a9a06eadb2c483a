"""Blind-spot building blocks (Laine et al. 2019; UDVD, Sheth et al. 2021).

Every convolution and pooling sees only the rows above and including its own, so a network
made of them has a receptive field in the upper half-plane. Running the input in its four
rotations, shifting each output down one more row and rotating back gives four half-planes
that together see every input pixel except the output pixel itself: the blind spot.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn


def shift_down(x: torch.Tensor, rows: int = 1) -> torch.Tensor:
    """Shift down by ``rows``: a zero row enters at the top and the last row is dropped."""
    return F.pad(x, (0, 0, rows, 0))[..., : x.shape[-2], :]


class BlindConv(nn.Module):
    """3x3 convolution (no bias) + LeakyReLU(0.1) that sees only rows <= its own."""

    def __init__(self, in_channels: int, out_channels: int, *, activate: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, bias=False)
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One zero row on top, replicate-pad, valid conv: output row r reads rows r-2..r;
        # the extra last row (which would read the padded bottom) is dropped.
        x = F.pad(F.pad(x, (0, 0, 1, 0)), (1, 1, 1, 1), mode="replicate")
        x = self.conv(x)[..., :-1, :]
        return F.leaky_relu(x, 0.1) if self.activate else x


class BlindPool(nn.Module):
    """2x2 max-pooling after a one-row shift, so pooled row i reads rows <= 2i."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(shift_down(x), 2)


def _convs(channels: list[int]) -> nn.Sequential:
    return nn.Sequential(*(BlindConv(a, b) for a, b in itertools.pairwise(channels)))


class BlindUNet(nn.Module):
    """The UDVD blind U-Net: two pooled encoder levels, a bottleneck and two decoder levels.

    Encoder: 3 convs to ``width`` + pool, 3 convs to ``width`` + pool, 3 convs (``2 * width``
    in the middle) to ``width``; decoder: upsample, concat the first level, 4 convs at
    ``2 * width``; upsample, concat the input, 4 convs at ``2 * width`` to ``out_channels``.
    Height and width must be multiples of 4.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int = 48) -> None:
        super().__init__()
        wide = 2 * width
        self.enc0 = _convs([in_channels, width, width, width])
        self.enc1 = _convs([width, width, width, width])
        self.bottleneck = _convs([width, wide, wide, width])
        self.dec1 = _convs([2 * width, wide, wide, wide, wide])
        self.dec0 = _convs([wide + in_channels, wide, wide, wide, out_channels])
        self.pool = BlindPool()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.pool(self.enc0(x))
        y = self.bottleneck(self.pool(self.enc1(skip)))
        y = self.dec1(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), skip], 1))
        return self.dec0(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), x], 1))


def rotations(x: torch.Tensor) -> list[torch.Tensor]:
    """The input rotated by 0, 90, 180 and 270 degrees (in the (H, W) plane)."""
    return [torch.rot90(x, k, dims=(-2, -1)) for k in range(4)]


def derotate(outputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Each rotated branch (rotation k = 0..3) shifted down one row and rotated back."""
    return [torch.rot90(shift_down(y), -k, dims=(-2, -1)) for k, y in enumerate(outputs)]


def unrotate(outputs: list[torch.Tensor]) -> torch.Tensor:
    """The :func:`derotate`-d branches concatenated on channels."""
    return torch.cat(derotate(outputs), dim=1)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Zero-pad the bottom / right to a multiple (zeros carry no information: no leak)."""
    height, width = x.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    return (F.pad(x, (0, pad_w, 0, pad_h)) if pad_h or pad_w else x), (height, width)
