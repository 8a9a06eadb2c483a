"""The ingestion pipeline end to end on a tiny demo, with the real datasets on disk."""

from __future__ import annotations

import os

import numpy as np
import pytest
import yaml

from conftest import run_pipeline
from fluxion.datasets import MovieFolderDataset, NpzDataset
from fluxion.movies.io import read_movie
from fluxion.pipelines.ingestion import create_pipeline

PARAMS = {
    "demo": {"folder": None, "defaults": {"frames": 30, "size": 80, "dose": 2.0},
             "movies": {"tiny_a": {"particle_diameter_nm": 1.0, "seed": 1},
                        "tiny_b": {"particle_diameter_nm": 1.4, "seed": 2}}},
    "ingestion": {"validation": {"negative_tolerance": 1.0, "min_frames": 10},
                  "regions": {"smooth": 3.0, "vacuum_margin": 4},
                  "splits": {"window": 5, "test_frames": 5, "training_span": None,
                             "train_fraction": 0.6667}},
}


def _run(tmp_path, movies_dir):
    params = {**PARAMS, "demo": {**PARAMS["demo"], "folder": str(tmp_path / "demo")}}
    datasets = {
        "user_movies": MovieFolderDataset(path=str(movies_dir), allow_empty=True),
        "validated_movies": MovieFolderDataset(path=str(tmp_path / "copies")),
        "movie_masks": NpzDataset(filepath=str(tmp_path / "masks.npz")),
    }
    return run_pipeline(create_pipeline(), datasets, params)


def test_demo_is_generated_validated_and_described(tmp_path):
    catalog = _run(tmp_path, tmp_path / "no_movies_here")
    info = catalog.load("movie_info")
    assert sorted(info) == ["tiny_a", "tiny_b"]
    copy = read_movie(info["tiny_a"]["copy"], lazy=True)
    assert copy.path.suffix == ".npy" and copy.shape == (30, 80, 80)
    np.testing.assert_array_equal(copy[:], read_movie(tmp_path / "demo" / "tiny_a.tif"))
    assert info["tiny_a"]["splits"] == {"train": [0, 14], "validation": [18, 21],
                                        "test": [25, 30]}
    summary = catalog.load("ingestion_summary")
    assert list(summary["movie"]) == ["tiny_a", "tiny_b"]
    np.testing.assert_allclose(summary["vacuum_mean_counts"], 2.0, rtol=0.03)
    np.testing.assert_allclose(summary["vacuum_snr"], np.sqrt(2.0), rtol=0.05)  # Poisson
    assert set(summary["polygon_from"]) == {"sidecar"} and set(summary["vacuum_from"]) == {"auto"}
    masks = catalog.load("movie_masks")
    assert masks["tiny_b.vacuum"].dtype == bool and masks["tiny_b.mean"].shape == (80, 80)
    metrics = catalog.load("ingestion.ingestion_metrics")
    assert metrics["tiny_a.vacuum_snr"]["value"] == pytest.approx(summary["vacuum_snr"][0])
    assert sorted(catalog.load("ingestion.movie_overviews")) == ["tiny_a.png", "tiny_b.png"]


def test_user_movies_replace_the_demo_and_unchanged_copies_are_kept(tmp_path):
    from fluxion.movies.simulate import simulate_movie

    movies = tmp_path / "movies"
    movies.mkdir()
    sim = simulate_movie(frames=30, size=80, dose=2.0, particle_diameter_nm=1.2, seed=4)
    np.save(movies / "mine.npy", sim.noisy)
    (movies / "mine.yml").write_text(yaml.safe_dump({"pixel_size": 0.3, "frame_rate": 75.0}))
    info = _run(tmp_path, movies).load("movie_info")
    assert list(info) == ["mine"] and not (tmp_path / "demo").exists()
    assert info["mine"]["metadata"]["sources"]["pixel_size"] == "sidecar"
    copy = tmp_path / "copies" / "mine.npy"
    stamp = copy.stat().st_mtime_ns
    _run(tmp_path, movies)
    assert copy.stat().st_mtime_ns == stamp  # not copied again
    assert info["mine"]["sha256"] and len(info["mine"]["sha256"]) == 64


def test_a_replacement_with_an_older_mtime_is_copied_again(tmp_path):
    """cp -p / rsync -a keep the replacement's older modification time: content decides."""
    from fluxion.movies.simulate import simulate_movie

    movies = tmp_path / "movies"
    movies.mkdir()
    first = simulate_movie(frames=30, size=80, dose=2.0, particle_diameter_nm=1.2, seed=4)
    np.save(movies / "mine.npy", first.noisy)
    (movies / "mine.yml").write_text(yaml.safe_dump({"pixel_size": 0.3}))
    before = _run(tmp_path, movies).load("movie_info")["mine"]["sha256"]
    second = simulate_movie(frames=30, size=80, dose=2.0, particle_diameter_nm=1.2, seed=5)
    np.save(movies / "mine.npy", second.noisy)
    os.utime(movies / "mine.npy", ns=(1, 1))  # 1970: older than the copy
    after = _run(tmp_path, movies).load("movie_info")["mine"]["sha256"]
    assert after != before
    np.testing.assert_array_equal(read_movie(tmp_path / "copies" / "mine.npy"), second.noisy)


def test_a_corrupt_movie_stops_ingestion_with_its_name(tmp_path):
    movies = tmp_path / "movies"
    movies.mkdir()
    (movies / "broken.tif").write_text("not a tiff")
    with pytest.raises(Exception, match=r"broken\.tif: not a readable TIFF"):
        _run(tmp_path, movies)
