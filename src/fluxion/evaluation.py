"""Scoring every denoiser on a movie's held-out test frames, fairly and with uncertainties.

Every method is scored against the same references: for temporal uMSE, the three nearest frames
outside the widest window any method reads; for spatial uMSE, one random 2x2 role assignment
per test frame. Scores are given over the whole frame and inside the particle (at low dose a
flat output scores well over the whole frame), with bootstrap CIs over test frames; PSNR and
SSIM are added when the movie has ground truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from fluxion.diagnostics import snr_gain, sum_consistency, vacuum_snr, vacuum_uniformity
from fluxion.errors import ParameterError
from fluxion.inference import denoise_movie
from fluxion.io import LazyMovie
from fluxion.metrics import (
    spatial_references,
    ssim,
    temporal_reference_frames,
    umse,
    upsnr_ci,
)
from fluxion.models import Denoiser
from fluxion.progress import progress
from fluxion.training import reflect_index

__all__ = ["artifact_checks", "score_methods", "summarise_scores"]


def _test_frames(movie: np.ndarray | LazyMovie, test: Sequence[int]) -> np.ndarray:
    start, stop = test
    if not 0 <= start < stop <= len(movie) or stop - start < 2:
        raise ParameterError(f"test frames [{start}, {stop}) must hold at least 2 frames of the "
                             f"movie's {len(movie)}.")
    return np.arange(start, stop)


def score_methods(movie: np.ndarray | LazyMovie, methods: Mapping[str, Denoiser], *,
                  test: Sequence[int], particle_mask: np.ndarray | None = None,
                  truth: np.ndarray | LazyMovie | None = None, seed: int = 0,
                  spatial: bool = True, shared_references: bool = True) -> pd.DataFrame:
    """Per test frame and method: temporal (and spatial) uMSE, and MSE / SSIM with ground truth.

    Returns rows (method, frame, reference, region, umse, mse, ssim); ``region`` is ``frame``
    or ``particle``, ``reference`` is ``temporal``, ``spatial`` or ``truth``.
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
        outputs = denoise_movie(model, movie, frames=frames)
        for t, denoised in zip(frames, outputs, strict=True):
            refs = [np.asarray(movie[i], np.float32) for i in temporal_reference_frames(
                n, int(t), exclude=range(t - radius, t + radius + 1))]
            for region, mask in regions.items():
                rows.append({"method": name, "frame": int(t), "reference": "temporal",
                             "region": region, "umse": umse(denoised, *refs, mask=mask)})
            if truth is not None:
                clean = np.asarray(truth[int(t)], np.float32)
                for region, mask in regions.items():
                    error = denoised - clean if mask is None else (denoised - clean)[mask]
                    row = {"method": name, "frame": int(t), "reference": "truth",
                           "region": region, "mse": float(np.mean(error**2))}
                    if mask is None:
                        row["ssim"] = ssim(denoised, clean,
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


def artifact_checks(movie: np.ndarray | LazyMovie, methods: Mapping[str, Denoiser], *,
                    test: Sequence[int], vacuum_mask: np.ndarray,
                    lattice_spacings: Sequence[float] | None = None,
                    phantom_threshold: float = 0.01, sum_frames: int = 30) -> pd.DataFrame:
    """Per method, on the test frames: vacuum SNR and its gain over the raw frames, vacuum
    uniformity (real space and Fourier phantom score) and raw-vs-denoised sum consistency."""
    frames = _test_frames(movie, test)
    raw = np.asarray(movie[frames], np.float32)
    n_sum = min(sum_frames, len(frames))
    rows = []
    for name, model in methods.items():
        denoised = np.stack(list(denoise_movie(model, movie, frames=frames)))
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
