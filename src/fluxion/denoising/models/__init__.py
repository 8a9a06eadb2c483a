"""Denoisers: UDVD (5-frame and single-frame), the Neighbor2Neighbor U-Net, a Gaussian filter.

All take (batch, frames, H, W) float counts and return (batch, 1, H, W) for any H, W.
"""

from __future__ import annotations

from fluxion.denoising.models.base import Denoiser
from fluxion.denoising.models.udvd import UDVD, GaussianDenoiser
from fluxion.denoising.models.unet import N2NUNet

__all__ = ["UDVD", "Denoiser", "GaussianDenoiser", "N2NUNet", "build_model"]



def build_model(method: str, **architecture) -> Denoiser:
    """Build a denoiser by method name (see :func:`fluxion.denoising.methods.build_model`)."""
    from fluxion.denoising.methods import build_model as build  # the registry imports us

    return build(method, **architecture)
