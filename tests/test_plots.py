"""fluxion.reporting.plots: figures draw what the tables hold, including the awkward cases."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fluxion.reporting.plots import upsnr_comparison


def test_upsnr_figure_draws_intervals_that_exclude_their_estimate():
    """A percentile bootstrap interval can lie beside its point estimate, and an infinite
    point uPSNR (uMSE <= 0) can sit beyond a finite upper end (the demo failed on one); the
    figure draws each interval as it is."""
    summary = pd.DataFrame({
        "method": ["udvd", "gaussian", "n2n"], "reference": "temporal", "region": "frame",
        "upsnr": [np.inf, 20.0, 25.0], "upsnr_low": [24.0, 20.5, 22.0],
        "upsnr_high": [30.0, 23.0, np.inf]})
    fig = upsnr_comparison(summary, title="m", selected="udvd")
    ax = fig.axes[0]
    ends = ax.collections[0].get_segments()  # the intervals, low to high
    assert [tuple(np.round(segment[:, 0], 6)) for segment in ends[:2]] == [(24.0, 30.0),
                                                                           (20.5, 23.0)]
    assert ends[2][1, 0] > 30.0  # an unbounded end drawn past every finite value
