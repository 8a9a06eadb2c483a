"""Regions of a frame: the vacuum and the particle, from a sidecar or found automatically.

Conventions: a polygon is an (k, 2) array of (x, y) = (column, row) vertices in pixels; pixel
(row r, column c) belongs to a polygon when its centre (x = c, y = r) lies strictly inside it.
Automatic detection assumes bright-field phase contrast, where the vacuum is the brightest,
featureless part of the time-averaged movie.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.path import Path as MplPath
from scipy import ndimage
from skimage import filters, measure, morphology

from fluxion.errors import MovieError, ParameterError

__all__ = [
    "box_mask",
    "equivalent_diameter_nm",
    "find_particle_polygon",
    "find_vacuum",
    "polygon_mask",
    "polygon_problem",
    "validate_polygon",
]


def polygon_problem(polygon: object, shape: tuple[int, int] | None = None) -> str | None:
    """What is wrong with a polygon of [x, y] vertices, or None: too few or non-numeric
    vertices, non-finite values, a vertex outside a (height, width) frame, crossing edges."""
    try:
        poly = np.asarray(polygon, dtype=float)
    except (TypeError, ValueError):
        return f"not a list of [x, y] vertices: {polygon!r}"
    if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
        return f"needs at least 3 [x, y] vertices, got shape {poly.shape}"
    if not np.isfinite(poly).all():
        return "vertices must be finite numbers"
    if shape is not None:
        height, width = shape
        outside = (poly[:, 0] < 0) | (poly[:, 0] > width) | (poly[:, 1] < 0) | (poly[:, 1] > height)
        if outside.any():
            return (f"vertex {poly[np.argmax(outside)].tolist()} lies outside the {width}x{height} "
                    "(width x height) frame; vertices are [x = column, y = row] in pixels (check "
                    "for swapped axes or a binned movie)")
    crossing = _crossing_edges(poly)
    if crossing is not None:
        return (f"edges {crossing[0]} and {crossing[1]} cross: the polygon intersects itself; "
                "list the vertices in order around the particle")
    return None


def _crossing_edges(poly: np.ndarray) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges that properly cross, or None (vectorised)."""
    a, b = poly, np.roll(poly, -1, axis=0)
    k = len(poly)

    def side(p, q, r):  # sign of the turn p -> q -> r, for every edge pair at once
        return np.sign((q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1])
                       - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0]))

    i, j = np.triu_indices(k, 2)
    keep = ~((i == 0) & (j == k - 1))  # the first and last edges share a vertex
    i, j = i[keep], j[keep]
    proper = ((side(a[i], b[i], a[j]) * side(a[i], b[i], b[j]) < 0)
              & (side(a[j], b[j], a[i]) * side(a[j], b[j], b[i]) < 0))
    return (int(i[proper][0]), int(j[proper][0])) if proper.any() else None


def validate_polygon(polygon: Sequence[Sequence[float]] | np.ndarray,
                     shape: tuple[int, int], *, name: str = "polygon") -> np.ndarray:
    """Return the polygon as a float (k, 2) array, or raise :class:`ParameterError`."""
    problem = polygon_problem(polygon, shape)
    if problem:
        raise ParameterError(f"{name}: {problem}.")
    return np.asarray(polygon, dtype=float)


def polygon_mask(polygon: Sequence[Sequence[float]] | np.ndarray,
                 shape: tuple[int, int]) -> np.ndarray:
    """Boolean (H, W) mask of pixels whose centres lie strictly inside the polygon."""
    poly = validate_polygon(polygon, shape)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    points = np.column_stack([cols.ravel(), rows.ravel()]).astype(float)
    path = MplPath(poly)
    # The sign of `radius` grows or shrinks the path depending on its orientation; the AND of
    # both is the slightly shrunk path whatever the orientation, i.e. strictly inside.
    strict = path.contains_points(points, radius=1e-9) & path.contains_points(points, radius=-1e-9)
    return strict.reshape(shape)


def box_mask(box: Sequence[int], shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the box [x0, y0, x1, y1] (end-exclusive, x = column)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    mask = np.zeros(shape, bool)
    mask[max(y0, 0):y1, max(x0, 0):x1] = True
    return mask


def find_vacuum(mean_image: np.ndarray, *, smooth: float = 3.0, margin: float = 4,
                min_fraction: float = 0.01) -> np.ndarray:
    """Vacuum mask of a time-averaged movie: the bright, featureless region, at least
    ``margin`` pixels from anything else.

    The image is smoothed (``smooth`` px Gaussian) and split by Otsu's threshold; of the bright
    part only what is also featureless is kept (local contrast below Otsu's threshold of the
    contrast map), so the bright columns of a crystalline support are never taken for vacuum.
    Connected regions larger than ``min_fraction`` of the frame are kept and everything closer
    than ``margin`` pixels to a non-vacuum pixel is dropped (the frame's border does not count).
    Raises :class:`MovieError` when no vacuum is found.
    """
    image = ndimage.gaussian_filter(np.asarray(mean_image, np.float64), smooth)
    if np.ptp(image) == 0:
        raise MovieError("find_vacuum: the time-averaged movie is flat; vacuum and particle cannot "
                         "be told apart. Give a vacuum_box in the movie's sidecar.")
    bright = (image > filters.threshold_otsu(image)) & _featureless(mean_image, smooth)
    labels = measure.label(bright, connectivity=1)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    keep = np.flatnonzero(sizes >= min_fraction * image.size)
    mask = np.isin(labels, keep)
    if margin > 0:
        padded = np.pad(mask, 1, constant_values=True)  # the frame's border is not an edge
        mask = ndimage.distance_transform_edt(padded)[1:-1, 1:-1] > margin
    if mask.sum() < min_fraction * image.size:
        raise MovieError("find_vacuum: no vacuum region was found in the time-averaged movie (the "
                         "bright, featureless part beyond the margin covers under "
                         f"{100 * min_fraction:.0f}% of the frame). Give a vacuum_box "
                         "[x0, y0, x1, y1] in the movie's sidecar YAML, or lower "
                         "ingestion.regions.vacuum_margin_nm.")
    return mask


def _featureless(mean_image: np.ndarray, smooth: float) -> np.ndarray:
    """Where the lightly smoothed image has little local contrast (std over a window of
    2 * smooth + 1 px) by Otsu's threshold of that contrast map: no lattice, no edge."""
    fine = ndimage.gaussian_filter(np.asarray(mean_image, np.float64), 1.0)
    size = 2 * round(smooth) + 1
    mean = ndimage.uniform_filter(fine, size)
    contrast = np.sqrt(np.maximum(ndimage.uniform_filter(fine**2, size) - mean**2, 0.0))
    if np.ptp(contrast) == 0:
        return np.ones(contrast.shape, bool)
    return contrast <= filters.threshold_otsu(contrast)


def find_particle_polygon(mean_image: np.ndarray, vacuum_mask: np.ndarray, *,
                          smooth: float = 3.0, support_fill: float = 0.9,
                          tolerance: float = 1.5) -> np.ndarray:
    """Polygon (x, y) around the particle in a time-averaged movie.

    The dark (non-vacuum) region is found as in :func:`find_vacuum`. A support is a band of
    rows or columns along one image edge that are dark across at least ``support_fill`` of the
    frame; it is removed, and the largest remaining dark region is the particle. Its outline is
    simplified to a polygon (``tolerance`` px). Raises :class:`MovieError` when nothing is left:
    then draw the polygon by hand and put it in the sidecar.
    """
    image = ndimage.gaussian_filter(np.asarray(mean_image, np.float64), smooth)
    dark = image <= filters.threshold_otsu(image)
    dark &= ~vacuum_mask
    dark = _remove_support(dark, support_fill)
    dark = morphology.remove_small_holes(dark, max_size=dark.size // 50)
    labels = measure.label(dark, connectivity=2)
    if labels.max() == 0:
        raise MovieError("find_particle_polygon: no particle region was found in the "
                         "time-averaged movie. Draw a polygon around the particle and give it as "
                         "particle_polygon [[x, y], ...] in the movie's sidecar YAML.")
    largest = labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)
    contour = max(measure.find_contours(np.pad(largest, 1).astype(float), 0.5), key=len) - 1
    contour = measure.approximate_polygon(contour, tolerance)[:-1]  # (row, col), drop closing point
    height, width = largest.shape
    return np.column_stack([np.clip(contour[:, 1], 0, width), np.clip(contour[:, 0], 0, height)])


def _remove_support(dark: np.ndarray, fill: float) -> np.ndarray:
    """Clear the band of nearly all-dark rows/columns that touches an image edge, if any."""
    dark = dark.copy()
    bands = {
        "top": dark.mean(axis=1), "bottom": dark.mean(axis=1)[::-1],
        "left": dark.mean(axis=0), "right": dark.mean(axis=0)[::-1],
    }
    depth = {side: int(np.argmin(np.append(frac >= fill, False))) for side, frac in bands.items()}
    side = max(depth, key=depth.get)
    n = depth[side]
    if n == 0:
        return dark
    n += 2  # the rough edge of the support
    if side == "top":
        dark[:n] = False
    elif side == "bottom":
        dark[-n:] = False
    elif side == "left":
        dark[:, :n] = False
    else:
        dark[:, -n:] = False
    return dark


def equivalent_diameter_nm(polygon: np.ndarray, pixel_size: float) -> float:
    """Diameter (nm) of the circle with the polygon's area; ``pixel_size`` in Angstrom."""
    x, y = np.asarray(polygon, float).T
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    return float(2.0 * np.sqrt(area / np.pi) * pixel_size / 10.0)
