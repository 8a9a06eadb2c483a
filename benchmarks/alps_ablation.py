"""ALPS* preprocessing ablation: which choices keep the separation of ordered and disordered
frames that the clean images have?

Simulated movies (bright-field and NCSI imaging) whose particle switches between ordered and
disordered configurations give labelled frames. For each preprocessing (none, division by the
frame's vacuum mean, whole-frame z-score) and ``invert`` (bright columns as minima), ALPS is
scored inside the particle on the clean, the raw and the denoised frames; the table gives
|AUC - 0.5| between disordered and ordered frames (0: no separation, 0.5: perfect) and the
direction (which label scores higher). Within a movie ALPS* is an increasing function of ALPS
(one calibration, one region size), so its AUC is the same; the clean vacuum is flat and could
not be calibrated anyway.

    .venv/bin/python benchmarks/alps_ablation.py [--denoiser udvd|gaussian] [--steps 300]

UDVD is trained on each movie (narrow, CPU-sized: a few minutes a movie); ``gaussian`` is the
quick baseline.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from fluxion.analysis.topology import standardize_frames
from fluxion.analysis.topology.series import alps_series
from fluxion.denoising.inference import denoise_movie
from fluxion.denoising.models import GaussianDenoiser
from fluxion.denoising.training import TrainingConfig, train_denoiser
from fluxion.movies.ingest import split_frames
from fluxion.movies.simulate import simulate_movie

PREPROCESSING = ("none", "vacuum mean", "z-score")


def preprocess(frames: np.ndarray, vacuum: np.ndarray, how: str, invert: bool) -> np.ndarray:
    frames = np.asarray(frames, np.float64)
    if how == "z-score":
        return standardize_frames(frames, invert=invert)
    if how == "vacuum mean":
        frames = frames / frames[:, vacuum].mean(axis=1)[:, None, None]
    return -frames if invert else frames


def denoised(sim, denoiser: str, steps: int) -> np.ndarray:
    if denoiser == "gaussian":
        model = GaussianDenoiser(1.5)
    else:
        splits = split_frames(len(sim.noisy), test_frames=10)
        config = TrainingConfig(method="udvd", architecture={"width": 16, "triplet_channels": 16},
                                epochs=max(steps // 50, 1), steps_per_epoch=50, batch_size=4,
                                crop=64, learning_rate=1e-3, patience=100)
        model = train_denoiser(sim.noisy, splits=splits, config=config).model
    return np.stack(list(denoise_movie(model, sim.noisy)))


def separation(movie: np.ndarray, sim, how: str, invert: bool) -> tuple[float, str]:
    frames = preprocess(movie, sim.vacuum_mask, how, invert)
    table = alps_series(frames, polygon=sim.particle_polygon, n_jobs=2)
    auc = roc_auc_score(sim.disordered, table["alps"])
    return abs(auc - 0.5), "disordered higher" if auc > 0.5 else "ordered higher"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--denoiser", choices=("udvd", "gaussian"), default="udvd")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = []
    for imaging in ("bright-field", "ncsi"):
        sim = simulate_movie(frames=120, size=128, dose=2.0, particle_diameter_nm=2.2, seed=31,
                             imaging=imaging, disordered_fraction=0.5, switch_probability=0.1)
        sources = {"clean": sim.clean, "raw": sim.noisy,
                   f"denoised ({args.denoiser})": denoised(sim, args.denoiser, args.steps)}
        print(f"{imaging}: {sim.disordered.mean():.0%} of {len(sim.disordered)} frames "
              "disordered", flush=True)
        for (source, movie), how, invert in itertools.product(sources.items(), PREPROCESSING,
                                                             (False, True)):
            gap, direction = separation(movie, sim, how, invert)
            rows.append({"imaging": imaging, "source": source, "preprocessing": how,
                         "invert": invert, "abs_auc_minus_half": round(gap, 3),
                         "direction": direction})
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 140)
    print(table.to_string(index=False))
    kept = table.pivot_table(index=["imaging", "preprocessing", "invert"], columns="source",
                             values="abs_auc_minus_half")
    print("\n|AUC - 0.5| by source (clean = what the images show):")
    print(kept.round(3).to_string())


if __name__ == "__main__":
    main()
