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
        return model

    def save(self, result) -> None:
        """Write the model; log and register it unless this very model (same settings, splits
        and movie content) is already registered from this file."""
        previous = self._registered_identity()
        if previous is not None and previous == result.identity:
            return
        extra = {"history": result.history, "summary": result.summary(),
                 "config": asdict(result.config), "identity": result.identity}
        save_denoiser(self._filepath, result.model, **extra)
        if mlflow.active_run() is not None:
            version = log_trained_model(result, registered_model_name=self._registered_model_name,
                                        run_name=self._run_name, artifacts=[self._filepath])
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
