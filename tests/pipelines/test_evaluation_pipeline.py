"""The evaluation pipeline: every movie's own models scored with block-bootstrap intervals
against the Gaussian, the quality gate (a phantom painter refused), one MLflow run per movie
and method, the selected version per movie and the champion; then each movie denoised by its
own selected model or, flagged, the Gaussian."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from kedro.io import MemoryDataset

from conftest import run_pipeline
from fluxion.datasets import (
    ChampionAliasDataset,
    MethodRunsDataset,
    MovieFolderDataset,
    MovieSelectionsDataset,
    RegisteredModelDataset,
)
from fluxion.denoising.inference import denoise_movie
from fluxion.denoising.models import Denoiser, GaussianDenoiser
from fluxion.denoising.training import TrainingConfig, TrainingResult
from fluxion.errors import ParameterError
from fluxion.movies.io import content_hash, read_movie
from fluxion.movies.simulate import simulate_movie
from fluxion.pipelines.denoise import create_pipeline as denoise_pipeline
from fluxion.pipelines.evaluation import create_pipeline
from fluxion.scoring.evaluation import score_methods, summarise_scores
from fluxion.tracking import find_champion, log_trained_model, selected_version

NAMES = ["fluxion-udvd", "fluxion-udvd-single", "fluxion-n2n"]
OPTIONS = {"gaussian_sigma": 2.0, "level": 0.9, "bootstrap": 200, "seed": 0, "spatial": True,
           "shared_references": True, "champion_metric": "upsnr_ranking_frame",
           "lattice_spacings": None, "phantom_threshold": 0.01, "sum_frames": 30}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Two movies of different structure, ingested (as movie_info and masks would say)."""
    folder = tmp_path_factory.mktemp("movie")
    sims, info, masks = {}, {}, {}
    for name, seed, diameter in (("m", 3, 1.0), ("p", 4, 0.9)):
        sim = simulate_movie(frames=30, size=64, dose=2.0, particle_diameter_nm=diameter,
                             seed=seed)
        np.save(folder / f"{name}.npy", sim.noisy)
        np.save(folder / f"{name}_truth.npy", sim.clean)
        info[name] = {"copy": str(folder / f"{name}.npy"),
                      "splits": {"train": [0, 12], "validation": [16, 20], "test": [22, 30]},
                      "shape": [30, 64, 64], "sha256": content_hash(folder / f"{name}.npy"),
                      "metadata": {"ground_truth": str(folder / f"{name}_truth.npy")},
                      "summary": {"noise_gain": 1.0}}
        particle = np.zeros((64, 64), bool)
        particle[20:40, 20:44] = True
        masks.update({f"{name}.vacuum": sim.vacuum_mask, f"{name}.particle": particle})
        sims[name] = sim
    return sims, info, masks


class StaticImage(Denoiser):
    """A test double: outputs a fixed image (the clean time average), optionally with a lattice
    painted over the whole frame, vacuum included (the phantom the gate must refuse)."""

    frames = 1
    method = "udvd"

    def __init__(self, image: np.ndarray, phantom: float = 0.0, period: float = 5.0) -> None:
        super().__init__()
        rows, cols = np.mgrid[:image.shape[0], :image.shape[1]]
        lattice = np.cos(2 * np.pi * cols / period) * np.cos(2 * np.pi * rows / period)
        self.register_buffer("image", torch.as_tensor(image + phantom * lattice,
                                                      dtype=torch.float32))

    def self_weight(self) -> float:
        return 0.0

    def denoise(self, x: torch.Tensor) -> torch.Tensor:
        image = torch.nn.functional.interpolate(self.image[None, None], size=x.shape[-2:],
                                                mode="area")  # spatial scores: half size
        return image.expand(x.shape[0], 1, *x.shape[-2:]).clone()


def _trained(model: Denoiser, movie: str, sha: str, name: str, tracking=True) -> Denoiser:
    """Register ``model`` as ``name`` like a trained model of ``movie``."""
    model.training_summary = {"movie_sha256": sha, "leak_suspected": False}
    model.training_history = []
    if tracking:
        config = TrainingConfig(method="n2n")
        result = TrainingResult(model.eval(), config, [], 0, 1.0, 1.0, movie, False)
        model.registered = {"name": name, "version": log_trained_model(
            result, registered_model_name=name)}
    return model


def test_score_methods_with_and_without_truth(simulated):
    sims, _info, masks = simulated
    sim = sims["m"]
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


def _evaluate(simulated, models):
    _sims, info, masks = simulated
    flags = pd.DataFrame([{"movie": name, "neighbour_flag": False, "frame_flag": False,
                           "neighbour_correlation": 0.01, "frame_correlation": 0.0,
                           "neighbour_limit": 0.03, "frame_limit": 0.01} for name in info])
    datasets = {"movie_info": MemoryDataset(info), "movie_masks": MemoryDataset(masks),
                "movie_models": MemoryDataset(models, copy_mode="assign"),
                "noise_flags": MemoryDataset(flags),
                "movie_selections_before": MovieSelectionsDataset(names=NAMES),
                "movie_selections": MovieSelectionsDataset(names=NAMES),
                "current_champion": RegisteredModelDataset(names=NAMES, required=False),
                "champion_alias": ChampionAliasDataset(names=NAMES),
                "evaluation.evaluation_runs": MethodRunsDataset(prefix="evaluate")}
    return run_pipeline(create_pipeline(), datasets, {"evaluation": OPTIONS,
                                                      "training": {"method": "udvd"}})


@pytest.mark.slow
def test_the_gate_selects_each_movies_own_model_and_refuses_a_phantom_painter(simulated,
                                                                            tracking, tmp_path):
    sims, info, _masks = simulated
    clean = {name: sim.clean.mean(axis=0) for name, sim in sims.items()}
    models = {"m": {"udvd": _trained(StaticImage(clean["m"]), "m", info["m"]["sha256"],
                                     "fluxion-udvd"),
                    "n2n": _trained(StaticImage(clean["m"], phantom=0.6), "m",
                                    info["m"]["sha256"], "fluxion-n2n")},
              "p": {"udvd": _trained(StaticImage(clean["p"], phantom=0.6), "p",
                                     info["p"]["sha256"], "fluxion-udvd")}}
    with mlflow.start_run(run_name="kedro evaluation") as parent:
        catalog = _evaluate(simulated, models)
    verdicts = catalog.load("gate_verdicts")
    assert verdicts["m"]["gate_passed"] and verdicts["m"]["method"] == "udvd"
    assert (verdicts["m"]["name"], verdicts["m"]["version"]) == ("fluxion-udvd", "1")
    assert any("not uniform" in p for p in verdicts["m"]["candidates"]["n2n"])
    assert not verdicts["p"]["gate_passed"] and verdicts["p"]["method"] == "gaussian"
    assert any("not uniform" in p for p in verdicts["p"]["candidates"]["udvd"])
    # the registry: m's own model is selected for m, nothing for p; the champion is m's udvd
    assert selected_version("m", NAMES) == ("fluxion-udvd", "1")
    assert selected_version("p", NAMES) is None
    assert find_champion(NAMES) == ("fluxion-udvd", "1")
    comparison = catalog.load("method_comparison")
    assert list(comparison.columns[:5]) == ["movie", "method", "reference", "region", "upsnr"]
    assert {"denoiser", "model_version", "selected", "gate_passed"} <= set(comparison.columns)
    assert set(comparison.loc[comparison["movie"] == "m", "method"]) == {"udvd", "n2n",
                                                                         "gaussian"}
    picked = comparison[comparison["selected"]]
    assert set(zip(picked["movie"], picked["method"], strict=True)) == {("m", "udvd"),
                                                                         ("p", "gaussian")}
    risk = comparison[comparison["reference"] == "risk"]
    assert set(risk["region"]) == {"frame", "particle", "static"}
    runs = tracking.search_runs([parent.info.experiment_id],
                                filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    evaluation = {r.info.run_name: r for r in runs if r.info.run_name.startswith("evaluate")}
    assert set(evaluation) == {"evaluate m udvd", "evaluate m n2n", "evaluate m gaussian",
                               "evaluate p udvd", "evaluate p gaussian"}
    names = [set(r.data.metrics) | {t.removesuffix(".bound") for t in r.data.tags}
             for r in evaluation.values()]  # every name logged, or tagged as not loggable
    assert all(n == names[0] for n in names) and {"upsnr_ranking_frame", "psnr_frame"} <= names[0]
    assert evaluation["evaluate m udvd"].data.tags["selected"] == "True"
    assert evaluation["evaluate m udvd"].data.tags["rank"] == "1"
    assert all(np.isfinite(v) and abs(v) < 1e6 for r in evaluation.values()
               for v in r.data.metrics.values())  # a perfect static double: bounds, not inf
    tags = evaluation["evaluate m udvd"].data.tags
    rows = comparison[(comparison["movie"] == "m") & (comparison["method"] == "udvd")
                      & (comparison["reference"] != "truth")]
    for row in rows.itertuples():  # an unresolved uPSNR says so where its bound is logged
        assert np.isfinite(row.upsnr) or f"upsnr_{row.reference}_{row.region}.bound" in tags
    artifacts = {a.path for a in tracking.list_artifacts(evaluation["evaluate m n2n"].info.run_id)}
    assert {"comparison.csv", "upsnr.png", "example_frame.png"} <= artifacts
    selected = tracking.get_model_version("fluxion-udvd", "1")
    assert selected.description.startswith("Selected for movie m by Fluxion's quality gate")
    assert selected.tags["evaluation_run"] == parent.info.run_id
    assert evaluation["evaluate p udvd"].data.tags["gate_passed"] == "False"

    # each movie is denoised by its own selected model; p by the Gaussian, flagged
    denoise = denoise_pipeline()
    datasets = {"movie_info": MemoryDataset(info),
                "movie_models": MemoryDataset(models, copy_mode="assign"),
                "gate_verdicts": MemoryDataset(verdicts),
                "denoised_movies": MovieFolderDataset(path=str(tmp_path / "denoised"),
                                                      save_format="npy"),
                "previews": MemoryDataset()}
    out = run_pipeline(denoise.only_nodes_with_outputs("denoised_movies"), datasets, {
        "denoise": {"movies": None, "tile": None, "overlap": None, "batch": 2, "block": 8,
                    "device": None}, "evaluation": OPTIONS})
    report = out.load("denoise_report")["movies"]
    assert report["m"] | {"reasons": None} == {
        "name": "fluxion-udvd", "version": "1", "method": "udvd", "gate_passed": True,
        "reasons": None, "movie_sha256": info["m"]["sha256"]}
    assert report["p"]["name"] == "gaussian" and report["p"]["gate_passed"] is False
    denoised_m = read_movie(tmp_path / "denoised" / "m.npy")
    np.testing.assert_allclose(denoised_m[0], clean["m"], atol=1e-4)
    gaussian = next(denoise_movie(GaussianDenoiser(2.0), sims["p"].noisy, frames=[0]))
    np.testing.assert_allclose(read_movie(tmp_path / "denoised" / "p.npy")[0], gaussian,
                               atol=1e-4)


def test_nothing_is_denoised_before_the_gate(simulated):
    _sims, info, _masks = simulated
    datasets = {"movie_info": MemoryDataset(info), "movie_models": MemoryDataset({}),
                "gate_verdicts": MemoryDataset({})}
    with pytest.raises(Exception, match="no quality-gate verdict") as raised:
        run_pipeline(denoise_pipeline().only_nodes_with_outputs("denoise_report"), datasets, {
            "denoise": {"movies": None}, "evaluation": OPTIONS})
    assert isinstance(raised.value, ParameterError) or isinstance(raised.value.__cause__,
                                                                  ParameterError)
