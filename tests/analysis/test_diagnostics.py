"""fluxion.analysis.diagnostics: planted noise correlation is recovered, a planted lattice in
the vacuum is flagged and flat noise passes, binning and sums, sum consistency, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from fluxion.analysis.diagnostics import (
    bin_frames,
    bin_mask,
    noise_correlation,
    snr_gain,
    sum_consistency,
    sum_frames,
    vacuum_snr,
    vacuum_uniformity,
)
from fluxion.errors import ParameterError
from fluxion.movies.simulate import simulate_movie


@pytest.fixture(scope="module")
def correlated():
    return simulate_movie(frames=80, size=96, dose=2.0, particle_diameter_nm=1.0, seed=2,
                          noise_correlation=0.05)


def test_noise_correlation_recovers_the_planted_detector_blur(correlated):
    result = noise_correlation(correlated.noisy, correlated.vacuum_mask, max_distance=5,
                               max_lag=4)
    assert result["horizontal"][0] == pytest.approx(0.05, abs=0.012)
    assert result["vertical"][0] == pytest.approx(0.05, abs=0.012)
    assert np.all(np.abs(result["horizontal"][1:]) < 0.012)  # the kernel reaches one pixel
    assert np.all(np.abs(result["temporal"]) < 0.012)  # frames are independent
    assert list(result["distance"]) == [1, 2, 3, 4, 5] and list(result["lag"]) == [1, 2, 3, 4]


def test_temporal_correlation_is_detected():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(60, 32, 32))
    movie = base.copy()
    movie[1:] += 0.5 * base[:-1]  # each frame carries half of the previous frame's noise
    result = noise_correlation(movie, np.ones((32, 32), bool), max_distance=2, max_lag=2)
    assert result["temporal"][0] == pytest.approx(0.4, abs=0.05)  # 0.5 / (1 + 0.25)
    assert abs(result["temporal"][1]) < 0.05


def test_uniformity_flags_a_planted_lattice_and_passes_flat_noise():
    rng = np.random.default_rng(1)
    mask = np.zeros((96, 96), bool)
    mask[:60, :] = True
    flat = rng.normal(2.0, 0.05, (20, 96, 96))
    flat_result = vacuum_uniformity(flat, mask)
    assert flat_result["passed"] and flat_result["phantom_score"] < 0.005
    rows, cols = np.mgrid[0:96, 0:96]
    fringes = 0.05 * np.cos(2 * np.pi * (rows + 0.5 * cols) / 6.5)  # lattice spacing ~5.8 px
    phantom = vacuum_uniformity(flat + fringes, mask)
    assert not phantom["passed"] and phantom["phantom_ratio"] > 10
    assert phantom["phantom_score"] == pytest.approx(0.05 / 2.0, rel=0.3)  # fringe contrast
    at_spacing = vacuum_uniformity(flat + fringes, mask, lattice_spacings=[5.8])
    assert not at_spacing["passed"]
    noiseless = vacuum_uniformity(np.full((5, 96, 96), 2.0) + 1e-6 * rows, mask)
    assert noiseless["passed"]  # a perfect flat vacuum (tiny gradient) is no phantom
    atoms = flat + 0.3 * (np.hypot(rows - 30, cols - 48) < 3)  # an invented atom
    assert vacuum_uniformity(atoms, mask)["nonuniformity"] > 3 * flat_result["nonuniformity"]


def test_binning_and_sums_raise_the_vacuum_snr_as_expected(correlated):
    raw, mask = correlated.noisy, correlated.vacuum_mask
    binned = bin_frames(raw, space=3, time=4)
    assert binned.shape == (20, 32, 32)
    np.testing.assert_allclose(binned[0, 0, 0], raw[:4, :3, :3].sum(), rtol=1e-5)
    gain = vacuum_snr(binned, bin_mask(mask, 3)) / vacuum_snr(raw, mask)
    assert gain == pytest.approx(6.0, rel=0.1)  # Poisson: sqrt(36 x the counts)
    sums = sum_frames(raw, 30)
    assert sums.shape == (2, 96, 96)
    np.testing.assert_allclose(sums[1], raw[30:60].sum(axis=0), rtol=1e-5)
    assert snr_gain(raw, correlated.clean + 0.01 * raw, mask) > 10


def test_sum_consistency_accepts_the_truth_and_catches_a_bias(correlated):
    raw, clean = correlated.noisy, correlated.clean
    good = sum_consistency(raw, clean, n=20)
    assert abs(good["relative_bias"]) < 0.01 and good["correlation"] > 0.3
    biased = sum_consistency(raw, 1.2 * clean, n=20)
    assert biased["relative_bias"] == pytest.approx(0.2, abs=0.01)


def test_bad_diagnostic_input_is_refused(correlated):
    with pytest.raises(ParameterError, match="fewer than 2 pixels"):
        vacuum_snr(correlated.noisy, np.zeros((96, 96), bool))
    with pytest.raises(ParameterError, match="shape"):
        vacuum_snr(correlated.noisy, np.ones((10, 10), bool))
    with pytest.raises(ParameterError, match="differ in shape"):
        sum_consistency(correlated.noisy, correlated.noisy[:, :10])
    with pytest.raises(ParameterError, match="too few"):
        noise_correlation(correlated.noisy[:5], correlated.vacuum_mask, max_lag=10)
