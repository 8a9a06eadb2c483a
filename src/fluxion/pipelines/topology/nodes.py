"""Thin nodes of the topology pipeline; the science is in fluxion.analysis.topology."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fluxion.analysis.topology.movies import (
    calibration_group,
    extreme_frames,
    movie_series,
    summarise_series,
)
from fluxion.datasets.movies import MovieLoader
from fluxion.movies.records import MovieRecord, movie_records, movie_regions
from fluxion.reporting.plots import (
    alps_time_series,
    extreme_frame_images,
    persistence_diagrams,
    size_dependence,
)

_LABELS = ["denoiser", "model_version", "gate_passed"]


def _sources(record: MovieRecord, denoised: dict[str, MovieLoader],
             include_raw: bool) -> dict[str, Any]:
    """The denoised movie (when there is one) and the raw movie (for contrast, or alone)."""
    sources = {"denoised": denoised[record.name]()} if record.name in denoised else {}
    if include_raw or not sources:
        sources["raw"] = record.frames()
    return sources


def with_denoiser(table: pd.DataFrame, report: dict[str, Any]) -> pd.DataFrame:
    """``denoiser``, ``model_version`` and ``gate_passed`` of each row's movie (from the denoise
    report); raw rows say ``raw``. Denoised rows' calibration group names the method, since
    ALPS* is comparable only between movies denoised alike."""
    table = table.copy()
    entries = report.get("movies", {})
    raw = table["source"] != "denoised"

    def pick(key: str, default: Any) -> list[Any]:
        return [default if is_raw else entries.get(movie, {}).get(key, default)
                for movie, is_raw in zip(table["movie"], raw, strict=True)]

    table["denoiser"] = pick("name", "raw")
    table["model_version"] = [v or "" for v in pick("version", "")]
    table["gate_passed"] = [entries.get(m, {}).get("gate_passed", False) for m in table["movie"]]
    if "calibration_group" in table:
        methods = pick("method", "")
        table["calibration_group"] = [g if is_raw else f"{g}, {m}" for g, m, is_raw in zip(
            table["calibration_group"], methods, raw, strict=True)]
    return table


def topology_of_movies(movie_info: dict[str, Any], masks: dict[str, np.ndarray],
                       denoised: dict[str, MovieLoader], report: dict[str, Any],
                       options: dict[str, Any],
                       ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Per-frame ALPS / ALPS* / entropy of every movie (denoised and raw), the per-movie
    summary with size groups, the calibrations, and MLflow metrics; every row says which
    denoiser made it and whether that denoiser passed the movie's gate."""
    tables, calibration, metrics = [], {}, {}
    if not movie_info:  # e.g. a re-analysis run with no new movie
        empty = pd.DataFrame(columns=["movie", "source", "frame", "time_s", "alps", "alps_star",
                                      "entropy", "n_points", "n_pixels", *_LABELS])
        summary = summarise_series(empty, {}, small_max_nm=options["small_max_nm"],
                                   large_min_nm=options["large_min_nm"], groups={})
        return empty, summary.assign(**{key: [] for key in _LABELS}), {}, {}
    records = movie_records(movie_info)
    for name, record in records.items():
        for source, movie in _sources(record, denoised, options["include_raw"]).items():
            table, betas = movie_series(
                name, movie, source=source, polygon=record.metadata.particle_polygon,
                vacuum_mask=movie_regions(masks, name).vacuum,
                frame_rate=record.metadata.frame_rate, options=options)
            tables.append(table)
            calibration[f"{name}.{source}"] = betas
    series = pd.concat(tables, ignore_index=True)
    diameters = {name: record.summary.get("particle_diameter_nm")
                 for name, record in records.items()}
    groups = {source: calibration_group(source, sigma=options["sigma"],
                                        standardize=options["standardize"],
                                        invert=options["invert"])
              for source in series["source"].unique()}
    summary = summarise_series(series, diameters, small_max_nm=options["small_max_nm"],
                               large_min_nm=options["large_min_nm"], groups=groups)
    for row in summary.itertuples():
        for key in ("alps_star_mean", "alps_star_std"):
            metrics[f"{row.movie}.{row.source}.{key}"] = {"value": float(getattr(row, key)),
                                                          "step": 0}
    return with_denoiser(series, report), with_denoiser(summary, report), calibration, metrics


def topology_figures(series: pd.DataFrame, summary: pd.DataFrame, movie_info: dict[str, Any],
                     denoised: dict[str, MovieLoader], options: dict[str, Any],
                     ) -> tuple[dict[str, Figure], dict[str, Figure], dict[str, Figure], Figure]:
    """ALPS* time series, persistence diagrams and images of the most and least ordered
    frames of every movie, and ALPS* against particle size across movies."""
    timelines, diagrams, extremes = {}, {}, {}
    for name, record in movie_records(movie_info).items():
        rows = series[series["movie"] == name]
        timelines[f"{name}.png"] = alps_time_series(
            rows, title=name, study_thresholds=options["beta0"] is not None)
        primary = rows[rows["source"] == rows["source"].iloc[0]]
        source = primary["source"].iloc[0]
        movie = _sources(record, denoised, include_raw=False).get(source) or record.frames()
        polygon = record.metadata.particle_polygon
        picked = extreme_frames(primary, movie, polygon=polygon, sigma=options["sigma"],
                                standardize=options["standardize"], invert=options["invert"])
        diagrams[f"{name}.png"] = persistence_diagrams({k: d for k, (_, d) in picked.items()},
                                                       title=f"{name} ({source})")
        extremes[f"{name}.png"] = extreme_frame_images(picked, np.asarray(polygon),
                                                         pixel_size=record.metadata.pixel_size,
                                                         title=f"{name} ({source})")
    across = size_dependence(summary, small_max_nm=options["small_max_nm"],
                             large_min_nm=options["large_min_nm"])
    return timelines, diagrams, extremes, across
