"""The movie's own noise model, measured in its vacuum: gain, floor and correlation flags.

Counts are not "Poisson with unit gain": a detector with DQE 0.8 normalised to the dose has a
variance of 1.25x its mean, an integrating camera in ADU any gain, and a detector
point-spread adds a little more. The gain is measured as half the variance of differences
between consecutive frames in the vacuum over its mean: differences cancel everything static
(Fresnel fringes, illumination gradients, a support's edge), leaving twice the noise variance.
The blind-spot loss floor is then the gain times the mean count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fluxion.errors import ParameterError
from fluxion.movies.io import LazyMovie

__all__ = ["CorrelationLimits", "NoiseModel", "correlation_flags", "measure_noise"]

Movie = np.ndarray | LazyMovie


@dataclass(frozen=True)
class NoiseModel:
    """Noise variance = ``gain`` x mean count, measured over ``pairs`` frame pairs."""

    gain: float
    vacuum_mean: float
    difference_variance: float
    pairs: int

    def floor(self, mean_count: float) -> float:
        """Noise variance (the loss floor of a blind-spot MSE) at a mean count."""
        return self.gain * mean_count

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def measure_noise(movie: Movie, vacuum_mask: np.ndarray | None = None, *,
                  frames: tuple[int, int] | None = None, max_pairs: int = 64) -> NoiseModel:
    """Gain = var(y_t - y_t+1) / 2 / mean(y) over the vacuum (or the whole frame without a
    mask), from up to ``max_pairs`` consecutive pairs evenly spread over ``frames``
    ([start, stop), default the whole movie). Streams two frames at a time."""
    start, stop = frames if frames is not None else (0, len(movie))
    if stop - start < 2:
        raise ParameterError(f"measuring the noise needs at least 2 frames, got [{start}, "
                             f"{stop}).")
    mask = None if vacuum_mask is None else np.asarray(vacuum_mask, bool)
    if mask is not None and mask.sum() < 16:
        raise ParameterError("the vacuum mask selects fewer than 16 pixels: too few to measure "
                             "the noise; give a vacuum_box in the sidecar.")
    firsts = np.unique(np.linspace(start, stop - 2, min(max_pairs, stop - start - 1))
                       .round().astype(int))
    variances, means = [], []
    for t in firsts:
        pair = np.asarray(movie[[t, t + 1]], np.float64)
        values = pair[:, mask] if mask is not None else pair.reshape(2, -1)
        variances.append(np.var(values[0] - values[1]))
        means.append(values.mean())
    mean, variance = float(np.mean(means)), float(np.mean(variances))
    if not mean > 0:
        raise ParameterError(f"the vacuum's mean count is {mean:.3g}; the noise gain needs "
                             "positive counts (is the movie dark-subtracted?).")
    return NoiseModel(variance / 2 / mean, mean, variance, len(firsts))


@dataclass(frozen=True)
class CorrelationLimits:
    """Above these the blind-spot assumption (independent noise) is broken. Defaults: a few
    times the reference detector's levels (~1e-2 between neighbours, ~1e-3 between frames)."""

    neighbour: float = 0.03
    frame: float = 0.01


def correlation_flags(curve: dict[str, np.ndarray],
                      limits: CorrelationLimits = CorrelationLimits()) -> dict[str, object]:
    """The neighbour (mean of horizontal and vertical at distance 1) and next-frame noise
    correlations of :func:`fluxion.analysis.diagnostics.noise_correlation`, and whether each
    exceeds its limit."""
    neighbour = float((curve["horizontal"][0] + curve["vertical"][0]) / 2)
    frame = float(curve["temporal"][0])
    return {"neighbour_correlation": neighbour, "frame_correlation": frame,
            "neighbour_flag": neighbour > limits.neighbour, "frame_flag": frame > limits.frame,
            "correlated_noise": neighbour > limits.neighbour or frame > limits.frame}
