"""The diagnostics pipeline on a tiny movie: tables, figures, metrics, beam vs thermal."""

from __future__ import annotations

import numpy as np
import pytest
from kedro.io import MemoryDataset

from conftest import run_pipeline
from fluxion.datasets import MovieFolderDataset
from fluxion.movies.simulate import simulate_movie
from fluxion.pipelines.diagnostics import create_pipeline

OPTIONS = {"max_distance": 4, "max_lag": 3, "correlation_limits": {"neighbour": 0.03,
                                                                   "frame": 0.01},
           "sum_frames": 30, "bin_space": 3, "bin_time": 4,
           "spectrum_frames": 10,
           "beam": {"dose_rate": 2000.0, "E0_keV": 300.0, "mass_u": 195.084, "Z": 78,
                    "T_K": 300.0, "attempt_hz": 1.0e12}}


def test_diagnostics_run_on_raw_and_denoised_movies(tmp_path):
    sim = simulate_movie(frames=24, size=80, dose=2.0, particle_diameter_nm=1.0, seed=5,
                         noise_correlation=0.05)
    np.save(tmp_path / "m.npy", sim.noisy)
    (tmp_path / "denoised").mkdir()
    np.save(tmp_path / "denoised" / "m.npy", sim.clean)
    particle = ~sim.vacuum_mask
    datasets = {
        "movie_info": MemoryDataset({"m": {
            "copy": str(tmp_path / "m.npy"), "shape": [24, 80, 80],
            "splits": {"train": [0, 10], "validation": [12, 14], "test": [18, 24]}}}),
        "movie_masks": MemoryDataset({"m.vacuum": sim.vacuum_mask, "m.particle": particle}),
        "denoised_movies": MovieFolderDataset(path=str(tmp_path / "denoised")),
    }
    catalog = run_pipeline(create_pipeline(), datasets, {"diagnostics": OPTIONS})
    table = catalog.load("noise.noise_correlation_table")
    first = table[(table["axis"] == "horizontal") & (table["step"] == 1)]["correlation"].item()
    assert first == pytest.approx(0.05, abs=0.02)
    flags = catalog.load("noise_flags").set_index("movie")
    assert bool(flags.loc["m", "neighbour_flag"]) and not bool(flags.loc["m", "frame_flag"])
    assert catalog.load("noise.noise_flag_tags") == {"fluxion.correlated_noise": "m"}
    metrics = catalog.load("noise.noise_correlation_metrics")
    assert metrics["m.neighbour_correlation"]["value"] == pytest.approx(0.05, abs=0.02)
    for name in ("diagnostics.vacuum_spectra_figures", "diagnostics.frame_sum_figures",
                 "diagnostics.binned_frame_figures"):
        assert list(catalog.load(name)) == ["m.png"]
    rates = catalog.load("diagnostics.migration_rates")
    assert rates["knock_on_max_energy_eV"] == pytest.approx(4.365, abs=0.01)
    assert 0.6 < rates["crossover_energy_eV"] < 0.8
