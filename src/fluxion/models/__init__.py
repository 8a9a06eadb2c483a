"""Denoisers: UDVD (5-frame and single-frame), the Neighbor2Neighbor U-Net, a Gaussian filter.

All take (batch, frames, H, W) float counts and return (batch, 1, H, W) for any H, W.
"""

from __future__ import annotations

from typing import Any

from fluxion.errors import ParameterError
from fluxion.models.base import Denoiser
from fluxion.models.udvd import UDVD, GaussianDenoiser
from fluxion.models.unet import N2NUNet

__all__ = ["METHODS", "UDVD", "Denoiser", "GaussianDenoiser", "N2NUNet", "build_model"]

# method name -> (class, how it is trained)
METHODS: dict[str, tuple[type[Denoiser], str]] = {
    "udvd": (UDVD, "blind-spot"),
    "udvd-single": (UDVD, "blind-spot"),
    "n2n": (N2NUNet, "neighbor2neighbor"),
    "gaussian": (GaussianDenoiser, "none"),
}


def build_model(method: str, **architecture: Any) -> Denoiser:
    """Build a denoiser by method name with its architecture keywords.

    ``udvd`` defaults to 5 frames and ``udvd-single`` to 1; ``n2n`` takes ``width`` and
    ``depth``; ``gaussian`` takes ``sigma``.
    """
    if method not in METHODS:
        raise ParameterError(f"unknown denoising method {method!r}; choose one of "
                             f"{', '.join(METHODS)}.")
    cls = METHODS[method][0]
    if method == "udvd-single":
        architecture = {**architecture, "frames": 1}
    try:
        return cls(**architecture)
    except TypeError as error:
        raise ParameterError(f"method {method!r}: bad architecture parameters {architecture} "
                             f"({error}).") from error
