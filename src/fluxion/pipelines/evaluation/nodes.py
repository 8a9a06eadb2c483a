"""Thin nodes of the evaluation pipeline; the science is in fluxion.scoring.evaluation / metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fluxion.datasets.movies import MovieLoader
from fluxion.denoising.inference import denoise_movie
from fluxion.denoising.methods import method as find_method
from fluxion.denoising.models import Denoiser, GaussianDenoiser
from fluxion.movies.io import read_ground_truth
from fluxion.reporting.plots import example_frames, upsnr_comparison
from fluxion.scoring.evaluation import evaluate_movie


def methods_to_compare(champion: tuple[Denoiser, dict[str, str]] | None,
                       gaussian_sigma: float, **trained: Denoiser,
                       ) -> tuple[dict[str, Denoiser], dict[str, dict[str, Any]]]:
    """The trained models (keyed by method key), the current champion if it is none of them,
    and the Gaussian filter.

    Returns the methods by label and, for registered ones, {name, version, champion}.
    """
    holder = (champion[1]["name"], champion[1]["version"]) if champion else None
    methods: dict[str, Denoiser] = {}
    candidates: dict[str, dict[str, Any]] = {}
    for key, model in trained.items():
        label = find_method(key).name
        methods[label] = model
        registered = getattr(model, "registered", None)
        if registered:
            candidates[label] = {**registered, "champion": (registered["name"],
                                                            registered["version"]) == holder}
    if holder and not any(c["champion"] for c in candidates.values()):
        label = f"champion ({holder[0]} v{holder[1]})"
        methods[label] = champion[0]
        candidates[label] = {"name": holder[0], "version": holder[1], "champion": True}
    methods["gaussian"] = GaussianDenoiser(gaussian_sigma)
    return methods, candidates


def _truth(info: dict[str, Any]):
    path = info["metadata"].get("ground_truth")
    return read_ground_truth(path, tuple(info["shape"])) if path else None


def evaluate_movies(movie_info: dict[str, Any], masks: dict[str, np.ndarray],
                    methods: dict[str, Denoiser], options: dict[str, Any],
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-frame scores, the comparison table (uPSNR with block-bootstrap intervals, risk
    estimate, PSNR/SSIM), artifact checks and paired differences of every method on every
    movie's test frames."""
    per_frame, comparison, checks, differences = [], [], [], []
    for name, info in movie_info.items():
        scores, summary, movie_checks, pairs = evaluate_movie(
            MovieLoader(info["copy"])(), methods, test=info["splits"]["test"],
            particle_mask=masks[f"{name}.particle"], vacuum_mask=masks[f"{name}.vacuum"],
            truth=_truth(info), options=options,
            noise_gain=info.get("summary", {}).get("noise_gain"))
        per_frame.append(scores.assign(movie=name))
        comparison.append(_movie_first(summary.assign(movie=name)))
        checks.append(movie_checks.assign(movie=name))
        differences.append(pairs.assign(movie=name))
    return (pd.concat(per_frame), pd.concat(comparison), pd.concat(checks),
            _movie_first(pd.concat(differences)))


def _movie_first(table: pd.DataFrame) -> pd.DataFrame:
    return table[["movie", *(c for c in table.columns if c != "movie")]]


def comparison_figures(comparison: pd.DataFrame) -> dict[str, Figure]:
    """uPSNR with CI bars per movie."""
    return {f"{movie}.png": upsnr_comparison(group, title=movie)
            for movie, group in comparison.groupby("movie", sort=False)}


def example_frame_figures(movie_info: dict[str, Any], methods: dict[str, Denoiser],
                          ) -> dict[str, Figure]:
    """The first test frame of every movie: raw, each method, the ground truth if any."""
    figures = {}
    for name, info in movie_info.items():
        movie = MovieLoader(info["copy"])()
        t = info["splits"]["test"][0]
        frames = {"raw": np.asarray(movie[t])}
        for label, model in methods.items():
            frames[label] = next(denoise_movie(model, movie, frames=[t]))
        truth = _truth(info)
        if truth is not None:
            frames["truth"] = np.asarray(truth[t])
        figures[f"{name}.png"] = example_frames(frames, title=f"{name}, frame {t}")
    return figures


def _method_metrics(comparison: pd.DataFrame, checks: pd.DataFrame, method: str
                    ) -> dict[str, float]:
    """The same metric names for every method: means over movies (and per movie)."""
    metrics: dict[str, float] = {}
    rows = comparison[comparison["method"] == method]
    for (reference, region), group in rows.groupby(["reference", "region"]):
        if reference == "truth":
            metrics[f"psnr_{region}"] = float(group["psnr"].mean())
            if region == "frame" and "ssim" in group:
                metrics["ssim"] = float(group["ssim"].mean())
        else:
            metrics[f"upsnr_{reference}_{region}"] = float(group["upsnr"].mean())
            metrics[f"umse_{reference}_{region}"] = float(group["umse"].mean())
            for _, row in group.iterrows():
                metrics[f"{row['movie']}.upsnr_{reference}_{region}"] = float(row["upsnr"])
    method_checks = checks[checks["method"] == method]
    for key in ("vacuum_snr_gain", "phantom_score", "nonuniformity", "sum_correlation",
                "sum_relative_bias"):
        metrics[key] = float(method_checks[key].mean())
    return metrics


def method_runs(comparison: pd.DataFrame, checks: pd.DataFrame,
                candidates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One MLflow run per method: which model version, and identically named metrics."""
    runs = {}
    for method in comparison["method"].unique():
        entry = candidates.get(method, {})
        params = {"registered_model": entry.get("name", "none"),
                  "model_version": entry.get("version", "none"),
                  "movies": ",".join(sorted(comparison["movie"].unique()))}
        runs[method] = {"params": params, "metrics": _method_metrics(comparison, checks, method)}
    return runs
