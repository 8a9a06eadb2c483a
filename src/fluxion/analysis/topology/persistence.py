"""Topology of nanoparticle images: H0 cubical persistence, ALPS, ALPS*, persistent entropy.

Each frame is smoothed with a Gaussian (sigma = 2 px), its 0-dimensional sublevel-set
persistence is computed with 8-connectivity (pixels as top-dimensional cells, as gudhi's
``CubicalComplex(top_dimensional_cells=...)``), and the points born inside a polygon around the
particle are summarised by the ALPS statistic; its standardized form
ALPS* = (ALPS - beta0) / (beta1 ln n) is ~1 for noise, >= 1.3 for ordered, <= 1.1 for
disordered structure, with beta0, beta1 calibrated on the movie's own vacuum. The compiled
work is in :mod:`fluxion.analysis.topology.kernels`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fluxion.analysis.topology.kernels import gaussian_kernel, smooth_into, workspace
from fluxion.errors import ParameterError
from fluxion.movies.io import LazyMovie
from fluxion.movies.regions import polygon_mask, validate_polygon

__all__ = [
    "REFERENCE_BETA0",
    "REFERENCE_BETA1",
    "alps",
    "alps_from_lifetimes",
    "calibrate_alps",
    "fit_alps_scaling",
    "persistence_diagram",
    "persistent_entropy",
    "smooth",
    "standardize_frames",
    "standardized_alps",
    "vacuum_square_alps",
]

REFERENCE_BETA0, REFERENCE_BETA1 = -5.08, 0.705


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2 or min(image.shape) < 2:
        raise ParameterError(f"topology needs a 2-D image of at least 2x2 pixels, got shape "
                             f"{image.shape}.")
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise ParameterError(f"topology needs a real-valued image, got {image.dtype}.")
    image = np.ascontiguousarray(image, dtype=np.float64)
    if not math.isfinite(float(image.sum())) and not np.isfinite(image).all():  # sum: fast path
        raise ParameterError("the image holds NaN or infinite values; persistence is undefined.")
    return image


def polygon_region(polygon: Any, shape: tuple[int, int]) -> np.ndarray | None:
    if polygon is None:
        return None
    validate_polygon(polygon, shape, name="polygon")
    return polygon_mask(polygon, shape)


def standardize_frames(frames: np.ndarray, *, invert: bool = False) -> np.ndarray:
    """Each frame to mean 0 and standard deviation 1 (detectda's ``std_video``), negated when
    ``invert`` (bright atomic columns become minima). Makes ALPS independent of the dose."""
    frames = np.asarray(frames, np.float64)
    mean = frames.mean(axis=(-2, -1), keepdims=True)
    std = frames.std(axis=(-2, -1), keepdims=True)
    if np.any(std == 0):
        raise ParameterError("a frame is constant; it cannot be standardized.")
    return (-1.0 if invert else 1.0) * (frames - mean) / std


def smooth(image: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """``skimage.filters.gaussian(image, sigma, preserve_range=True)`` in float64, bit for bit,
    compiled."""
    image = _check_image(image)
    if sigma <= 0:
        return image.copy()
    work = workspace(image.shape)
    smooth_into(image, gaussian_kernel(sigma), work.smoothed)
    return work.smoothed.copy()


def persistence_diagram(image: np.ndarray, *, sigma: float = 2.0,
                        polygon: Sequence[Sequence[float]] | np.ndarray | None = None,
                        ) -> np.ndarray:
    """H0 sublevel-set persistence of the smoothed image, 8-connectivity.

    Returns (k, 4): birth, death, and the (x, y) = (column, row) of the birth pixel (the local
    minimum). The one infinite bar gets death = the maximum of the smoothed image; zero-length
    bars (plateaus) are dropped. With a polygon of (x, y) vertices, only points born strictly
    inside it are kept. ``sigma=0`` skips the smoothing.
    """
    image = _check_image(image)
    if sigma < 0:
        raise ParameterError(f"sigma must be >= 0, got {sigma}.")
    return workspace(image.shape).diagram(image, sigma, polygon_region(polygon, image.shape))


def alps_from_lifetimes(lifetimes: Sequence[float] | np.ndarray) -> float:
    """ALPS: the area under t -> ln #{lifetimes >= t}.

    With lifetimes sorted ascending and l_(0) = 0, ALPS = sum_i (l_(i) - l_(i-1)) ln #{j : l_j >=
    l_(i)}. Tied lifetimes all count at their value, which detectda's ``alps`` (summing over
    unique values) does not: for [1, 2, 2] it gives ln 3, the true area is ln 3 + ln 2.
    """
    values = np.sort(np.asarray(lifetimes, np.float64))
    if values.size == 0:
        raise ParameterError("ALPS needs at least one persistence point; the region holds none "
                             "(is the polygon around the particle?).")
    if values[0] < 0:
        raise ParameterError("lifetimes must be >= 0.")
    at_least = values.size - np.searchsorted(values, values, side="left")
    steps = np.diff(values, prepend=0.0)
    return float(np.sum(steps * np.log(at_least)))


def alps(image: np.ndarray, *, sigma: float = 2.0,
         polygon: Sequence[Sequence[float]] | np.ndarray | None = None) -> float:
    """ALPS statistic of the points born inside ``polygon`` (see :func:`alps_from_lifetimes`)."""
    diagram = persistence_diagram(image, sigma=sigma, polygon=polygon)
    return alps_from_lifetimes(diagram[:, 1] - diagram[:, 0])


def _region_pixels(shape: tuple[int, int], polygon) -> int:
    return int(shape[0] * shape[1] if polygon is None else polygon_region(polygon, shape).sum())


def standardized_alps(image: np.ndarray, *, sigma: float = 2.0,
                      polygon: Sequence[Sequence[float]] | np.ndarray | None = None,
                      beta0: float = REFERENCE_BETA0, beta1: float = REFERENCE_BETA1) -> float:
    """ALPS* = (ALPS - beta0) / (beta1 ln n), n = pixels in the region (polygon or image).

    The reference betas (-5.08, 0.705) belong to the reference data and processing; calibrate
    your own with :func:`calibrate_alps`.
    """
    image = _check_image(image)
    n = _region_pixels(image.shape, polygon)
    return alps_star_value(alps(image, sigma=sigma, polygon=polygon), n, beta0, beta1)


def alps_star_value(value: float, n: int, beta0: float, beta1: float) -> float:
    if n < 2 or beta1 == 0:
        raise ParameterError(f"ALPS* needs a region of >= 2 pixels and beta1 != 0 (n = {n}, "
                             f"beta1 = {beta1}).")
    return float((value - beta0) / (beta1 * math.log(n)))


def lifetime_entropy(lifetimes: np.ndarray) -> float:
    lifetimes = lifetimes[lifetimes > 0]
    if lifetimes.size == 0:
        raise ParameterError("persistent entropy needs at least one positive lifetime.")
    p = lifetimes / lifetimes.sum()
    return float(-np.sum(p * np.log(p)))


def persistent_entropy(image: np.ndarray, *, sigma: float = 2.0,
                       polygon: Sequence[Sequence[float]] | np.ndarray | None = None) -> float:
    """Shannon entropy of the normalised lifetimes of the points born inside ``polygon``."""
    diagram = persistence_diagram(image, sigma=sigma, polygon=polygon)
    return lifetime_entropy(diagram[:, 1] - diagram[:, 0])


def _vacuum_squares(shape: tuple[int, int], within: tuple[slice, slice] | None,
                    sizes: Sequence[int] | None) -> list[np.ndarray]:
    """Masks of centred s x s squares inside ``within`` (default: the whole frame)."""
    rows, cols = within or (slice(0, shape[0]), slice(0, shape[1]))
    height, width = rows.stop - rows.start, cols.stop - cols.start
    side = min(height, width)
    if sizes is None:
        sizes = sorted({int(s) for s in np.geomspace(12, side - 2, 5)})
    sizes = [int(s) for s in sizes if 6 <= s <= side]
    if len(sizes) < 2:
        raise ParameterError(f"calibration needs at least two region sizes between 6 and the "
                             f"vacuum size {side} px; the vacuum region is too small.")
    squares = []
    for s in sizes:
        y0, x0 = rows.start + (height - s) / 2, cols.start + (width - s) / 2
        squares.append(polygon_mask([[x0 - 0.5, y0 - 0.5], [x0 + s - 0.5, y0 - 0.5],
                                     [x0 + s - 0.5, y0 + s - 0.5], [x0 - 0.5, y0 + s - 0.5]],
                                    shape))
    return squares


def vacuum_square_alps(frames: np.ndarray | LazyMovie, *, sigma: float = 2.0,
                       within: tuple[slice, slice] | None = None,
                       sizes: Sequence[int] | None = None) -> np.ndarray:
    """(n pixels, ALPS) of centred vacuum squares of several sizes inside ``within`` in every
    frame. Each whole frame is smoothed, exactly as scoring smooths it, and only points born
    inside a square count."""
    frames = np.asarray(frames, np.float64)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3:
        raise ParameterError(f"calibrating ALPS needs (frames, H, W) images, got "
                             f"{frames.shape}.")
    work = workspace(frames.shape[1:])
    rows = []
    for region in _vacuum_squares(frames.shape[1:], within, sizes):
        n = int(region.sum())
        for frame in frames:
            diagram = work.diagram(frame, sigma, region)
            if len(diagram):
                rows.append((n, alps_from_lifetimes(diagram[:, 1] - diagram[:, 0])))
    return np.array(rows, np.float64).reshape(-1, 2)


def calibrate_alps(frames: np.ndarray | LazyMovie, *, sizes: Sequence[int] | None = None,
                   sigma: float = 2.0, within: tuple[slice, slice] | None = None,
                   ) -> tuple[float, float, float]:
    """Fit ALPS = beta0 + beta1 ln n on vacuum squares of several sizes
    (:func:`vacuum_square_alps`; ``within`` is the vacuum part of the frames, default all of
    it), n = a square's pixel count. Returns (beta0, beta1, r2); beta1 must come out > 0."""
    rows = vacuum_square_alps(frames, sigma=sigma, within=within, sizes=sizes)
    if len(np.unique(rows[:, 0])) < 2:
        raise ParameterError("the vacuum frames hold no persistence points to calibrate on "
                             "(a perfectly flat vacuum?); give topology.beta0 and beta1 instead.")
    beta0, beta1, r2 = fit_alps_scaling(rows[:, 0], rows[:, 1])
    if not beta1 > 0:
        raise ParameterError(f"ALPS does not grow with region size in this vacuum (beta1 = "
                             f"{beta1:.3g}, r2 = {r2:.2f}): ALPS* cannot be calibrated on it. "
                             "Check the vacuum mask (a sidecar vacuum_box), or give "
                             "topology.beta0 and beta1.")
    return beta0, beta1, r2


def fit_alps_scaling(n_pixels: Sequence[float] | np.ndarray,
                     alps_values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """Least-squares fit of ALPS = beta0 + beta1 ln n; returns (beta0, beta1, r2)."""
    x = np.log(np.asarray(n_pixels, np.float64))
    y = np.asarray(alps_values, np.float64)
    if x.size < 2 or np.ptp(x) == 0:
        raise ParameterError("fitting ALPS against ln n needs regions of at least two sizes.")
    beta1, beta0 = np.polyfit(x, y, 1)
    residual = y - (beta0 + beta1 * x)
    r2 = 1 - residual.var() / y.var() if y.var() > 0 else 0.0
    return float(beta0), float(beta1), float(r2)

