"""Compiled kernels of the H0 persistence: Gaussian smoothing and the merge-pixel sweep.

Speed (7-10 ms for a 1024 x 1024 frame on one core, ``benchmarks/topology_speed.py``):

- smoothing repeats scipy's operations in scipy's order (bit-identical values), vectorised,
  with the sigma = 2 kernel's 17 taps unrolled;
- one branch-free pass over the +inf-bordered image records each pixel's lower-neighbour
  mask (8 bits) and its steepest lower neighbour: the descent forest, whose roots are the
  local minima;
- a component can only merge at a pixel whose lower neighbours fall into two or more separate
  groups of its 3x3 ring (a 256-entry table says which), a few percent of a smoothed frame;
  for one member of each group the minimum it drains to is found down the forest (path
  halving);
- only those pixels are sorted (radix sort on the float bits) and run through a union-find
  over the minima with the elder rule.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

from fluxion.errors import ParameterError

__all__ = ["Workspace", "gaussian_kernel", "smooth_into", "workspace"]


def gaussian_kernel(sigma: float) -> np.ndarray:
    """scipy.ndimage's 1-D Gaussian: radius int(4 sigma + 0.5), normalised weights."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * x**2)
    return weights / weights.sum()


def smooth_into(image: np.ndarray, kernel: np.ndarray, out: np.ndarray) -> None:
    """Separable Gaussian with 'nearest' edges, along axis 0 then axis 1 as scipy does, each
    output the same float64 operations in the same order as scipy's ``correlate1d`` for a
    symmetric kernel (centre * w0, then (left + right) * w_j for j = radius .. 1): the values
    are bit-identical to ``scipy.ndimage.gaussian_filter``. Both passes run row by row
    through one line buffer (no intermediate image); the 17-tap kernel (sigma = 2) has its own
    unrolled pass along the rows, about twice as fast as the general one."""
    if kernel.shape[0] == 17:
        _smooth_17(image, kernel, out)
    else:
        _smooth(image, kernel, out)


@numba.njit(cache=True, nogil=True, inline="always")
def _column_pass(image, kernel, r, line):  # pragma: no cover - compiled
    """Row ``r`` of the pass along axis 0 (whole clamped rows weighted and summed, pixel-inner
    so it vectorises) into the middle of ``line``, its edge values repeated on both sides."""
    height, width = image.shape
    radius = kernel.shape[0] // 2
    middle = line[radius:radius + width]
    centre = image[r]
    w0 = kernel[radius]
    for c in range(width):
        middle[c] = centre[c] * w0
    for j in range(radius, 0, -1):
        above, below = image[max(r - j, 0)], image[min(r + j, height - 1)]
        w = kernel[radius - j]
        for c in range(width):
            middle[c] += (above[c] + below[c]) * w
    for c in range(radius):
        line[c] = middle[0]
        line[width + radius + c] = middle[width - 1]


@numba.njit(cache=True, nogil=True)
def _smooth(image, kernel, out):  # pragma: no cover - compiled
    """Any radius: the pass along axis 1 tap-outer over a private accumulator."""
    height, width = image.shape
    radius = kernel.shape[0] // 2
    w0 = kernel[radius]
    line = np.empty(width + 2 * radius)
    accumulated = np.empty(width)
    for r in range(height):
        _column_pass(image, kernel, r, line)
        for c in range(width):
            accumulated[c] = line[c + radius] * w0
        for j in range(radius, 0, -1):
            w = kernel[radius - j]
            left, right = line[radius - j:radius - j + width], line[radius + j:radius + j + width]
            for c in range(width):
                accumulated[c] += (left[c] + right[c]) * w
        out[r, :] = accumulated


@numba.njit(cache=True, nogil=True)
def _smooth_17(image, kernel, out):  # pragma: no cover - compiled
    """17 taps: the pass along axis 1 unrolled, each output's sum kept in a register."""
    height, width = image.shape
    w0, w1, w2, w3, w4 = kernel[8], kernel[7], kernel[6], kernel[5], kernel[4]
    w5, w6, w7, w8 = kernel[3], kernel[2], kernel[1], kernel[0]
    line = np.empty(width + 16)
    accumulated = np.empty(width)
    for r in range(height):
        _column_pass(image, kernel, r, line)
        for c in range(width):
            a = line[c + 8] * w0
            a += (line[c] + line[c + 16]) * w8
            a += (line[c + 1] + line[c + 15]) * w7
            a += (line[c + 2] + line[c + 14]) * w6
            a += (line[c + 3] + line[c + 13]) * w5
            a += (line[c + 4] + line[c + 12]) * w4
            a += (line[c + 5] + line[c + 11]) * w3
            a += (line[c + 6] + line[c + 10]) * w2
            a += (line[c + 7] + line[c + 9]) * w1
            accumulated[c] = a
        out[r, :] = accumulated


_RING = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]  # by offset


def _ring_groups() -> np.ndarray:
    """For each subset (bit mask) of the 8 neighbours: how many 8-connected groups it forms
    (column 4) and one member of each group (its ring offset number, columns 0-3; -1 past the
    last group).

    A pixel whose lower neighbours form a single group joins one component and merges
    nothing; only pixels with two or more groups can merge components, and one member per
    group is enough to find the components involved.
    """
    table = np.full((256, 5), -1, np.int64)
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
        table[mask, :len(roots)] = roots
        table[mask, 4] = len(roots)
    return table


RING_GROUPS = _ring_groups()
MAY_MERGE = (RING_GROUPS[:, 4] >= 2).astype(np.int64)  # lower neighbours in 2+ groups


@numba.njit(cache=True, nogil=True)
def _lower_links(image, may_merge, lower_mask, descent, candidates):  # pragma: no cover
    """One branch-free pass over the +inf-bordered image: each pixel's lower neighbours (an
    8-bit mask, bit i for ring offset i) and its steepest lower neighbour (its flat padded
    index; the pixel itself at a local minimum). "Lower" is the filtration order: smaller
    value, ties by raster index. Row by row, while the row is in cache, the pixels that may
    merge components are appended to ``candidates``; returns their number."""
    height, width = image.shape[0] - 2, image.shape[1] - 2
    stride = width + 2
    count = 0
    for r in range(1, height + 1):
        above, row, below = image[r - 1], image[r], image[r + 1]
        mask, down = lower_mask[r], descent[r]
        for c in range(1, width + 1):
            v = row[c]
            n0, n1, n2, n3 = above[c - 1], above[c], above[c + 1], row[c - 1]
            n4, n5, n6, n7 = row[c + 1], below[c - 1], below[c], below[c + 1]
            mask[c] = (np.uint8(n0 <= v) | np.uint8(n1 <= v) << 1 | np.uint8(n2 <= v) << 2
                       | np.uint8(n3 <= v) << 3 | np.uint8(n4 < v) << 4
                       | np.uint8(n5 < v) << 5 | np.uint8(n6 < v) << 6 | np.uint8(n7 < v) << 7)
            # the lowest neighbour, earliest on ties (offsets in raster order, strict <)
            best, to = n0, -stride - 1
            if n1 < best:
                best, to = n1, -stride
            if n2 < best:
                best, to = n2, -stride + 1
            if n3 < best:
                best, to = n3, -1
            if n4 < best:
                best, to = n4, 1
            if n5 < best:
                best, to = n5, stride - 1
            if n6 < best:
                best, to = n6, stride
            if n7 < best:
                best, to = n7, stride + 1
            lower = best < v or (best == v and to < 0)
            down[c] = r * stride + c + (to if lower else 0)
        for c in range(1, width + 1):  # branch-free compaction
            candidates[count] = r * stride + c
            count += may_merge[mask[c]]
    return count


@numba.njit(cache=True, nogil=True)
def _maximum(image):  # pragma: no cover - compiled
    """The largest pixel value: eight running maxima, so the reduction vectorises (a single
    running value does not, its order of comparisons being fixed)."""
    height, width = image.shape[0] - 2, image.shape[1] - 2
    lanes = np.full(8, -np.inf)
    rest = -np.inf
    whole = width // 8 * 8
    for r in range(1, height + 1):
        row = image[r, 1:width + 1]
        for c in range(0, whole, 8):
            for j in range(8):
                v = row[c + j]
                lanes[j] = v if v > lanes[j] else lanes[j]
        for c in range(whole, width):
            rest = max(rest, row[c])
    return max(lanes.max(), rest)


@numba.njit(cache=True, nogil=True)
def _radix_order(values):  # pragma: no cover - compiled
    """Stable argsort of float64 values: LSD radix sort on their bits (8-bit digits, digits
    that all keys share skipped): 0.3 ms for the ~27k merge pixels of a 1024^2 frame,
    numpy's stable sort 1.7 ms."""
    count = values.shape[0]
    keys = (values + 0.0).view(np.uint64)  # -0.0 + 0.0 = +0.0: zeros tie, as they compare
    sign = np.uint64(1) << np.uint64(63)
    for i in range(count):  # order-preserving: flip negatives, set the sign bit of the rest
        keys[i] = ~keys[i] if keys[i] & sign else keys[i] | sign
    order, other = np.arange(count), np.empty(count, np.int64)
    counts = np.empty(256, np.int64)
    for shift in range(0, 64, 8):
        digit = np.uint64(shift)
        counts[:] = 0
        for i in range(count):
            counts[(keys[i] >> digit) & np.uint64(255)] += 1
        if counts.max() == count:
            continue
        total = 0
        for d in range(256):
            counts[d], total = total, total + counts[d]
        for i in range(count):
            k = order[i]
            d = (keys[k] >> digit) & np.uint64(255)
            other[counts[d]] = k
            counts[d] += 1
        order, other = other, order
    return order


@numba.njit(cache=True, nogil=True)
def _h0(image, groups, may_merge, lower_mask, descent, candidates, uf, minimum_pixel,
        minimum_value, births, deaths, where):  # pragma: no cover - compiled
    """H0 sublevel persistence, 8-connectivity, of an image with a one-pixel +inf border
    ((height + 2) x (width + 2)), so every real pixel has eight neighbours and no bounds
    checks are needed (the border is never lower than a pixel).

    Pixels are totally ordered by value, ties by index. Fills births / deaths / where (flat
    padded index of the birth pixel) and returns the number of points: the finite pairs with
    positive lifetime, then the infinite bar.
    """
    stride = image.shape[1]
    offsets = np.array([-stride - 1, -stride, -stride + 1, -1, 1, stride - 1, stride,
                        stride + 1])
    # 1. lower neighbours, the descent forest, and the pixels that may merge components
    count = _lower_links(image, may_merge, lower_mask, descent, candidates)
    values, masks, down = image.reshape(-1), lower_mask.reshape(-1), descent.reshape(-1)
    # 2. for one member of each lower group: the minimum it drains to, down the descent
    #    forest with path halving. Any descending path ends in the pixel's component (every
    #    pixel on it is lower). A root, once numbered, holds -(its number + 1).
    minima = 0
    roots = np.empty(4 * count, np.int64)  # per candidate and ring group (at most 4)
    candidate_value = np.empty(count)
    for k in range(count):
        p = candidates[k]
        candidate_value[k] = values[p]
        group = groups[masks[p]]
        for g in range(group[4]):
            x = p + offsets[group[g]]
            while True:
                d = down[x]
                if d < 0:
                    found = -d - 1
                    break
                if d == x:
                    found = minima
                    down[x] = -(minima + 1)
                    minimum_pixel[minima] = x
                    minimum_value[minima] = values[x]
                    minima += 1
                    break
                if down[d] >= 0:
                    down[x] = down[d]
                x = d
            roots[4 * k + g] = found
        for g in range(group[4], 4):
            roots[4 * k + g] = -1
    # 3. candidates in filtration order: union-find over minima with the elder rule
    for m in range(minima):
        uf[m] = m
    pairs = 0
    for k in _radix_order(candidate_value):
        value = candidate_value[k]
        b = -1
        for i in range(4):
            a = roots[4 * k + i]
            if a < 0:
                break
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
    # 4. the infinite bar: the global minimum, dying at the image maximum. A component's
    #    first merge finds its only minimum, so with any merge pixel the global minimum is
    #    among the minima found; without one, every pixel drains to it.
    lowest = stride + 1
    while down[lowest] >= 0 and down[lowest] != lowest:
        lowest = down[lowest]
    if down[lowest] < 0:
        lowest = minimum_pixel[-down[lowest] - 1]
    for m in range(minima):
        v, x = minimum_value[m], minimum_pixel[m]
        if v < values[lowest] or (v == values[lowest] and x < lowest):
            lowest = x
    births[pairs] = values[lowest]
    deaths[pairs] = _maximum(image)
    where[pairs] = lowest
    return pairs + 1


class Workspace:
    """Buffers for one frame size, reused across the frames a worker processes (see
    :func:`workspace`)."""

    def __init__(self, shape: tuple[int, int]) -> None:
        height, width = shape
        n = (height + 2) * (width + 2)
        if n >= 2**31:
            raise ParameterError(f"a {height}x{width} frame is too large for the persistence "
                                 "kernels (2**31 padded pixels at most); bin or crop it.")
        self.shape = shape
        self.padded = np.full((height + 2, width + 2), np.inf)
        self.smoothed = self.padded[1:-1, 1:-1]  # a view: smoothing writes into the padding
        self.lower_mask = np.zeros((height + 2, width + 2), np.uint8)
        self.descent = np.zeros((height + 2, width + 2), np.int32)  # half int64's traffic
        self.candidates = np.empty(n, np.int64)
        self.uf = np.empty(n, np.int64)
        self.minimum_pixel = np.empty(n, np.int64)
        self.minimum_value = np.empty(n, np.float64)
        self.births = np.empty(height * width, np.float64)
        self.deaths = np.empty(height * width, np.float64)
        self.where = np.empty(height * width, np.int64)

    def diagram(self, image: np.ndarray, sigma: float,
                region: np.ndarray | None) -> np.ndarray:
        if sigma > 0:
            smooth_into(image, gaussian_kernel(sigma), self.smoothed)
        else:
            self.smoothed[...] = image
        k = _h0(self.padded, RING_GROUPS, MAY_MERGE, self.lower_mask, self.descent,
                self.candidates, self.uf, self.minimum_pixel, self.minimum_value, self.births,
                self.deaths, self.where)
        rows, cols = np.divmod(self.where[:k], self.shape[1] + 2)
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
