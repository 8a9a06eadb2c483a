"""fluxion.analysis.noise: the gain is measured, not assumed; correlation flags fire and stay
quiet where they should; the training leak check uses the measured floor."""

from __future__ import annotations

import numpy as np
import pytest

from fluxion.analysis.diagnostics import noise_correlation
from fluxion.analysis.noise import CorrelationLimits, correlation_flags, measure_noise
from fluxion.denoising.training import TrainingConfig, train_denoiser
from fluxion.errors import ParameterError
from fluxion.movies.ingest import split_frames
from fluxion.movies.simulate import simulate_movie


def _vacuum_with_fringes(rng, *, frames=40, size=64, dose=2.0):
    """A clean vacuum with a static fringe pattern (which differences must cancel)."""
    x = np.arange(size)
    clean = dose * (1 + 0.3 * np.sin(x / 3.0))[None, :] * np.ones((size, 1))
    return np.broadcast_to(clean, (frames, size, size)), np.ones((size, size), bool)


@pytest.mark.parametrize("detector, gain", [("poisson", 1.0), ("dqe", 1.25), ("adu", 7.0)])
def test_the_gain_is_measured_from_frame_differences(rng, detector, gain):
    clean, vacuum = _vacuum_with_fringes(rng)
    if detector == "dqe":  # DQE 0.8, normalised back to the dose
        movie = rng.poisson(0.8 * clean) / 0.8
    else:
        movie = gain * rng.poisson(clean) if detector == "adu" else rng.poisson(clean)
    noise = measure_noise(movie.astype(np.float32), vacuum)
    assert noise.gain == pytest.approx(gain, rel=0.05)
    assert noise.floor(10.0) == pytest.approx(10 * gain, rel=0.05)


def test_a_gain_seven_movie_sets_the_leak_floor_at_its_variance():
    sim = simulate_movie(frames=30, size=48, dose=3.0, particle_diameter_nm=1.0, seed=2,
                         noise_correlation=0.0)
    movie = 7.0 * sim.noisy
    splits = split_frames(30, test_frames=5)
    config = TrainingConfig(method="udvd-single", architecture={"width": 4}, epochs=1,
                            steps_per_epoch=1, batch_size=2, crop=16, validation_crops=2)
    result = train_denoiser(movie, splits=splits, config=config)
    mean = float(movie[: splits["train"][1]].mean())
    assert result.noise_floor == pytest.approx(7.0 * mean, rel=0.08)  # not the mean count


@pytest.mark.parametrize("correlation, flagged", [(0.07, True), (0.01, False)])
def test_correlated_noise_is_flagged_only_above_the_limit(correlation, flagged):
    sim = simulate_movie(frames=40, size=96, dose=2.0, particle_diameter_nm=1.0, seed=4,
                         noise_correlation=correlation)
    vacuum = np.zeros(sim.clean.shape[1:], bool)
    vacuum[:, :28] = True  # the particle sits in the middle
    flags = correlation_flags(noise_correlation(sim.noisy, vacuum, max_distance=2, max_lag=2),
                              CorrelationLimits())
    assert flags["neighbour_flag"] is flagged and flags["correlated_noise"] is flagged
    assert flags["frame_flag"] is False


def test_bad_noise_input_is_refused():
    with pytest.raises(ParameterError, match="at least 2 frames"):
        measure_noise(np.ones((1, 8, 8)))
    with pytest.raises(ParameterError, match="fewer than 16 pixels"):
        measure_noise(np.ones((4, 8, 8)), np.zeros((8, 8), bool))
