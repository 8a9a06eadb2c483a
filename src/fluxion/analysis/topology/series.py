"""ALPS series over the frames of a movie: chunks in parallel threads or on a Dask cluster.

Frames of a series run in parallel threads (numba releases the GIL), each thread reusing its
buffers; a Dask cluster takes the series when one is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fluxion.analysis.topology.kernels import workspace
from fluxion.analysis.topology.persistence import (
    REFERENCE_BETA0,
    REFERENCE_BETA1,
    alps_from_lifetimes,
    alps_star_value,
    lifetime_entropy,
    polygon_region,
    standardize_frames,
)
from fluxion.errors import ParameterError
from fluxion.movies.io import LazyMovie
from fluxion.progress import progress

__all__ = ["alps_series"]


def _score_frames(frames: np.ndarray, numbers: np.ndarray, sigma: float,
                  region: np.ndarray | None, n_pixels: int, beta0: float,
                  beta1: float) -> list[dict[str, float]]:
    """Per-frame statistics of a block of frames (numbered ``numbers``), with this thread's
    workspace."""
    work = workspace(frames.shape[1:])
    rows = []
    for t, frame in zip(numbers, frames, strict=True):
        diagram = work.diagram(np.ascontiguousarray(frame, dtype=np.float64), sigma, region)
        lifetimes = diagram[:, 1] - diagram[:, 0]
        value = alps_from_lifetimes(lifetimes) if len(lifetimes) else float("nan")
        rows.append({"frame": int(t), "alps": value,
                     "alps_star": alps_star_value(value, n_pixels, beta0, beta1),
                     "entropy": (lifetime_entropy(lifetimes) if (lifetimes > 0).any()
                                 else float("nan")),
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
    region = polygon_region(polygon, shape)
    n_pixels = int(region.sum()) if region is not None else shape[0] * shape[1]
    index = np.arange(len(movie)) if frames is None else np.asarray(list(frames), int)
    starts = range(0, len(index), chunk)

    def block(start: int) -> list[dict[str, float]]:
        picked = index[start:start + chunk]
        consecutive = bool(np.all(np.diff(picked) == 1))  # a slice: a view, not a copy
        block_frames = movie[picked[0]:picked[-1] + 1] if consecutive else movie[picked]
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
