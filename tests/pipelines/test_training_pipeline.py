"""The training pipeline: one model per movie (baselines where asked), registered with its
movie, resumed per movie after a kill, warm-started from the champion."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from kedro.io import MemoryDataset

import fluxion.denoising.training as training_module
from conftest import run_pipeline
from fluxion.datasets import MovieModelsDataset
from fluxion.denoising.per_movie import TrainingPlan
from fluxion.errors import ParameterError
from fluxion.movies.io import content_hash
from fluxion.movies.simulate import simulate_movie
from fluxion.pipelines.training import create_pipeline

COMMON = {"epochs": 2, "steps_per_epoch": 2, "batch_size": 2, "crop": 32, "learning_rate": 1e-3,
          "lr_factor": 0.5, "lr_patience": 2, "patience": 4, "validation_crops": 2, "seed": 0,
          "device": "auto", "amp": "auto", "compile": False}
METHODS = {"udvd": {"method": "udvd", "architecture": {"width": 4, "triplet_channels": 4}},
           "udvd_single": {"method": "udvd-single", "architecture": {"width": 4}},
           "n2n": {"method": "n2n", "architecture": {"width": 4, "depth": 2}}}
SPLITS = {"train": [0, 14], "validation": [18, 21], "test": [25, 30]}


def _movies(folder, structures: dict[str, dict]) -> dict:
    """Simulated movies written as ingestion would, with their movie_info entries."""
    info = {}
    for name, settings in structures.items():
        sim = simulate_movie(frames=30, size=64, dose=2.0, **settings)
        path = folder / f"{name}.npy"
        np.save(path, sim.noisy)
        info[name] = {"copy": str(path), "shape": [30, 64, 64], "splits": SPLITS,
                      "sha256": content_hash(path), "summary": {"noise_gain": 1.0}}
    return info


def _training(tmp_path, **changes) -> dict:
    return {"method": "udvd", "compare": [], "compare_movies": None, "init": "scratch",
            "workers": 1, "dask_scheduler": None, "checkpoint_folder": str(tmp_path / "ckpt"),
            "common": COMMON, "methods": METHODS, **changes}


def _run(tmp_path, info, training, champion=None):
    datasets = {"movie_models": MovieModelsDataset(path=str(tmp_path / "models")),
                "movie_info": MemoryDataset(info),
                "current_champion": MemoryDataset(champion, copy_mode="assign")}
    return run_pipeline(create_pipeline(), datasets, {"training": training})


@pytest.mark.slow
def test_each_movie_gets_its_own_registered_model(tmp_path, tracking):
    import mlflow

    info = _movies(tmp_path, {"ordered": {"particle_diameter_nm": 1.0, "seed": 1},
                              "large": {"particle_diameter_nm": 1.2, "seed": 7,
                                        "lattice_spacing": 2.3}})
    with mlflow.start_run(run_name="kedro training"):
        catalog = _run(tmp_path, info, _training(tmp_path, compare=["udvd-single", "n2n"],
                                                 compare_movies=1))
    models = catalog.load("movie_models")
    assert set(models) == {"ordered", "large"}
    assert set(models["ordered"]) == {"udvd", "udvd-single", "n2n"}  # baselines: first movie
    assert set(models["large"]) == {"udvd"}
    first, second = (models[m]["udvd"].state_dict() for m in ("ordered", "large"))
    assert any(not torch.equal(first[k], second[k]) for k in first)
    for movie in info:
        registered = models[movie]["udvd"].registered
        version = tracking.get_model_version(registered["name"], registered["version"])
        assert version.tags["movie"] == movie
        assert version.tags["movie_sha256"] == info[movie]["sha256"]
        assert version.tags["method"] == "udvd" and version.tags["train_frames"] == "0-14"
        assert tracking.get_run(version.tags["training_run"]).data.params["movie"] == movie
    table = catalog.load("training_history")
    assert len(table) == 4 * 2 and set(table["movie"]) == {"ordered", "large"}
    assert set(catalog.load("training.training_curves")) == {"ordered.png", "large.png"}


class Killed(RuntimeError):
    """Stands for a kill in the middle of training."""


@pytest.mark.slow
def test_a_kill_in_the_second_of_three_movies_retrains_only_what_is_missing(tmp_path,
                                                                            monkeypatch):
    info = _movies(tmp_path, {name: {"particle_diameter_nm": 1.0, "seed": seed}
                              for seed, name in enumerate(("a", "b", "c"))})
    real_fit = training_module._fit
    fits = []

    class KillAfterFirstEpoch:
        def on_train_epoch_end(self, trainer, module):
            if trainer.current_epoch == 1:
                raise Killed

    def fit(module, movie, splits, config, folder, resume, loggers, name, callbacks):
        fits.append((name, resume is not None))
        if name == "b" and resume is None:  # the first attempt at b dies in its second epoch
            from lightning.pytorch.callbacks import LambdaCallback

            callbacks = [LambdaCallback(on_train_epoch_end=KillAfterFirstEpoch()
                                        .on_train_epoch_end), *callbacks]
        real_fit(module, movie, splits, config, folder, resume, loggers, name, callbacks)

    monkeypatch.setattr(training_module, "_fit", fit)
    with pytest.raises(Killed):
        _run(tmp_path, info, _training(tmp_path))
    assert fits == [("a", False), ("b", False)]
    assert (tmp_path / "models" / "a" / "udvd.pt").is_file()  # kept as soon as it was trained
    assert not (tmp_path / "models" / "b").exists()
    fits.clear()
    catalog = _run(tmp_path, info, _training(tmp_path))
    assert fits == [("b", True), ("c", False)]  # a is done, b resumes, c starts
    assert set(catalog.load("movie_models")) == {"a", "b", "c"}


@pytest.mark.slow
def test_warm_start_begins_from_the_champion_and_a_mismatch_is_a_clear_error(tmp_path):
    info = _movies(tmp_path, {"m": {"particle_diameter_nm": 1.0, "seed": 2}})
    champion_run = _run(tmp_path / "first", info, _training(tmp_path / "first"))
    champion = champion_run.load("movie_models")["m"]["udvd"]
    started = {}
    real = training_module._warm_start

    def spy(model, state, source):
        real(model, state, source)
        started.update({k: v.clone() for k, v in model.state_dict().items()})

    training_module._warm_start, restore = spy, real
    try:
        catalog = _run(tmp_path, info, _training(tmp_path, init="champion"),
                       champion=(champion, {"name": "fluxion-udvd", "version": "7"}))
    finally:
        training_module._warm_start = restore
    for key, value in champion.state_dict().items():
        if not key.startswith("count_"):
            assert torch.equal(started[key], value)
    summary = catalog.load("movie_models")["m"]["udvd"].training_summary
    assert summary["init"] == "fluxion-udvd v7"
    plan = TrainingPlan.from_params(_training(tmp_path, init="champion"))
    assert plan.with_steps(5).configs["udvd"].epochs == 3  # 2 steps per epoch
    with pytest.raises(ParameterError, match=r"training\.init"):
        TrainingPlan.from_params(_training(tmp_path, init="random"))
    with pytest.raises(ParameterError, match="compare_movies"):
        TrainingPlan.from_params(_training(tmp_path, compare_movies="first"))
    with pytest.raises(ParameterError, match="unknown parameter"):
        TrainingPlan.from_params(_training(tmp_path, movie="m"))


@pytest.mark.slow
def test_two_worker_processes_train_two_movies(tmp_path, tracking):
    import mlflow

    info = _movies(tmp_path, {"a": {"particle_diameter_nm": 1.0, "seed": 1},
                              "b": {"particle_diameter_nm": 1.1, "seed": 2}})
    with mlflow.start_run(run_name="kedro training") as parent:
        catalog = _run(tmp_path, info, _training(tmp_path, workers=2))
    models = catalog.load("movie_models")
    assert {m: set(v) for m, v in models.items()} == {"a": {"udvd"}, "b": {"udvd"}}
    runs = tracking.search_runs([parent.info.experiment_id],
                                filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    live = [r for r in runs if "val_loss" in r.data.metrics]
    assert {r.data.tags["fluxion.movie"] for r in live} == {"a", "b"}  # logged from workers
