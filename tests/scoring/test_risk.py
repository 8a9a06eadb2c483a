"""fluxion.scoring.risk and the block-bootstrap intervals, against ground truth on a simulated
movie whose particle switches between ordered and disordered configurations during the test
frames: the risk estimate holds there and ranks methods as the truth does, while the temporal
score overrates a denoiser that averages neighbouring frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fluxion.denoising.models import UDVD, Denoiser, GaussianDenoiser
from fluxion.errors import ParameterError
from fluxion.movies.regions import polygon_mask
from fluxion.movies.simulate import simulate_movie
from fluxion.scoring.evaluation import paired_differences, score_methods, summarise_scores
from fluxion.scoring.intervals import block_bootstrap_ci, paired_difference_ci
from fluxion.scoring.risk import monte_carlo_divergence, risk_estimate

TEST = [10, 100]


class TemporalAverage(Denoiser):
    """A blind-spot video filter: smoothed mean of the four neighbouring frames (never the
    target frame), i.e. the average structure."""

    frames, method = 5, "temporal-average"

    def __init__(self) -> None:
        super().__init__()
        self.blur = GaussianDenoiser(1.0)

    def denoise(self, x: torch.Tensor) -> torch.Tensor:
        neighbours = torch.cat([x[:, :2], x[:, 3:]], dim=1).mean(dim=1, keepdim=True)
        return self.blur.denoise(neighbours)

    def self_weight(self) -> float:
        return 0.0


class SoftDetail(Denoiser):
    """A non-linear, non-blind filter (its self weight must be estimated): a Gaussian plus a
    soft-limited share of the detail it removed, smooth on the scale of one count."""

    frames, method = 1, "soft-detail"

    def __init__(self) -> None:
        super().__init__()
        self.blur = GaussianDenoiser(1.5)

    def denoise(self, x: torch.Tensor) -> torch.Tensor:
        smooth = self.blur.denoise(x)
        return smooth + 0.6 * torch.tanh((x - smooth) / 4)


@pytest.fixture(scope="module")
def switching():
    sim = simulate_movie(frames=100, size=160, dose=2.0, particle_diameter_nm=3.2, seed=21,
                         disordered_fraction=0.5, switch_probability=0.3, noise_correlation=0.0)
    assert 0 < sim.disordered[TEST[0]:].mean() < 1  # it switches during the test frames
    particle = polygon_mask(sim.particle_polygon, sim.clean.shape[1:])
    methods = {"gaussian": GaussianDenoiser(1.5), "temporal-average": TemporalAverage(),
               "soft-detail": SoftDetail()}
    scores = score_methods(sim.noisy, methods, test=TEST, particle_mask=particle,
                           truth=sim.clean, spatial=False, noise_gain=1.0)
    return sim, scores, summarise_scores(scores, peak=float(sim.clean.max()), block=8)


def _upsnr(summary, method, reference, region="particle"):
    column = "psnr" if reference == "truth" else "upsnr"
    return summary[(summary["method"] == method) & (summary["reference"] == reference)
                   & (summary["region"] == region)][column].item()


def test_the_risk_estimate_holds_where_the_particle_moves(switching):
    _sim, _scores, summary = switching
    for method in ("gaussian", "temporal-average", "soft-detail"):
        assert _upsnr(summary, method, "risk") == pytest.approx(
            _upsnr(summary, method, "truth"), abs=0.5), method
    truth = sorted(("gaussian", "temporal-average", "soft-detail"),
                   key=lambda m: -_upsnr(summary, m, "truth"))
    risk = sorted(("gaussian", "temporal-average", "soft-detail"),
                  key=lambda m: -_upsnr(summary, m, "risk"))
    assert risk == truth


def test_the_temporal_score_overrates_the_average_structure(switching):
    _sim, _scores, summary = switching
    overrated = _upsnr(summary, "temporal-average", "temporal") - \
        _upsnr(summary, "temporal-average", "truth")
    assert overrated > 1.0  # the dynamics bias the risk estimate avoids
    bias = summary[(summary["reference"] == "risk") & (summary["region"] == "particle")
                   & (summary["method"] == "temporal-average")]["dynamics_bias_db"].item()
    assert bias == pytest.approx(overrated, abs=0.6)


def test_the_monte_carlo_divergence_of_a_linear_filter_is_its_centre_weight():
    rng = np.random.default_rng(0)
    window = rng.poisson(3.0, (1, 48, 48)).astype(np.float32)
    gaussian = GaussianDenoiser(1.5)
    estimate = monte_carlo_divergence(gaussian, window, probes=16)[8:-8, 8:-8].mean()
    blind = monte_carlo_divergence(UDVD(frames=1, width=4), window, probes=2)
    assert np.abs(blind).mean() < 1e-3  # nothing flows through a blind spot (float32 steps)
    assert estimate == pytest.approx(gaussian.self_weight(), rel=0.03)


def test_paired_differences_resolve_what_single_intervals_cannot(switching):
    _sim, scores, summary = switching
    pairs = paired_differences(scores, reference="risk", region="particle", block=8)
    assert len(pairs) == 3 and {"first", "second", "low", "high", "significant"} <= set(pairs)
    row = pairs[(pairs["first"] == "gaussian") & (pairs["second"] == "soft-detail")].iloc[0]
    assert row["low"] <= row["mean_difference"] <= row["high"]
    single = summary[(summary["reference"] == "risk") & (summary["region"] == "particle")]
    widest_single = (single["umse_high"] - single["umse_low"]).max()
    assert row["high"] - row["low"] < widest_single  # the shared noise term cancels


def _ar1(rng, n, rho):
    x = np.empty(n)
    x[0] = rng.normal() / np.sqrt(1 - rho**2)
    for i in range(1, n):
        x[i] = rho * x[i - 1] + rng.normal()
    return x


def test_block_bootstrap_covers_autocorrelated_scores_where_the_iid_one_falls_short():
    rng = np.random.default_rng(5)
    trials, block_hits, iid_hits = 300, 0, 0
    for k in range(trials):
        scores = _ar1(rng, 200, 0.5)  # true mean 0
        _, low, high = block_bootstrap_ci(scores, block=10, n=400, seed=k)
        block_hits += low <= 0 <= high
        _, low, high = block_bootstrap_ci(scores, block=1, n=400, seed=k)  # iid
        iid_hits += low <= 0 <= high
    assert abs(block_hits / trials - 0.90) <= 0.05
    assert iid_hits / trials < 0.80  # frames resampled as independent: too narrow


def test_bad_risk_and_interval_input_is_refused():
    with pytest.raises(ParameterError, match="gain must be > 0"):
        risk_estimate(np.ones((4, 4)), np.ones((4, 4)), gain=0.0)
    with pytest.raises(ParameterError, match="differ in shape"):
        risk_estimate(np.ones((4, 4)), np.ones((4, 5)), gain=1.0)
    with pytest.raises(ParameterError, match="same frames"):
        paired_difference_ci([1.0, 2.0], [1.0, 2.0, 3.0], block=1)
    with pytest.raises(ParameterError, match="block length"):
        block_bootstrap_ci([1.0, 2.0, 3.0], block=0)

