"""Thin nodes of the training pipeline; the science is in fluxion.denoising.training and the
per-movie plan in fluxion.denoising.per_movie."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from fluxion.denoising.models import Denoiser
from fluxion.denoising.per_movie import TrainingJob, TrainingPlan, WarmStart, run_jobs
from fluxion.denoising.training import TrainingResult
from fluxion.errors import ParameterError
from fluxion.movies.records import movie_records
from fluxion.reporting.plots import training_curves
from fluxion.tracking import parent_run


def _champion_start(champion: tuple[Denoiser, dict[str, str]] | None) -> WarmStart | None:
    if champion is None:
        return None
    model, which = champion
    return WarmStart.from_model(model, f"{which['name']} v{which['version']}")


def plan_training(movie_info: dict[str, Any], training: dict[str, Any],
                  champion: tuple[Denoiser, dict[str, str]] | None) -> list[TrainingJob]:
    """Every (movie, method) to train: ``training.method`` on each movie, the baselines on the
    movies ``training.compare_movies`` names, from the champion when ``training.init`` says so."""
    if not movie_info:
        raise ParameterError("no ingested movie to train on; run `kedro run --pipeline "
                             "ingestion` first.")
    plan = TrainingPlan.from_params(training)
    return plan.jobs(movie_records(movie_info), _champion_start(champion))


def plan_finetuning(movie_info: dict[str, Any], training: dict[str, Any],
                    reanalysis: dict[str, Any],
                    champion: tuple[Denoiser, dict[str, str]] | None,
                    holder: tuple[str, str] | None) -> list[TrainingJob]:
    """Each new movie's own model: the champion fine-tuned on it for
    ``reanalysis.finetune_steps`` optimiser steps, checkpointed under
    ``reanalysis.checkpoint_folder``. ``holder`` is the alias holder after evaluation, so that,
    run together, re-analysis starts from the champion the evaluation chose (it is loaded
    only after the alias is saved)."""
    plan = TrainingPlan.from_params({**training,
                                     "checkpoint_folder": reanalysis["checkpoint_folder"]})
    return plan.with_steps(reanalysis["finetune_steps"]).jobs(movie_records(movie_info),
                                                              _champion_start(champion))


def train_movie_models(jobs: list[TrainingJob], training: dict[str, Any],
                       ) -> Iterator[TrainingResult]:
    """Train every job, handing each model to the catalog as soon as it is trained (so a kill
    keeps what is done; checkpoints resume the rest); losses go live to MLflow runs nested
    under the Kedro run."""
    plan = TrainingPlan.from_params(training)
    yield from run_jobs(jobs, workers=plan.workers, dask_scheduler=plan.dask_scheduler,
                        parent=parent_run())


def summarise_training(models: dict[str, dict[str, Denoiser]], movie_info: dict[str, Any],
                       ) -> tuple[pd.DataFrame, dict[str, Figure]]:
    """Per-epoch losses of every model of the ingested movies as one table, and one figure of
    loss curves per movie."""
    tables, figures = [], {}
    for movie in movie_info:
        histories = {method: model.training_history
                     for method, model in models.get(movie, {}).items()}
        if not histories:
            continue
        for method, history in histories.items():
            tables.append(pd.DataFrame(history).assign(movie=movie, method=method))
        figures[f"{movie}.png"] = training_curves(histories, title=movie)
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return table, figures
