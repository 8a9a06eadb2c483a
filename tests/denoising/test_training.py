"""fluxion.denoising.training: N2N sub-sampling, learning on a simulated movie, resume, early
stopping, DistributedDataParallel with gloo, and bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from fluxion.denoising.losses import neighbor_subsample
from fluxion.denoising.models import GaussianDenoiser
from fluxion.denoising.training import BlindSpotModule, TrainingConfig, train_denoiser
from fluxion.denoising.windows import reflect_index
from fluxion.errors import CheckpointError, MovieError, ParameterError
from fluxion.movies.ingest import split_frames
from fluxion.movies.simulate import simulate_movie

TINY = {"method": "udvd-single", "architecture": {"width": 4}, "epochs": 4,
        "steps_per_epoch": 3, "batch_size": 2, "crop": 16, "validation_crops": 2}


@pytest.fixture(scope="module")
def movie():
    sim = simulate_movie(frames=40, size=64, dose=5.0, particle_diameter_nm=1.2, seed=1)
    return sim, split_frames(40, test_frames=6)


def test_neighbor_subsample_takes_two_adjacent_pixels_of_each_cell():
    rows, cols = torch.meshgrid(torch.arange(8.0), torch.arange(10.0), indexing="ij")
    image = torch.stack([rows, cols])[None]  # channel 0 = row, channel 1 = column
    choice = torch.randint(0, 8, (1, 1, 4, 5), generator=torch.Generator().manual_seed(0))
    g1, g2 = neighbor_subsample(image, choice)
    assert g1.shape == g2.shape == (1, 2, 4, 5)
    distance = (g1 - g2).abs().sum(dim=1)
    assert torch.all(distance == 1)  # horizontal or vertical neighbours, never diagonal
    assert torch.all(torch.div(g1[0, 0], 2, rounding_mode="floor") == torch.arange(4.0)[:, None])
    assert torch.all(torch.div(g2[0, 1], 2, rounding_mode="floor") == torch.arange(5.0))
    assert len(set(choice.flatten().tolist())) > 4


def test_reflected_window_indices():
    assert reflect_index(np.arange(-2, 3), 10).tolist() == [2, 1, 0, 1, 2]
    assert reflect_index(np.arange(7, 12), 10).tolist() == [7, 8, 9, 8, 7]


def _true_mse(model, sim, splits):
    n = sim.noisy.shape[0]
    errors = []
    for t in range(*splits["test"]):
        index = reflect_index(np.arange(t - model.frames // 2, t + model.frames // 2 + 1), n)
        with torch.no_grad():
            out = model(torch.from_numpy(sim.noisy[index][None]))[0, 0].numpy()
        errors.append(np.mean((out - sim.clean[t]) ** 2))
    return float(np.mean(errors))


@pytest.mark.slow
def test_udvd_learns_to_beat_raw_frames_and_the_gaussian_filter(movie):
    sim, splits = movie
    torch.set_num_threads(2)
    config = TrainingConfig(method="udvd", architecture={"width": 8, "triplet_channels": 8},
                            epochs=6, steps_per_epoch=25, batch_size=4, crop=48,
                            learning_rate=2e-3, patience=10)
    result = train_denoiser(sim.noisy, splits=splits, config=config)
    raw = float(np.mean((sim.noisy[splits["test"][0]:] - sim.clean[splits["test"][0]:]) ** 2))
    gaussian = _true_mse(GaussianDenoiser(2.0), sim, splits)
    learned = _true_mse(result.model, sim, splits)
    assert learned < 0.05 * raw
    assert learned < 0.9 * gaussian
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]


def _weights(path):
    return torch.load(path, weights_only=False)["state_dict"]


def test_a_killed_run_resumes_to_the_same_weights(movie, tmp_path, monkeypatch):
    """"Same" is bit for bit: every tensor of the best and of the last weights is equal."""
    sim, splits = movie
    config = TrainingConfig.from_dict(TINY)
    whole = train_denoiser(sim.noisy, splits=splits, config=config, checkpoint_dir=tmp_path / "a")

    real_step = BlindSpotModule.training_step

    def dies_in_epoch_two(self, batch, batch_idx):
        if self.current_epoch == 2:
            raise RuntimeError("killed")
        return real_step(self, batch, batch_idx)

    monkeypatch.setattr(BlindSpotModule, "training_step", dies_in_epoch_two)
    with pytest.raises(RuntimeError, match="killed"):
        train_denoiser(sim.noisy, splits=splits, config=config, checkpoint_dir=tmp_path / "b")
    saved = torch.load(tmp_path / "b" / "last.ckpt", weights_only=False)
    assert saved["epoch"] == 1 and len(saved["fluxion"]["history"]) == 2
    monkeypatch.setattr(BlindSpotModule, "training_step", real_step)
    resumed = train_denoiser(sim.noisy, splits=splits, config=config,
                             checkpoint_dir=tmp_path / "b")
    assert [h["val_loss"] for h in resumed.history] == [h["val_loss"] for h in whole.history]
    assert [h["learning_rate"] for h in resumed.history] == \
        [h["learning_rate"] for h in whole.history]
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    last_a, last_b = _weights(tmp_path / "a" / "last.ckpt"), _weights(tmp_path / "b" / "last.ckpt")
    assert all(torch.equal(last_a[k], last_b[k]) for k in last_a)


def test_finished_run_is_not_trained_again_and_changed_settings_start_afresh(movie, tmp_path):
    sim, splits = movie
    config = TrainingConfig.from_dict(TINY)
    first = train_denoiser(sim.noisy, splits=splits, config=config, checkpoint_dir=tmp_path)
    stamp = (tmp_path / "last.ckpt").stat().st_mtime_ns
    again = train_denoiser(sim.noisy, splits=splits, config=config, checkpoint_dir=tmp_path)
    assert again.history == first.history
    assert (tmp_path / "last.ckpt").stat().st_mtime_ns == stamp  # nothing was trained
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(),
                                                 again.model.state_dict().values(), strict=True))
    changed = TrainingConfig.from_dict({**TINY, "learning_rate": 5e-4})
    train_denoiser(sim.noisy, splits=splits, config=changed, checkpoint_dir=tmp_path)
    assert (tmp_path / "stale" / "last.ckpt").is_file()


def test_a_changed_movie_trains_afresh(movie, tmp_path):
    sim, splits = movie
    config = TrainingConfig.from_dict(TINY)
    first = train_denoiser(sim.noisy, splits=splits, config=config, checkpoint_dir=tmp_path,
                           movie_sha256="a" * 64)
    changed = np.ascontiguousarray(sim.noisy[::-1])  # other frames, same shape
    second = train_denoiser(changed, splits=splits, config=config, checkpoint_dir=tmp_path,
                            movie_sha256="b" * 64)
    assert (tmp_path / "stale" / "last.ckpt").is_file()  # the old checkpoint was not reused
    assert second.identity["movie_sha256"] == "b" * 64
    assert [h["val_loss"] for h in second.history] != [h["val_loss"] for h in first.history]


def test_a_corrupt_checkpoint_names_its_file(movie, tmp_path):
    sim, splits = movie
    (tmp_path / "last.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"last\.ckpt.*Delete it"):
        train_denoiser(sim.noisy, splits=splits, config=TrainingConfig.from_dict(TINY),
                       checkpoint_dir=tmp_path)


def test_n2n_ramps_its_weight_over_the_whole_schedule(movie):
    sim, splits = movie
    config = TrainingConfig.from_dict({**TINY, "method": "n2n", "architecture": {"width": 4,
                                       "depth": 2}, "epochs": 3, "patience": 1,
                                       "learning_rate": 0.05})
    result = train_denoiser(sim.noisy, splits=splits, config=config)
    assert len(result.history) == 3 and not result.stopped_early  # no early stopping for N2N
    assert result.best_val_loss == min(h["val_loss"] for h in result.history)


def test_early_stopping_keeps_the_best_weights(movie):
    sim, splits = movie
    config = TrainingConfig.from_dict({**TINY, "epochs": 30, "patience": 2,
                                       "learning_rate": 0.05})
    result = train_denoiser(sim.noisy, splits=splits, config=config)
    losses = [h["val_loss"] for h in result.history]
    assert result.stopped_early and len(losses) < 30
    assert result.best_val_loss == min(losses)
    assert losses[-1] > result.best_val_loss  # stopped after it got worse
    assert result.best_epoch == int(np.argmin(losses))


@pytest.mark.skipif(shutil.which("cc") is None, reason="torch.compile needs a C compiler")
def test_compiled_training_runs_through_the_blind_convolutions_backward(movie):
    """torch.compile's own channels-last switch breaks replicate padding's backward (torch
    2.13); training compiles without it."""
    sim, splits = movie
    config = TrainingConfig.from_dict({**TINY, "epochs": 1, "steps_per_epoch": 2,
                                       "compile": True})
    result = train_denoiser(sim.noisy, splits=splits, config=config)
    assert len(result.history) == 1 and np.isfinite(result.best_val_loss)


def test_bad_training_input_is_refused(movie):
    sim, splits = movie
    config = TrainingConfig.from_dict({**TINY, "method": "udvd",
                                       "architecture": {"width": 4, "triplet_channels": 4}})
    with pytest.raises(MovieError, match="fewer than the 5-frame window"):
        train_denoiser(sim.noisy[:3], splits={"train": [0, 2], "validation": [2, 3]},
                       config=config)
    with pytest.raises(MovieError, match="frames, height, width"):
        train_denoiser(sim.noisy[0], splits=splits, config=config)
    broken = sim.noisy.copy()
    broken[3, 4, 5] = np.nan
    with pytest.raises(MovieError, match="NaN"):
        train_denoiser(broken, splits=splits, config=config)
    with pytest.raises(ParameterError, match="crop 100 is larger"):
        train_denoiser(sim.noisy, splits=splits,
                       config=TrainingConfig.from_dict({**TINY, "crop": 100}))
    with pytest.raises(ParameterError, match="unknown parameter"):
        TrainingConfig.from_dict({**TINY, "epoch": 3})
    with pytest.raises(ParameterError, match="method must be one of"):
        TrainingConfig.from_dict({**TINY, "method": "gaussian"})
    with pytest.raises(ParameterError, match=r"training\.epochs must be a whole number"):
        TrainingConfig.from_dict({**TINY, "epochs": "abc"})
    with pytest.raises(ParameterError, match=r"training\.batch_size must be a whole number"):
        TrainingConfig.from_dict({**TINY, "batch_size": 2.5})


@pytest.mark.slow
def test_two_process_gloo_ddp_training_keeps_ranks_in_step(movie, tmp_path):
    sim, splits = movie
    np.save(tmp_path / "movie.npy", sim.noisy)
    (tmp_path / "config.yml").write_text(yaml.safe_dump({**TINY, "epochs": 2}))
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "fluxion.training",
         "--movie", str(tmp_path / "movie.npy"), "--splits", json.dumps(splits),
         "--config", str(tmp_path / "config.yml"), "--checkpoint-dir", str(tmp_path / "ckpt"),
         "--output", str(tmp_path / "model.pt")],
        capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    checksums = dict(re.findall(r"rank (\d) of 2: .* weights checksum (\S+)", result.stdout))
    assert set(checksums) == {"0", "1"}
    assert checksums["0"] == checksums["1"]  # gradients were averaged: identical weights
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "ckpt" / "last.ckpt").is_file()
