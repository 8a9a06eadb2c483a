"""Choosing the model that new movies start from (the registry's ``champion``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["choose_champion"]


def choose_champion(comparison: pd.DataFrame, candidates: dict[str, dict[str, Any]],
                    metric: str) -> dict[str, Any]:
    """The best trained method by ``metric`` (e.g. upsnr_temporal_particle: the lowest mean
    temporal uMSE inside the particle, over movies) becomes the champion when it beats the
    current one (or there is none). Ranking by uMSE keeps estimates <= 0 (uPSNR = inf) in
    order."""
    reference, region = metric.removeprefix("upsnr_").split("_")
    rows = comparison[(comparison["reference"] == reference)
                      & (comparison["region"] == region)
                      & comparison["method"].isin(list(candidates))]
    if rows.empty:
        return {"promote": False, "reason": "no registered model was evaluated"}
    scores = rows.groupby("method")["umse"].mean().sort_values()
    best = scores.index[0]
    current = next((label for label, c in candidates.items() if c["champion"]), None)
    choice = {"metric": metric, "mean_umse": scores.to_dict(), "best": best,
              "name": candidates[best]["name"], "version": candidates[best]["version"],
              "previous": current}
    if current == best:
        return {**choice, "promote": False, "reason": "the champion is still the best"}
    if current is not None and scores[best] >= scores.get(current, np.inf):
        return {**choice, "promote": False, "reason": "no method beats the champion"}
    return {**choice, "promote": True, "reason": f"{best} has the best {metric}"}
