"""Intervals for per-frame scores that are not independent: the moving-block bootstrap.

Neighbouring test frames share temporal references (and a video denoiser reads neighbouring
frames), so their scores are correlated and resampling frames one by one gives intervals that
are too narrow. Blocks of consecutive frames keep that dependence; ``arch``'s
``MovingBlockBootstrap`` does the resampling. A paired difference between two methods, frame
by frame on the same frames and references, cancels the shared noise term and is far tighter
than either score: that is what the gate between methods tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from arch.bootstrap import MovingBlockBootstrap

from fluxion.errors import ParameterError

__all__ = ["block_bootstrap_ci", "paired_difference_ci", "reference_block_length"]


def reference_block_length(window_radius: int) -> int:
    """Frames over which temporal scores share references: frame t reads t +- r and is scored
    against the nearest frames outside, so scores up to 2 r + 3 frames apart share one."""
    return 2 * int(window_radius) + 4


def _checked(values: Sequence[float] | np.ndarray, block: int, level: float) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or len(values) < 2:
        raise ParameterError(f"a bootstrap interval needs at least 2 per-frame values, got "
                             f"shape {values.shape}.")
    if not np.isfinite(values).all():
        raise ParameterError("per-frame scores hold NaN or infinite values.")
    if not isinstance(block, int | np.integer) or block < 1:
        raise ParameterError(f"block length must be a whole number >= 1, got {block!r}.")
    if not 0 < level < 1:
        raise ParameterError(f"level must be between 0 and 1, got {level}.")
    return values


def block_bootstrap_ci(values: Sequence[float] | np.ndarray, *, block: int,
                       level: float = 0.90, n: int = 1000, seed: int = 0,
                       ) -> tuple[float, float, float]:
    """Mean of per-frame ``values`` (in frame order) and its moving-block bootstrap percentile
    interval, blocks of ``block`` consecutive frames (at most half the frames). Returns
    (mean, low, high)."""
    values = _checked(values, block, level)
    block = min(int(block), max(len(values) // 2, 1))
    bootstrap = MovingBlockBootstrap(block, values, seed=np.random.default_rng(seed))
    low, high = bootstrap.conf_int(np.mean, reps=n, method="percentile", size=level)[:, 0]
    return float(values.mean()), float(low), float(high)


def paired_difference_ci(first: Sequence[float] | np.ndarray,
                         second: Sequence[float] | np.ndarray, *, block: int,
                         level: float = 0.90, n: int = 1000, seed: int = 0,
                         ) -> tuple[float, float, float]:
    """Mean of ``first - second`` over the same frames (in frame order) with its block
    bootstrap interval: (mean difference, low, high). An interval that excludes zero says the
    methods differ at that level."""
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if first.shape != second.shape:
        raise ParameterError(f"paired scores must cover the same frames, got {first.shape} "
                             f"and {second.shape}.")
    return block_bootstrap_ci(first - second, block=block, level=level, n=n, seed=seed)
