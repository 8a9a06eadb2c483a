"""MLflow registry and runs as Kedro datasets (champion, candidates, alias, per-method runs),
and MP4 previews."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
from kedro.io import AbstractDataset
from mlflow.exceptions import MlflowException

from fluxion.denoising.methods import registered_model_names
from fluxion.denoising.models import Denoiser
from fluxion.reporting.preview import write_video
from fluxion.tracking import (
    CHAMPION,
    SELECTED_PREFIX,
    RegisteredModelNotFoundError,
    clear_selection,
    describe_selection,
    find_champion,
    log_method_runs,
    promote_champion,
    resolve_model,
    select_for_movie,
)


class RegisteredModelDataset(AbstractDataset[None, tuple[Denoiser, dict[str, str]]]):
    """Load ``(model, {name, version, chosen_by})`` from the MLflow registry.

    The version holding ``alias`` (default ``champion``) among ``names`` (default: every
    registered name of the method registry); without one, the newest version of ``fallback``.
    Read-only.
    """

    def __init__(self, *, names: list[str] | None = None, alias: str = CHAMPION,
                 fallback: str | None = None, required: bool = True,
                 metadata: dict[str, Any] | None = None) -> None:
        self._names = list(names) if names else registered_model_names()
        self._alias, self._fallback = alias, fallback
        self._required = required
        self.metadata = metadata

    def load(self) -> tuple[Denoiser, dict[str, str]] | None:
        """The model and where it came from; None when there is none and not ``required``."""
        try:
            return resolve_model(self._names, alias=self._alias, fallback=self._fallback)
        except RegisteredModelNotFoundError:
            if self._required:
                raise
            return None

    def save(self, data: Any) -> None:
        raise NotImplementedError("RegisteredModelDataset is read-only: models are registered "
                                  "by the training pipeline.")

    def _describe(self) -> dict[str, Any]:
        return {"names": self._names, "alias": self._alias, "fallback": self._fallback}


class VideoFolderDataset(AbstractDataset[dict[str, Any], list[str]]):
    """Write ``{name: RGB frames iterable (or a callable returning one)}`` as ``<name>.mp4``.

    Loading lists the videos' paths. ``_filepath`` lets kedro-mlflow log the folder.
    """

    def __init__(self, *, path: str, fps: float = 15.0,
                 metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(path)
        self._fps = fps
        self.metadata = metadata

    def load(self) -> list[str]:
        return sorted(str(p) for p in self._filepath.glob("*.mp4"))

    def save(self, data: dict[str, Any]) -> None:
        for name, frames in data.items():
            write_video(self._filepath / f"{name}.mp4", frames() if callable(frames) else frames,
                        fps=self._fps)

    def _exists(self) -> bool:
        return bool(self.load())

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._filepath), "fps": self._fps}


class ChampionAliasDataset(AbstractDataset[dict[str, Any], tuple[str, str] | None]):
    """Saving ``{"promote": True, "name": ..., "version": ...}`` moves ``alias`` to that version
    (and off every other model in ``names``); loading gives the current holder."""

    def __init__(self, *, names: list[str] | None = None, alias: str = CHAMPION,
                 metadata: dict[str, Any] | None = None) -> None:
        self._names = list(names) if names else registered_model_names()
        self._alias = alias
        self.metadata = metadata

    def load(self) -> tuple[str, str] | None:
        return find_champion(self._names, self._alias)

    def save(self, data: dict[str, Any]) -> None:
        if data.get("promote"):
            promote_champion(data["name"], data["version"], self._names, alias=self._alias)

    def _describe(self) -> dict[str, Any]:
        return {"names": self._names, "alias": self._alias}


class MethodRunsDataset(AbstractDataset[dict[str, dict[str, Any]], None]):
    """Saving ``{method: {params, metrics}}`` logs one MLflow run per method (nested under the
    Kedro run) when tracking is active; otherwise nothing."""

    def __init__(self, *, prefix: str = "evaluate",
                 metadata: dict[str, Any] | None = None) -> None:
        self._prefix = prefix
        self.metadata = metadata

    def load(self) -> None:
        raise NotImplementedError("MethodRunsDataset is write-only: see the runs in MLflow.")

    def save(self, data: dict[str, dict[str, Any]]) -> None:
        if mlflow.active_run() is not None:
            log_method_runs(data, prefix=self._prefix)
            return
        for content in data.values():  # not logged: free the figures all the same
            for figure in content.get("figures", {}).values():
                plt.close(figure)

    def _describe(self) -> dict[str, Any]:
        return {"prefix": self._prefix}


class RunTagsDataset(AbstractDataset[dict[str, str], None]):
    """Saving ``{tag: value}`` sets those tags on the active MLflow run (the Kedro run), so
    flags show in the runs table; without an active run, nothing."""

    def __init__(self, *, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def load(self) -> None:
        raise NotImplementedError("RunTagsDataset is write-only: see the run's tags in MLflow.")

    def save(self, data: dict[str, str]) -> None:
        if mlflow.active_run() is not None:
            mlflow.set_tags(data)

    def _describe(self) -> dict[str, Any]:
        return {}


class MovieSelectionsDataset(AbstractDataset[dict[str, dict[str, Any]], dict[str, dict]]):
    """Each movie's selected denoiser in the registry: the alias ``selected-<movie>`` on exactly
    one version across ``names``.

    Saving ``{movie: verdict dict}`` (:class:`fluxion.scoring.gate.Verdict`) moves each alias to
    the version the gate selected, or removes it where the gate failed. Loading gives
    ``{movie: {"name", "version"}}`` for the movies that have one (the movie is read from the
    version's ``movie`` tag). Without MLflow tracking, nothing.
    """

    def __init__(self, *, names: list[str] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._names = list(names) if names else registered_model_names()
        self.metadata = metadata

    def load(self) -> dict[str, dict[str, str]]:
        client = mlflow.MlflowClient()
        selected = {}
        for name in self._names:
            try:
                aliases = client.get_registered_model(name).aliases
            except MlflowException:
                continue
            for alias, version in aliases.items():
                if alias.startswith(SELECTED_PREFIX):
                    movie = client.get_model_version(name, str(version)).tags.get("movie")
                    if movie:
                        selected[movie] = {"name": name, "version": str(version)}
        return selected

    def save(self, data: dict[str, dict[str, Any]]) -> None:
        if mlflow.active_run() is None:
            return
        for movie, verdict in data.items():
            if verdict["gate_passed"] and verdict.get("name"):
                select_for_movie(movie, verdict["name"], verdict["version"], self._names)
                describe_selection(verdict, mlflow.active_run().info.run_id)
            else:
                clear_selection(movie, self._names)

    def _describe(self) -> dict[str, Any]:
        return {"names": self._names, "alias": f"{SELECTED_PREFIX}<movie>"}
