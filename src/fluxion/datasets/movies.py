"""A folder of movies as a Kedro dataset, read lazily and written by streaming.

Kedro's ``PartitionedDataset`` filters partitions by a single file suffix; a movie folder mixes
five formats, folders of TIFF frames and YAML sidecars. This dataset keeps PartitionedDataset's
contract (``load`` returns ``{name: callable}``, nothing is read until called; ``save`` takes
``{name: frames or callable}``) with movie-aware listing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset

from fluxion.errors import MovieError, MovieNotFoundError
from fluxion.movies.incoming import IncomingBatch, IncomingState, scan_incoming
from fluxion.movies.io import (
    LazyMovie,
    MovieMetadata,
    content_hash,
    is_movie_path,
    natural_key,
    read_metadata,
    read_movie,
    write_movie,
)


class MovieLoader:
    """A movie on disk, opened only when called: ``loader()`` returns a :class:`LazyMovie`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.stem if self.path.is_file() else self.path.name

    def __call__(self) -> LazyMovie:
        return read_movie(self.path, lazy=True)

    def metadata(self) -> MovieMetadata:
        """Header metadata overridden by the sidecar (:func:`fluxion.movies.io.read_metadata`)."""
        return read_metadata(self.path)

    def __repr__(self) -> str:
        return f"MovieLoader({str(self.path)!r})"


class FrameStream:
    """Frames to be written, produced on demand. With a ``source`` path, a target whose record
    (``<target>.source.json``) holds the source's current content hash is up to date and is
    not written again."""

    def __init__(self, frames: Callable[[], Iterable[np.ndarray]], *,
                 source: Path | None = None, n_frames: int | None = None) -> None:
        self.source = Path(source) if source is not None else None
        self.frames = frames
        self.n_frames = n_frames


class MovieFolderDataset(AbstractDataset[dict[str, Any], dict[str, MovieLoader]]):
    """Every movie in a folder: ``.tif/.tiff``, ``.mrc/.mrcs``, ``.dm3/.dm4``, ``.npy`` files and
    sub-folders of single-frame TIFFs, keyed by name (file stem), in natural order.

    Parameters
    ----------
    path
        The folder.
    save_format
        ``npy`` (memory-mappable, the default for intermediate copies) or ``tif``.
    allow_empty
        Load ``{}`` from a missing or empty folder instead of raising.
    """

    def __init__(self, *, path: str, save_format: str = "npy", allow_empty: bool = False,
                 metadata: dict[str, Any] | None = None) -> None:
        if save_format not in ("npy", "tif"):
            raise MovieError(f"MovieFolderDataset({path}): save_format must be 'npy' or 'tif', "
                             f"got {save_format!r}.")
        self._path = Path(path)
        self._save_format = save_format
        self._allow_empty = allow_empty
        self.metadata = metadata

    def load(self) -> dict[str, MovieLoader]:
        if not self._path.is_dir():
            if self._allow_empty:
                return {}
            raise MovieNotFoundError(f"{self._path}: the movie folder does not exist. Create it "
                                     "and put movies in it, or fix the catalog path.")
        paths = sorted((p for p in self._path.iterdir()
                        if not p.name.startswith(".") and not p.name.endswith(".partial")
                        and is_movie_path(p)), key=lambda p: natural_key(p.name))
        loaders: dict[str, MovieLoader] = {}
        for path in paths:
            loader = MovieLoader(path)
            if loader.name in loaders:
                raise MovieError(f"{self._path}: two movies are named {loader.name!r} "
                                 f"({loaders[loader.name].path.name} and {path.name}); rename one.")
            loaders[loader.name] = loader
        if not loaders and not self._allow_empty:
            raise MovieNotFoundError(f"{self._path}: no movies found (looked for "
                                     ".tif/.tiff/.mrc/.mrcs/.dm3/.dm4/.npy and TIFF folders).")
        return loaders

    def save(self, data: dict[str, Any]) -> None:
        """Write each movie as ``<name>.<save_format>``, streaming frames.

        A value may be an array, an iterable of frames, a callable returning either, a
        :class:`FrameStream` (one whose source content is unchanged since the copy is skipped,
        so re-running ingestion does not copy unchanged multi-GB movies again, and a changed
        source is copied again whatever its modification time) or a writer with a
        ``write(target)`` method (:class:`fluxion.denoising.inference.DenoisedMovieWriter`).
        """
        for name, frames in data.items():
            target = self._path / f"{name}.{self._save_format}"
            if hasattr(frames, "write"):
                frames.write(target)
                continue
            n_frames = None
            source_hash = None
            if isinstance(frames, FrameStream):
                source_hash = content_hash(frames.source) if frames.source else None
                if source_hash and target.exists() and copied_from(target) == source_hash:
                    continue
                frames, n_frames = frames.frames, frames.n_frames
            if callable(frames):
                frames = frames()
            write_movie(target, frames, n_frames=n_frames)
            if source_hash:
                _record_source(target, source_hash)

    def _exists(self) -> bool:
        return bool(self.load()) if self._path.is_dir() else False

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "save_format": self._save_format}


def _record(target: Path) -> Path:
    return target.with_name(target.name + ".source.json")


def copied_from(target: str | Path) -> str | None:
    """The content hash of the source a copy was made from (None: no complete copy)."""
    record = _record(Path(target))
    try:
        return json.loads(record.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record_source(target: Path, source_hash: str) -> None:
    """Written after the copy is complete (atomically), so a killed copy is made again."""
    partial = _record(target).with_name(_record(target).name + ".partial")
    partial.write_text(json.dumps({"sha256": source_hash}))
    partial.replace(_record(target))


class IncomingMoviesDataset(AbstractDataset[None, "IncomingBatch"]):
    """The re-analysis folder compared with its content-keyed record
    (:mod:`fluxion.movies.incoming`): loading gives the movies to process now, those still being
    written and the skipped ones that have not changed. Read-only: the record is written by
    :class:`ReanalysisStateDataset` once results are stored."""

    def __init__(self, *, path: str, state_file: str, settle_s: float = 2.0,
                 min_age_s: float = 0.0, metadata: dict[str, Any] | None = None) -> None:
        self._path, self._state_file = Path(path), Path(state_file)
        self._settle_s, self._min_age_s = settle_s, min_age_s
        self.metadata = metadata

    def load(self) -> IncomingBatch:
        state = IncomingState.read(self._state_file)
        scan = scan_incoming(self._path, state, settle_s=self._settle_s,
                             min_age_s=self._min_age_s)
        return IncomingBatch(state, scan)

    def save(self, data: Any) -> None:
        raise NotImplementedError("IncomingMoviesDataset is read-only: drop movies into the "
                                  "folder.")

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "state_file": str(self._state_file),
                "settle_s": self._settle_s, "min_age_s": self._min_age_s}


class ReanalysisStateDataset(AbstractDataset[IncomingState, IncomingState]):
    """The re-analysis record on disk, written atomically when a run has stored its results."""

    def __init__(self, *, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> IncomingState:
        return IncomingState.read(self._filepath)

    def save(self, data: IncomingState) -> None:
        IncomingState(self._filepath, data.movies).write()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
