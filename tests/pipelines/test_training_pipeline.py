"""The training pipeline on a tiny ingested movie, with the real model datasets on disk."""

from __future__ import annotations

import numpy as np
import torch
from kedro.io import MemoryDataset

from conftest import run_pipeline
from fluxion.datasets import TrainedModelDataset
from fluxion.movies.simulate import simulate_movie
from fluxion.pipelines.training import create_pipeline

COMMON = {"epochs": 2, "steps_per_epoch": 2, "batch_size": 2, "crop": 32, "learning_rate": 1e-3,
          "lr_factor": 0.5, "lr_patience": 2, "patience": 4, "validation_crops": 2, "seed": 0,
          "device": "auto", "amp": "auto", "compile": False}
METHODS = {"udvd": {"method": "udvd", "architecture": {"width": 4, "triplet_channels": 4}},
           "udvd_single": {"method": "udvd-single", "architecture": {"width": 4}},
           "n2n": {"method": "n2n", "architecture": {"width": 4, "depth": 2}}}


def test_three_models_are_trained_saved_and_summarised(tmp_path):
    sim = simulate_movie(frames=30, size=64, dose=2.0, particle_diameter_nm=1.0, seed=1)
    np.save(tmp_path / "m.npy", sim.noisy)
    info = {"m": {"copy": str(tmp_path / "m.npy"),
                  "splits": {"train": [0, 14], "validation": [18, 21], "test": [25, 30]}}}
    datasets = {f"{key}_model": TrainedModelDataset(filepath=str(tmp_path / f"{key}.pt"))
                for key in METHODS}
    catalog = run_pipeline(create_pipeline(), {**datasets, "movie_info": MemoryDataset(info)}, {
        "training": {"movie": None, "checkpoint_folder": str(tmp_path / "ckpt"),
                     "common": COMMON, "methods": METHODS}})
    for key, spec in METHODS.items():
        model = catalog.load(f"{key}_model")
        assert model.spec["method"] == spec["method"]
        out = model(torch.rand(1, model.frames, 24, 36) * 3)
        assert out.shape == (1, 1, 24, 36)
        assert (tmp_path / "ckpt" / spec["method"] / "last.ckpt").is_file()
    table = catalog.load("training_history")
    assert sorted(table["method"].unique()) == ["n2n", "udvd", "udvd-single"]
    assert len(table) == 6
