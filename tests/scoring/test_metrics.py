"""fluxion.scoring.metrics: uMSE is unbiased, uPSNR tracks the true PSNR, the spatial
sub-sampler is a partition, bootstrap CIs cover at the nominal rate, bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fluxion.errors import ParameterError
from fluxion.movies.simulate import simulate_movie
from fluxion.scoring.intervals import block_bootstrap_ci
from fluxion.scoring.metrics import (
    movie_peak,
    psnr,
    spatial_references,
    ssim,
    temporal_reference_frames,
    temporal_references,
    umse,
    upsnr,
)


@pytest.fixture(scope="module")
def static_movie():
    """A movie whose clean image does not change: neighbouring frames are true references."""
    return simulate_movie(frames=60, size=128, dose=2.0, particle_diameter_nm=1.6, seed=4,
                          jitter=0.0, disorder_jitter=0.0, hop_probability=0.0,
                          disordered_fraction=0.0, noise_correlation=0.0)


def test_umse_is_an_unbiased_estimate_of_the_true_mse(static_movie, rng):
    clean = static_movie.clean[0].astype(np.float64)
    estimate = ndimage.gaussian_filter(rng.poisson(clean).astype(float), 1.5)
    true_mse = np.mean((estimate - clean) ** 2)
    draws = [umse(estimate, *(rng.poisson(clean) for _ in range(3))) for _ in range(2000)]
    assert np.mean(draws) == pytest.approx(true_mse, rel=0.04)  # standard error ~1.5%
    particle = ~static_movie.vacuum_mask
    true_particle = np.mean((estimate - clean)[particle] ** 2)
    draws = [umse(estimate, *(rng.poisson(clean) for _ in range(3)), mask=particle)
             for _ in range(1000)]
    assert np.mean(draws) == pytest.approx(true_particle, rel=0.06)


def test_upsnr_of_a_gaussian_filter_is_within_half_a_db_of_its_psnr(static_movie):
    movie, clean = static_movie.noisy, static_movie.clean
    peak = movie_peak(movie)
    assert peak == pytest.approx(clean.mean(axis=0).max(), rel=0.08)
    frames = range(10, 50)
    denoised = {t: ndimage.gaussian_filter(movie[t].astype(float), 1.0) for t in frames}
    umses = [umse(denoised[t], *temporal_references(movie, t, exclude=[t])) for t in frames]
    mses = [np.mean((denoised[t] - clean[t]) ** 2) for t in frames]
    mean, low_mse, high_mse = block_bootstrap_ci(umses, block=4, seed=1)
    unsupervised, low, high = (10 * np.log10(peak**2 / m) for m in (mean, high_mse, low_mse))
    true = 10 * np.log10(peak**2 / np.mean(mses))
    assert unsupervised == pytest.approx(true, abs=0.5)
    assert low < unsupervised < high
    single = upsnr(denoised[10], *temporal_references(movie, 10, exclude=[10]), peak=peak)
    assert single == pytest.approx(10 * np.log10(peak**2 / umses[0]))
    assert psnr(denoised[10], clean[10], peak=peak) == pytest.approx(
        10 * np.log10(peak**2 / mses[0]))


def test_temporal_references_are_the_nearest_frames_outside_the_window():
    assert temporal_reference_frames(100, 50, exclude=range(48, 53)) == [47, 53, 46]
    assert temporal_reference_frames(100, 99, exclude=range(97, 100)) == [96, 95, 94]
    assert temporal_reference_frames(10, 0, exclude=[0, 1, 2]) == [3, 4, 5]
    with pytest.raises(ParameterError, match="temporal references need three"):
        temporal_reference_frames(6, 2, exclude=range(0, 5))


def test_spatial_sub_sampling_partitions_every_cell():
    frames = np.arange(3 * 6 * 8, dtype=np.float32).reshape(3, 6, 8)
    refs = spatial_references(frames, seed=3)
    assert refs.inputs.shape == (3, 3, 4) and refs.a.shape == (3, 4)
    assert np.all(np.sort(refs.roles, axis=-1) == np.arange(4))  # a permutation per cell
    middle = frames[1]
    for i in range(3):
        for j in range(4):
            cell = set(middle[2 * i:2 * i + 2, 2 * j:2 * j + 2].ravel().tolist())
            picked = {refs.inputs[1, i, j], refs.a[i, j], refs.b[i, j], refs.c[i, j]}
            assert picked == cell  # four different pixels covering the cell
            # every frame's input comes from the same position in its own cell
            offset = refs.inputs[1, i, j] - middle[2 * i, 2 * j]
            assert refs.inputs[0, i, j] - frames[0, 2 * i, 2 * j] == offset
    assert len({tuple(r) for r in refs.roles.reshape(-1, 4)}) > 3  # random, not fixed
    assert not np.array_equal(spatial_references(frames, seed=4).roles, refs.roles)


def test_bootstrap_intervals_cover_the_true_mean_at_about_the_nominal_rate(rng):
    covered = 0
    for trial in range(300):
        values = rng.exponential(2.0, 40)
        _, low, high = block_bootstrap_ci(values, block=1, level=0.9, n=500, seed=trial)
        covered += low <= 2.0 <= high
    assert 0.82 <= covered / 300 <= 0.96


def test_ssim_of_identical_images_is_one():
    image = np.random.default_rng(0).random((32, 32))
    assert ssim(image, image, data_range=1.0) == pytest.approx(1.0)
    noise = np.random.default_rng(1).normal(size=(32, 32))
    assert ssim(image, image + 0.1 * noise, data_range=1.0) > ssim(image, image + noise,
                                                                   data_range=1.0)
    assert ssim(image, image + noise, data_range=1.0) < 0.3


def test_bad_metric_input_is_refused():
    with pytest.raises(ParameterError, match="same shape"):
        umse(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 5)), np.zeros((4, 4)))
    with pytest.raises(ParameterError, match="selects no pixel"):
        umse(*(np.zeros((4, 4)),) * 4, mask=np.zeros((4, 4), bool))
    with pytest.raises(ParameterError, match="at least 2"):
        block_bootstrap_ci([1.0], block=1)
