"""Choosing the model that new movies start from (the registry's ``champion``).

Every movie has its own model; the champion is only the warm start of the next one. Scores of
different movies are not comparable, but each model's improvement over the Gaussian baseline
on its own movie is: the champion is the gate-passing model of the per-movie method with the
largest relative reduction of the ranking score's uMSE over the Gaussian on its movie.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from fluxion.scoring.gate import FALLBACK, Verdict

__all__ = ["choose_champion"]


def _relative_gain(comparison: pd.DataFrame, movie: str, method: str, metric: str) -> float:
    reference, region = metric.removeprefix("upsnr_").split("_")
    rows = comparison[(comparison["movie"] == movie) & (comparison["reference"] == reference)
                      & (comparison["region"] == region)].set_index("method")["umse"]
    baseline = float(rows[FALLBACK])
    return (baseline - float(rows[method])) / abs(baseline) if baseline else 0.0


def choose_champion(verdicts: Mapping[str, Verdict], comparison: pd.DataFrame, *, metric: str,
                    method: str, current: tuple[str, str] | None) -> dict[str, Any]:
    """``{"promote": bool, "name", "version", "reason", ...}``: the best gate-passing registered
    ``method`` model by its gain over the Gaussian (``metric``: ``upsnr_<reference>_<region>``)
    becomes the champion unless it already is."""
    passed = [v for v in verdicts.values() if v.gate_passed and v.method == method and v.name]
    if not passed:
        return {"promote": False, "reason": f"no {method} model passed its movie's gate"}
    gains = {v.movie: _relative_gain(comparison, v.movie, v.method, metric) for v in passed}
    best = next(v for v in passed if v.movie == max(gains, key=gains.get))
    choice = {"metric": metric, "relative_gain": gains, "movie": best.movie, "name": best.name,
              "version": best.version, "previous": list(current) if current else None}
    if current == (best.name, best.version):
        return {**choice, "promote": False, "reason": "the champion is still the best"}
    return {**choice, "promote": True, "reason": f"{best.name} v{best.version} (trained on "
            f"{best.movie}) has the largest gain over the {FALLBACK} baseline by {metric}"}
