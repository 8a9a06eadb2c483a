"""fluxion.analysis.topology: known diagrams, 8-connectivity, the polygon filter, ALPS on known
lifetimes, agreement with detectda, calibration, ALPS* of noise and lattices, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from fluxion.analysis.topology import (
    alps,
    alps_from_lifetimes,
    alps_series,
    calibrate_alps,
    calibrate_on_vacuum,
    fit_alps_scaling,
    persistence_diagram,
    persistent_entropy,
    smooth,
    standardize_frames,
    standardized_alps,
)
from fluxion.errors import ParameterError
from fluxion.movies.simulate import simulate_movie


def test_two_minima_merge_at_the_saddle():
    image = np.array([[5, 5, 5, 5, 5],
                      [5, 0, 3, 1, 5],
                      [5, 5, 5, 5, 5]], float)
    diagram = persistence_diagram(image, sigma=0)
    assert sorted(map(tuple, diagram.tolist())) == [(0, 5, 1, 1), (1, 3, 3, 1)]


def test_a_diagonal_touch_connects_with_8_connectivity():
    image = np.array([[0, 9, 9],
                      [9, 1, 9],
                      [9, 9, 9]], float)
    # 4-connectivity would give a second component born at 1; 8-connectivity does not
    assert persistence_diagram(image, sigma=0).tolist() == [[0, 9, 0, 0]]
    # ... and a plateau makes no zero-length bar
    flat = np.array([[2, 2, 2], [2, 2, 2]], float)
    assert persistence_diagram(flat, sigma=0).tolist() == [[2, 2, 0, 0]]


def test_polygon_keeps_points_born_strictly_inside():
    image = np.full((9, 12), 10.0)
    image[2, 2], image[6, 9], image[4, 5] = 1.0, 2.0, 3.0
    everything = persistence_diagram(image, sigma=0)
    assert len(everything) == 3
    box = [[4, 3], [11, 3], [11, 8], [4, 8]]  # x = column 4..11, y = row 3..8
    inside = persistence_diagram(image, sigma=0, polygon=box)
    assert sorted(map(tuple, inside[:, 2:].astype(int).tolist())) == [(5, 4), (9, 6)]
    on_edge = [[5, 4], [11, 4], [11, 8], [5, 8]]  # (5, 4) lies on the boundary: excluded
    assert [tuple(p) for p in persistence_diagram(image, sigma=0, polygon=on_edge)[:, 2:]
            .astype(int).tolist()] == [(9, 6)]


@pytest.mark.parametrize("lifetimes, expected", [
    ([1, 2, 2], math.log(3) + math.log(2)),  # tied lifetimes: the true area
    ([1, 3], math.log(2)),
    ([2.0], 0.0),
    ([0.5, 0.5, 0.5, 0.5], 0.5 * math.log(4)),
    ([3, 1, 2], math.log(3) + math.log(2)),
])
def test_alps_is_the_area_under_log_survival(lifetimes, expected):
    assert alps_from_lifetimes(lifetimes) == pytest.approx(expected)


def test_alps_matches_a_numerical_integral(rng):
    lifetimes = rng.exponential(1.0, 50)
    t = np.linspace(0, lifetimes.max(), 200_001)
    survival = (lifetimes[None, :] >= t[:, None]).sum(axis=1)
    integral = np.trapz(np.log(np.maximum(survival, 1)), t)
    assert alps_from_lifetimes(lifetimes) == pytest.approx(integral, rel=1e-3)


@pytest.mark.parametrize("sigma", [2.0, 1.3, 0.4])  # the unrolled 17 taps, and any other
def test_smoothing_is_skimage_gaussian_bit_for_bit(rng, sigma):
    from skimage.filters import gaussian

    image = rng.random((37, 52))
    assert np.array_equal(smooth(image, sigma), gaussian(image, sigma=sigma,
                                                         preserve_range=True))


def test_radix_order_is_a_stable_argsort(rng):
    from fluxion.analysis.topology.kernels import _radix_order

    values = np.concatenate([rng.normal(size=500), rng.integers(-3, 3, 500).astype(float),
                             [0.0, -0.0, 1e-300, -1e-300, 1e300, -np.inf, np.inf]])
    rng.shuffle(values)
    np.testing.assert_array_equal(_radix_order(values), np.argsort(values, kind="stable"))


@pytest.mark.parametrize("ties", [False, True])
def test_against_a_full_union_find(rng, ties):
    """Every pixel sorted and united: the slow, obvious algorithm gives the same diagram, also
    on an image of many equal values (plateaus, ties broken by raster index)."""
    image = (rng.integers(0, 4, (40, 33)).astype(float) if ties
             else smooth(rng.random((40, 33)), 1.0))
    height, width = image.shape
    order = np.argsort(image, axis=None, kind="stable")
    parent, birth = {}, {}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs = []
    for p in order:
        parent[p], birth[p] = p, p
        r, c = divmod(p, width)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                q = (r + dr) * width + c + dc
                if (dr or dc) and 0 <= r + dr < height and 0 <= c + dc < width and q in parent:
                    a, b = find(p), find(q)
                    if a != b:
                        young, old = sorted((a, b), key=lambda x: image.flat[birth[x]])[::-1]
                        pairs.append((image.flat[birth[young]], image.flat[p]))
                        parent[young] = old
    expected = sorted((b, d) for b, d in pairs if d > b)
    diagram = persistence_diagram(image, sigma=0)
    found = sorted(map(tuple, diagram[:-1, :2].tolist()))
    np.testing.assert_allclose(np.array(found), np.array(expected))


def test_agrees_with_detectda(rng):
    hlpr = pytest.importorskip("detectda.hlpr")
    from shapely.geometry import Polygon

    for shape in ((64, 64), (50, 70)):
        image = rng.random(shape)
        reference = hlpr.fitsmoo(image, sigma=2)
        diagram = persistence_diagram(image, sigma=2)
        np.testing.assert_allclose(np.sort(diagram[:, 1] - diagram[:, 0]),
                                   np.sort(reference[:, 2]), rtol=1e-9)
        assert alps(image) == pytest.approx(hlpr.alps(reference[:, 2]), rel=1e-9)
        assert {tuple(p) for p in diagram[:, 2:].astype(int).tolist()} == \
            {tuple(p) for p in reference[:, :2].astype(int).tolist()}
        polygon = [[10, 8], [40, 12], [35, 40], [12, 30]]
        inside = hlpr.fitsmoo(image, polygon=Polygon(polygon), sigma=2)
        kept = inside[inside[:, 3] == 1, 2]
        ours = persistence_diagram(image, sigma=2, polygon=polygon)
        np.testing.assert_allclose(np.sort(ours[:, 1] - ours[:, 0]), np.sort(kept), rtol=1e-9)


def test_fit_recovers_known_betas(rng):
    n = np.repeat([100, 400, 900, 2500, 6400], 20)
    values = -3.0 + 0.8 * np.log(n) + rng.normal(0, 0.05, n.size)
    beta0, beta1, r2 = fit_alps_scaling(n, values)
    assert beta0 == pytest.approx(-3.0, abs=0.1) and beta1 == pytest.approx(0.8, abs=0.02)
    assert r2 > 0.95


def test_alps_star_of_calibrated_noise_is_one_and_lattices_order(rng):
    """Frames z-scored as the pipeline does; a column of 30 atoms jittered in 3-D loses
    contrast, as atoms leave their columns in a fluxional particle."""
    beta0, beta1, r2 = calibrate_alps(standardize_frames(rng.poisson(2.0, (12, 96, 96))))
    assert r2 > 0.8 and beta1 > 0
    fresh = standardize_frames(rng.poisson(2.0, (8, 96, 96)))
    square = [[20, 20], [76, 20], [76, 76], [20, 76]]
    scores = [standardized_alps(f, polygon=square, beta0=beta0, beta1=beta1) for f in fresh]
    assert np.mean(scores) == pytest.approx(1.0, abs=0.1)
    rows, cols = np.mgrid[0:96, 0:96]

    def lattice(jitter, atoms=30):
        image = np.full((96, 96), 1.0)
        for y in range(4, 96, 7):
            for x in range(4, 96, 7):
                for dy, dx in rng.normal(0, jitter, (atoms, 2)):
                    image -= 0.6 / atoms * np.exp(-((rows - y - dy) ** 2
                                                    + (cols - x - dx) ** 2) / 4.0)
        return image

    def score(image):
        noisy = standardize_frames((image + 0.15 * rng.normal(size=image.shape))[None])[0]
        return standardized_alps(noisy, polygon=square, beta0=beta0, beta1=beta1)

    ordered, jittered = score(lattice(0.0)), score(lattice(2.0))
    assert ordered > 1.25 and ordered > jittered + 0.15


def test_series_in_parallel_equals_frame_by_frame(rng):
    movie = ndimage.gaussian_filter(rng.random((9, 48, 40)), (0, 1, 1))
    polygon = [[5, 5], [35, 5], [35, 40], [5, 40]]
    table = alps_series(movie, polygon=polygon, beta0=-1.0, beta1=0.5, n_jobs=2, chunk=2)
    assert list(table["frame"]) == list(range(9))
    for t in (0, 4, 8):
        assert table["alps"][t] == pytest.approx(alps(movie[t], polygon=polygon))
        assert table["entropy"][t] == pytest.approx(persistent_entropy(movie[t],
                                                                       polygon=polygon))
    assert (table["n_pixels"] == 30 * 35 - 0).all() or table["n_pixels"].nunique() == 1


@pytest.mark.parametrize("image, polygon, message", [
    (np.full((8, 8), np.nan), None, "NaN"),
    (np.zeros(10), None, "2-D image"),
    (np.zeros((8, 8)), [[0, 0], [20, 0], [0, 5]], "outside"),
    (np.zeros((8, 8)), [[0, 0], [5, 5]], "at least 3"),
])
def test_bad_topology_input_is_refused(image, polygon, message):
    with pytest.raises(ParameterError, match=message):
        alps(image, polygon=polygon)


def test_calibrating_on_a_flat_vacuum_is_refused():
    with pytest.raises(ParameterError, match="beta0 and beta1"):
        calibrate_alps(np.ones((3, 40, 40)))


def test_a_region_without_points_is_refused():
    image = np.zeros((10, 10))
    image[1, 1] = -1.0  # the only minimum, outside the polygon
    with pytest.raises(ParameterError, match=r"no persistence point|holds none"):
        alps(image, sigma=0, polygon=[[5, 5], [9, 5], [9, 9], [5, 9]])


def test_series_on_a_dask_cluster_equals_local_threads(rng):
    from dask.distributed import LocalCluster

    movie = ndimage.gaussian_filter(rng.random((6, 40, 40)), (0, 1, 1))
    local = alps_series(movie, beta0=-1.0, beta1=0.5, n_jobs=1, chunk=2)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        remote = alps_series(movie, beta0=-1.0, beta1=0.5, chunk=2,
                             dask_scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(local, remote)


def test_calibration_on_a_movie_vacuum_passes_its_held_out_self_check():
    """Whole frames smoothed, then squares inside the vacuum: held-out frames' vacuum squares
    score ALPS* 1 +- 0.05."""
    sim = simulate_movie(frames=24, size=128, dose=2.0, particle_diameter_nm=1.2, seed=8)
    betas = calibrate_on_vacuum(sim.noisy, sim.vacuum_mask, sigma=2.0, frames=24)
    assert betas["beta1"] > 0 and betas["r2"] > 0.8
    assert betas["self_check"] == pytest.approx(1.0, abs=0.05) and betas["self_check_passed"]


def test_a_vacuum_whose_alps_does_not_grow_with_size_is_refused(rng):
    frames = np.ones((4, 60, 60))
    frames[:, 24:36, 24:36] -= rng.random((4, 12, 12))  # every square holds the same points
    with pytest.raises(ParameterError, match="does not grow with region size"):
        calibrate_alps(frames, sizes=[14, 30, 50])
