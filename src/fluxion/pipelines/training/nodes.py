"""Thin nodes of the training pipeline; the science is in fluxion.denoising.training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from fluxion.datasets.movies import MovieLoader
from fluxion.denoising.methods import method
from fluxion.denoising.training import TrainingConfig, TrainingResult, train_denoiser
from fluxion.errors import ParameterError
from fluxion.reporting.plots import training_curves
from fluxion.tracking import training_logger


def select_training_movie(movie_info: dict[str, Any], movie: str | None) -> dict[str, Any]:
    """The ingested movie to train on (``training.movie``; null: the first one)."""
    if not movie_info:
        raise ParameterError("no ingested movie to train on; run `kedro run --pipeline "
                             "ingestion` first.")
    name = movie or next(iter(movie_info))
    if name not in movie_info:
        raise ParameterError(f"training.movie is {name!r}, but the ingested movies are "
                             f"{sorted(movie_info)}.")
    return {"name": name, "path": movie_info[name]["copy"],
            "splits": movie_info[name]["splits"],
            "noise_gain": movie_info[name].get("summary", {}).get("noise_gain"),
            "sha256": movie_info[name].get("sha256")}


def train_method(training_movie: dict[str, Any], common: dict[str, Any],
                 method_options: dict[str, Any], checkpoint_folder: str,
                 ) -> tuple[TrainingResult, list[dict[str, float]]]:
    """Train one method (its parameters over the common ones), resuming from checkpoints;
    its losses go live to a nested MLflow run when Kedro has opened one."""
    config = TrainingConfig.from_dict({**common, **method_options})
    logger = training_logger(f"train {config.method}", movie=training_movie["name"],
                             method=config.method)
    result = train_denoiser(
        MovieLoader(training_movie["path"])(), splits=training_movie["splits"], config=config,
        checkpoint_dir=Path(checkpoint_folder) / config.method,
        movie_name=training_movie["name"], loggers=[logger] if logger else None,
        noise_gain=training_movie.get("noise_gain"), movie_sha256=training_movie.get("sha256"))
    return result, result.history


def summarise_training(**histories: list[dict[str, float]]) -> tuple[pd.DataFrame, Figure]:
    """Per-epoch losses of every method (keyed by method key) as one table, and their
    curves."""
    by_name = {method(key).name: history for key, history in histories.items()}
    table = pd.concat([pd.DataFrame(h).assign(method=m) for m, h in by_name.items()],
                      ignore_index=True)
    return table, training_curves(by_name)
