"""Topology of nanoparticle images: H0 cubical persistence, ALPS, ALPS*, persistent entropy.

Each frame is smoothed with a Gaussian (sigma = 2 px), its 0-dimensional sublevel-set
persistence is computed with 8-connectivity (pixels as top-dimensional cells, as gudhi's
``CubicalComplex(top_dimensional_cells=...)``), and the points born inside a polygon around the
particle are summarised by the ALPS statistic; its standardized form
ALPS* = (ALPS - beta0) / (beta1 ln n) is ~1 for noise, >= 1.3 for ordered, <= 1.1 for
disordered structure, with beta0, beta1 calibrated on the movie's own vacuum.

Speed: a component can only merge at a pixel whose lower 8-neighbours fall into two or more
separate groups of its 3x3 ring (a 256-entry table says how many). One branch-free pass finds
every pixel's lower-neighbour mask and those merge pixels, a few percent of a smoothed frame;
only they are sorted and run through a union-find over the minima that one member of each
group drains to (along descending paths, compressed as they are found), with the elder rule.
Smoothing is a compiled separable filter with scikit-image's
``gaussian(..., preserve_range=True)`` semantics (nearest edges, 4 sigma truncation, float64).
Frames of a series run in parallel threads (numba releases the GIL), each thread reusing its
buffers; a Dask cluster takes the series when one is given.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import pandas as pd

from fluxion.errors import ParameterError
from fluxion.io import LazyMovie
from fluxion.progress import progress
from fluxion.regions import polygon_mask, validate_polygon

__all__ = [
    "alps",
    "alps_from_lifetimes",
    "alps_series",
    "calibrate_alps",
    "fit_alps_scaling",
    "persistence_diagram",
    "persistent_entropy",
    "smooth",
    "standardize_frames",
    "standardized_alps",
]

REFERENCE_BETA0, REFERENCE_BETA1 = -5.08, 0.705


# --------------------------------------------------------------------------------------------
# Compiled kernels
# --------------------------------------------------------------------------------------------
def _gaussian_kernel(sigma: float) -> np.ndarray:
    """scipy.ndimage's 1-D Gaussian: radius int(4 sigma + 0.5), normalised weights."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * x**2)
    return weights / weights.sum()


@numba.njit(cache=True, nogil=True)
def _smooth_into(image, kernel, scratch, out):  # pragma: no cover - compiled
    """Separable convolution with 'nearest' edges, along rows then columns as scipy does.

    Loops run tap-outer / pixel-inner over contiguous memory so they vectorise.
    """
    height, width = image.shape
    radius = kernel.shape[0] // 2
    for r in range(height):  # axis 0: a weighted sum of whole (clamped) rows
        accumulated = scratch[r]
        accumulated[:] = 0.0
        for k in range(-radius, radius + 1):
            source = image[min(max(r + k, 0), height - 1)]
            w = kernel[k + radius]
            for c in range(width):
                accumulated[c] += w * source[c]
    line = np.empty(width + 2 * radius)
    total = np.empty(width)
    for r in range(height):  # axis 1: each row padded with its edge values
        for c in range(width + 2 * radius):
            line[c] = scratch[r, min(max(c - radius, 0), width - 1)]
        total[:] = 0.0
        for k in range(2 * radius + 1):
            w = kernel[k]
            for c in range(width):
                total[c] += w * line[c + k]
        out[r, :] = total


_RING = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]  # by offset


def _ring_groups() -> np.ndarray:
    """For each subset (bit mask) of the 8 neighbours: how many 8-connected groups it forms
    (column 8) and each member's group number (columns 0-7, -1 for non-members).

    A pixel whose lower neighbours form a single group joins one component and merges
    nothing; only pixels with two or more groups can merge components, and one member per
    group is enough to find the components involved.
    """
    table = np.full((256, 9), -1, np.int64)
    for mask in range(256):
        members = [i for i in range(8) if mask >> i & 1]
        parent = {i: i for i in members}

        def find(i: int, parent: dict[int, int] = parent) -> int:
            while parent[i] != i:
                i = parent[i]
            return i

        for i in members:
            for j in members:
                (a, b), (c, d) = _RING[i], _RING[j]
                if i < j and max(abs(a - c), abs(b - d)) == 1:
                    parent[find(i)] = find(j)
        roots = sorted({find(i) for i in members})
        for i in members:
            table[mask, i] = roots.index(find(i))
        table[mask, 8] = len(roots)
    return table


RING_GROUPS = _ring_groups()
FIRST_LOWER = np.array([(m & -m).bit_length() - 1 if m else 0 for m in range(256)], np.int64)


@numba.njit(cache=True, nogil=True, inline="always")
def _root(descent, x):  # pragma: no cover - compiled
    """The minimum a pixel drains to, halving the descent path on the way."""
    while descent[x] != x:
        descent[x] = descent[descent[x]]
        x = descent[x]
    return x


@numba.njit(cache=True, nogil=True)
def _h0(values, height, width, groups, first_lower, lower_mask, descent, minimum_id, path, uf,
        minimum_pixel, minimum_value, births, deaths, where):  # pragma: no cover - compiled
    """H0 sublevel persistence, 8-connectivity, of an image stored with a one-pixel +inf border.

    ``values`` is the flattened (height + 2) x (width + 2) padded image, so every real pixel has
    eight neighbours and no bounds checks are needed (the border is never lower than a pixel).
    Pixels are totally ordered by value, ties by index. Fills births / deaths / where (padded
    index of the birth pixel) and returns the number of points: the finite pairs with positive
    lifetime, then the infinite bar.
    """
    stride = width + 2
    offsets = np.array([-stride - 1, -stride, -stride + 1, -1, 1, stride - 1, stride,
                        stride + 1])
    # 1. one branch-free raster pass: which neighbours are lower (a bit mask); a pixel whose
    #    lower neighbours form two or more separate groups of its 3x3 ring may merge
    #    components. Also the global minimum and maximum.
    count = 0
    lowest = stride + 1
    highest = values[lowest]
    for r in range(1, height + 1):
        for p in range(r * stride + 1, r * stride + width + 1):
            value = values[p]
            mask = (np.int64(values[p - stride - 1] <= value)
                    | np.int64(values[p - stride] <= value) << 1
                    | np.int64(values[p - stride + 1] <= value) << 2
                    | np.int64(values[p - 1] <= value) << 3
                    | np.int64(values[p + 1] < value) << 4
                    | np.int64(values[p + stride - 1] < value) << 5
                    | np.int64(values[p + stride] < value) << 6
                    | np.int64(values[p + stride + 1] < value) << 7)
            lower_mask[p] = mask
            if groups[mask, 8] >= 2:
                path[count] = p
                count += 1
            if value < values[lowest]:
                lowest = p
            if value > highest:
                highest = value
    # 2. in raster order (cache friendly), the minimum that one member of each lower group
    #    drains to: follow a descending path (each pixel's first lower neighbour), computed
    #    on demand and compressed. Any descending path ends in the pixel's component: every
    #    pixel on it is lower, so the path exists from the pixel's entry time on.
    descent[:] = -1
    minima = 0
    neighbour_roots = np.full(4 * count, -1, np.int64)  # one per ring group (at most 4)
    candidate_value = np.empty(count)
    trail = np.empty(64, np.int64)
    for k in range(count):
        p = path[k]
        candidate_value[k] = values[p]
        group = groups[lower_mask[p]]
        for i in range(8):
            g = group[i]
            if g < 0 or neighbour_roots[4 * k + g] >= 0:
                continue
            x = p + offsets[i]
            steps = 0
            while True:
                d = descent[x]
                if d < 0:  # any lower neighbour leads to the same component: take the first
                    d = x + offsets[first_lower[lower_mask[x]]] if lower_mask[x] else x
                    descent[x] = d
                if d == x:
                    break
                if steps == trail.shape[0]:
                    trail = np.concatenate((trail, np.empty(steps, np.int64)))
                trail[steps] = x
                steps += 1
                x = d
            for j in range(steps):
                descent[trail[j]] = x
            known = minimum_id[x]
            if known < 0 or known >= minima or minimum_pixel[known] != x:  # stale: a new one
                minimum_id[x] = minima
                minimum_pixel[minima] = x
                minimum_value[minima] = values[x]
                minima += 1
            neighbour_roots[4 * k + g] = minimum_id[x]
    for m in range(minima):
        uf[m] = m
    # 3. candidates in filtration order: union-find over minima with the elder rule
    order = np.argsort(candidate_value, kind="mergesort")  # stable: ties by index
    pairs = 0
    for k in order:
        value = candidate_value[k]
        b = -1
        for i in range(4):
            a = neighbour_roots[4 * k + i]
            if a < 0:
                continue
            while uf[a] != a:
                uf[a] = uf[uf[a]]
                a = uf[a]
            if b < 0:
                b = a
                continue
            if a == b:
                continue
            va, vb = minimum_value[a], minimum_value[b]
            pa, pb = minimum_pixel[a], minimum_pixel[b]
            if va < vb or (va == vb and pa < pb):
                a, b, va, pa = b, a, vb, pb  # b is the elder: it survives
            uf[a] = b
            if value > va:
                births[pairs] = va
                deaths[pairs] = value
                where[pairs] = pa
                pairs += 1
    # 4. the infinite bar: the global minimum, dying at the image maximum
    births[pairs] = values[lowest]
    deaths[pairs] = highest
    where[pairs] = lowest
    return pairs + 1


class _Workspace:
    """Buffers for one frame size, reused across the frames a worker processes (see
    :func:`_workspace`)."""

    def __init__(self, shape: tuple[int, int]) -> None:
        height, width = shape
        n = (height + 2) * (width + 2)
        self.shape = shape
        self.scratch = np.empty(shape, np.float64)
        self.padded = np.full((height + 2, width + 2), np.inf)
        self.smoothed = self.padded[1:-1, 1:-1]  # a view: smoothing writes into the padding
        self.descent = np.empty(n, np.int32)  # half the memory traffic of int64
        self.lower_mask = np.zeros(n, np.uint8)
        self.minimum_id = np.full(n, -1, np.int64)  # validated by minimum_pixel on reuse
        self.path = np.empty(n, np.int64)
        self.uf = np.empty(n, np.int64)
        self.minimum_pixel = np.empty(n, np.int64)
        self.minimum_value = np.empty(n, np.float64)
        self.births = np.empty(height * width, np.float64)
        self.deaths = np.empty(height * width, np.float64)
        self.where = np.empty(height * width, np.int64)

    def diagram(self, image: np.ndarray, sigma: float,
                region: np.ndarray | None) -> np.ndarray:
        if sigma > 0:
            _smooth_into(image, _gaussian_kernel(sigma), self.scratch, self.smoothed)
        else:
            self.smoothed[...] = image
        height, width = self.shape
        k = _h0(self.padded.ravel(), height, width, RING_GROUPS, FIRST_LOWER, self.lower_mask,
                self.descent, self.minimum_id,
                self.path, self.uf, self.minimum_pixel, self.minimum_value, self.births,
                self.deaths, self.where)
        rows, cols = np.divmod(self.where[:k], width + 2)
        rows, cols = rows - 1, cols - 1
        diagram = np.column_stack([self.births[:k], self.deaths[:k], cols, rows])
        if region is not None:
            diagram = diagram[region[rows, cols]]
        return diagram


_local = threading.local()


def _workspace(shape: tuple[int, int]) -> _Workspace:
    """This thread's workspace for frames of ``shape`` (allocated once, then reused)."""
    cached = getattr(_local, "workspace", None)
    if cached is None or cached.shape != tuple(shape):
        cached = _local.workspace = _Workspace(tuple(shape))
    return cached


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------
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


def _region(polygon: Any, shape: tuple[int, int]) -> np.ndarray | None:
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
    """``skimage.filters.gaussian(image, sigma, preserve_range=True)`` in float64, compiled."""
    image = _check_image(image)
    if sigma <= 0:
        return image.copy()
    work = _workspace(image.shape)
    _smooth_into(image, _gaussian_kernel(sigma), work.scratch, work.smoothed)
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
    return _workspace(image.shape).diagram(image, sigma, _region(polygon, image.shape))


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
    return int(shape[0] * shape[1] if polygon is None else _region(polygon, shape).sum())


def standardized_alps(image: np.ndarray, *, sigma: float = 2.0,
                      polygon: Sequence[Sequence[float]] | np.ndarray | None = None,
                      beta0: float = REFERENCE_BETA0, beta1: float = REFERENCE_BETA1) -> float:
    """ALPS* = (ALPS - beta0) / (beta1 ln n), n = pixels in the region (polygon or image).

    The reference betas (-5.08, 0.705) belong to the reference data and processing; calibrate
    your own with :func:`calibrate_alps`.
    """
    image = _check_image(image)
    n = _region_pixels(image.shape, polygon)
    return _standardize(alps(image, sigma=sigma, polygon=polygon), n, beta0, beta1)


def _standardize(value: float, n: int, beta0: float, beta1: float) -> float:
    if n < 2 or beta1 == 0:
        raise ParameterError(f"ALPS* needs a region of >= 2 pixels and beta1 != 0 (n = {n}, "
                             f"beta1 = {beta1}).")
    return float((value - beta0) / (beta1 * math.log(n)))


def _entropy(lifetimes: np.ndarray) -> float:
    lifetimes = lifetimes[lifetimes > 0]
    if lifetimes.size == 0:
        raise ParameterError("persistent entropy needs at least one positive lifetime.")
    p = lifetimes / lifetimes.sum()
    return float(-np.sum(p * np.log(p)))


def persistent_entropy(image: np.ndarray, *, sigma: float = 2.0,
                       polygon: Sequence[Sequence[float]] | np.ndarray | None = None) -> float:
    """Shannon entropy of the normalised lifetimes of the points born inside ``polygon``."""
    diagram = persistence_diagram(image, sigma=sigma, polygon=polygon)
    return _entropy(diagram[:, 1] - diagram[:, 0])


def calibrate_alps(vacuum_frames: np.ndarray | LazyMovie, *,
                   sizes: Sequence[int] | None = None, sigma: float = 2.0,
                   ) -> tuple[float, float, float]:
    """Fit ALPS = beta0 + beta1 ln n on square vacuum regions of several sizes.

    ``vacuum_frames`` are (T, H, W) images of vacuum only (e.g. the largest vacuum square of
    each frame). For every frame and size s a centred s x s square region is scored (the whole
    frame is smoothed, only points born inside count), n = its pixel count. Returns
    (beta0, beta1, r2) of the least-squares fit.
    """
    frames = np.asarray(vacuum_frames, np.float64)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3:
        raise ParameterError(f"calibrate_alps needs (frames, H, W) vacuum images, got "
                             f"{frames.shape}.")
    side = min(frames.shape[1:])
    if sizes is None:
        sizes = sorted({int(s) for s in np.geomspace(12, side - 2, 5)})
    sizes = [int(s) for s in sizes if 6 <= s <= side]
    if len(sizes) < 2:
        raise ParameterError(f"calibration needs at least two region sizes between 6 and the "
                             f"vacuum size {side} px; the vacuum region is too small.")
    work = _workspace(frames.shape[1:])
    rows = []
    for s in sizes:
        y0, x0 = (frames.shape[1] - s) / 2, (frames.shape[2] - s) / 2
        square = [[x0 - 0.5, y0 - 0.5], [x0 + s - 0.5, y0 - 0.5], [x0 + s - 0.5, y0 + s - 0.5],
                  [x0 - 0.5, y0 + s - 0.5]]
        region = polygon_mask(square, frames.shape[1:])
        n = int(region.sum())
        for frame in frames:
            diagram = work.diagram(frame, sigma, region)
            if len(diagram):
                rows.append((math.log(n), alps_from_lifetimes(diagram[:, 1] - diagram[:, 0])))
    if len({n for n, _ in rows}) < 2:
        raise ParameterError("the vacuum frames hold no persistence points to calibrate on "
                             "(a perfectly flat vacuum?); give topology.beta0 and beta1 instead.")
    log_n, values = np.array(rows).T
    return fit_alps_scaling(np.exp(log_n), values)


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


# --------------------------------------------------------------------------------------------
# Series of frames
# --------------------------------------------------------------------------------------------
def _score_frames(frames: np.ndarray, numbers: np.ndarray, sigma: float,
                  region: np.ndarray | None, n_pixels: int, beta0: float,
                  beta1: float) -> list[dict[str, float]]:
    """Per-frame statistics of a block of frames (numbered ``numbers``), with this thread's
    workspace."""
    work = _workspace(frames.shape[1:])
    rows = []
    for t, frame in zip(numbers, frames, strict=True):
        diagram = work.diagram(np.ascontiguousarray(frame, dtype=np.float64), sigma, region)
        lifetimes = diagram[:, 1] - diagram[:, 0]
        value = alps_from_lifetimes(lifetimes) if len(lifetimes) else float("nan")
        rows.append({"frame": int(t), "alps": value,
                     "alps_star": _standardize(value, n_pixels, beta0, beta1),
                     "entropy": _entropy(lifetimes) if (lifetimes > 0).any() else float("nan"),
                     "n_points": len(lifetimes), "n_pixels": n_pixels})
    return rows


def alps_series(movie: np.ndarray | LazyMovie, *, sigma: float = 2.0,
                polygon: Sequence[Sequence[float]] | np.ndarray | None = None,
                beta0: float = REFERENCE_BETA0, beta1: float = REFERENCE_BETA1,
                frames: Sequence[int] | None = None, standardize: bool = False,
                invert: bool = False, n_jobs: int = -1, chunk: int = 8,
                dask_scheduler: str | None = None) -> pd.DataFrame:
    """ALPS, ALPS*, persistent entropy and point count of every frame of a movie.

    With ``standardize`` each frame is first z-scored (:func:`standardize_frames`, negated if
    ``invert``). Frames are processed in chunks of ``chunk`` in parallel threads (``n_jobs``,
    -1 = all cores), or on the Dask cluster at ``dask_scheduler`` (e.g. ``tcp://host:8786``).
    Returns a DataFrame with columns frame, alps, alps_star, entropy, n_points, n_pixels, in
    frame order.
    """
    if len(movie.shape) != 3:
        raise ParameterError(f"alps_series needs a (frames, H, W) movie, got {movie.shape}.")
    shape = tuple(movie.shape[1:])
    region = _region(polygon, shape)
    n_pixels = int(region.sum()) if region is not None else shape[0] * shape[1]
    index = np.arange(len(movie)) if frames is None else np.asarray(list(frames), int)
    starts = range(0, len(index), chunk)

    def block(start: int) -> list[dict[str, float]]:
        picked = index[start:start + chunk]
        block_frames = np.asarray(movie[picked], np.float64)
        if standardize:
            block_frames = standardize_frames(block_frames, invert=invert)
        return _score_frames(block_frames, picked, sigma, region, n_pixels, beta0, beta1)

    if dask_scheduler:
        from dask.distributed import Client

        with Client(dask_scheduler) as client:
            results = client.gather(client.map(block, list(starts)))
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, backend="threading", return_as="generator")(
            delayed(block)(s) for s in starts)
        results = list(progress(results, total=len(starts), desc="topology", unit="chunk"))
    rows = [row for result in results for row in result]
    if rows and any(np.isnan(r["alps"]) for r in rows):
        empty = [r["frame"] for r in rows if np.isnan(r["alps"])]
        raise ParameterError(f"frames {empty[:5]} have no persistence point born inside the "
                             "polygon: check that it surrounds the particle.")
    return pd.DataFrame(rows, columns=["frame", "alps", "alps_star", "entropy", "n_points",
                                       "n_pixels"])
