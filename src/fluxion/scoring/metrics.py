"""Scoring denoisers with and without ground truth.

Without ground truth: the unsupervised MSE of a denoised frame f(y) against three noisy
references a, b, c of the same clean image with independent noise,
``uMSE = mean((a - f(y))^2) - mean((b - c)^2) / 2``, which estimates the true MSE for Poisson
(and any independent zero-mean) noise, and ``uPSNR = 10 log10(M^2 / uMSE)``. References come from
neighbouring frames (temporal) or from a random 2x2 sub-sampling of one frame (spatial).
Intervals over test frames are in :mod:`fluxion.scoring.intervals`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.metrics import structural_similarity

from fluxion.errors import ParameterError
from fluxion.movies.io import LazyMovie

__all__ = [
    "SpatialReferences",
    "movie_peak",
    "psnr",
    "spatial_references",
    "ssim",
    "temporal_reference_frames",
    "temporal_references",
    "to_db",
    "umse",
    "upsnr",
]


def _same_shape(*arrays: np.ndarray) -> list[np.ndarray]:
    arrays = [np.asarray(a, np.float64) for a in arrays]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ParameterError(f"the denoised frame and its references must have the same shape, "
                             f"got {[a.shape for a in arrays]}.")
    return arrays


def _select(arrays: list[np.ndarray], mask: np.ndarray | None) -> list[np.ndarray]:
    if mask is None:
        return arrays
    mask = np.asarray(mask, bool)
    if mask.shape != arrays[0].shape[-mask.ndim:]:
        raise ParameterError(f"mask of shape {mask.shape} does not match frames of shape "
                             f"{arrays[0].shape}.")
    if not mask.any():
        raise ParameterError("the region mask selects no pixel.")
    return [a[..., mask] for a in arrays]


def umse(denoised: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, *,
         mask: np.ndarray | None = None) -> float:
    """Unsupervised MSE: mean((a - f)^2) - mean((b - c)^2) / 2 (over ``mask`` if given)."""
    f, a, b, c = _select(_same_shape(denoised, a, b, c), mask)
    return float(np.mean((a - f) ** 2) - np.mean((b - c) ** 2) / 2)


def to_db(mse: float | np.ndarray, peak: float) -> float | np.ndarray:
    """10 log10(peak^2 / mse); +inf when an unsupervised MSE estimate is <= 0 (the denoiser's
    error is below what the references can resolve)."""
    mse = np.asarray(mse, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = np.where(mse > 0, 10 * np.log10(peak**2 / np.where(mse > 0, mse, 1.0)), np.inf)
    return float(db) if db.ndim == 0 else db


def upsnr(denoised: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, *, peak: float,
          mask: np.ndarray | None = None) -> float:
    """Unsupervised PSNR in dB, 10 log10(peak^2 / uMSE); ``peak`` is fixed per movie."""
    return float(to_db(umse(denoised, a, b, c, mask=mask), peak))


def psnr(estimate: np.ndarray, truth: np.ndarray, *, peak: float,
         mask: np.ndarray | None = None) -> float:
    """PSNR in dB against the ground truth."""
    estimate, truth = _select(_same_shape(estimate, truth), mask)
    return float(to_db(np.mean((estimate - truth) ** 2), peak))


def ssim(estimate: np.ndarray, truth: np.ndarray, *, data_range: float) -> float:
    """Structural similarity against the ground truth (scikit-image, Gaussian weights)."""
    estimate, truth = _same_shape(estimate, truth)
    return float(structural_similarity(estimate, truth, data_range=data_range,
                                       gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def movie_peak(movie: np.ndarray | LazyMovie, *, samples: int = 64, smooth: float = 2.0) -> float:
    """The peak M of (u)PSNR: the maximum of the time-averaged movie (up to ``samples`` evenly
    spaced frames) after a ``smooth`` px Gaussian, which keeps the noise of a short average from
    inflating it: about the brightest clean intensity. One value per movie, shared by every
    method."""
    index = np.unique(np.linspace(0, len(movie) - 1, samples).round().astype(int))
    total = np.zeros(movie.shape[1:], np.float64)
    for start in range(0, len(index), 8):  # a few frames at a time: bounded memory
        total += np.asarray(movie[index[start:start + 8]], np.float64).sum(axis=0)
    mean = total / len(index)
    return float(ndimage.gaussian_filter(mean, smooth).max())


def temporal_reference_frames(n_frames: int, t: int, *, exclude: Iterable[int]) -> list[int]:
    """Indices of the three frames nearest to ``t`` (earlier first on ties) outside ``exclude``."""
    excluded = set(exclude) | {t}
    candidates = sorted((i for i in range(n_frames) if i not in excluded),
                        key=lambda i: (abs(i - t), i))
    if len(candidates) < 3:
        raise ParameterError(f"frame {t} of a {n_frames}-frame movie has only {len(candidates)} "
                             "frame(s) outside the method's window; temporal references need "
                             "three.")
    return candidates[:3]


def temporal_references(movie: np.ndarray | LazyMovie, t: int, *,
                        exclude: Iterable[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three nearest frames to ``t`` outside ``exclude`` (the frames a method reads, e.g.
    t-2..t+2 for 5-frame UDVD), as references a (nearest), b, c. Score every method against the
    same references, those outside the widest window, for a fair comparison."""
    index = temporal_reference_frames(len(movie), t, exclude=exclude)
    a, b, c = (np.asarray(movie[i], np.float32) for i in index)
    return a, b, c


@dataclass
class SpatialReferences:
    """Half-size sub-lattices of a movie: ``inputs`` (frames, H/2, W/2) for the method and
    references ``a``, ``b``, ``c`` (H/2, W/2) from the target frame; ``roles`` (H/2, W/2, 4)
    gives, per 2x2 cell, which pixel (0..3 = (0,0), (0,1), (1,0), (1,1)) is input, a, b, c."""

    inputs: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    roles: np.ndarray


def spatial_references(frames: np.ndarray, *, seed: int, target: int | None = None
                       ) -> SpatialReferences:
    """Randomly give the four pixels of every 2x2 cell the roles input, a, b, c.

    ``frames`` are the (T, H, W) frames a method reads (odd H, W lose their last row/column);
    every frame is sub-sampled with the same roles, and a, b, c come from the ``target`` frame
    (default: the middle one).
    """
    frames = np.asarray(frames, np.float32)
    if frames.ndim != 3 or min(frames.shape[1:]) < 2:
        raise ParameterError(f"spatial_references needs (frames, H, W) with H, W >= 2, got "
                             f"{frames.shape}.")
    target = frames.shape[0] // 2 if target is None else target
    t, height, width = frames.shape
    cells = frames[:, : height // 2 * 2, : width // 2 * 2].reshape(
        t, height // 2, 2, width // 2, 2).transpose(0, 1, 3, 2, 4).reshape(
        t, height // 2, width // 2, 4)
    rng = np.random.default_rng(seed)
    roles = rng.permuted(np.broadcast_to(np.arange(4), cells.shape[1:]).copy(), axis=-1)

    def pick(role: int, source: np.ndarray) -> np.ndarray:
        return np.take_along_axis(source, roles[None, ..., role:role + 1], axis=-1)[..., 0]

    inputs = pick(0, cells)
    a, b, c = (pick(r, cells[target:target + 1])[0] for r in (1, 2, 3))
    return SpatialReferences(inputs, a, b, c, roles)
