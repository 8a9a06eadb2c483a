"""Recording metadata of a movie: from its file header and its sidecar ``<movie>.yml``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fluxion.errors import MovieError
from fluxion.movies.regions import polygon_problem

TIFF_SUFFIXES = (".tif", ".tiff")
SIDECAR_SUFFIXES = (".yml", ".yaml")
_ANGSTROM_PER_UNIT = {"a": 1.0, "å": 1.0, "angstrom": 1.0, "nm": 10.0, "um": 1e4, "µm": 1e4,
                      "micron": 1e4, "mm": 1e7}

__all__ = ["SIDECAR_KEYS", "MovieMetadata", "check_geometry", "find_sidecar", "header_metadata",
           "read_sidecar"]


@dataclass
class MovieMetadata:
    """What is known about how a movie was recorded.

    ``pixel_size`` in Angstrom per pixel, ``dose_rate`` in e/A^2/s, ``frame_rate`` in frames/s.
    ``particle_polygon`` is [[x, y], ...] with x = column and y = row in pixels; ``vacuum_box`` is
    [x0, y0, x1, y1] (columns x0..x1, rows y0..y1, end-exclusive). ``sources`` says where each
    value came from (``header`` or ``sidecar``).
    """

    pixel_size: float | None = None
    dose_rate: float | None = None
    frame_rate: float | None = None
    particle_polygon: list[list[float]] | None = None
    vacuum_box: list[int] | None = None
    particle_diameter_nm: float | None = None
    ground_truth: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SIDECAR_KEYS = {
    "pixel_size": "Angstrom per pixel",
    "dose_rate": "electrons per A^2 per second",
    "frame_rate": "frames per second",
    "particle_polygon": "[[x, y], ...] vertices in pixels, x = column, y = row",
    "vacuum_box": "[x0, y0, x1, y1] in pixels (end-exclusive)",
    "particle_diameter_nm": "nominal particle diameter (nm), e.g. from a simulation",
    "ground_truth": "path (relative to the sidecar) of the clean movie, for simulated data",
}


def find_sidecar(path: str | Path) -> Path | None:
    """The ``<movie>.yml`` / ``.yaml`` beside a movie (or inside a frame folder), if any."""
    path = Path(path)
    stem = path.with_suffix("") if path.is_file() else path
    for suffix in SIDECAR_SUFFIXES:
        for candidate in (stem.with_name(stem.name + suffix), path / f"metadata{suffix}"):
            if candidate.is_file():
                return candidate
    return None


def header_metadata(path: Path, first_frame_file: Path | None = None) -> MovieMetadata:
    """Pixel size and frame rate from the file header, where the format has them (for a folder
    of frames, from ``first_frame_file``)."""
    meta = MovieMetadata()
    suffix = path.suffix.lower()
    try:
        if path.is_dir() or suffix in TIFF_SUFFIXES:
            meta.pixel_size, meta.frame_rate = _tiff_calibration(first_frame_file or path)
        elif suffix in (".mrc", ".mrcs"):
            import mrcfile

            with mrcfile.mmap(path, mode="r", permissive=True) as mrc:
                size = float(mrc.voxel_size.x)
            meta.pixel_size = size if size > 0 else None
        elif suffix in (".dm3", ".dm4"):
            meta.pixel_size, meta.frame_rate = _dm_calibration(path)
    except MovieError:
        raise
    except Exception:
        return meta
    meta.sources = {k: "header" for k in ("pixel_size", "frame_rate")
                    if getattr(meta, k) is not None}
    return meta


def _tiff_calibration(path: Path) -> tuple[float | None, float | None]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        ij = tif.imagej_metadata or {}
        page = tif.pages[0]
        pixel_size = None
        unit = str(ij.get("unit", "")).lower().replace("\\u00c5", "å")
        xres = page.tags.get("XResolution")
        if unit in _ANGSTROM_PER_UNIT and xres is not None:
            num, den = xres.value
            if num > 0:
                pixel_size = den / num * _ANGSTROM_PER_UNIT[unit]
        interval = ij.get("finterval")
        frame_rate = 1.0 / float(interval) if interval else None
    return pixel_size, frame_rate


def _dm_calibration(path: Path) -> tuple[float | None, float | None]:
    from rsciio.digitalmicrograph import file_reader

    signal = file_reader(str(path), lazy=True)[0]
    pixel_size = frame_rate = None
    for axis in signal.get("axes", []):
        units = str(axis.get("units", "")).lower()
        scale = float(axis.get("scale", 0) or 0)
        if units == "s" and scale > 0:
            frame_rate = 1.0 / scale
        elif units in _ANGSTROM_PER_UNIT and scale > 0 and axis.get("navigate") is False:
            pixel_size = scale * _ANGSTROM_PER_UNIT[units]
    return pixel_size, frame_rate


def read_sidecar(path: Path) -> dict[str, Any]:
    """The sidecar's values, checked: unknown keys, non-positive numbers, malformed polygon or
    vacuum box raise :class:`MovieError` naming the file."""
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise MovieError(f"{path}: the metadata sidecar is not valid YAML ({error}).") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MovieError(f"{path}: the metadata sidecar must be a mapping of keys to values, "
                         f"got {type(data).__name__}. Allowed keys: {', '.join(SIDECAR_KEYS)}.")
    unknown = sorted(set(data) - set(SIDECAR_KEYS))
    if unknown:
        allowed = "; ".join(f"{k} ({v})" for k, v in SIDECAR_KEYS.items())
        raise MovieError(f"{path}: unknown sidecar key(s) {unknown}. Allowed: {allowed}.")
    for key in ("pixel_size", "dose_rate", "frame_rate", "particle_diameter_nm"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
                    or not math.isfinite(value):
                raise MovieError(f"{path}: {key} must be a positive, finite number "
                                 f"({SIDECAR_KEYS[key]}), got {value!r}.")
            data[key] = float(value)
    if "particle_polygon" in data:
        data["particle_polygon"] = _parse_polygon(data["particle_polygon"], path)
    if "vacuum_box" in data:
        box = data["vacuum_box"]
        if (not isinstance(box, list) or len(box) != 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
                or not (box[0] < box[2] and box[1] < box[3])):
            raise MovieError(f"{path}: vacuum_box must be [x0, y0, x1, y1] with x0 < x1 and "
                             f"y0 < y1 (pixels, x = column), got {box!r}.")
        data["vacuum_box"] = [round(v) for v in box]
    if "ground_truth" in data and not isinstance(data["ground_truth"], str):
        raise MovieError(f"{path}: ground_truth must be a file path, got {data['ground_truth']!r}.")
    return data


def _parse_polygon(value: Any, path: Path) -> list[list[float]]:
    problem = polygon_problem(value)
    if problem:
        raise MovieError(f"{path}: particle_polygon {problem} (x = column, y = row, pixels).")
    return np.asarray(value, dtype=float).tolist()


def check_geometry(meta: MovieMetadata, shape: tuple[int, ...], source: Path) -> None:
    """Raise :class:`MovieError` when the polygon or vacuum box leaves the frame."""
    height, width = shape[1:]
    if meta.particle_polygon is not None:
        problem = polygon_problem(meta.particle_polygon, (height, width))
        if problem:
            raise MovieError(f"{source}: particle_polygon {problem}.")
    if meta.vacuum_box is not None:
        x0, y0, x1, y1 = meta.vacuum_box
        if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            raise MovieError(f"{source}: vacuum_box {meta.vacuum_box} lies outside the "
                             f"{width}x{height} (width x height) frame.")
