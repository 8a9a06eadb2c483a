"""One denoiser per movie: which models to train on which movie, from which start, and where.

Self-supervised means per movie: UDVD (``training.method``) is trained on every movie's own
frames, and the baselines (``training.compare``) on the movies ``training.compare_movies``
names. A model may start from the registry's champion (``training.init: champion``) when it has
the same method and architecture. Jobs run one after another, side by side in processes
(``training.workers``; one per GPU where there are several) or, past one machine, one task per
model on a Dask cluster (``training.dask_scheduler``). Results come back as each model finishes,
so a kill loses only the models in flight, and their checkpoints resume them.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from fluxion.denoising.methods import method as find_method
from fluxion.denoising.models import Denoiser
from fluxion.denoising.training import TrainingConfig, TrainingResult, train_denoiser
from fluxion.errors import ParameterError, reject_unknown_keys
from fluxion.movies.records import MovieRecord

log = logging.getLogger(__name__)

__all__ = ["ParentRun", "TrainingJob", "TrainingPlan", "WarmStart", "own_models", "run_job",
           "run_jobs"]

_INITS = ("scratch", "champion")
_PLAN_KEYS = {"method", "compare", "compare_movies", "init", "workers", "dask_scheduler",
              "checkpoint_folder", "common", "methods"}


@dataclass(frozen=True)
class WarmStart:
    """Weights to start from: the registry's champion, named e.g. ``fluxion-udvd v3``."""

    source: str
    spec: Mapping[str, Any]
    state: Mapping[str, torch.Tensor]

    @classmethod
    def from_model(cls, model: Denoiser, source: str) -> WarmStart:
        return cls(source, model.spec, {k: v.detach().cpu().clone()
                                        for k, v in model.state_dict().items()})

    def fits(self, config: TrainingConfig) -> bool:
        """Same method and architecture as the model ``config`` builds."""
        built = find_method(config.method).build(**config.architecture)
        return dict(self.spec) == built.spec


@dataclass(frozen=True)
class ParentRun:
    """The MLflow run (the Kedro run) that training runs nest under, passable to a process."""

    tracking_uri: str
    experiment: str
    run_id: str


@dataclass(frozen=True)
class TrainingJob:
    """Train one method on one movie."""

    movie: MovieRecord
    config: TrainingConfig
    checkpoint_dir: Path
    warm_start: WarmStart | None = None

    @property
    def label(self) -> str:
        return f"{self.movie.name} {self.config.method}"


@dataclass(frozen=True)
class TrainingPlan:
    """``training`` parameters, checked: the per-movie method, the baselines and where they
    run, every method's :class:`TrainingConfig`."""

    method: str
    compare: tuple[str, ...]
    compare_movies: int | tuple[str, ...] | None
    init: str
    workers: int | str
    dask_scheduler: str | None
    checkpoint_folder: Path
    configs: Mapping[str, TrainingConfig] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainingPlan:
        """Build from the ``training`` parameters, naming any unknown or invalid key."""
        reject_unknown_keys("training", params, _PLAN_KEYS)
        configs = {}
        for options in (params.get("methods") or {}).values():
            config = TrainingConfig.from_dict({**(params.get("common") or {}), **options})
            configs[config.method] = config
        wanted = [params.get("method", "udvd"), *(params.get("compare") or [])]
        names = [find_method(name).name for name in wanted]
        missing = [name for name in names if name not in configs]
        if missing:
            raise ParameterError(f"training: no settings for {missing} under training.methods "
                                 f"(it has {sorted(configs)}).")
        plan = cls(method=names[0], compare=tuple(n for n in names[1:] if n != names[0]),
                   compare_movies=_movies_option(params.get("compare_movies")),
                   init=params.get("init", "scratch"), workers=params.get("workers", 1),
                   dask_scheduler=params.get("dask_scheduler"),
                   checkpoint_folder=Path(params.get("checkpoint_folder",
                                                     "data/06_models/checkpoints")),
                   configs=configs)
        plan.validate()
        return plan

    def validate(self) -> None:
        if self.init not in _INITS:
            raise ParameterError(f"training.init must be one of {_INITS}, got {self.init!r}.")
        if self.workers != "auto" and (not isinstance(self.workers, int)
                                       or isinstance(self.workers, bool) or self.workers < 1):
            raise ParameterError(f"training.workers must be 'auto' or a whole number >= 1, got "
                                 f"{self.workers!r}.")

    def methods_for(self, position: int, movie: str) -> list[str]:
        """The per-movie method, plus the baselines when this movie is one to compare on."""
        which = self.compare_movies
        compared = (which is None or (isinstance(which, int) and position < which)
                    or (isinstance(which, tuple) and movie in which))
        return [self.method, *(self.compare if compared else ())]

    def jobs(self, movies: Mapping[str, MovieRecord], champion: WarmStart | None,
             ) -> list[TrainingJob]:
        """Every (movie, method) to train, with the champion's weights where they fit."""
        if isinstance(self.compare_movies, tuple):
            unknown = sorted(set(self.compare_movies) - set(movies))
            if unknown:
                log.warning("training.compare_movies names %s, which are not ingested", unknown)
        jobs = []
        for position, (name, movie) in enumerate(movies.items()):
            for method_name in self.methods_for(position, name):
                config = self.configs[method_name]
                start = champion if self.init == "champion" and champion is not None \
                    and champion.fits(config) else None
                jobs.append(TrainingJob(movie, config, self.checkpoint_folder / name
                                        / find_method(method_name).key, start))
        if self.init == "champion" and champion is None and jobs:
            log.info("training.init is champion, but the registry has none yet: from scratch")
        return jobs

    def with_steps(self, steps: int) -> TrainingPlan:
        """The per-movie method alone, for about ``steps`` optimiser steps (a fine-tune)."""
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ParameterError(f"reanalysis.finetune_steps must be a whole number >= 1, got "
                                 f"{steps!r}.")
        config = self.configs[self.method]
        epochs = max(1, math.ceil(steps / config.steps_per_epoch))
        return replace(self, compare=(), init="champion", configs={
            self.method: replace(config, epochs=epochs, patience=epochs)})


def _movies_option(value: Any) -> int | tuple[str, ...] | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(str(v) for v in value)
    raise ParameterError(f"training.compare_movies must be null (every movie), a number (the "
                         f"first movies) or a list of movie names, got {value!r}.")


def own_models(movie: MovieRecord, models: Mapping[str, Mapping[str, Denoiser]],
               ) -> dict[str, Denoiser]:
    """``movie``'s models by method among ``{movie: {method: model}}``: only those trained on
    this very content (a model of an older movie under the same name is not this movie's)."""
    return {method: model for method, model in models.get(movie.name, {}).items()
            if getattr(model, "training_summary", {}).get("movie_sha256") in (None,
                                                                              movie.sha256)}


# --------------------------------------------------------------------------------------------
# Running the jobs
# --------------------------------------------------------------------------------------------
def run_job(job: TrainingJob, parent: ParentRun | None = None) -> TrainingResult:
    """Train one job (in this process or a worker); losses go live to an MLflow run nested
    under ``parent`` when given."""
    from fluxion.tracking import training_logger

    logger = training_logger(f"train {job.label}", parent=parent, movie=job.movie.name,
                             method=job.config.method)
    start = job.warm_start
    return train_denoiser(
        job.movie.frames(), splits=job.movie.splits.as_dict(), config=job.config,
        checkpoint_dir=job.checkpoint_dir, movie_name=job.movie.name,
        loggers=[logger] if logger else None, noise_gain=job.movie.noise_gain,
        movie_sha256=job.movie.sha256, initial_state=dict(start.state) if start else None,
        init_from=start.source if start else "scratch")


def run_jobs(jobs: Sequence[TrainingJob], *, workers: int | str = 1,
             dask_scheduler: str | None = None,
             parent: ParentRun | None = None) -> Iterator[TrainingResult]:
    """Train every job, yielding each result as it finishes: in this process (one worker),
    in ``workers`` spawned processes (``auto``: one per GPU, else one), or as one task per
    job on the Dask cluster at ``dask_scheduler``."""
    if dask_scheduler:
        yield from _on_dask(jobs, dask_scheduler, parent)
        return
    count = min(_worker_count(workers), len(jobs))
    if count <= 1:
        for job in jobs:
            yield run_job(job, parent)
        return
    gpus = torch.cuda.device_count()
    threads = max(1, (os.cpu_count() or 1) // count)
    placed = [_on_gpu(job, i % gpus) if gpus > 1 else job for i, job in enumerate(jobs)]
    with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(threads,)) as pool:
        futures = {pool.submit(run_job, job, parent): job for job in placed}
        for future in as_completed(futures):
            yield future.result()


def _worker_count(workers: int | str) -> int:
    if workers == "auto":
        return max(1, torch.cuda.device_count())
    return int(workers)


def _on_gpu(job: TrainingJob, index: int) -> TrainingJob:
    """The job pinned to GPU ``index`` unless its configuration already names a device."""
    if job.config.device not in ("auto", "cuda"):
        return job
    return replace(job, config=replace(job.config, device=f"cuda:{index}"))


def _on_dask(jobs: Sequence[TrainingJob], scheduler: str,
             parent: ParentRun | None) -> Iterator[TrainingResult]:
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed

    with Client(scheduler) as client:
        futures = [client.submit(run_job, job, parent, key=f"train-{job.label}-{i}", pure=False)
                   for i, job in enumerate(jobs)]
        for future in dask_completed(futures):
            yield future.result()
