"""Thin nodes of the ingestion pipeline; the science is in fluxion.movies.ingest and
fluxion.movies.regions."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fluxion.datasets.movies import FrameStream, MovieLoader, copied_from
from fluxion.movies.ingest import (
    describe_movie,
    movie_regions,
    split_frames,
    time_average,
    validated_frames,
)
from fluxion.movies.io import read_ground_truth
from fluxion.movies.simulate import ensure_demo_movies
from fluxion.reporting.plots import movie_overview


def choose_movies(user_movies: dict[str, MovieLoader],
                  demo: dict[str, Any]) -> dict[str, MovieLoader]:
    """The user's movies; when there are none, the embedded demo movies (generated once)."""
    if user_movies:
        return user_movies
    paths = ensure_demo_movies(demo["folder"], demo["movies"], demo.get("defaults"))
    return {path.stem: MovieLoader(path) for path in paths}


def validate_movies(movies: dict[str, MovieLoader],
                    validation: dict[str, Any]) -> dict[str, FrameStream]:
    """Float32 copies of every movie, each frame checked while it streams to disk."""
    streams = {}
    for name, loader in movies.items():
        movie = loader()  # opens the header now: a corrupt file fails before anything is written
        streams[name] = FrameStream(
            partial(validated_frames, movie, source=loader.path, **validation),
            source=loader.path, n_frames=len(movie))
    return streams


def describe_movies(validated: dict[str, MovieLoader], movies: dict[str, MovieLoader],
                    regions: dict[str, Any], splits: dict[str, Any],
                    ) -> tuple[dict, dict, pd.DataFrame, dict, dict[str, Figure]]:
    """Per movie: metadata, frame splits, vacuum / particle masks, summary row and overview."""
    info, masks, rows, metrics, figures = {}, {}, [], {}, {}
    for name, loader in movies.items():
        movie = validated[name]()
        meta = loader.metadata()
        if meta.ground_truth is not None:  # checked now, not first found wrong in evaluation
            read_ground_truth(meta.ground_truth, movie.shape, sidecar=loader.path)
        mean = time_average(movie)
        found = movie_regions(mean, meta, **regions)
        frame_splits = split_frames(len(movie), **splits)
        row = describe_movie(name, movie, meta, found, frame_splits)
        rows.append(row)
        meta.particle_polygon = np.round(found.particle_polygon, 2).tolist()
        info[name] = {"source": str(loader.path), "copy": str(movie.path),
                      "sha256": copied_from(movie.path),
                      "shape": list(movie.shape), "splits": frame_splits,
                      "metadata": meta.to_dict(), "summary": row}
        masks[f"{name}.vacuum"] = found.vacuum_mask
        masks[f"{name}.particle"] = found.particle_mask
        masks[f"{name}.mean"] = mean
        for key in ("vacuum_snr", "vacuum_mean_counts"):
            metrics[f"{name}.{key}"] = {"value": float(row[key]), "step": 0}
        summary = (f"{row['frames']} frames, vacuum {row['vacuum_mean_counts']:.2f} counts/px, "
                   f"SNR {row['vacuum_snr']:.2f}")
        figures[f"{name}.png"] = movie_overview(mean, found.vacuum_mask, found.particle_polygon,
                                       title=name, pixel_size=meta.pixel_size, summary=summary)
    return info, masks, pd.DataFrame(rows), metrics, figures
