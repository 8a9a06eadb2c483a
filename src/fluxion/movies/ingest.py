"""Ingestion: validate a movie while streaming it, split its frames, find its regions.

Plain functions used by the ingestion pipeline and by re-analysis; nothing here knows Kedro.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fluxion.analysis.diagnostics import vacuum_statistics
from fluxion.analysis.noise import measure_noise
from fluxion.errors import MovieError, ParameterError
from fluxion.movies.io import LazyMovie, check_finite, iter_chunks, time_average
from fluxion.movies.metadata import MovieMetadata
from fluxion.movies.regions import (
    box_mask,
    equivalent_diameter_nm,
    find_particle_polygon,
    find_vacuum,
    polygon_mask,
)
from fluxion.progress import progress

log = logging.getLogger(__name__)

__all__ = [
    "MovieRegions",
    "describe_movie",
    "movie_regions",
    "split_frames",
    "time_average",
    "validated_frames",
]


def validated_frames(movie: np.ndarray | LazyMovie, *, source: str | Path,
                     negative_tolerance: float = 1.0, min_frames: int = 2,
                     max_saturated_fraction: float = 0.001,
                     chunk: int = 16) -> Iterator[np.ndarray]:
    """Yield the movie's frames as float32, checking each block as it streams past.

    Raises :class:`MovieError` (naming ``source`` and the frame) for too few frames, NaN or
    infinite values, and counts below ``-negative_tolerance``: counted electrons cannot be
    negative, so such values mean dark-subtracted or offset data that must be converted first.
    Integer movies are checked for saturation (pixels at the type's largest value): any is
    reported as a warning with its fraction, more than ``max_saturated_fraction`` of all pixels
    stops ingestion (saturated counts are not Poisson and break every noise model).
    """
    if len(movie) < min_frames:
        raise MovieError(f"{source}: has {len(movie)} frame(s); at least {min_frames} are needed "
                         "(the denoisers read 5-frame windows and the splits need test frames).")
    ceiling = _saturation_value(movie)
    start, saturated = 0, 0
    for block in progress(iter_chunks(movie, chunk), total=-(-len(movie) // chunk),
                          desc=f"validating {Path(source).name}", unit="block"):
        check_finite(block, source=source, first_frame=start)
        _check_negative(block, source, start, negative_tolerance)
        if ceiling is not None:
            saturated += int(np.count_nonzero(block >= ceiling))
        yield from block
        start += len(block)
    if saturated:
        _report_saturation(source, saturated / float(np.prod(movie.shape)), ceiling,
                           max_saturated_fraction)


def _saturation_value(movie: np.ndarray | LazyMovie) -> float | None:
    """The largest value the stored integer type holds (None for floating-point data)."""
    dtype = np.dtype(movie.dtype)
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else None


def _check_negative(block: np.ndarray, source, start: int, tolerance: float) -> None:
    low = float(block.min())
    if low < -tolerance:
        t = start + int(np.argmin(block.reshape(len(block), -1).min(axis=1)))
        raise MovieError(
            f"{source}: frame {t} holds counts down to {low:.3g}, below "
            f"-{tolerance} (ingestion.negative_tolerance). Fluxion expects electron "
            "counts; convert dark-subtracted / offset data to counts, or raise the tolerance "
            "if small negative values are expected.")


def _report_saturation(source, fraction: float, ceiling: float, limit: float) -> None:
    message = (f"{source}: {fraction:.4%} of the pixels are saturated (at {ceiling:g}, the "
               "largest value of the stored integer type)")
    if fraction > limit:
        raise MovieError(f"{message}, above ingestion.validation.max_saturated_fraction "
                         f"({limit:.4%}). Record with a lower dose rate or exposure, or raise the "
                         "limit if the saturated pixels lie outside the region of interest.")
    log.warning("%s; they are kept, but their noise is not Poisson.", message)


def split_frames(n_frames: int, *, window: int = 5, test_frames: int = 150,
                 training_span: int | None = None,
                 train_fraction: float = 2 / 3) -> dict[str, list[int]]:
    """Contiguous [start, stop) target-frame ranges for train, validation and test.

    The last ``test_frames`` frames are held out for testing. Training and validation share
    the frames before them (at most the first ``training_span``): ``train_fraction`` for
    training, the rest for validation. Between spans lies a gap of ``window - 1`` frames (the
    window radius on each side), so no frame read by a validation (or test) window is read by a
    training (or validation) window.
    """
    if window < 1 or window % 2 == 0:
        raise ParameterError(f"window must be an odd number >= 1, got {window}.")
    if not 0 < train_fraction < 1:
        raise ParameterError(f"train_fraction must be between 0 and 1, got {train_fraction}.")
    gap = window - 1
    n_train, n_validation, usable = _split_sizes(n_frames, test_frames, gap, training_span,
                                                 train_fraction)
    if test_frames < 1 or n_train < 1 or n_validation < 1:
        needed = next(n for n in range(n_frames + 1, n_frames + 10 * (test_frames + gap) + 50)
                      if min(_split_sizes(n, test_frames, gap, None, train_fraction)[:2]) >= 1)
        raise ParameterError(
            f"a movie of {n_frames} frames is too short for {test_frames} test frames, a "
            f"{window}-frame window and a train/validation split: at least {needed} frames are "
            "needed. Lower ingestion.splits.test_frames or record a longer movie.")
    return {"train": [0, n_train], "validation": [n_train + gap, usable],
            "test": [n_frames - test_frames, n_frames]}


def _split_sizes(n_frames: int, test_frames: int, gap: int, training_span: int | None,
                 train_fraction: float) -> tuple[int, int, int]:
    """Training and validation frame counts, and the span they share."""
    usable = n_frames - test_frames - gap
    if training_span is not None:
        usable = min(usable, training_span)
    n_train = round(usable * train_fraction)
    return n_train, usable - n_train - gap, usable


@dataclass
class MovieRegions:
    """Vacuum and particle masks of a movie, the particle polygon, and where each came from."""

    vacuum_mask: np.ndarray
    particle_mask: np.ndarray
    particle_polygon: np.ndarray
    vacuum_source: str
    polygon_source: str


def movie_regions(mean_image: np.ndarray, metadata: MovieMetadata, *, smooth: float = 3.0,
                  vacuum_margin_nm: float = 1.0, vacuum_margin: float | None = None,
                  ) -> MovieRegions:
    """Vacuum from the sidecar box, else found; particle polygon from the sidecar, else found."""
    shape = mean_image.shape
    if metadata.vacuum_box is not None:
        vacuum, vacuum_source = box_mask(metadata.vacuum_box, shape), "sidecar"
    else:
        margin = _margin_px(metadata, vacuum_margin_nm, vacuum_margin)
        vacuum, vacuum_source = find_vacuum(mean_image, smooth=smooth, margin=margin), "auto"
    if metadata.particle_polygon is not None:
        polygon, polygon_source = np.asarray(metadata.particle_polygon, float), "sidecar"
    else:
        polygon, polygon_source = find_particle_polygon(mean_image, vacuum, smooth=smooth), "auto"
    particle = polygon_mask(polygon, shape)
    vacuum &= ~particle
    return MovieRegions(vacuum, particle, polygon, vacuum_source, polygon_source)


def _margin_px(metadata: MovieMetadata, margin_nm: float, margin_px: float | None) -> float:
    """The vacuum margin in pixels: ``margin_px`` when given, else ``margin_nm`` at the movie's
    pixel size (a movie without one needs ``vacuum_margin`` in pixels)."""
    if margin_px is not None:
        return margin_px
    if not metadata.pixel_size:
        raise ParameterError("ingestion.regions.vacuum_margin_nm needs the movie's pixel size "
                             "(pixel_size in the sidecar), or give vacuum_margin in pixels.")
    return margin_nm * 10.0 / metadata.pixel_size


def describe_movie(name: str, movie: np.ndarray | LazyMovie, metadata: MovieMetadata,
                   regions: MovieRegions, splits: dict[str, list[int]]) -> dict[str, Any]:
    """One summary row: size, recording conditions, vacuum counts, SNR and measured noise gain,
    particle size."""
    stats = vacuum_statistics(movie, regions.vacuum_mask)
    noise = measure_noise(movie, regions.vacuum_mask)
    diameter, diameter_from = metadata.particle_diameter_nm, "sidecar"
    if diameter is None and metadata.pixel_size:
        diameter = equivalent_diameter_nm(regions.particle_polygon, metadata.pixel_size)
        diameter_from = "polygon"
    return {
        "movie": name,
        "frames": len(movie),
        "height": movie.shape[1],
        "width": movie.shape[2],
        "pixel_size_A": metadata.pixel_size,
        "frame_rate_hz": metadata.frame_rate,
        "dose_rate_e_per_A2_s": metadata.dose_rate,
        "vacuum_mean_counts": stats["vacuum_mean"],
        "vacuum_snr": stats["vacuum_snr"],
        "noise_gain": noise.gain,  # variance / mean, from consecutive-frame differences
        "vacuum_pixels": int(regions.vacuum_mask.sum()),
        "particle_pixels": int(regions.particle_mask.sum()),
        "particle_diameter_nm": diameter,
        "diameter_from": diameter_from if diameter is not None else None,
        "vacuum_from": regions.vacuum_source,
        "polygon_from": regions.polygon_source,
        "train_frames": splits["train"][1] - splits["train"][0],
        "validation_frames": splits["validation"][1] - splits["validation"][0],
        "test_frames": splits["test"][1] - splits["test"][0],
    }
