"""The quality gate: significance against the Gaussian and between candidates, artifact and
leak checks, ties kept, and the champion chosen among passing models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fluxion.scoring.evaluation import paired_differences
from fluxion.scoring.gate import Candidate, Verdict, beats, gate_movie
from fluxion.scoring.selection import choose_champion


def _ar1(rng, n: int, rho: float = 0.5) -> np.ndarray:
    noise = rng.normal(size=n)
    out = np.empty(n)
    out[0] = noise[0]
    for t in range(1, n):
        out[t] = rho * out[t - 1] + np.sqrt(1 - rho**2) * noise[t]
    return out


def _per_frame(means: dict[str, float], rng, n: int = 150, spread: float = 0.05,
               shared: float = 0.5) -> pd.DataFrame:
    """Per-frame ranking uMSE of each method: a noise term shared by all methods (as the
    references are) plus each method's own autocorrelated deviation."""
    common = shared * _ar1(rng, n)
    rows = []
    for method, mean in means.items():
        values = mean + common + spread * _ar1(rng, n)
        rows += [{"method": method, "frame": t, "reference": "ranking", "region": "frame",
                  "umse": v} for t, v in enumerate(values)]
    return pd.DataFrame(rows)


def _candidate(method: str, parameters: int = 100, **kwargs) -> Candidate:
    return Candidate(method=method, parameters=parameters,
                     uniformity_passed=kwargs.pop("uniformity_passed", True),
                     name=f"fluxion-{method}", version="1", **kwargs)


def _differences(means, rng, **kwargs) -> pd.DataFrame:
    # 150 test frames as in the study; blocks of 10 cover the AR(1) dependence
    return paired_differences(_per_frame(means, rng, **kwargs), block=10, n_bootstrap=300,
                              seed=int(rng.integers(1 << 30)))


def test_a_clearly_better_model_is_selected(rng):
    differences = _differences({"udvd": 1.0, "n2n": 1.3, "gaussian": 1.6}, rng)
    assert beats(differences, "udvd", "gaussian") and not beats(differences, "gaussian", "udvd")
    verdict = gate_movie("m", [_candidate("udvd"), _candidate("n2n")], differences)
    assert verdict.gate_passed and verdict.method == "udvd" and verdict.version == "1"
    assert verdict.candidates == {"udvd": [], "n2n": []}


def test_a_model_that_fails_a_check_is_refused_and_the_gaussian_takes_over(rng):
    differences = _differences({"udvd": 1.0, "gaussian": 1.6}, rng)
    for problem, candidate, flags in (
            ("not uniform", _candidate("udvd", uniformity_passed=False), ()),
            ("noise floor", _candidate("udvd", leak_suspected=True), ()),
            ("correlated noise", _candidate("udvd"), ("neighbour correlation 0.07 > 0.03",))):
        verdict = gate_movie("m", [candidate], differences, correlated_noise=flags)
        assert not verdict.gate_passed and verdict.method == "gaussian"
        assert verdict.name is None and problem in verdict.candidates["udvd"][0]


def test_a_model_no_better_than_the_gaussian_is_refused(rng):
    differences = _differences({"udvd": 1.6, "gaussian": 1.6}, rng, spread=0.2)
    verdict = gate_movie("m", [_candidate("udvd")], differences)
    assert not verdict.gate_passed
    assert "not significantly better" in verdict.candidates["udvd"][0]


def test_a_tie_keeps_the_current_selection_else_the_simpler_method(rng):
    differences = _differences({"udvd": 1.0, "udvd-single": 1.0, "gaussian": 1.6}, rng,
                               spread=0.3)
    candidates = [_candidate("udvd", 5000), _candidate("udvd-single", 900)]
    if beats(differences, "udvd", "udvd-single") or beats(differences, "udvd-single", "udvd"):
        return  # this draw is one of the ~10% significant by chance; the next test counts
    assert gate_movie("m", candidates, differences, current="udvd").method == "udvd"
    assert gate_movie("m", candidates, differences).method == "udvd-single"


def test_with_no_true_difference_the_current_selection_is_kept_at_least_85_percent(rng):
    kept = 0
    for _ in range(100):
        differences = _differences({"udvd": 1.0, "udvd-single": 1.0, "gaussian": 1.5}, rng,
                                   spread=0.2)
        verdict = gate_movie("m", [_candidate("udvd", 5000), _candidate("udvd-single", 900)],
                             differences, current="udvd")
        kept += verdict.method == "udvd"
    assert kept >= 85


def test_the_champion_is_the_passing_model_with_the_largest_gain(rng):
    comparison = pd.DataFrame([
        {"movie": movie, "method": method, "reference": "ranking", "region": "frame",
         "umse": umse}
        for movie, scores in {"a": {"udvd": 1.0, "gaussian": 2.0},   # 50% better
                              "b": {"udvd": 0.5, "gaussian": 0.6},   # 17% better
                              "c": {"udvd": 0.1, "gaussian": 10.0}}.items()  # failed its gate
        for method, umse in scores.items()])
    verdicts = {"a": Verdict("a", "udvd", True, "fluxion-udvd", "1"),
                "b": Verdict("b", "udvd", True, "fluxion-udvd", "2"),
                "c": Verdict("c", "gaussian", False)}
    choice = choose_champion(verdicts, comparison, metric="upsnr_ranking_frame", method="udvd",
                             current=("fluxion-udvd", "2"))
    assert choice["promote"] and (choice["name"], choice["version"]) == ("fluxion-udvd", "1")
    again = choose_champion(verdicts, comparison, metric="upsnr_ranking_frame", method="udvd",
                            current=("fluxion-udvd", "1"))
    assert not again["promote"]
    none = choose_champion({"c": verdicts["c"]}, comparison, metric="upsnr_ranking_frame",
                           method="udvd", current=None)
    assert not none["promote"]
