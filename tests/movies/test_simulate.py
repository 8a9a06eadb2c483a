"""fluxion.movies.simulate: shot-noise statistics, determinism, ground truth and the demo writer."""

from __future__ import annotations

import numpy as np
import pytest

from fluxion.errors import ParameterError
from fluxion.movies.io import read_metadata, read_movie
from fluxion.movies.regions import polygon_mask
from fluxion.movies.simulate import ensure_demo_movies, simulate_movie


@pytest.mark.parametrize("dose", [0.2, 0.045, 2.0])
def test_vacuum_counts_are_poisson_at_the_dose(dose):
    sim = simulate_movie(frames=60, size=96, dose=dose, particle_diameter_nm=1.2, seed=5,
                         noise_correlation=0.0)
    vacuum = sim.noisy[:, sim.vacuum_mask]
    assert vacuum.mean() == pytest.approx(dose, rel=0.02)
    assert vacuum.var() == pytest.approx(vacuum.mean(), rel=0.05)
    np.testing.assert_allclose(sim.clean[:, sim.vacuum_mask], dose, rtol=1e-3)
    assert np.array_equal(sim.noisy, np.round(sim.noisy))  # counts


def test_planted_detector_correlation_is_measured_back():
    sim = simulate_movie(frames=120, size=96, dose=2.0, particle_diameter_nm=1.0, seed=2,
                         noise_correlation=0.05)
    noise = sim.noisy - sim.clean
    both = sim.vacuum_mask[:, :-1] & sim.vacuum_mask[:, 1:]
    left, right = noise[:, :, :-1][:, both], noise[:, :, 1:][:, both]
    assert np.corrcoef(left.ravel(), right.ravel())[0, 1] == pytest.approx(0.05, abs=0.01)
    assert noise[:, sim.vacuum_mask].mean() == pytest.approx(0.0, abs=0.02)  # mean kept


def test_same_seed_same_movie_other_seed_other_movie():
    a = simulate_movie(frames=5, size=64, particle_diameter_nm=1.0, seed=7)
    b = simulate_movie(frames=5, size=64, particle_diameter_nm=1.0, seed=7)
    c = simulate_movie(frames=5, size=64, particle_diameter_nm=1.0, seed=8)
    assert np.array_equal(a.noisy, b.noisy) and np.array_equal(a.clean, b.clean)
    assert not np.array_equal(a.noisy, c.noisy)


def test_particle_is_darker_than_vacuum_and_inside_its_polygon(small_movie):
    sim = small_movie
    inside = polygon_mask(sim.particle_polygon, sim.clean.shape[1:])
    assert not (inside & sim.vacuum_mask).any()
    assert sim.clean[:, inside].mean() < 0.95 * sim.clean[:, sim.vacuum_mask].mean()
    assert sim.clean.min() >= 0
    # atomic columns: strong contrast inside the particle, none in vacuum
    assert sim.clean[0][inside].std() > 0.1 * 2.0


def test_disorder_is_independent_of_size_unless_asked():
    small = simulate_movie(frames=400, size=64, particle_diameter_nm=1.0, seed=1)
    large = simulate_movie(frames=400, size=160, particle_diameter_nm=3.5, seed=1)
    assert small.disordered.mean() == pytest.approx(0.5, abs=0.2)
    assert large.disordered.mean() == pytest.approx(0.5, abs=0.2)
    small = simulate_movie(frames=400, size=64, particle_diameter_nm=1.0, seed=1,
                           size_dependent_disorder=True)
    large = simulate_movie(frames=400, size=160, particle_diameter_nm=3.5, seed=1,
                           size_dependent_disorder=True)
    assert small.disordered.mean() > 0.6 > 0.2 > large.disordered.mean()


def test_ncsi_columns_are_bright_with_a_fringe_at_the_edge():
    sim = simulate_movie(frames=2, size=96, dose=50.0, particle_diameter_nm=1.6, seed=3,
                         imaging="ncsi", disordered_fraction=0.0)
    dark = simulate_movie(frames=2, size=96, dose=50.0, particle_diameter_nm=1.6, seed=3,
                          disordered_fraction=0.0)
    inside = polygon_mask(sim.particle_polygon, sim.clean.shape[1:])
    vacuum = sim.clean[0][sim.vacuum_mask].mean()
    assert sim.clean[0][inside].max() > 1.2 * vacuum > dark.clean[0][inside].max()
    centre = sim.particle_polygon.mean(axis=0)
    radius = np.hypot(*(sim.particle_polygon - centre).T).mean()
    rows, cols = np.mgrid[0:96, 0:96]
    distance = np.hypot(cols - centre[0], rows - centre[1])
    ring = (distance > radius) & (distance < radius + 6) & (rows < centre[1])  # above: no support
    fringe = np.abs(sim.clean[0][ring] - vacuum).max()
    assert fringe > 0.06 * vacuum and fringe > 2 * np.abs(dark.clean[0][ring] - vacuum).max()
    assert sim.metadata.dose_rate == pytest.approx(50.0 / 0.3**2 * 75.0)  # e/A^2/s


def test_disordered_frames_move_columns_more(small_movie):
    sim = small_movie
    if sim.disordered.all() or not sim.disordered.any():
        pytest.skip("needs both kinds of period")
    change = np.abs(np.diff(sim.clean, axis=0)).mean(axis=(1, 2))
    assert change[sim.disordered[1:]].mean() > change[~sim.disordered[1:]].mean()


@pytest.mark.parametrize("bad", [{"dose": 0}, {"frames": 0}, {"size": 16},
                                 {"particle_diameter_nm": 9.0}, {"noise_correlation": 0.7},
                                 {"imaging": "dark-field"}, {"disordered_fraction": 1.5}])
def test_bad_settings_are_refused(bad):
    settings = {"frames": 3, "size": 64, "particle_diameter_nm": 1.0} | bad
    with pytest.raises(ParameterError):
        simulate_movie(**settings)


def test_demo_movies_are_written_once_with_sidecar_and_truth(tmp_path):
    specs = {"tiny": {"particle_diameter_nm": 1.0, "seed": 1}}
    defaults = {"frames": 6, "size": 64, "dose": 1.0}
    [path] = ensure_demo_movies(tmp_path, specs, defaults)
    stamp = path.stat().st_mtime_ns
    meta = read_metadata(path)
    truth = np.load(meta.ground_truth)
    assert read_movie(path).shape == truth.shape == (6, 64, 64)
    assert meta.pixel_size == 0.3 and meta.particle_diameter_nm == 1.0
    assert len(meta.particle_polygon) >= 3
    ensure_demo_movies(tmp_path, specs, defaults)
    assert path.stat().st_mtime_ns == stamp  # reused, not rewritten
    ensure_demo_movies(tmp_path, specs, {**defaults, "frames": 7})
    assert read_movie(path).shape[0] == 7  # settings changed: regenerated
