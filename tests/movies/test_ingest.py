"""fluxion.movies.ingest and fluxion.movies.regions: streaming validation, splits, vacuum and
particle."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import ndimage

from fluxion.errors import MovieError, ParameterError
from fluxion.movies.ingest import movie_regions, split_frames, time_average, validated_frames
from fluxion.movies.io import read_ground_truth
from fluxion.movies.metadata import MovieMetadata
from fluxion.movies.regions import equivalent_diameter_nm, polygon_mask, validate_polygon
from fluxion.movies.simulate import simulate_movie


def test_validated_frames_pass_good_frames_through(small_movie):
    frames = np.stack(list(validated_frames(small_movie.noisy, source="m.tif")))
    np.testing.assert_array_equal(frames, small_movie.noisy)


@pytest.mark.parametrize("value, message", [(np.nan, "frame 17 holds a non-finite"),
                                            (np.inf, "frame 17 holds a non-finite"),
                                            (-50.0, "frame 17 holds counts down to -50")])
def test_validated_frames_name_the_bad_frame(small_movie, value, message):
    movie = small_movie.noisy.copy()
    movie[17, 5, 5] = value
    with pytest.raises(MovieError, match=message):
        list(validated_frames(movie, source="m.tif", chunk=4))


def test_small_negative_counts_are_tolerated_and_too_few_frames_refused(small_movie):
    movie = small_movie.noisy - 0.5
    assert len(list(validated_frames(movie, source="m", negative_tolerance=1.0))) == 40
    with pytest.raises(MovieError, match="has 3 frame"):
        list(validated_frames(movie[:3], source="m", min_frames=5))


@pytest.mark.parametrize("n, test, span", [(80, 10, None), (2000, 150, 600), (40, 5, None)])
def test_splits_never_share_a_frame_between_windows(n, test, span):
    splits = split_frames(n, window=5, test_frames=test, training_span=span)
    radius = 2

    def read(name):
        start, stop = splits[name]
        return set(range(max(start - radius, 0), min(stop + radius, n)))

    assert not read("train") & read("validation")
    assert not read("validation") & read("test")
    assert splits["test"] == [n - test, n]
    train, validation = (b - a for a, b in (splits["train"], splits["validation"]))
    assert train == pytest.approx(2 * (validation + 4), abs=2)  # 2/3 of the span, gap included
    if span:
        assert splits["validation"][1] <= span


def test_reference_split():
    assert split_frames(2000, window=5, test_frames=150, training_span=600) == {
        "train": [0, 400], "validation": [404, 600], "test": [1850, 2000]}


@pytest.mark.parametrize("kwargs", [{"window": 4}, {"train_fraction": 1.5}, {"test_frames": 30}])
def test_bad_splits_are_refused(kwargs):
    with pytest.raises(ParameterError):
        split_frames(40, **({"test_frames": 5} | kwargs))


def test_automatic_regions_match_the_simulation(small_movie):
    sim = small_movie
    mean = time_average(sim.noisy)
    np.testing.assert_allclose(mean, sim.noisy.mean(axis=0), rtol=1e-5)
    found = movie_regions(mean, MovieMetadata(), smooth=3.0, vacuum_margin=4)
    assert found.vacuum_source == found.polygon_source == "auto"
    vacuum_counts = sim.clean[:, found.vacuum_mask]
    assert vacuum_counts.mean() == pytest.approx(2.0, rel=0.02)  # no particle in the vacuum
    assert found.vacuum_mask.sum() > 0.5 * sim.vacuum_mask.sum()
    true_diameter = 1.6
    assert equivalent_diameter_nm(found.particle_polygon, 0.3) == pytest.approx(true_diameter,
                                                                               rel=0.2)
    assert not (found.vacuum_mask & found.particle_mask).any()


def test_sidecar_regions_win(small_movie):
    mean = small_movie.noisy.mean(axis=0)
    meta = MovieMetadata(vacuum_box=[0, 0, 20, 10],
                         particle_polygon=[[30, 30], [60, 30], [60, 60], [30, 60]])
    found = movie_regions(mean, meta)
    assert found.vacuum_source == found.polygon_source == "sidecar"
    assert found.vacuum_mask.sum() == 200
    assert found.particle_mask.sum() == 29 * 29  # strictly inside: 31..59


def test_polygon_outside_or_degenerate_is_refused():
    with pytest.raises(ParameterError, match="outside"):
        polygon_mask([[0, 0], [200, 0], [0, 10]], (96, 96))
    with pytest.raises(ParameterError, match="at least 3"):
        validate_polygon([[0, 0], [1, 1]], (96, 96))
    bow_tie = [[10, 10], [50, 50], [50, 10], [10, 50]]
    with pytest.raises(ParameterError, match="edges 0 and 2 cross"):
        validate_polygon(bow_tie, (96, 96))
    square, concave = [[10, 10], [50, 10], [50, 50], [10, 50]], [[0, 0], [9, 0], [5, 5], [9, 9],
                                                                 [0, 9]]
    assert validate_polygon(square, (96, 96)).shape == (4, 2)
    assert validate_polygon(concave, (96, 96)).shape == (5, 2)  # concave but simple


def test_flat_movie_has_no_vacuum():
    with pytest.raises(MovieError, match="vacuum_box"):
        movie_regions(np.ones((64, 64)), MovieMetadata(), vacuum_margin=4)


@pytest.mark.parametrize("imaging", ["bright-field", "ncsi"])
def test_the_vacuum_takes_no_piece_of_a_crystalline_support(imaging):
    sim = simulate_movie(frames=12, size=128, dose=20.0, particle_diameter_nm=1.2, seed=5,
                         imaging=imaging, support_fraction=0.3)
    mean = sim.clean.mean(axis=0)
    support_top = int(128 * (1 - 0.3))
    found = movie_regions(mean, MovieMetadata(pixel_size=0.3), vacuum_margin_nm=0.3)
    assert not found.vacuum_mask[support_top - 9:].any()  # 0.3 nm = 10 px from the support
    assert found.vacuum_mask.sum() > 0.15 * mean.size
    inside = polygon_mask(sim.particle_polygon, mean.shape)
    distance = ndimage.distance_transform_edt(~inside)
    assert distance[found.vacuum_mask].min() > 6  # the polygon lies 4 px outside the particle


def test_a_margin_in_nm_needs_a_pixel_size():
    with pytest.raises(ParameterError, match="vacuum_margin_nm needs the movie's pixel size"):
        movie_regions(np.ones((32, 32)), MovieMetadata(), vacuum_margin_nm=1.0)


@pytest.mark.parametrize("test_frames", [6, 10, 150])
def test_the_minimum_frames_message_gives_the_real_minimum(test_frames):
    with pytest.raises(ParameterError, match=r"at least (\d+) frames") as info:
        split_frames(test_frames + 5, test_frames=test_frames)
    needed = int(re.search(r"at least (\d+) frames", str(info.value)).group(1))
    split_frames(needed, test_frames=test_frames)  # enough
    with pytest.raises(ParameterError):
        split_frames(needed - 1, test_frames=test_frames)  # and not one frame less


def test_saturated_integer_frames_warn_then_stop(caplog):
    movie = np.full((4, 20, 20), 100, np.uint16)
    movie[0, 0, 0] = np.iinfo(np.uint16).max  # 1 of 1600 pixels
    frames = list(validated_frames(movie, source="sat.tif", max_saturated_fraction=0.01))
    assert len(frames) == 4 and "0.0625% of the pixels are saturated" in caplog.text
    movie[1:3] = np.iinfo(np.uint16).max
    with pytest.raises(MovieError, match=r"sat\.tif: 50\.0625% of the pixels are saturated"):
        list(validated_frames(movie, source="sat.tif", max_saturated_fraction=0.01))
    floats = movie.astype(np.float32)  # no integer ceiling: nothing to report
    assert len(list(validated_frames(floats, source="f.npy"))) == 4


@pytest.mark.parametrize("make, message", [
    (lambda folder: None, "does not exist"),
    (lambda folder: np.save(folder / "truth.npy", np.zeros((3, 8, 8))), "the movie is"),
    (lambda folder: np.save(folder / "truth.npy", np.array([{"a": 1}], dtype=object)),
     "not a plain NPY array"),
])
def test_a_bad_ground_truth_is_refused_by_name(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(MovieError, match=message) as info:
        read_ground_truth(tmp_path / "truth.npy", (4, 8, 8), sidecar=tmp_path / "m.yml")
    assert "m.yml" in str(info.value) and "truth.npy" in str(info.value)
