"""A trained denoiser as a Kedro dataset: a model file, plus an MLflow run and registry entry."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset

from fluxion.denoising.methods import method as find_method
from fluxion.denoising.models import Denoiser
from fluxion.denoising.models.checkpoint import load_denoiser, save_denoiser
from fluxion.denoising.training import TrainingResult
from fluxion.tracking import log_trained_model


class TrainedModelDataset(AbstractDataset[Any, Denoiser]):
    """Save a ``TrainingResult``; load the denoiser back.

    ``save`` writes the best weights with their history to ``filepath`` and, when an MLflow run
    is active (every ``kedro run`` with kedro-mlflow), logs a nested run for the model and
    registers it as ``registered_model_name`` (default: the ``method``'s name in the
    registry); the registered name and version are kept in the
    file, and the loaded model carries them as ``model.registered`` (None if unregistered).
    """

    def __init__(self, *, filepath: str, method: str | None = None,
                 registered_model_name: str | None = None, run_name: str | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        registered = find_method(method).registered_name if method else None
        self._registered_model_name = registered_model_name or registered
        self._run_name = run_name or (find_method(method).name if method else None)
        self.metadata = metadata

    def load(self) -> Denoiser:
        model, extra = load_denoiser(self._filepath)
        model.registered = extra.get("registered")
        model.training_summary = extra.get("summary", {})
        model.training_history = extra.get("history", [])
        return model

    def save(self, result) -> None:
        self.store(result)

    def store(self, result, version_tags: dict[str, str] | None = None) -> None:
        """Write the model; log and register it (its version tagged with ``version_tags``)
        unless this very model (same settings, splits and movie content) is already registered
        from this file."""
        previous = self._registered_identity()
        if previous is not None and previous == result.identity:
            return
        extra = {"history": result.history, "summary": result.summary(),
                 "config": asdict(result.config), "identity": result.identity}
        save_denoiser(self._filepath, result.model, **extra)
        if mlflow.active_run() is not None:
            version = log_trained_model(result, registered_model_name=self._registered_model_name,
                                        run_name=self._run_name, artifacts=[self._filepath],
                                        version_tags=version_tags)
            if version is not None:
                save_denoiser(self._filepath, result.model, **extra, registered={
                    "name": self._registered_model_name, "version": version})

    def _registered_identity(self) -> dict[str, Any] | None:
        """The identity of the model in the file when it was registered, else None."""
        if not self._filepath.is_file() or mlflow.active_run() is None:
            return None
        _, extra = load_denoiser(self._filepath)
        return extra.get("identity") if extra.get("registered") and extra.get("identity") \
            else None

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath),
                "registered_model_name": self._registered_model_name}


class MovieModelsDataset(AbstractDataset[TrainingResult, dict[str, dict[str, Denoiser]]]):
    """Every movie's trained denoisers: ``<path>/<movie>/<method key>.pt``.

    Saving takes one ``TrainingResult`` at a time (the training node yields them as they
    finish, so a kill keeps what is done) and registers it under its method's registered name,
    the version tagged with its movie, the movie's content hash, training frames and start.
    Loading gives ``{movie: {method: denoiser}}``, each carrying ``registered`` and
    ``training_summary``.
    """

    def __init__(self, *, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def _file(self, movie: str, method: str) -> Path:
        return self._path / movie / f"{find_method(method).key}.pt"

    def load(self) -> dict[str, dict[str, Denoiser]]:
        models: dict[str, dict[str, Denoiser]] = {}
        for path in sorted(self._path.glob("*/*.pt")):
            model = TrainedModelDataset(filepath=str(path)).load()
            models.setdefault(path.parent.name, {})[find_method(path.stem).name] = model
        return models

    def save(self, result: TrainingResult) -> None:
        method, movie = result.config.method, result.movie
        summary = result.summary()
        tags = {"movie_sha256": summary["movie_sha256"], "init": summary["init"],
                "train_frames": "{}-{}".format(*summary["train_frames"]),
                "validation_frames": "{}-{}".format(*summary["validation_frames"]),
                "leak_suspected": summary["leak_suspected"]}
        TrainedModelDataset(filepath=str(self._file(movie, method)), method=method,
                            run_name=f"train {movie} {method}").store(result, tags)

    def _exists(self) -> bool:
        return any(self._path.glob("*/*.pt"))

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
