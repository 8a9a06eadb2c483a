"""The quality gate: which denoiser, if any, may touch a movie.

A trained model is selected for a movie only if

1. the paired moving-block bootstrap interval of its per-frame ranking score against the
   Gaussian baseline excludes zero in its favour, and no other passing candidate beats it the
   same way (a tie keeps the movie's current selection, else the simpler method: fewer
   parameters);
2. its vacuum stays uniform (real space and no phantom lattice in the Fourier transform);
3. no correlated-noise leak is flagged: its validation loss is not under the measured noise
   floor, and the diagnostics' correlation limits hold for the movie.

Otherwise the Gaussian baseline denoises the movie and the movie is flagged
(``gate_passed`` false), with the reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

__all__ = ["FALLBACK", "Candidate", "Verdict", "beats", "gate_movie"]

FALLBACK = "gaussian"


@dataclass(frozen=True)
class Candidate:
    """A trained model of one movie, as the gate sees it."""

    method: str
    parameters: int                       # trainable parameters: the simpler wins a tie
    uniformity_passed: bool
    leak_suspected: bool = False
    name: str | None = None               # registered model name and version
    version: str | None = None


@dataclass
class Verdict:
    """What denoises one movie and why."""

    movie: str
    method: str
    gate_passed: bool
    name: str | None = None
    version: str | None = None
    reasons: list[str] = field(default_factory=list)
    candidates: dict[str, list[str]] = field(default_factory=dict)  # method -> its problems
    interval: list[float] | None = None  # the selected model's score minus the baseline's

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Verdict:
        return cls(**values)


def _interval(differences: pd.DataFrame, first: str, second: str) -> tuple[float, float] | None:
    """The interval of mean(score(first) - score(second)), from either row order."""
    rows = differences[(differences["first"] == first) & (differences["second"] == second)]
    if len(rows):
        return float(rows["low"].iloc[0]), float(rows["high"].iloc[0])
    rows = differences[(differences["first"] == second) & (differences["second"] == first)]
    if len(rows):
        return -float(rows["high"].iloc[0]), -float(rows["low"].iloc[0])
    return None


def beats(differences: pd.DataFrame, first: str, second: str) -> bool:
    """Whether ``first`` has a significantly lower score (uMSE) than ``second``: the whole
    interval of their paired difference lies below zero."""
    interval = _interval(differences, first, second)
    return interval is not None and interval[1] < 0


def _problems(candidate: Candidate, differences: pd.DataFrame,
              correlated_noise: Sequence[str]) -> list[str]:
    problems = []
    if correlated_noise:
        problems.append("the diagnostics flag correlated noise (" + ", ".join(correlated_noise)
                        + "), which breaks the self-supervised assumption")
    if candidate.leak_suspected:
        problems.append("its validation loss is under 0.9x the measured noise floor (a leak)")
    if not candidate.uniformity_passed:
        problems.append("its vacuum is not uniform (a real-space or phantom-lattice artifact)")
    interval = _interval(differences, candidate.method, FALLBACK)
    if interval is None:
        problems.append(f"it was not compared with the {FALLBACK} baseline")
    elif not interval[1] < 0:
        verdict = "significantly worse than" if interval[0] > 0 else \
            "not significantly better than"
        problems.append(f"it is {verdict} the {FALLBACK} baseline (interval of its score minus "
                        f"the baseline's: [{interval[0]:.4g}, {interval[1]:.4g}])")
    return problems


def gate_movie(movie: str, candidates: Sequence[Candidate], differences: pd.DataFrame, *,
               correlated_noise: Sequence[str] = (), current: str | None = None) -> Verdict:
    """The verdict for one movie from its candidates, the paired differences of their ranking
    scores (:func:`fluxion.scoring.evaluation.paired_differences`, which includes the
    Gaussian baseline), the movie's correlation flags and the method currently selected."""
    problems = {c.method: _problems(c, differences, correlated_noise) for c in candidates}
    passing = [c for c in candidates if not problems[c.method]]
    if not passing:
        return Verdict(movie, FALLBACK, False, reasons=[
            "no trained model passed the gate: the Gaussian baseline denoises this movie"],
            candidates=problems)
    top = [c for c in passing
           if not any(beats(differences, other.method, c.method) for other in passing)]
    if len(top) == 1:
        chosen = top[0]
        others = [c.method for c in passing if c is not chosen]
        reason = f"{chosen.method} beats the {FALLBACK} baseline" + (
            f" and {', '.join(others)}" if others else "") + " significantly, and passes the checks"
    else:
        tied = [c.method for c in top]
        kept = next((c for c in top if c.method == current), None)
        chosen = kept or min(top, key=lambda c: (c.parameters, c.method))
        reason = (f"{', '.join(tied)} tie; " + ("the current selection is kept" if kept else
                                                f"{chosen.method} is the simplest"))
    return Verdict(movie, chosen.method, True, chosen.name, chosen.version, [reason], problems,
                   list(_interval(differences, chosen.method, FALLBACK)))
