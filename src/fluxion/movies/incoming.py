"""New movies for re-analysis, keyed by content: what is done, what was skipped, what is new.

A movie is done when its results are stored, under the content hash it had then; a movie that
could not be read is skipped under its hash and retried once its file changes; a movie still
being written (its size changed between two looks ``settle_s`` apart, or it was modified less
than ``min_age_s`` ago) is left for the next run without being marked. Nothing here depends on
listings or on the order of names, so a half-copied movie is never lost (should one be read
half-way, it is skipped under that content and retried when complete) and a replaced one is
processed again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluxion.movies.io import content_hash, is_movie_path, natural_key

__all__ = ["IncomingBatch", "IncomingScan", "IncomingState", "scan_incoming"]


@dataclass
class IncomingState:
    """The re-analysis record, one JSON file: per movie name its content hash, status
    (``done`` or ``skipped``), reason and when."""

    path: Path
    movies: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path) -> IncomingState:
        path = Path(path)
        if not path.is_file():
            return cls(path)
        return cls(path, json.loads(path.read_text()).get("movies", {}))

    def write(self) -> None:
        """Atomically: a run killed while writing leaves the previous record."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps({"movies": self.movies}, indent=1))
        partial.replace(self.path)

    def record(self, name: str, sha256: str, status: str, reason: str = "") -> None:
        self.movies[name] = {"sha256": sha256, "status": status, "reason": reason,
                             "at": time.strftime("%Y-%m-%dT%H:%M:%S")}

    def is_settled(self, name: str, sha256: str) -> bool:
        """Done, or skipped, with this very content: nothing to do until it changes."""
        entry = self.movies.get(name)
        return entry is not None and entry["sha256"] == sha256


@dataclass
class IncomingScan:
    """One look at the incoming folder: movies to process (name -> (path, sha256)), movies
    still being written, and skipped ones that have not changed."""

    pending: dict[str, tuple[Path, str]]
    settling: list[str]
    still_skipped: dict[str, str]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir()) if path.is_dir() \
        else path.stat().st_size


def _movies(folder: Path) -> dict[str, Path]:
    """Movies in the folder by name: not hidden files, sidecars or partial copies."""
    if not folder.is_dir():
        return {}
    paths = sorted((p for p in folder.iterdir() if not p.name.startswith(".")
                    and not p.name.endswith(".partial") and is_movie_path(p)),
                   key=lambda p: natural_key(p.name))
    return {(p.stem if p.is_file() else p.name): p for p in paths}


def scan_incoming(folder: str | Path, state: IncomingState, *, settle_s: float = 2.0,
                  min_age_s: float = 0.0) -> IncomingScan:
    """Compare the folder with the record: two looks at the movies' sizes ``settle_s`` apart
    tell which are still being written; the others are hashed and compared with the record."""
    movies = _movies(Path(folder))
    first = {name: _size(path) for name, path in movies.items()}
    if movies and settle_s > 0:
        time.sleep(settle_s)
    pending, settling, still_skipped = {}, [], {}
    for name, path in movies.items():
        if _size(path) != first[name] or time.time() - path.stat().st_mtime < min_age_s:
            settling.append(name)
            continue
        sha256 = content_hash(path)
        if not state.is_settled(name, sha256):
            pending[name] = (path, sha256)
        elif state.movies[name]["status"] == "skipped":
            still_skipped[name] = state.movies[name]["reason"]
    return IncomingScan(pending, settling, still_skipped)


@dataclass
class IncomingBatch:
    """What a re-analysis run starts from: the record and one look at the folder."""

    state: IncomingState
    scan: IncomingScan

    def paths(self) -> dict[str, Path]:
        """The movies to process now, by name."""
        return {name: path for name, (path, _) in self.scan.pending.items()}
