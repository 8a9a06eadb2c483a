"""Kedro hooks: the configuration environment check, the re-analysis lock, run labels."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from kedro.framework.hooks import hook_impl

from fluxion.errors import LockedError, ParameterError

EXPERIMENT_KIND = "mlflow.experimentKind"  # custom_model_development: the model-training view


def acquire_lock(path: str | Path, *, wait_s: float = 0.0) -> FileLock:
    """Take the OS file lock at ``path`` (waiting up to ``wait_s`` seconds) and note the holder
    beside it; raise :class:`LockedError` naming the holder when another process has it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = path.with_name(path.name + ".holder")
    lock = FileLock(path)
    try:
        lock.acquire(timeout=wait_s)
    except Timeout:
        who = holder.read_text().strip() if holder.is_file() else "another process"
        raise LockedError(
            f"{path} is held by {who}: another re-analysis is running. This run exits without "
            "touching anything; the next scheduled run picks up the new movies "
            "(reanalysis.lock_wait_s makes a run wait instead).") from None
    holder.write_text(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    return lock


class EnvironmentCheckHook:
    """``kedro run --env NAME`` with no ``conf/NAME`` folder: a clear error before any plugin
    (kedro-mlflow) reads a configuration that is not there."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        conf = Path(context.config_loader.conf_source)
        env = context.env
        if env and conf.is_dir() and not (conf / env).is_dir():
            known = sorted(p.name for p in conf.iterdir() if p.is_dir())
            raise ParameterError(f"--env {env}: there is no configuration folder {conf / env}; "
                                 f"the environments are {', '.join(known)}.")


class ReanalysisLockHook:
    """Hold ``reanalysis.lock_file`` for the whole of any run that contains re-analysis nodes,
    taken before any dataset is loaded, so two runs never process the same incoming movie.

    The lock is an OS file lock (``filelock``): it dies with its process, so a killed run
    leaves no stale lock behind.
    """

    def __init__(self) -> None:
        self._lock: FileLock | None = None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        if not any(n.namespace and n.namespace.startswith("reanalysis") for n in pipeline.nodes):
            return
        options = catalog.load("params:reanalysis")
        self._lock = acquire_lock(options["lock_file"], wait_s=options["lock_wait_s"])

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._release()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class RunLabelsHook:
    """Name the Kedro run's MLflow run for what it is (``kedro run 2026-12-02 14:05
    training,evaluation``) and open the experiment in MLflow's model-training view (the
    ``mlflow.experimentKind`` tag MLflow reads), after kedro-mlflow has started the run."""

    @hook_impl(trylast=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        import mlflow

        run = mlflow.active_run()
        if run is None:
            return
        pipelines = run_params.get("pipeline_names") or [run_params.get("pipeline_name")]
        names = ",".join(p for p in pipelines if p) or "all pipelines"
        if names == "__default__":
            names = "all pipelines"
        mlflow.set_tag("mlflow.runName", f"kedro run {time.strftime('%Y-%m-%d %H:%M')} {names}")
        mlflow.MlflowClient().set_experiment_tag(run.info.experiment_id, EXPERIMENT_KIND,
                                                 "custom_model_development")
