"""MLflow: one run per trained model, the model registry and its ``champion`` alias.

Models are logged with ``mlflow.pytorch`` as pickled modules (with Fluxion's code), not in the
``pt2`` export format, which would fix the frame size to the input example's: a registered
denoiser must take any H x W. The signature says so: (-1, frames, -1, -1) float32.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import numpy as np
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

import fluxion
from fluxion.denoising.models import Denoiser
from fluxion.denoising.per_movie import ParentRun
from fluxion.errors import RegisteredModelNotFoundError

log = logging.getLogger(__name__)

CHAMPION = "champion"
SELECTED_PREFIX = "selected-"

__all__ = [
    "CHAMPION",
    "RegisteredModelNotFoundError",
    "clear_selection",
    "describe_selection",
    "find_champion",
    "flatten_params",
    "load_registered_model",
    "log_method_runs",
    "log_trained_model",
    "parent_run",
    "promote_champion",
    "resolve_model",
    "select_for_movie",
    "selected_model",
    "selected_version",
    "selection_alias",
    "set_alias",
    "tag_version",
    "training_logger",
]


def flatten_params(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}, for MLflow parameters."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_params(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _signature(frames: int) -> ModelSignature:
    return ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, frames, -1, -1))]),
                          outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 1, -1, -1))]))


def parent_run() -> ParentRun | None:
    """The active (Kedro) run, in a form a training process can nest its runs under."""
    active = mlflow.active_run()
    if active is None:
        return None
    experiment = mlflow.get_experiment(active.info.experiment_id).name
    return ParentRun(mlflow.get_tracking_uri(), experiment, active.info.run_id)


def training_logger(run_name: str, parent: ParentRun | None = None, **tags: str):
    """A Lightning MLflow logger writing to a new run nested under ``parent`` (default: the
    active Kedro run), so losses show live in the UI; None when there is no run to nest under."""
    parent = parent or parent_run()
    if parent is None:
        return None
    from lightning.pytorch.loggers import MLFlowLogger

    return MLFlowLogger(experiment_name=parent.experiment, run_name=run_name,
                        tracking_uri=parent.tracking_uri,
                        tags={MLFLOW_PARENT_RUN_ID: parent.run_id,
                              "fluxion.kind": "trained-denoiser",
                              **{f"fluxion.{k}": v for k, v in tags.items()}})


def log_trained_model(result, *, registered_model_name: str | None = None,
                      run_name: str | None = None, artifacts: Iterable[str | Path] = (),
                      version_tags: dict[str, str] | None = None) -> str | None:
    """Log a :class:`fluxion.denoising.training.TrainingResult` as its own MLflow run.

    Parameters (the training configuration and movie), per-epoch ``train_loss`` /
    ``val_loss`` / ``learning_rate`` as metric history, ``best_val_loss`` etc., the given
    artifact files (e.g. the best checkpoint) and the model; the model is registered under
    ``registered_model_name`` when given, its version tagged with ``version_tags``. The run is
    nested under the active (Kedro) run if any. Returns the registered model version, or None.
    """
    config = result.config
    with mlflow.start_run(run_id=result.run_id, run_name=run_name or config.method,
                          nested=mlflow.active_run() is not None) as run:
        mlflow.log_params({**flatten_params(asdict(config)), "movie": result.movie})
        mlflow.set_tags({"fluxion.kind": "trained-denoiser", "fluxion.method": config.method,
                         "fluxion.movie": result.movie})
        if result.run_id is None:  # no live logger: the history afterwards
            now = int(time.time() * 1000)
            history = [Metric(key, float(row[key]), now, int(row["epoch"]))
                       for row in result.history for key in ("train_loss", "val_loss",
                                                             "learning_rate")]
            mlflow.MlflowClient().log_batch(run.info.run_id, metrics=history)
        mlflow.log_metrics({"best_val_loss": result.best_val_loss,
                            "best_epoch": float(result.best_epoch),
                            "noise_floor": result.noise_floor,
                            "epochs_run": float(len(result.history))})
        for artifact in artifacts:
            mlflow.log_artifact(str(artifact), "checkpoint")
        example = np.zeros((1, result.model.frames, 32, 32), np.float32)
        info = mlflow.pytorch.log_model(
            result.model, name="model", serialization_format="pickle",
            code_paths=[str(Path(fluxion.__file__).parent)], signature=_signature(
                result.model.frames), input_example=example,
            pip_requirements=["torch", "numpy"], registered_model_name=registered_model_name)
    if not registered_model_name:
        return None
    version = str(info.registered_model_version)
    tag_version(registered_model_name, version, {
        "movie": result.movie, "method": config.method, "training_run": run.info.run_id,
        **(version_tags or {})})
    return version


def tag_version(name: str, version: str, tags: dict[str, Any]) -> None:
    """Set ``tags`` (values as text) on registered model ``name`` version ``version``."""
    client = mlflow.MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, str(value))


def set_alias(name: str, version: str | int, alias: str = CHAMPION) -> None:
    """Point ``alias`` at ``name`` version ``version`` (the alias moves atomically)."""
    mlflow.MlflowClient().set_registered_model_alias(name, alias, str(version))


def load_registered_model(name: str, *, alias: str | None = CHAMPION,
                          version: str | int | None = None) -> Denoiser:
    """Load a registered denoiser by alias (default ``champion``) or by version.

    Raises :class:`RegisteredModelNotFoundError` naming the model and how to make one.
    """
    uri = f"models:/{name}/{version}" if version is not None else f"models:/{name}@{alias}"
    try:
        return mlflow.pytorch.load_model(uri, map_location="cpu").eval()
    except MlflowException as error:
        which = f"version {version}" if version is not None else f"alias '{alias}'"
        raise RegisteredModelNotFoundError(
            f"the MLflow registry ({mlflow.get_tracking_uri()}) has no registered model "
            f"'{name}' with {which}. Train and register one with `kedro run --pipeline "
            "training`, then promote the best with `kedro run --pipeline evaluation` (or in "
            "the MLflow UI: Models > the model > the version > Add alias)."
        ) from error


def find_champion(names: Iterable[str], alias: str = CHAMPION) -> tuple[str, str] | None:
    """(registered model name, version) holding ``alias`` among ``names``, or None.

    Fluxion keeps exactly one champion across its registered models; should several hold the
    alias, the most recently registered version wins.
    """
    client = mlflow.MlflowClient()
    holders = []
    for name in names:
        try:
            version = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            continue
        holders.append((version.creation_timestamp, name, str(version.version)))
    return max(holders)[1:] if holders else None


def newest_version(name: str) -> str | None:
    """The highest version number registered under ``name``, or None."""
    try:
        versions = mlflow.MlflowClient().search_model_versions(f"name='{name}'")
    except MlflowException:
        return None
    return str(max(int(v.version) for v in versions)) if versions else None


def resolve_model(names: Iterable[str], *, alias: str = CHAMPION,
                  fallback: str | None = None) -> tuple[Denoiser, dict[str, str]]:
    """The registered model version holding ``alias`` among ``names``; without one, the newest
    version of ``fallback``. Returns the model and {name, version, chosen_by}.
    """
    names = list(names)
    found = find_champion(names, alias)
    chosen_by = f"alias '{alias}'"
    if found is None and fallback is not None:
        version = newest_version(fallback)
        found, chosen_by = ((fallback, version), "newest version") if version else (None, "")
    if found is None:
        raise RegisteredModelNotFoundError(
            f"no registered model among {names} has the alias '{alias}'"
            + (f", and '{fallback}' has no version" if fallback else "")
            + f" in the MLflow registry ({mlflow.get_tracking_uri()}). Train one with `kedro run "
            "--pipeline training`, then promote the best with `kedro run --pipeline evaluation` "
            "(or in the MLflow UI: Models > model > version > Add alias).")
    name, version = found
    model = load_registered_model(name, version=version)
    return model, {"name": name, "version": version, "chosen_by": chosen_by}


def promote_champion(name: str, version: str | int, names: Iterable[str], *,
                     alias: str = CHAMPION) -> None:
    """Give ``alias`` to ``name`` version ``version`` and take it from every other model in
    ``names``, so exactly one version across Fluxion's registered models holds it."""
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(name, alias, str(version))
    for other in names:
        if other == name:
            continue
        try:
            client.get_model_version_by_alias(other, alias)
        except MlflowException:
            continue
        client.delete_registered_model_alias(other, alias)
    log.info("%s version %s is now the %s", name, version, alias)


def selection_alias(movie: str) -> str:
    """The registry alias that marks a movie's selected denoiser: ``selected-<movie>`` (characters
    an alias cannot hold become ``_``)."""
    return SELECTED_PREFIX + re.sub(r"[^\w-]", "_", movie)


def select_for_movie(movie: str, name: str, version: str | int, names: Iterable[str]) -> None:
    """Make ``name`` version ``version`` the one selected denoiser of ``movie`` across ``names``
    (alias ``selected-<movie>``)."""
    promote_champion(name, version, names, alias=selection_alias(movie))


def describe_selection(verdict: dict[str, Any], evaluation_run: str) -> None:
    """Write on the selected version why it was selected: a description, and tags with the
    interval against the Gaussian, the checks and the Kedro run that evaluated it."""
    low, high = verdict["interval"]
    description = (
        f"Selected for movie {verdict['movie']} by Fluxion's quality gate: "
        f"{'; '.join(verdict['reasons'])}. Per-frame ranking uMSE (risk estimate in the "
        f"particle, temporal uMSE where static) minus the Gaussian baseline's: 90% "
        f"moving-block bootstrap interval [{low:.4g}, {high:.4g}] (below zero: better). Vacuum "
        f"uniform, no phantom lattice, no noise leak, noise correlations within limits. "
        f"Evaluated in run {evaluation_run}.")
    mlflow.MlflowClient().update_model_version(verdict["name"], verdict["version"],
                                               description=description)
    tag_version(verdict["name"], verdict["version"], {
        "gate_passed": "true", "gate_interval": f"[{low:.4g}, {high:.4g}]",
        "gate_reason": "; ".join(verdict["reasons"]), "evaluation_run": evaluation_run})


def clear_selection(movie: str, names: Iterable[str]) -> None:
    """No version is selected for ``movie`` (its gate failed: the Gaussian filter denoises it)."""
    client = mlflow.MlflowClient()
    for name in names:
        try:
            client.delete_registered_model_alias(name, selection_alias(movie))
        except MlflowException:
            continue


def selected_version(movie: str, names: Iterable[str] | None = None) -> tuple[str, str] | None:
    """(registered model name, version) selected for ``movie``, or None (none passed its
    gate, or the movie was never evaluated)."""
    from fluxion.denoising.methods import registered_model_names

    return find_champion(names or registered_model_names(), selection_alias(movie))


def selected_model(movie: str, names: Iterable[str] | None = None,
                   ) -> tuple[Denoiser, dict[str, str]]:
    """The denoiser the quality gate selected for ``movie`` and {name, version}: the one call
    to find a movie's model (in the MLflow UI: Models, alias ``selected-<movie>``)."""
    found = selected_version(movie, names)
    if found is None:
        raise RegisteredModelNotFoundError(
            f"no registered model is selected for movie {movie!r} (alias "
            f"'{selection_alias(movie)}'): either it was not evaluated yet (`kedro run`) or no "
            "model passed its quality gate (see data/07_model_output/denoise_report.json).")
    name, version = found
    return load_registered_model(name, version=version), {"name": name, "version": version}


def log_method_runs(methods: dict[str, dict[str, Any]], *, prefix: str = "evaluate") -> None:
    """One MLflow run per method, named ``<prefix> <method>``, with the method's ``params``,
    ``tags`` and ``metrics`` (the same metric names for every method, so MLflow's compare view
    lines them up) and its own evidence: ``figures`` ({artifact name: matplotlib figure}) and
    ``tables`` ({artifact name: DataFrame}, as CSV). Nested under the active run if any."""
    for method, content in methods.items():
        with mlflow.start_run(run_name=f"{prefix} {method}",
                              nested=mlflow.active_run() is not None):
            mlflow.set_tags({"fluxion.kind": prefix, "fluxion.method": method,
                             **content.get("tags", {})})
            mlflow.log_params(content.get("params", {}))
            # only finite values: MLflow would store +inf as 1.8e308 and draw no chart
            metrics = {k: float(v) for k, v in content.get("metrics", {}).items()
                       if v is not None and np.isfinite(v)}
            dropped = sorted(set(content.get("metrics", {})) - set(metrics))
            if dropped:
                log.warning("%s %s: metrics %s are not finite and were not logged", prefix,
                            method, dropped)
            mlflow.log_metrics(metrics)
            for name, figure in content.get("figures", {}).items():
                mlflow.log_figure(figure, name)
                plt.close(figure)
            for name, table in content.get("tables", {}).items():
                mlflow.log_text(table.to_csv(index=False), name)
