"""Scoring every denoiser on a movie's held-out test frames, fairly and with uncertainties.

Every method is scored against the same references: for temporal uMSE, the three nearest frames
outside the widest window any method reads; for spatial uMSE, one random 2x2 role assignment
per test frame. The noise-model risk estimate (:mod:`fluxion.scoring.risk`) needs no other
frame, so it holds where the particle changes; the ranking score combines it (in the particle)
with temporal uMSE (where the image is static). Scores are given over the whole frame, inside
the particle (at low dose a flat output scores well over the whole frame) and outside it, with
moving-block bootstrap intervals over test frames and paired differences between methods; PSNR
and SSIM are added when the movie has ground truth.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from fluxion.analysis.diagnostics import snr_gain, sum_consistency, vacuum_snr, vacuum_uniformity
from fluxion.denoising.inference import denoise_movie
from fluxion.denoising.models import Denoiser
from fluxion.denoising.windows import reflect_index
from fluxion.errors import ParameterError, reject_unknown_keys
from fluxion.movies.io import LazyMovie, read_movie, write_movie
from fluxion.progress import progress
from fluxion.scoring.intervals import (
    block_bootstrap_ci,
    paired_difference_ci,
    reference_block_length,
)
from fluxion.scoring.metrics import (
    movie_peak,
    spatial_references,
    ssim,
    temporal_reference_frames,
    to_db,
    umse,
)
from fluxion.scoring.risk import risk_estimate, self_weight_map

__all__ = ["EvaluationOptions", "artifact_checks", "denoise_test_frames", "evaluate_movie",
           "paired_differences", "score_methods", "summarise_scores"]


@dataclass(frozen=True)
class EvaluationOptions:
    """The ``evaluation`` parameters, checked where they enter."""

    gaussian_sigma: float = 2.0        # the classical baseline, px
    level: float = 0.90                # confidence level of every interval and of the gate
    bootstrap: int = 1000              # moving-block bootstrap resamples
    seed: int = 0
    spatial: bool = True               # also score against 2x2 sub-sampled references
    shared_references: bool = True     # every method against the same temporal references
    champion_metric: str = "upsnr_ranking_frame"
    lattice_spacings: tuple[float, ...] | None = None   # px; where to look for phantoms
    phantom_threshold: float = 0.01
    sum_frames: int = 30

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> EvaluationOptions:
        reject_unknown_keys("evaluation", values, (f.name for f in fields(cls)))
        values = dict(values)
        if values.get("lattice_spacings") is not None:
            values["lattice_spacings"] = tuple(float(v) for v in values["lattice_spacings"])
        options = cls(**values)
        if not 0 < options.level < 1:
            raise ParameterError(f"evaluation.level must be between 0 and 1, got "
                                 f"{options.level}.")
        if not options.champion_metric.startswith("upsnr_") or \
                options.champion_metric.count("_") != 2:
            raise ParameterError("evaluation.champion_metric must read upsnr_<reference>_"
                                 f"<region>, got {options.champion_metric!r}.")
        return options


def _test_frames(movie: np.ndarray | LazyMovie, test: Sequence[int]) -> np.ndarray:
    start, stop = test
    if not 0 <= start < stop <= len(movie) or stop - start < 2:
        raise ParameterError(f"test frames [{start}, {stop}) must hold at least 2 frames of the "
                             f"movie's {len(movie)}.")
    return np.arange(start, stop)


def _view_of_frames(movie: np.ndarray | LazyMovie, frames: np.ndarray) -> np.ndarray | LazyMovie:
    """The consecutive test frames without reading them: a view of an array, a lazy sub-movie
    of a file."""
    start, stop = int(frames[0]), int(frames[-1]) + 1
    return movie.frames(start, stop) if isinstance(movie, LazyMovie) else movie[start:stop]


def score_methods(movie: np.ndarray | LazyMovie, methods: Mapping[str, Denoiser], *,
                  test: Sequence[int], particle_mask: np.ndarray | None = None,
                  truth: np.ndarray | LazyMovie | None = None, seed: int = 0,
                  spatial: bool = True, shared_references: bool = True,
                  denoised: Mapping[str, np.ndarray | LazyMovie] | None = None,
                  noise_gain: float | None = None) -> pd.DataFrame:
    """Per test frame and method: temporal (and spatial) uMSE, the noise-model risk estimate,
    the ranking score, and MSE / SSIM with ground truth.

    ``denoised`` may hold each method's already denoised test frames (see
    :func:`denoise_test_frames`); otherwise they are computed. With ``noise_gain`` (measured
    in the vacuum, :func:`fluxion.analysis.noise.measure_noise`) every frame also gets the
    risk estimate (:mod:`fluxion.scoring.risk`), valid where the particle moves, and the
    ranking score: the risk estimate in the particle and temporal uMSE where the image is
    static, weighted by their pixel counts. Returns rows (method, frame, reference, region,
    umse, mse, ssim); ``region`` is ``frame``, ``particle`` or ``static`` (outside the
    particle), ``reference`` is ``temporal``, ``spatial``, ``risk``, ``ranking`` or ``truth``.
    """
    frames = _test_frames(movie, test)
    n = len(movie)
    widest = max(model.frames for model in methods.values()) // 2
    regions = _regions(particle_mask)
    rows: list[dict[str, Any]] = []
    for name, model in progress(methods.items(), total=len(methods), desc="scoring",
                                unit="method"):
        radius = widest if shared_references else model.frames // 2
        outputs = (iter(denoised[name]) if denoised is not None
                   else denoise_movie(model, movie, frames=frames))
        for t, output in zip(frames, outputs, strict=True):
            refs = [np.asarray(movie[i], np.float32) for i in temporal_reference_frames(
                n, int(t), exclude=range(t - radius, t + radius + 1))]
            temporal = {region: umse(output, *refs, mask=mask)
                        for region, mask in regions.items()}
            rows += [{"method": name, "frame": int(t), "reference": "temporal",
                      "region": region, "umse": value} for region, value in temporal.items()]
            if noise_gain is not None:
                rows += _risk_rows(name, model, movie, int(t), output, regions, temporal,
                                   noise_gain, seed)
            if truth is not None:
                clean = np.asarray(truth[int(t)], np.float32)
                for region, mask in regions.items():
                    error = output - clean if mask is None else (output - clean)[mask]
                    row = {"method": name, "frame": int(t), "reference": "truth",
                           "region": region, "mse": float(np.mean(error**2))}
                    if mask is None:
                        row["ssim"] = ssim(output, clean,
                                           data_range=float(np.ptp(clean)) or 1.0)
                    rows.append(row)
        if spatial:
            rows += _spatial_rows(name, model, movie, frames, regions, seed)
    return pd.DataFrame(rows)


def _regions(particle_mask: np.ndarray | None) -> dict[str, np.ndarray | None]:
    """The whole frame, and with a particle: the particle and the static rest."""
    regions: dict[str, np.ndarray | None] = {"frame": None}
    if particle_mask is not None and particle_mask.any():
        regions["particle"] = np.asarray(particle_mask, bool)
        if not regions["particle"].all():
            regions["static"] = ~regions["particle"]
    return regions


def _risk_rows(name: str, model: Denoiser, movie, t: int, output: np.ndarray,
               regions: dict[str, np.ndarray | None], temporal: dict[str, float], gain: float,
               seed: int) -> list[dict[str, Any]]:
    """Risk estimate per region, and the ranking score of the frame."""
    radius = model.frames // 2
    window = np.asarray(movie[reflect_index(np.arange(t - radius, t + radius + 1),
                                            len(movie))], np.float32)
    divergence = self_weight_map(model, window, seed=seed + t)
    noisy = window[radius]
    risk = {region: risk_estimate(noisy, output, gain=gain, divergence=divergence, mask=mask)
            for region, mask in regions.items()}
    rows = [{"method": name, "frame": t, "reference": "risk", "region": region, "umse": value}
            for region, value in risk.items()]
    if "static" in regions:
        share = float(regions["particle"].mean())
        ranking = share * risk["particle"] + (1 - share) * temporal["static"]
    else:
        ranking = risk["frame"]
    rows.append({"method": name, "frame": t, "reference": "ranking", "region": "frame",
                 "umse": ranking})
    return rows


def _spatial_rows(name: str, model: Denoiser, movie, frames: np.ndarray,
                  regions: dict[str, np.ndarray | None], seed: int) -> list[dict[str, Any]]:
    """The method denoises the input sub-lattice of every frame it reads; scored on a, b, c."""
    rows = []
    radius = model.frames // 2
    for t in frames:
        window = np.asarray(movie[reflect_index(np.arange(t - radius, t + radius + 1),
                                                len(movie))], np.float32)
        refs = spatial_references(window, seed=seed + int(t))
        with torch.inference_mode():
            denoised = model(torch.from_numpy(refs.inputs[None]))[0, 0].numpy()
        for region, mask in regions.items():
            half = None if mask is None else mask[: 2 * refs.a.shape[0]:2,
                                                  : 2 * refs.a.shape[1]:2]
            if half is not None and not half.any():
                continue
            rows.append({"method": name, "frame": int(t), "reference": "spatial",
                         "region": region, "umse": umse(denoised, refs.a, refs.b, refs.c,
                                                        mask=half)})
    return rows


def summarise_scores(per_frame: pd.DataFrame, *, peak: float, level: float = 0.90,
                     n_bootstrap: int = 1000, seed: int = 0, block: int = 1) -> pd.DataFrame:
    """One row per method, reference and region: mean uMSE, uPSNR and its moving-block
    bootstrap interval over test frames (blocks of ``block`` frames, see
    :func:`fluxion.scoring.intervals.reference_block_length`), or, against the truth, MSE,
    PSNR and SSIM. ``peak`` is recorded in every row. Risk rows also carry the estimated
    dynamics bias of the temporal score: its uPSNR minus the risk estimate's."""
    rows = []
    for (method, reference, region), group in per_frame.groupby(
            ["method", "reference", "region"], sort=False):
        row = {"method": method, "reference": reference, "region": region, "peak": peak,
               "frames": len(group)}
        if reference == "truth":
            row["mse"] = float(group["mse"].mean())
            row["psnr"] = float(10 * np.log10(peak**2 / row["mse"]))
            if "ssim" in group and group["ssim"].notna().any():
                row["ssim"] = float(group["ssim"].mean())
        else:
            values = group.sort_values("frame")["umse"].to_numpy()
            mean, low, high = block_bootstrap_ci(values, block=block, level=level,
                                                 n=n_bootstrap, seed=seed)
            row.update({"umse": mean, "umse_low": low, "umse_high": high,
                        "upsnr": to_db(mean, peak), "upsnr_low": to_db(high, peak),
                        "upsnr_high": to_db(low, peak)})
        rows.append(row)
    table = pd.DataFrame(rows)
    return _with_dynamics_bias(table)


def _with_dynamics_bias(table: pd.DataFrame) -> pd.DataFrame:
    """``dynamics_bias_db`` on risk rows: temporal uPSNR minus the risk estimate's uPSNR in the
    same region (positive: the temporal score overrates the method where the image changes)."""
    if "reference" not in table or not (table["reference"] == "risk").any():
        return table
    temporal = table[table["reference"] == "temporal"].set_index(["method", "region"])["upsnr"]
    risk = table["reference"] == "risk"
    keys = list(zip(table.loc[risk, "method"], table.loc[risk, "region"], strict=True))
    table.loc[risk, "dynamics_bias_db"] = [temporal.get(k, np.nan) for k in keys] - \
        table.loc[risk, "upsnr"].to_numpy()
    return table


def paired_differences(per_frame: pd.DataFrame, *, reference: str = "ranking",
                       region: str = "frame", block: int = 1, level: float = 0.90,
                       n_bootstrap: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Every pair of methods on the same frames: mean difference of their per-frame scores
    (first minus second; negative: the first is better) with its moving-block bootstrap
    interval, and whether the interval excludes zero."""
    rows = per_frame[(per_frame["reference"] == reference) & (per_frame["region"] == region)]
    scores = rows.pivot_table(index="frame", columns="method", values="umse", sort=True)
    out = []
    methods = list(dict.fromkeys(rows["method"]))
    for i, first in enumerate(methods):
        for second in methods[i + 1:]:
            mean, low, high = paired_difference_ci(scores[first], scores[second], block=block,
                                                   level=level, n=n_bootstrap, seed=seed)
            out.append({"first": first, "second": second, "reference": reference,
                        "region": region, "mean_difference": mean, "low": low, "high": high,
                        "level": level, "block": block,
                        "significant": bool(low > 0 or high < 0)})
    return pd.DataFrame(out)


def denoise_test_frames(model: Denoiser, movie: np.ndarray | LazyMovie, *,
                        test: Sequence[int], path: str | Path) -> LazyMovie:
    """A method's denoised test frames, streamed to ``path`` (NPY) and opened lazily, so the
    scores and the artifact checks share one denoising pass in bounded memory."""
    frames = _test_frames(movie, test)
    write_movie(path, denoise_movie(model, movie, frames=frames), n_frames=len(frames))
    return read_movie(path, lazy=True)


def evaluate_movie(movie: np.ndarray | LazyMovie, methods: Mapping[str, Denoiser], *,
                   test: Sequence[int], particle_mask: np.ndarray, vacuum_mask: np.ndarray,
                   truth: np.ndarray | LazyMovie | None,
                   options: EvaluationOptions = EvaluationOptions(),
                   noise_gain: float | None = None,
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-frame scores, their summary (peak from :func:`movie_peak`), the artifact checks and
    the paired differences of the ranking score of every method on one movie's test frames,
    denoising each method once."""
    with tempfile.TemporaryDirectory(prefix="fluxion-evaluation-") as folder:
        denoised = {name: denoise_test_frames(model, movie, test=test,
                                              path=Path(folder) / f"{i}.npy")
                    for i, (name, model) in enumerate(methods.items())}
        scores = score_methods(movie, methods, test=test, particle_mask=particle_mask,
                               truth=truth, seed=options.seed, spatial=options.spatial,
                               shared_references=options.shared_references,
                               denoised=denoised, noise_gain=noise_gain)
        checks = artifact_checks(movie, denoised, test=test, vacuum_mask=vacuum_mask,
                                 lattice_spacings=options.lattice_spacings,
                                 phantom_threshold=options.phantom_threshold,
                                 sum_frames=options.sum_frames)
    block = reference_block_length(max(model.frames for model in methods.values()) // 2)
    interval = {"level": options.level, "n_bootstrap": options.bootstrap,
                "seed": options.seed, "block": block}
    summary = summarise_scores(scores, peak=movie_peak(movie), **interval)
    reference = "ranking" if noise_gain is not None else "temporal"
    differences = paired_differences(scores, reference=reference, **interval)
    return scores, summary, checks, differences


def artifact_checks(movie: np.ndarray | LazyMovie,
                    denoised_frames: Mapping[str, np.ndarray | LazyMovie], *,
                    test: Sequence[int], vacuum_mask: np.ndarray,
                    lattice_spacings: Sequence[float] | None = None,
                    phantom_threshold: float = 0.01, sum_frames: int = 30) -> pd.DataFrame:
    """Per method, on its denoised test frames: vacuum SNR and its gain over the raw frames,
    vacuum uniformity (real space and Fourier phantom score) and raw-vs-denoised sum
    consistency."""
    frames = _test_frames(movie, test)
    raw = _view_of_frames(movie, frames)  # streamed by every check, like the denoised ones
    n_sum = min(sum_frames, len(frames))
    rows = []
    for name, denoised in denoised_frames.items():
        uniformity = vacuum_uniformity(denoised, vacuum_mask, lattice_spacings=lattice_spacings,
                                       threshold=phantom_threshold)
        sums = sum_consistency(raw, denoised, n=n_sum)
        rows.append({"method": name, "vacuum_snr": vacuum_snr(denoised, vacuum_mask),
                     "raw_vacuum_snr": vacuum_snr(raw, vacuum_mask),
                     "vacuum_snr_gain": snr_gain(raw, denoised, vacuum_mask),
                     "nonuniformity": uniformity["nonuniformity"],
                     "phantom_score": uniformity["phantom_score"],
                     "phantom_ratio": uniformity["phantom_ratio"],
                     "uniformity_passed": uniformity["passed"],
                     "sum_frames": n_sum, "sum_correlation": sums["correlation"],
                     "sum_relative_bias": sums["relative_bias"]})
    return pd.DataFrame(rows)
