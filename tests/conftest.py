"""Shared fixtures: tiny simulated movies, written once per session."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def small_movie():
    """A 40-frame 96x96 simulated movie at 2 counts/pixel (SimulatedMovie)."""
    from fluxion.movies.simulate import simulate_movie

    return simulate_movie(frames=40, size=96, dose=2.0, particle_diameter_nm=1.6,
                          pixel_size=0.3, seed=3)


@pytest.fixture
def tracking(tmp_path):
    """A private SQLite MLflow tracking + registry store with its own artifact folder."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_experiment(experiment_id=mlflow.create_experiment(
        "test", artifact_location=str(tmp_path / "artifacts")))
    yield mlflow.MlflowClient()
    mlflow.set_tracking_uri(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def run_pipeline(pipeline, datasets: dict, params: dict):
    """Run a Kedro pipeline with SequentialRunner on a catalog of ``datasets`` plus ``params``.

    Nested parameters become ``params:a``, ``params:a.b``, ... as Kedro's config loader makes
    them; every other dataset the pipeline names is in memory. Returns the catalog.
    """
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.runner import SequentialRunner

    class KeptMemoryDataset(MemoryDataset):
        """Keeps its data after the run, so tests can look at intermediate results."""

        def _release(self) -> None:
            pass

    def flatten(prefix, value):
        yield prefix, value
        if isinstance(value, dict):
            for key, inner in value.items():
                yield from flatten(f"{prefix}.{key}", inner)

    catalog = DataCatalog(datasets=dict(datasets))
    for key, value in params.items():
        for name, inner in flatten(f"params:{key}", value):
            catalog[name] = MemoryDataset(inner, copy_mode="deepcopy")
    for name in pipeline.datasets():
        if name not in catalog:
            catalog[name] = KeptMemoryDataset()
    SequentialRunner().run(pipeline, catalog)
    return catalog
