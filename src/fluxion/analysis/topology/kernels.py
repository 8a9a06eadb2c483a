"""Compiled kernels of the H0 persistence: Gaussian smoothing and the merge-pixel sweep.

Speed: a component can only merge at a pixel whose lower 8-neighbours fall into two or more
separate groups of its 3x3 ring (a 256-entry table says how many). One branch-free pass finds
every pixel's lower-neighbour mask and those merge pixels, a few percent of a smoothed frame;
only they are sorted and run through a union-find over the minima that one member of each
group drains to (along descending paths, compressed as they are found), with the elder rule.
Smoothing is a compiled separable filter with scikit-image's
``gaussian(..., preserve_range=True)`` semantics (nearest edges, 4 sigma truncation, float64).
"""

from __future__ import annotations

import threading

import numba
import numpy as np

__all__ = ["Workspace", "gaussian_kernel", "smooth_into", "workspace"]


def gaussian_kernel(sigma: float) -> np.ndarray:
    """scipy.ndimage's 1-D Gaussian: radius int(4 sigma + 0.5), normalised weights."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * x**2)
    return weights / weights.sum()


@numba.njit(cache=True, nogil=True)
def smooth_into(image, kernel, scratch, out):  # pragma: no cover - compiled
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


class Workspace:
    """Buffers for one frame size, reused across the frames a worker processes (see
    :func:`workspace`)."""

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
            smooth_into(image, gaussian_kernel(sigma), self.scratch, self.smoothed)
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


def workspace(shape: tuple[int, int]) -> Workspace:
    """This thread's workspace for frames of ``shape`` (allocated once, then reused)."""
    cached = getattr(_local, "workspace", None)
    if cached is None or cached.shape != tuple(shape):
        cached = _local.workspace = Workspace(tuple(shape))
    return cached
