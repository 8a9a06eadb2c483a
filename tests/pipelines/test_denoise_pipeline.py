"""The denoise pipeline: each movie's gate-selected model denoises it to disk, with MP4
previews; a model that changed since the gate is refused."""

from __future__ import annotations

import imageio_ffmpeg
import numpy as np
import pytest
from kedro.io import MemoryDataset

from conftest import run_pipeline
from fluxion.datasets import MovieFolderDataset, VideoFolderDataset
from fluxion.denoising.inference import denoise_movie
from fluxion.errors import ParameterError
from fluxion.movies.io import read_movie
from fluxion.pipelines.denoise import create_pipeline
from test_tracking import tiny_result

PARAMS = {"denoise": {"movies": None, "tile": None, "overlap": None, "batch": 2, "block": 4,
                      "device": None},
          "preview": {"scale": 1}, "evaluation": {"gaussian_sigma": 2.0}}


def _setup(tmp_path):
    model = tiny_result().model
    model.registered = {"name": "fluxion-udvd", "version": "3"}
    model.training_summary = {"movie_sha256": "abc"}
    movie = np.random.default_rng(0).poisson(2.0, (7, 40, 36)).astype(np.float32)
    np.save(tmp_path / "m.npy", movie)
    info = {"m": {"copy": str(tmp_path / "m.npy"), "shape": [7, 40, 36], "sha256": "abc",
                  "splits": {"train": [0, 2], "validation": [3, 4], "test": [5, 7]},
                  "metadata": {"frame_rate": 75.0, "pixel_size": 0.3}}}
    verdicts = {"m": {"movie": "m", "method": "udvd", "gate_passed": True,
                      "name": "fluxion-udvd", "version": "3", "reasons": ["passes"],
                      "candidates": {"udvd": []}}}
    return model, movie, info, verdicts


def _datasets(tmp_path, info, model, verdicts):
    return {"movie_info": MemoryDataset(info),
            "movie_models": MemoryDataset({"m": {"udvd": model}}, copy_mode="assign"),
            "gate_verdicts": MemoryDataset(verdicts),
            "denoised_movies": MovieFolderDataset(path=str(tmp_path / "denoised"),
                                                  save_format="tif"),
            "previews": VideoFolderDataset(path=str(tmp_path / "previews"), fps=10)}


@pytest.mark.slow
def test_the_selected_model_denoises_its_movie_with_a_preview(tmp_path):
    model, movie, info, verdicts = _setup(tmp_path)
    catalog = run_pipeline(create_pipeline(), _datasets(tmp_path, info, model, verdicts), PARAMS)
    report = catalog.load("denoise_report")
    assert report["movies"]["m"]["name"] == "fluxion-udvd"
    assert report["movies"]["m"]["version"] == "3" and report["movies"]["m"]["gate_passed"]
    expected = np.stack(list(denoise_movie(model, movie)))
    np.testing.assert_allclose(read_movie(tmp_path / "denoised" / "m.tif"), expected,
                               atol=1e-5)
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "previews" / "m.mp4"))
    meta = next(reader)
    assert meta["size"] == (72, 40) and sum(1 for _ in reader) == 7


def test_a_model_retrained_after_its_gate_is_refused(tmp_path):
    model, _movie, info, verdicts = _setup(tmp_path)
    model.registered = {"name": "fluxion-udvd", "version": "4"}  # not the gated version 3
    with pytest.raises(Exception, match=r"passed the gate \(version 3\) is not the one") as raised:
        run_pipeline(create_pipeline().only_nodes_with_outputs("denoise_report"),
                     _datasets(tmp_path, info, model, verdicts), PARAMS)
    assert isinstance(raised.value, ParameterError) or isinstance(raised.value.__cause__,
                                                                  ParameterError)
