"""Thin nodes of the evaluation pipeline: every movie's own models scored on its test frames,
the quality gate, the champion. The science is in fluxion.scoring."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fluxion.denoising.inference import denoise_movie
from fluxion.denoising.methods import method as find_method
from fluxion.denoising.methods import trainable_methods
from fluxion.denoising.models import Denoiser, GaussianDenoiser
from fluxion.denoising.per_movie import own_models
from fluxion.movies.records import MovieRecord, movie_records, movie_regions
from fluxion.reporting.plots import example_frames, upsnr_comparison
from fluxion.scoring.evaluation import EvaluationOptions, evaluate_movie
from fluxion.scoring.gate import FALLBACK, Candidate, Verdict, gate_movie
from fluxion.scoring.metrics import to_db
from fluxion.scoring.selection import choose_champion


def movie_methods(models: dict[str, Denoiser], sigma: float) -> dict[str, Denoiser]:
    """A movie's own trained models (by method name) and the Gaussian baseline."""
    return {**models, FALLBACK: GaussianDenoiser(sigma)}


def evaluate_movies(movie_info: dict[str, Any], masks: dict[str, np.ndarray],
                    movie_models: dict[str, dict[str, Denoiser]], evaluation: dict[str, Any],
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-frame scores, the comparison table (uPSNR with block-bootstrap intervals, risk
    estimate, PSNR/SSIM), artifact checks and paired differences of each movie's own models
    and the Gaussian baseline on that movie's test frames."""
    options = EvaluationOptions.from_dict(evaluation)
    per_frame, comparison, checks, differences = [], [], [], []
    for name, record in movie_records(movie_info).items():
        regions = movie_regions(masks, name)
        methods = movie_methods(own_models(record, movie_models), options.gaussian_sigma)
        scores, summary, movie_checks, pairs = evaluate_movie(
            record.frames(), methods, test=list(record.splits.test),
            particle_mask=regions.particle, vacuum_mask=regions.vacuum,
            truth=record.ground_truth(), options=options, noise_gain=record.noise_gain)
        per_frame.append(scores.assign(movie=name))
        comparison.append(_movie_first(summary.assign(movie=name)))
        checks.append(_movie_first(movie_checks.assign(movie=name)))
        differences.append(pairs.assign(movie=name))
    if not per_frame:  # e.g. a re-analysis run with no new movie
        return pd.DataFrame(), _EMPTY_COMPARISON.copy(), pd.DataFrame(columns=["movie",
                                                                               "method"]), \
            pd.DataFrame(columns=["movie", "first", "second", "low", "high"])
    return (pd.concat(per_frame), pd.concat(comparison), pd.concat(checks),
            _movie_first(pd.concat(differences)))


_EMPTY_COMPARISON = pd.DataFrame(columns=["movie", "method", "reference", "region", "umse",
                                          "upsnr"])


def _movie_first(table: pd.DataFrame) -> pd.DataFrame:
    return table[["movie", *(c for c in table.columns if c != "movie")]]


def _candidates(models: dict[str, Denoiser], checks: pd.DataFrame) -> list[Candidate]:
    candidates = []
    for method, model in models.items():
        row = checks[checks["method"] == method]
        registered = getattr(model, "registered", None) or {}
        candidates.append(Candidate(
            method=method, parameters=sum(p.numel() for p in model.parameters()),
            uniformity_passed=bool(len(row) and row["uniformity_passed"].iloc[0]),
            leak_suspected=bool(model.training_summary.get("leak_suspected", False)),
            name=registered.get("name"), version=registered.get("version")))
    return candidates


def _method_of(selection: dict[str, str] | None) -> str | None:
    if not selection:
        return None
    return next((m.name for m in trainable_methods() if m.registered_name == selection["name"]),
                None)


def gate_movies(movie_info: dict[str, Any], movie_models: dict[str, dict[str, Denoiser]],
                checks: pd.DataFrame, differences: pd.DataFrame, noise_flags: pd.DataFrame,
                selections: dict[str, dict[str, str]],
                ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], pd.DataFrame]:
    """The quality gate's verdict for every movie (also saved as registry aliases), and a
    table of them."""
    verdicts = {}
    for name, record in movie_records(movie_info).items():
        flags = noise_flags[noise_flags["movie"] == name] if len(noise_flags) else noise_flags
        correlated = [f"{key.removesuffix('_flag')} correlation "
                      f"{flags[key.replace('_flag', '_correlation')].iloc[0]:.3g} > "
                      f"{flags[key.replace('_flag', '_limit')].iloc[0]:.3g}"
                      for key in ("neighbour_flag", "frame_flag")
                      if len(flags) and bool(flags[key].iloc[0])]
        verdict = gate_movie(
            name, _candidates(own_models(record, movie_models), checks[checks["movie"] == name]),
            differences[differences["movie"] == name], correlated_noise=correlated,
            current=_method_of(selections.get(name)))
        verdicts[name] = verdict.as_dict()
    table = pd.DataFrame([{"movie": v["movie"], "denoiser": v["name"] or FALLBACK,
                           "model_version": v["version"] or "", "method": v["method"],
                           "gate_passed": v["gate_passed"], "reasons": "; ".join(v["reasons"]),
                           **{f"problems_{m}": "; ".join(p) or "none"
                              for m, p in v["candidates"].items()}}
                          for v in verdicts.values()])
    return verdicts, verdicts, table


_SCORES_FIRST = ["movie", "method", "reference", "region", "upsnr", "upsnr_low", "upsnr_high",
                 "umse", "umse_low", "umse_high", "psnr", "ssim", "dynamics_bias_db",
                 "denoiser", "model_version", "selected", "gate_passed"]


def label_comparison(comparison: pd.DataFrame, movie_models: dict[str, dict[str, Denoiser]],
                     verdicts: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The comparison table, movie, method and scores first, with per row the registered
    model (``denoiser``, ``model_version``), whether it is the one the gate selected
    (``selected``) and whether the movie's gate passed (``gate_passed``)."""
    def registered(row: pd.Series, key: str) -> str:
        model = movie_models.get(row["movie"], {}).get(row["method"])
        found = (getattr(model, "registered", None) or {}).get(key)
        return found or (row["method"] if key == "name" else "")

    table = comparison.copy()
    if table.empty:
        return table.assign(denoiser=[], model_version=[], selected=[], gate_passed=[])
    table["denoiser"] = table.apply(registered, axis=1, key="name")
    table["model_version"] = table.apply(registered, axis=1, key="version")
    table["selected"] = [verdicts[m]["method"] == method
                         for m, method in zip(table["movie"], table["method"], strict=True)]
    table["gate_passed"] = [verdicts[m]["gate_passed"] for m in table["movie"]]
    first = [c for c in _SCORES_FIRST if c in table]
    return table[first + [c for c in table.columns if c not in first]]


def comparison_figures(comparison: pd.DataFrame) -> dict[str, Figure]:
    """uPSNR with CI bars per movie."""
    return {f"{movie}.png": upsnr_comparison(group, title=movie, selected=_selected(group))
            for movie, group in comparison.groupby("movie", sort=False)}


def _selected(rows: pd.DataFrame) -> str | None:
    chosen = rows.loc[rows["selected"].astype(bool), "method"]
    return chosen.iloc[0] if len(chosen) else None


def example_frame_figures(movie_info: dict[str, Any],
                          movie_models: dict[str, dict[str, Denoiser]],
                          evaluation: dict[str, Any]) -> dict[str, Figure]:
    """The first test frame of every movie: raw, each of its methods, the ground truth if any."""
    sigma = EvaluationOptions.from_dict(evaluation).gaussian_sigma
    return {f"{name}.png": _example(record, movie_methods(own_models(record, movie_models),
                                                          sigma))
            for name, record in movie_records(movie_info).items()}


_CHECK_METRICS = ("vacuum_snr_gain", "phantom_score", "nonuniformity", "sum_correlation",
                  "sum_relative_bias")


def _method_metrics(rows: pd.DataFrame, checks: pd.Series | None,
                    ) -> tuple[dict[str, float], dict[str, str]]:
    """The same metric names for every method of every movie, all finite: a uPSNR beyond what
    the references resolve (uMSE <= 0) is logged as its interval's lower bound (or, when the
    whole interval is <= 0, the uPSNR of the interval's width), and a tag says so."""
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    for row in rows.itertuples():
        if row.reference == "truth":
            metrics[f"psnr_{row.region}"] = float(row.psnr)
            if row.region == "frame" and hasattr(row, "ssim"):
                metrics["ssim"] = float(row.ssim)
            continue
        key = f"upsnr_{row.reference}_{row.region}"
        metrics[f"umse_{row.reference}_{row.region}"] = float(row.umse)
        if np.isfinite(row.upsnr):
            metrics[key] = float(row.upsnr)
        elif np.isfinite(row.upsnr_low):
            metrics[key] = float(row.upsnr_low)
            tags[f"{key}.bound"] = "lower bound: uMSE <= 0, beyond what the references resolve"
        else:  # the whole interval <= 0: what its width can resolve
            metrics[key] = float(to_db(row.umse_high - row.umse_low, row.peak))
            tags[f"{key}.bound"] = ("lower bound: uMSE and its interval <= 0; the uPSNR of "
                                    "the interval's width")
    for key in _CHECK_METRICS if checks is not None else ():
        if np.isfinite(checks[key]):
            metrics[key] = float(checks[key])
        else:  # e.g. the SNR gain of a perfectly flat vacuum
            tags[f"{key}.bound"] = f"not logged: {checks[key]}"
    return metrics, tags


def method_runs(comparison: pd.DataFrame, checks: pd.DataFrame,
                verdicts: dict[str, dict[str, Any]], movie_info: dict[str, Any],
                movie_models: dict[str, dict[str, Denoiser]], evaluation: dict[str, Any],
                ) -> dict[str, dict[str, Any]]:
    """One MLflow run per movie and method (``<movie> <method>``): which model version, its
    ``rank`` on the movie by the ranking score (1: lowest uMSE), the gate's verdict and reasons
    as tags, identically named metrics (so Compare lines up one
    movie's methods), and its own evidence: its rows of the comparison, the movie's uPSNR
    figure and the first test frame, raw beside this method's output and the truth."""
    sigma = EvaluationOptions.from_dict(evaluation).gaussian_sigma
    records = movie_records(movie_info)
    ranking = comparison[(comparison["reference"] == "ranking")
                         & (comparison["region"] == "frame")]
    ranks = ranking.groupby("movie")["umse"].rank(method="min").astype(int)
    rank = dict(zip(zip(ranking["movie"], ranking["method"], strict=True), ranks, strict=True))
    upsnr = comparison_figures(comparison)  # one per movie, logged in each of its runs
    runs = {}
    for (movie, method), rows in comparison.groupby(["movie", "method"], sort=False):
        first = rows.iloc[0]
        check = checks[(checks["movie"] == movie) & (checks["method"] == method)]
        verdict = verdicts[movie]
        metrics, bounds = _method_metrics(rows, check.iloc[0] if len(check) else None)
        model = movie_methods(own_models(records[movie], movie_models), sigma)[method]
        runs[f"{movie} {method}"] = {
            # Compare's plot shows the first parameters by name: the gate's choice first
            "params": {"gate_selected": bool(first["selected"]), "method": method,
                       "model_version": first["model_version"] or "none", "movie": movie,
                       "rank": rank.get((movie, method), 0)},
            "tags": {"movie": movie, "method": method, "selected": str(bool(first["selected"])),
                     "registered_model": first["denoiser"],
                     "rank": str(rank.get((movie, method), "")),
                     "gate_passed": str(verdict["gate_passed"]),
                     "gate_reason": "; ".join(verdict["reasons"]
                                              + verdict["candidates"].get(method, []))[:4000],
                     **bounds},
            "metrics": metrics,
            "tables": {"comparison.csv": rows},
            "figures": {"upsnr.png": upsnr[f"{movie}.png"],
                        "example_frame.png": _example(records[movie], {method: model})}}
    return runs


def _example(record: MovieRecord, methods: dict[str, Denoiser]) -> Figure:
    """The first test frame: raw, each method's output, the ground truth if any."""
    movie = record.frames()
    t = record.splits.test[0]
    frames = {"raw": np.asarray(movie[t])}
    for label, model in methods.items():
        frames[label] = next(denoise_movie(model, movie, frames=[t]))
    truth = record.ground_truth()
    if truth is not None:
        frames["truth"] = np.asarray(truth[t])
    return example_frames(frames, title=f"{record.name}, frame {t}",
                          pixel_size=record.metadata.pixel_size)


def promote_champion_model(verdicts: dict[str, dict[str, Any]], comparison: pd.DataFrame,
                           evaluation: dict[str, Any], training: dict[str, Any],
                           champion: tuple[Denoiser, dict[str, str]] | None) -> dict[str, Any]:
    """Move the ``champion`` alias (where new movies start from) to the gate-passing model of
    ``training.method`` with the largest gain over the Gaussian on its own movie."""
    options = EvaluationOptions.from_dict(evaluation)
    current = (champion[1]["name"], champion[1]["version"]) if champion else None
    return choose_champion({m: Verdict.from_dict(v) for m, v in verdicts.items()}, comparison,
                           metric=options.champion_metric,
                           method=find_method(training.get("method", "udvd")).name,
                           current=current)
