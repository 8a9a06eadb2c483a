"""What flows between pipelines about each movie, typed and checked where it enters.

Ingestion writes ``movie_info`` (JSON) and ``movie_masks`` (NPZ); every later pipeline reads
them through :func:`movie_records` and :func:`movie_regions`, so a missing or malformed entry
is one clear error here rather than a ``KeyError`` deep in a node, and adding a field touches
one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fluxion.errors import MovieError
from fluxion.movies.io import LazyMovie, read_ground_truth, read_movie
from fluxion.movies.metadata import MovieMetadata

__all__ = ["MovieRecord", "MovieRegions", "Splits", "movie_records", "movie_regions"]

_SPANS = ("train", "validation", "test")


@dataclass(frozen=True)
class Splits:
    """[start, stop) target-frame ranges of one movie (see
    :func:`fluxion.movies.ingest.split_frames`)."""

    train: tuple[int, int]
    validation: tuple[int, int]
    test: tuple[int, int]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, movie: str = "movie") -> Splits:
        spans = {}
        for span in _SPANS:
            value = values.get(span)
            if value is None or len(value) != 2 or not value[0] < value[1]:
                raise MovieError(f"{movie}: movie_info has no valid {span!r} frame range "
                                 f"(got {value!r}); run `kedro run --pipeline ingestion` again.")
            spans[span] = (int(value[0]), int(value[1]))
        return cls(**spans)

    def as_dict(self) -> dict[str, list[int]]:
        return {span: list(getattr(self, span)) for span in _SPANS}

    @property
    def test_frames(self) -> int:
        return self.test[1] - self.test[0]


@dataclass(frozen=True)
class MovieRecord:
    """One ingested movie: its float32 copy, shape, metadata, frame splits and summary row."""

    name: str
    copy: Path
    source: str
    shape: tuple[int, int, int]
    splits: Splits
    metadata: MovieMetadata
    summary: Mapping[str, Any] = field(default_factory=dict)
    sha256: str | None = None

    @classmethod
    def from_dict(cls, name: str, values: Mapping[str, Any]) -> MovieRecord:
        """Build from a ``movie_info`` entry, naming the movie and the missing key."""
        missing = [key for key in ("copy", "shape", "splits") if key not in values]
        if missing:
            raise MovieError(f"{name}: movie_info lacks {missing}; it was written by another "
                             "version of Fluxion. Run `kedro run --pipeline ingestion` again.")
        meta = values.get("metadata") or {}
        known = MovieMetadata.__dataclass_fields__
        return cls(name=name, copy=Path(values["copy"]), source=str(values.get("source", "")),
                   shape=tuple(int(n) for n in values["shape"]),
                   splits=Splits.from_dict(values["splits"], movie=name),
                   metadata=MovieMetadata(**{k: v for k, v in meta.items() if k in known}),
                   summary=dict(values.get("summary") or {}), sha256=values.get("sha256"))

    def frames(self) -> LazyMovie:
        """The validated copy, memory-mapped."""
        return read_movie(self.copy, lazy=True)

    def ground_truth(self) -> np.ndarray | LazyMovie | None:
        """The clean movie when the sidecar names one (simulations), else None."""
        path = self.metadata.ground_truth
        return read_ground_truth(path, self.shape) if path else None

    @property
    def noise_gain(self) -> float | None:
        """Noise variance / mean measured in the vacuum at ingestion."""
        gain = self.summary.get("noise_gain")
        return float(gain) if gain is not None and np.isfinite(gain) else None

    @property
    def polygon(self) -> np.ndarray:
        return np.asarray(self.metadata.particle_polygon, float)


@dataclass(frozen=True)
class MovieRegions:
    """A movie's boolean vacuum and particle masks and its time-averaged image."""

    vacuum: np.ndarray
    particle: np.ndarray
    mean: np.ndarray | None = None


def movie_records(movie_info: Mapping[str, Any]) -> dict[str, MovieRecord]:
    """Every ``movie_info`` entry as a :class:`MovieRecord`, in order."""
    return {name: MovieRecord.from_dict(name, values) for name, values in movie_info.items()}


def movie_regions(masks: Mapping[str, np.ndarray], name: str) -> MovieRegions:
    """The masks ingestion stored for ``name`` (``<name>.vacuum``, ``.particle``, ``.mean``)."""
    try:
        return MovieRegions(vacuum=np.asarray(masks[f"{name}.vacuum"], bool),
                            particle=np.asarray(masks[f"{name}.particle"], bool),
                            mean=masks.get(f"{name}.mean"))
    except KeyError as error:
        raise MovieError(f"{name}: movie_masks has no {error.args[0]!r}; run `kedro run "
                         "--pipeline ingestion` again.") from None
