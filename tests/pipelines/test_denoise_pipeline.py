"""The denoise pipeline: the champion from the registry denoises every movie to disk, with
MP4 previews; without any registered model the error says what to do."""

from __future__ import annotations

import imageio_ffmpeg
import numpy as np
import pytest

from conftest import run_pipeline
from fluxion.datasets import (
    ChampionAliasDataset,
    MovieFolderDataset,
    RegisteredModelDataset,
    VideoFolderDataset,
)
from fluxion.denoising.inference import denoise_movie
from fluxion.movies.io import read_movie
from fluxion.pipelines.denoise import create_pipeline
from fluxion.tracking import RegisteredModelNotFoundError, log_trained_model, set_alias
from test_tracking import tiny_result

NAMES = ["fluxion-udvd", "fluxion-udvd-single", "fluxion-n2n"]


def _run(tmp_path, movie_info):
    datasets = {
        "champion_model": RegisteredModelDataset(names=NAMES, fallback="fluxion-udvd"),
        "denoised_movies": MovieFolderDataset(path=str(tmp_path / "denoised"),
                                              save_format="tif"),
        "previews": VideoFolderDataset(path=str(tmp_path / "previews"), fps=10),
    }
    from kedro.io import MemoryDataset

    datasets["movie_info"] = MemoryDataset(movie_info)
    datasets["champion_alias"] = ChampionAliasDataset(names=NAMES)
    params = {"denoise": {"movies": None, "tile": None, "overlap": None, "batch": 2,
                          "block": 4, "device": None}, "preview": {"scale": 1}}
    return run_pipeline(create_pipeline(), datasets, params)


@pytest.mark.slow
def test_champion_denoises_every_movie_with_previews(tmp_path, tracking):
    result = tiny_result()
    version = log_trained_model(result, registered_model_name="fluxion-udvd")
    log_trained_model(result, registered_model_name="fluxion-udvd")  # a newer, non-champion
    set_alias("fluxion-udvd", version)
    movie = np.random.default_rng(0).poisson(2.0, (7, 40, 36)).astype(np.float32)
    np.save(tmp_path / "m.npy", movie)
    info = {"m": {"copy": str(tmp_path / "m.npy"), "shape": [7, 40, 36],
                  "metadata": {"frame_rate": 75.0, "pixel_size": 0.3}}}
    catalog = _run(tmp_path, info)
    report = catalog.load("denoise_report")
    assert report["model"] == {"name": "fluxion-udvd", "version": "1",
                               "chosen_by": "alias 'champion'"}
    assert report["champion"] == ["fluxion-udvd", "1"]
    expected = np.stack(list(denoise_movie(result.model, movie)))
    np.testing.assert_allclose(read_movie(tmp_path / "denoised" / "m.tif"), expected,
                               atol=1e-5)
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "previews" / "m.mp4"))
    meta = next(reader)
    assert meta["size"] == (72, 40) and sum(1 for _ in reader) == 7


def test_no_registered_model_is_a_clear_error(tmp_path, tracking):
    with pytest.raises(Exception, match=r"alias 'champion'.*kedro run --pipeline training") as info:
        RegisteredModelDataset(names=NAMES, fallback="fluxion-udvd").load()
    assert isinstance(info.value.__cause__ or info.value, RegisteredModelNotFoundError)
