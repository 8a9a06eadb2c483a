"""Re-analysis of incoming movies, keyed by content: once and only once, crash-safe, corrupt
movies skipped and retried when completed, every run's report kept, a clear error without a
champion, one run at a time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from kedro.io import Version
from kedro_datasets.json import JSONDataset
from kedro_datasets.partitions import PartitionedDataset

import fluxion.pipelines.reanalysis.nodes as reanalysis_nodes
from conftest import run_pipeline
from fluxion.datasets import (
    ChampionAliasDataset,
    IncomingMoviesDataset,
    MovieFolderDataset,
    MovieModelsDataset,
    MovieSelectionsDataset,
    ReanalysisStateDataset,
    RegisteredModelDataset,
)
from fluxion.errors import LockedError
from fluxion.hooks import acquire_lock
from fluxion.movies.simulate import write_simulated_movie
from fluxion.pipelines.reanalysis import create_pipeline
from fluxion.tracking import log_trained_model, set_alias
from test_tracking import tiny_result

NAMES = ["fluxion-udvd", "fluxion-udvd-single", "fluxion-n2n"]
PARAMS = {
    "ingestion": {"validation": {"negative_tolerance": 1.0, "min_frames": 10},
                  "regions": {"smooth": 3.0, "vacuum_margin": 4},
                  "splits": {"window": 5, "test_frames": 5, "training_span": None,
                             "train_fraction": 0.6667}},
    "denoise": {"movies": None, "tile": None, "overlap": None, "batch": 4, "block": 16,
                "device": None},
    "preview": {"scale": 1},
    "training": {"method": "udvd", "compare": [], "compare_movies": None, "init": "champion",
                 "workers": 1, "dask_scheduler": None,
                 "common": {"epochs": 2, "steps_per_epoch": 2, "batch_size": 2, "crop": 32,
                            "validation_crops": 2},
                 "methods": {"udvd": {"method": "udvd",
                                      "architecture": {"width": 4, "triplet_channels": 4}}}},
    "evaluation": {"gaussian_sigma": 2.0, "bootstrap": 100},
    "diagnostics": {"max_distance": 3, "max_lag": 3,
                    "correlation_limits": {"neighbour": 0.03, "frame": 0.01}},
    "topology": {"sigma": 2.0, "standardize": True, "invert": False, "beta0": None,
                 "beta1": None, "calibration_frames": 6, "include_raw": False, "n_jobs": 1,
                 "chunk": 8, "dask_scheduler": None, "small_max_nm": 1.5, "large_min_nm": 3.0},
}


@pytest.fixture
def champion(tracking):
    version = log_trained_model(tiny_result(), registered_model_name="fluxion-udvd")
    set_alias("fluxion-udvd", version)
    return version


def _drop(folder, name, seed):
    folder.mkdir(parents=True, exist_ok=True)
    write_simulated_movie(folder / f"{name}.tif", {"frames": 24, "size": 96, "dose": 2.0,
                                                    "particle_diameter_nm": 1.2, "seed": seed})


CATALOG = yaml.safe_load((Path(__file__).parents[2] / "conf/base/catalog.yml").read_text())


def _folder(name: str, path) -> MovieFolderDataset:
    """A movie folder configured as the project's catalog configures it."""
    options = {k: v for k, v in CATALOG[name].items() if k not in ("type", "path")}
    return MovieFolderDataset(path=str(path), **options)


def _run(tmp_path):
    datasets = {
        "incoming_movies": IncomingMoviesDataset(path=str(tmp_path / "incoming"),
                                                 state_file=str(tmp_path / "state.json"),
                                                 settle_s=0),
        "reanalysis.state": ReanalysisStateDataset(filepath=str(tmp_path / "state.json")),
        "reanalysis.report": JSONDataset(filepath=str(tmp_path / "runs" / "run.json"),
                                         version=Version(None, None)),  # as versioned: true
        "reanalysis.validated_movies": _folder("reanalysis.validated_movies",
                                               tmp_path / "copies"),
        "reanalysis.denoised_movies": _folder("reanalysis.denoised_movies",
                                              tmp_path / "denoised"),
        "reanalysis.results": PartitionedDataset(path=str(tmp_path / "results"),
                                                 dataset="pandas.ParquetDataset",
                                                 filename_suffix=".parquet"),
        "champion_model": RegisteredModelDataset(names=NAMES, fallback="fluxion-udvd"),
        "champion_alias": ChampionAliasDataset(names=NAMES),
        "reanalysis.movie_models": MovieModelsDataset(path=str(tmp_path / "models")),
        "reanalysis.movie_selections_before": MovieSelectionsDataset(names=NAMES),
        "reanalysis.movie_selections": MovieSelectionsDataset(names=NAMES),
    }
    params = {**PARAMS, "reanalysis": {"finetune_steps": 4,
                                       "checkpoint_folder": str(tmp_path / "ckpt")}}
    return run_pipeline(create_pipeline(), datasets, params)


def _rows(tmp_path) -> pd.DataFrame:
    return pd.read_parquet(tmp_path / "results")


def test_an_empty_incoming_folder_is_nothing_to_do(tmp_path, champion):
    """A user with their own movies and nothing in incoming/: the run succeeds."""
    (tmp_path / "incoming").mkdir()
    catalog = _run(tmp_path)
    assert catalog.load("reanalysis.report")["processed"] == []
    assert not (tmp_path / "copies").exists()


@pytest.mark.slow
def test_new_movies_are_processed_once_and_only_once(tmp_path, champion):
    _drop(tmp_path / "incoming", "2026-01-01_a", 1)
    catalog = _run(tmp_path)
    assert catalog.load("reanalysis.report")["processed"] == ["2026-01-01_a"]
    assert len(_rows(tmp_path)) == 24
    assert {"denoiser", "model_version", "gate_passed"} <= set(_rows(tmp_path).columns)
    again = _run(tmp_path)  # nothing new
    assert again.load("reanalysis.report")["processed"] == []
    _drop(tmp_path / "incoming", "2026-01-02_b", 2)
    third = _run(tmp_path)
    assert third.load("reanalysis.report")["processed"] == ["2026-01-02_b"]
    rows = _rows(tmp_path)
    assert rows.groupby("movie").size().to_dict() == {"2026-01-01_a": 24, "2026-01-02_b": 24}
    assert not rows.duplicated(["movie", "source", "frame"]).any()


@pytest.mark.slow
def test_a_run_killed_mid_way_leaves_one_set_of_rows(tmp_path, champion, monkeypatch):
    _drop(tmp_path / "incoming", "2026-01-01_a", 1)
    _drop(tmp_path / "incoming", "2026-01-01_b", 2)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(reanalysis_nodes, "snr_gain", killed)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path)
    assert not (tmp_path / "state.json").exists()  # nothing recorded as done
    monkeypatch.undo()
    _run(tmp_path)
    _run(tmp_path)
    rows = _rows(tmp_path)
    assert rows.groupby("movie").size().to_dict() == {"2026-01-01_a": 24, "2026-01-01_b": 24}


@pytest.mark.slow
def test_a_corrupt_movie_is_skipped_and_the_others_processed(tmp_path, champion):
    _drop(tmp_path / "incoming", "2026-01-01_a", 1)
    broken = tmp_path / "incoming" / "2026-01-01_b.tif"
    data = (tmp_path / "incoming" / "2026-01-01_a.tif").read_bytes()
    broken.write_bytes(data[: len(data) // 3])
    catalog = _run(tmp_path)
    report = catalog.load("reanalysis.report")
    assert report["processed"] == ["2026-01-01_a"]
    assert "truncated" in report["skipped"]["2026-01-01_b"]
    assert list(_rows(tmp_path)["movie"].unique()) == ["2026-01-01_a"]
    again = _run(tmp_path).load("reanalysis.report")  # unchanged: stays skipped, not retried
    assert again["processed"] == [] and "truncated" in again["still_skipped"]["2026-01-01_b"]
    broken.write_bytes(data)  # the copy completes (another movie's content, same name)
    third = _run(tmp_path).load("reanalysis.report")
    assert third["processed"] == ["2026-01-01_b"] and third["skipped"] == {}
    rows = _rows(tmp_path)
    assert rows.groupby("movie").size().to_dict() == {"2026-01-01_a": 24, "2026-01-01_b": 24}
    assert len(list((tmp_path / "runs" / "run.json").iterdir())) == 3  # every report kept


@pytest.mark.slow
def test_a_new_movie_is_denoised_only_after_the_champion_is_fine_tuned_on_it(tmp_path, champion,
                                                                            tracking):
    _drop(tmp_path / "incoming", "2026-01-01_a", 1)
    with mlflow.start_run(run_name="kedro reanalysis"):
        catalog = _run(tmp_path)
    model = catalog.load("reanalysis.movie_models")["2026-01-01_a"]["udvd"]
    assert model.training_summary["init"] == f"fluxion-udvd v{champion}"
    assert len(model.training_history) == 2  # 4 steps at 2 per epoch
    version = tracking.get_model_version("fluxion-udvd", model.registered["version"])
    assert version.version != champion and version.tags["movie"] == "2026-01-01_a"
    entry = catalog.load("reanalysis.report")["denoisers"]["2026-01-01_a"]
    if entry["gate_passed"]:  # denoised by its own fine-tuned model ...
        assert entry["version"] == version.version
    else:  # ... or, when that failed its gate, by the Gaussian, flagged
        assert entry["name"] == "gaussian" and entry["version"] is None
    rows = _rows(tmp_path)
    denoised = rows[rows["source"] == "denoised"]
    assert set(denoised["denoiser"]) == {entry["name"]}
    assert set(denoised["gate_passed"]) == {entry["gate_passed"]}


def test_without_a_champion_the_error_says_how_to_make_one(tmp_path, tracking):
    _drop(tmp_path / "incoming", "2026-01-01_a", 1)
    with pytest.raises(Exception, match=r"fluxion-udvd.*kedro run --pipeline training"):
        _run(tmp_path)
    assert not (tmp_path / "state.json").exists()


def test_a_second_run_cannot_take_the_lock(tmp_path):
    lock = tmp_path / "incoming" / ".reanalysis.lock"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from fluxion.hooks import acquire_lock
        held = acquire_lock({str(lock)!r})
        print("locked", flush=True)
        time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError, match="another re-analysis is running") as info:
            acquire_lock(lock, wait_s=0.5)
        assert "pid" in str(info.value)
    finally:
        holder.kill()
        holder.wait()
    acquire_lock(lock).release()  # released when its process died
