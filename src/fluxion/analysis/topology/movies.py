"""A movie's topology series: calibrate ALPS* on its own vacuum, score every frame, summarise.

Shared by the topology and re-analysis pipelines.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from arch.bootstrap import optimal_block_length

from fluxion.analysis.diagnostics import largest_square
from fluxion.analysis.topology.persistence import (
    alps_star_value,
    calibrate_alps,
    persistence_diagram,
    standardize_frames,
    vacuum_square_alps,
)
from fluxion.analysis.topology.series import alps_series
from fluxion.errors import ParameterError
from fluxion.movies.io import LazyMovie
from fluxion.scoring.intervals import block_bootstrap_ci

__all__ = [
    "calibrate_on_vacuum",
    "calibration_group",
    "extreme_frames",
    "movie_series",
    "size_group",
    "summarise_series",
]


def calibrate_on_vacuum(movie: np.ndarray | LazyMovie, vacuum_mask: np.ndarray, *,
                        sigma: float, frames: int = 20, standardize: bool = False,
                        invert: bool = False, tolerance: float = 0.05) -> dict[str, Any]:
    """beta0, beta1, r2 from vacuum squares of half of up to ``frames`` frames, processed
    exactly as the series will be (whole frames smoothed, then the squares inside the largest
    vacuum square), and a self-check on the other half: the mean ALPS* of their vacuum squares
    (``self_check``), which should be 1 within ``tolerance`` (``self_check_passed``)."""
    square = largest_square(vacuum_mask)
    index = np.unique(np.linspace(0, len(movie) - 1, frames).round().astype(int))
    if len(index) < 2:
        raise ParameterError(f"calibration needs at least 2 frames, the movie has {len(movie)}.")
    images = np.asarray(movie[index], np.float64)
    if standardize:
        images = standardize_frames(images, invert=invert)
    beta0, beta1, r2 = calibrate_alps(images[0::2], sigma=sigma, within=square)
    held_out = vacuum_square_alps(images[1::2], sigma=sigma, within=square)
    check = float(np.mean([alps_star_value(v, int(n), beta0, beta1) for n, v in held_out]))
    return {"beta0": beta0, "beta1": beta1, "r2": r2,
            "vacuum_square": int(square[0].stop - square[0].start), "self_check": check,
            "self_check_passed": bool(abs(check - 1) <= tolerance)}


def movie_series(name: str, movie: np.ndarray | LazyMovie, *, source: str,
                 polygon: list[list[float]], vacuum_mask: np.ndarray,
                 frame_rate: float | None, options: dict[str, Any],
                 ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-frame ALPS, ALPS*, entropy of one movie; betas calibrated on its vacuum unless
    ``options`` fixes them (the reference values do not transfer to other doses or
    processing)."""
    sigma = options["sigma"]
    if options.get("beta0") is not None and options.get("beta1") is not None:
        betas = {"beta0": options["beta0"], "beta1": options["beta1"], "r2": float("nan")}
    else:
        betas = calibrate_on_vacuum(movie, vacuum_mask, sigma=sigma,
                                    frames=options["calibration_frames"],
                                    standardize=options["standardize"],
                                    invert=options["invert"])
    table = alps_series(movie, sigma=sigma, polygon=polygon, beta0=betas["beta0"],
                        beta1=betas["beta1"], standardize=options["standardize"],
                        invert=options["invert"], n_jobs=options["n_jobs"],
                        chunk=options["chunk"], dask_scheduler=options.get("dask_scheduler"))
    table.insert(0, "movie", name)
    table.insert(1, "source", source)
    table.insert(3, "time_s", table["frame"] / frame_rate if frame_rate else np.nan)
    return table, betas


def size_group(diameter_nm: float | None, *, small_max_nm: float, large_min_nm: float) -> str:
    """small (<= small_max_nm), large (> large_min_nm) or intermediate; unknown without size."""
    if diameter_nm is None or not np.isfinite(diameter_nm):
        return "unknown"
    if diameter_nm <= small_max_nm:
        return "small"
    return "large" if diameter_nm > large_min_nm else "intermediate"


def calibration_group(source: str, *, sigma: float, standardize: bool, invert: bool) -> str:
    """The processing a movie's ALPS* depends on: only movies in one group compare."""
    steps = [f"sigma {sigma:g} px", "z-scored" if standardize else "as recorded"]
    return f"{source}: " + ", ".join([*steps, "inverted"] if invert else steps)


def summarise_series(series: pd.DataFrame, diameters: dict[str, float | None], *,
                     small_max_nm: float, large_min_nm: float, groups: dict[str, str],
                     level: float = 0.90, seed: int = 0) -> pd.DataFrame:
    """Mean and std of ALPS* per movie and source, with a moving-block bootstrap interval of
    the mean (block length from the series' own autocorrelation), particle diameter, size
    group, and the calibration group of each source (``groups``: source -> group)."""
    rows = []
    for (movie, source), frames in series.groupby(["movie", "source"], sort=False):
        values = frames.sort_values("frame")["alps_star"].to_numpy()
        mean, low, high = _interval(values, level, seed)
        rows.append({"movie": movie, "source": source, "calibration_group": groups[source],
                     "alps_star_mean": mean, "alps_star_low": low, "alps_star_high": high,
                     "alps_star_std": float(np.std(values, ddof=1)) if len(values) > 1
                     else float("nan"), "frames": len(values)})
    summary = pd.DataFrame(rows, columns=["movie", "source", "calibration_group",
                                          "alps_star_mean", "alps_star_low", "alps_star_high",
                                          "alps_star_std", "frames"])
    summary["particle_diameter_nm"] = summary["movie"].map(diameters)
    summary["size_group"] = [size_group(d, small_max_nm=small_max_nm, large_min_nm=large_min_nm)
                             for d in summary["particle_diameter_nm"]]
    return summary


def _interval(values: np.ndarray, level: float, seed: int) -> tuple[float, float, float]:
    if len(values) < 4:
        return float(np.mean(values)), float("nan"), float("nan")
    block = int(np.ceil(optimal_block_length(values)["circular"].iloc[0]))
    return block_bootstrap_ci(values, block=max(block, 1), level=level, seed=seed)


def extreme_frames(series: pd.DataFrame, movie: np.ndarray | LazyMovie, *,
                   polygon: list[list[float]], sigma: float, standardize: bool = False,
                   invert: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The most and least ordered frames of one movie's series (highest and lowest ALPS*):
    ``{label: (image as scored, persistence diagram inside the polygon)}``."""
    picked = {}
    for label, row in (("most ordered", series.loc[series["alps_star"].idxmax()]),
                       ("least ordered", series.loc[series["alps_star"].idxmin()])):
        t = int(row["frame"])
        image = np.asarray(movie[t], np.float64)
        if standardize:
            image = standardize_frames(image[None], invert=invert)[0]
        picked[f"{label}: frame {t}, ALPS* {row['alps_star']:.2f}"] = (
            image, persistence_diagram(image, sigma=sigma, polygon=polygon))
    return picked
