"""Scoring every denoiser on a movie's held-out test frames, fairly and with uncertainties.

Every method is scored against the same references: for temporal uMSE, the three nearest frames
outside the widest window any method reads; for spatial uMSE, one random 2x2 role assignment
per test frame. Scores are given over the whole frame and inside the particle (at low dose a
flat output scores well over the whole frame), with bootstrap CIs over test frames; PSNR and
SSIM are added when the movie has ground truth.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from fluxion.analysis.diagnostics import snr_gain, sum_consistency, vacuum_snr, vacuum_uniformity
from fluxion.denoising.inference import denoise_movie
from fluxion.denoising.models import Denoiser
from fluxion.denoising.windows import reflect_index
from fluxion.errors import ParameterError
from fluxion.movies.io import LazyMovie, read_movie, write_movie
from fluxion.progress import progress
from fluxion.scoring.metrics import (
    movie_peak,
    spatial_references,
    ssim,
    temporal_reference_frames,
    umse,
    upsnr_ci,
)

__all__ = ["artifact_checks", "denoise_test_frames", "evaluate_movie", "score_methods",
           "summarise_scores"]


def _test_frames(movie: np.ndarray | LazyMovie, test: Sequence[int]) -> np.ndarray:
    start, stop = test
    if not 0 <= start < stop <= len(movie) or stop - start < 2:
        raise ParameterError(f"test frames [{start}, {stop}) must hold at least 2 frames of the "
                             f"movie's {len(movie)}.")
    return np.arange(start, stop)


def score_methods(movie: np.ndarray | LazyMovie, methods: Mapping[str, Denoiser], *,
                  test: Sequence[int], particle_mask: np.ndarray | None = None,
                  truth: np.ndarray | LazyMovie | None = None, seed: int = 0,
                  spatial: bool = True, shared_references: bool = True,
                  denoised: Mapping[str, np.ndarray | LazyMovie] | None = None) -> pd.DataFrame:
    """Per test frame and method: temporal (and spatial) uMSE, and MSE / SSIM with ground truth.

    ``denoised`` may hold each method's already denoised test frames (see
    :func:`denoise_test_frames`); otherwise they are computed. Returns rows (method, frame,
    reference, region, umse, mse, ssim); ``region`` is ``frame`` or ``particle``,
    ``reference`` is ``temporal``, ``spatial`` or ``truth``.
    """
    frames = _test_frames(movie, test)
    n = len(movie)
    widest = max(model.frames for model in methods.values()) // 2
    regions = {"frame": None}
    if particle_mask is not None and particle_mask.any():
        regions["particle"] = np.asarray(particle_mask, bool)
    rows: list[dict[str, Any]] = []
    for name, model in progress(methods.items(), total=len(methods), desc="scoring",
                                unit="method"):
        radius = widest if shared_references else model.frames // 2
        outputs = (iter(denoised[name]) if denoised is not None
                   else denoise_movie(model, movie, frames=frames))
        for t, output in zip(frames, outputs, strict=True):
            refs = [np.asarray(movie[i], np.float32) for i in temporal_reference_frames(
                n, int(t), exclude=range(t - radius, t + radius + 1))]
            for region, mask in regions.items():
                rows.append({"method": name, "frame": int(t), "reference": "temporal",
                             "region": region, "umse": umse(output, *refs, mask=mask)})
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
                     n_bootstrap: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per method, reference and region: mean uMSE, uPSNR and its bootstrap CI (or,
    against the truth, MSE, PSNR and SSIM). ``peak`` is recorded in every row."""
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
            row["umse"] = float(group["umse"].mean())
            row["upsnr"], row["upsnr_low"], row["upsnr_high"] = upsnr_ci(
                group["umse"].to_numpy(), peak=peak, level=level, n=n_bootstrap, seed=seed)
        rows.append(row)
    return pd.DataFrame(rows)


def denoise_test_frames(model: Denoiser, movie: np.ndarray | LazyMovie, *,
                        test: Sequence[int], path: str | Path) -> LazyMovie:
    """A method's denoised test frames, streamed to ``path`` (NPY) and opened lazily, so the
    scores and the artifact checks share one denoising pass in bounded memory."""
    frames = _test_frames(movie, test)
    write_movie(path, denoise_movie(model, movie, frames=frames), n_frames=len(frames))
    return read_movie(path, lazy=True)


def evaluate_movie(movie: np.ndarray | LazyMovie, methods: Mapping[str, Denoiser], *,
                   test: Sequence[int], particle_mask: np.ndarray, vacuum_mask: np.ndarray,
                   truth: np.ndarray | LazyMovie | None, options: Mapping[str, Any],
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-frame scores, their summary (peak from :func:`movie_peak`) and the artifact checks
    of every method on one movie's test frames, denoising each method once."""
    with tempfile.TemporaryDirectory(prefix="fluxion-evaluation-") as folder:
        denoised = {name: denoise_test_frames(model, movie, test=test,
                                              path=Path(folder) / f"{i}.npy")
                    for i, (name, model) in enumerate(methods.items())}
        scores = score_methods(movie, methods, test=test, particle_mask=particle_mask,
                               truth=truth, seed=options["seed"], spatial=options["spatial"],
                               shared_references=options["shared_references"],
                               denoised=denoised)
        checks = artifact_checks(movie, denoised, test=test, vacuum_mask=vacuum_mask,
                                 lattice_spacings=options["lattice_spacings"],
                                 phantom_threshold=options["phantom_threshold"],
                                 sum_frames=options["sum_frames"])
    summary = summarise_scores(scores, peak=movie_peak(movie), level=options["level"],
                               n_bootstrap=options["bootstrap"], seed=options["seed"])
    return scores, summary, checks


def artifact_checks(movie: np.ndarray | LazyMovie,
                    denoised_frames: Mapping[str, np.ndarray | LazyMovie], *,
                    test: Sequence[int], vacuum_mask: np.ndarray,
                    lattice_spacings: Sequence[float] | None = None,
                    phantom_threshold: float = 0.01, sum_frames: int = 30) -> pd.DataFrame:
    """Per method, on its denoised test frames: vacuum SNR and its gain over the raw frames,
    vacuum uniformity (real space and Fourier phantom score) and raw-vs-denoised sum
    consistency."""
    frames = _test_frames(movie, test)
    raw = np.asarray(movie[frames], np.float32)
    n_sum = min(sum_frames, len(frames))
    rows = []
    for name, denoised in denoised_frames.items():  # streamed by every check
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
