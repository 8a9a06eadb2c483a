"""The topology pipeline on a tiny denoised-and-raw movie: series, calibration, summary,
size groups and figures."""

from __future__ import annotations

import numpy as np
from kedro.io import MemoryDataset

from conftest import run_pipeline
from fluxion.analysis.topology.movies import size_group
from fluxion.datasets import MovieFolderDataset
from fluxion.movies.simulate import simulate_movie
from fluxion.pipelines.topology import create_pipeline

OPTIONS = {"sigma": 2.0, "standardize": True, "invert": False, "beta0": None, "beta1": None,
           "calibration_frames": 6, "include_raw": True, "n_jobs": 2, "chunk": 4,
           "dask_scheduler": None, "small_max_nm": 1.5, "large_min_nm": 3.0}


def test_series_summary_and_figures(tmp_path):
    sim = simulate_movie(frames=12, size=144, dose=2.0, particle_diameter_nm=1.2, seed=2)
    np.save(tmp_path / "m.npy", sim.noisy)
    (tmp_path / "denoised").mkdir()
    residual = np.random.default_rng(0).normal(0, 0.05, sim.clean.shape)  # a denoiser's leftovers
    np.save(tmp_path / "denoised" / "m.npy", sim.clean + residual)
    info = {"m": {"copy": str(tmp_path / "m.npy"), "shape": [12, 144, 144],
                  "splits": {"train": [0, 4], "validation": [6, 8], "test": [10, 12]},
                  "metadata": {"particle_polygon": sim.particle_polygon.tolist(),
                               "frame_rate": 75.0},
                  "summary": {"particle_diameter_nm": 1.2}}}
    datasets = {"movie_info": MemoryDataset(info),
                "movie_masks": MemoryDataset({"m.vacuum": sim.vacuum_mask,
                                              "m.particle": ~sim.vacuum_mask}),
                "denoised_movies": MovieFolderDataset(path=str(tmp_path / "denoised")),
                "denoise_report": MemoryDataset({"movies": {"m": {
                    "name": "fluxion-udvd", "version": "2", "method": "udvd",
                    "gate_passed": True}}})}
    catalog = run_pipeline(create_pipeline(), datasets, {"topology": OPTIONS})
    series = catalog.load("alps_series")
    assert list(series.columns) == ["movie", "source", "frame", "time_s", "alps", "alps_star",
                                    "entropy", "n_points", "n_pixels", "denoiser",
                                    "model_version", "gate_passed"]
    denoised = series[series["source"] == "denoised"]
    assert set(zip(denoised["denoiser"], denoised["model_version"], strict=True)) == {
        ("fluxion-udvd", "2")}
    assert set(series.loc[series["source"] == "raw", "denoiser"]) == {"raw"}
    assert len(series) == 24 and set(series["source"]) == {"denoised", "raw"}
    np.testing.assert_allclose(series["time_s"][:3], np.arange(3) / 75.0)
    summary = catalog.load("alps_summary")
    raw = summary[summary["source"] == "raw"].iloc[0]
    assert 0.7 < raw["alps_star_mean"] < 1.4  # noisy raw frames: close to noise
    clean = summary[summary["source"] == "denoised"].iloc[0]
    assert clean["alps_star_mean"] > raw["alps_star_mean"]  # the lattice stands out
    assert set(summary["size_group"]) == {"small"}
    assert clean["calibration_group"].endswith(", udvd")  # comparable only denoised alike
    calibration = catalog.load("alps_calibration")
    assert calibration["m.raw"]["beta1"] > 0 and calibration["m.raw"]["r2"] > 0.5
    assert list(catalog.load("topology.alps_timeline_figures")) == ["m.png"]
    assert list(catalog.load("topology.extreme_frame_figures")) == ["m.png"]


def test_size_groups():
    groups = [size_group(d, small_max_nm=1.5, large_min_nm=3.0) for d in (0.7, 1.5, 2.2, 3.5,
                                                                          None)]
    assert groups == ["small", "small", "intermediate", "large", "unknown"]
