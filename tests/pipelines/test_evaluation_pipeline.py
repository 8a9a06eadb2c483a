"""The evaluation pipeline: scores with CIs for every method, one MLflow run per method with
the same metric names, and the champion alias moving to the best model (and only there)."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from kedro.io import MemoryDataset

from conftest import run_pipeline
from fluxion.datasets import (
    ChampionAliasDataset,
    MethodRunsDataset,
    RegisteredModelDataset,
)
from fluxion.denoising.models import UDVD, GaussianDenoiser, N2NUNet
from fluxion.denoising.training import TrainingConfig, TrainingResult
from fluxion.movies.simulate import simulate_movie
from fluxion.pipelines.evaluation import create_pipeline
from fluxion.scoring.evaluation import score_methods, summarise_scores
from fluxion.tracking import find_champion, log_trained_model, set_alias

NAMES = ["fluxion-udvd", "fluxion-udvd-single", "fluxion-n2n"]
OPTIONS = {"gaussian_sigma": 2.0, "level": 0.9, "bootstrap": 200, "seed": 0, "spatial": True,
           "shared_references": True, "champion_metric": "upsnr_ranking_frame",
           "lattice_spacings": None, "phantom_threshold": 0.01, "sum_frames": 30}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("movie")
    sim = simulate_movie(frames=30, size=64, dose=2.0, particle_diameter_nm=1.0, seed=3)
    np.save(folder / "m.npy", sim.noisy)
    np.save(folder / "truth.npy", sim.clean)
    info = {"m": {"copy": str(folder / "m.npy"),
                  "splits": {"train": [0, 12], "validation": [16, 20], "test": [22, 30]},
                  "shape": [30, 64, 64],
                  "metadata": {"ground_truth": str(folder / "truth.npy")},
                  "summary": {"noise_gain": 1.0}}}
    particle = np.zeros((64, 64), bool)
    particle[20:40, 20:44] = True
    masks = {"m.vacuum": sim.vacuum_mask, "m.particle": particle}
    return sim, info, masks


def _register(model, name: str) -> str:
    """Register ``model`` as ``name``; it carries its registration like a trained model."""
    config = TrainingConfig(method="n2n")
    result = TrainingResult(model.eval(), config, [], 0, 1.0, 1.0, "m", False)
    version = log_trained_model(result, registered_model_name=name)
    model.registered = {"name": name, "version": version}
    return version


def test_score_methods_with_and_without_truth(simulated):
    sim, _info, masks = simulated
    methods = {"gauss1": GaussianDenoiser(1.0), "gauss3": GaussianDenoiser(3.0)}
    scores = score_methods(sim.noisy, methods, test=[22, 30], particle_mask=masks["m.particle"],
                           truth=sim.clean)
    assert set(scores["reference"]) == {"temporal", "spatial", "truth"}
    assert len(scores[(scores["method"] == "gauss1") & (scores["reference"] == "temporal")]) \
        == 3 * 8  # frame, particle and the static rest, per test frame
    summary = summarise_scores(scores, peak=2.0, n_bootstrap=200)
    row = summary[(summary["method"] == "gauss1") & (summary["reference"] == "truth")
                  & (summary["region"] == "frame")].iloc[0]
    assert 0 < row["ssim"] <= 1 and np.isfinite(row["psnr"])
    temporal = summary[summary["reference"] == "temporal"]
    assert (temporal["upsnr_low"] <= temporal["upsnr"]).all()
    assert (temporal["upsnr"] <= temporal["upsnr_high"]).all()


@pytest.mark.slow
def test_evaluation_promotes_the_best_model_and_logs_a_run_per_method(simulated, tracking):
    _sim, info, masks = simulated
    good_model, bad_model = GaussianDenoiser(1.5), N2NUNet(width=2, depth=1)  # bad: untrained
    good = _register(good_model, "fluxion-udvd")
    bad = _register(bad_model, "fluxion-n2n")
    set_alias("fluxion-n2n", bad)
    single = UDVD(frames=1, width=2)  # trained but never registered (no MLflow run)
    datasets = {"movie_info": MemoryDataset(info), "movie_masks": MemoryDataset(masks),
                "udvd_model": MemoryDataset(good_model, copy_mode="assign"),
                "udvd_single_model": MemoryDataset(single, copy_mode="assign"),
                "n2n_model": MemoryDataset(bad_model, copy_mode="assign"),
                "current_champion": RegisteredModelDataset(names=NAMES, required=False),
                "champion_alias": ChampionAliasDataset(names=NAMES),
                "evaluation_runs": MethodRunsDataset(prefix="evaluate")}
    with mlflow.start_run(run_name="kedro evaluation") as parent:
        catalog = run_pipeline(create_pipeline(), datasets, {"evaluation": OPTIONS})
    assert find_champion(NAMES) == ("fluxion-udvd", good)
    assert catalog.load("champion_alias") == ("fluxion-udvd", good)
    with pytest.raises(mlflow.exceptions.MlflowException):  # the alias moved: only one holder
        tracking.get_model_version_by_alias("fluxion-n2n", "champion")
    comparison = catalog.load("method_comparison")
    assert set(comparison["method"]) == {"udvd", "udvd-single", "n2n", "gaussian"}
    assert list(comparison.columns[:4]) == ["movie", "method", "reference", "region"]
    risk = comparison[comparison["reference"] == "risk"]
    assert set(risk["region"]) == {"frame", "particle", "static"}
    assert risk["umse"].notna().all() and risk["dynamics_bias_db"].notna().all()
    differences = catalog.load("method_differences")
    assert len(differences) == 6 and set(differences["reference"]) == {"ranking"}
    runs = tracking.search_runs([parent.info.experiment_id],
                                filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    metric_names = {r.info.run_name: set(r.data.metrics) for r in runs}
    assert set(metric_names) == {"evaluate udvd", "evaluate udvd-single", "evaluate n2n",
                                 "evaluate gaussian"}
    first = next(iter(metric_names.values()))
    assert all(names == first for names in metric_names.values())
    assert {"upsnr_temporal_frame", "psnr_frame", "ssim", "vacuum_snr_gain"} <= first
    # a second evaluation changes nothing: the champion is still the best
    run_pipeline(create_pipeline(), datasets, {"evaluation": OPTIONS})
    assert find_champion(NAMES) == ("fluxion-udvd", good)
