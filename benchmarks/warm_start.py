"""What warm start buys: optimiser steps for UDVD to come within 0.3 dB of a from-scratch model's
final true PSNR, starting from scratch or from a champion trained on another movie.

    .venv/bin/python benchmarks/warm_start.py [--epochs 16] [--steps 10]

The champion is trained on one simulated movie; a second movie of another structure (another
size, lattice and seed), which the champion never saw, is then trained from scratch and from
the champion with the same settings (the CPU demo's network: width 16, crops of 64). After every
epoch the current weights denoise the second movie's test frames and are scored against its
ground truth (PSNR over the whole frame, peak = the clean movie's maximum). Prints both curves
and the steps each start needs.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from fluxion.denoising.inference import denoise_movie
from fluxion.denoising.training import TrainingConfig, train_denoiser
from fluxion.movies.ingest import split_frames
from fluxion.movies.simulate import simulate_movie
from fluxion.scoring.metrics import psnr

MOVIE = {"frames": 80, "size": 160, "dose": 2.0, "pixel_size": 0.3}


class TruePSNR(Callback):
    """Scores the current weights on the test frames after every epoch."""

    def __init__(self, sim, test: list[int]) -> None:
        self.sim, self.frames = sim, list(range(*test))
        self.peak = float(sim.clean.max())
        self.curve: list[float] = []

    def on_train_epoch_end(self, trainer, module) -> None:
        model = module.model
        model.eval()
        with torch.no_grad():
            out = np.stack(list(denoise_movie(model, self.sim.noisy, frames=self.frames)))
        model.train()
        self.curve.append(float(psnr(out, self.sim.clean[self.frames], peak=self.peak)))


def train(sim, config: TrainingConfig, start=None) -> tuple[list[float], object]:
    splits = split_frames(len(sim.noisy), window=5, test_frames=10)
    probe = TruePSNR(sim, splits["test"])
    result = train_denoiser(sim.noisy, splits=splits, config=config, callbacks=[probe],
                            noise_gain=1.0, initial_state=start,
                            init_from="champion" if start else "scratch")
    return probe.curve, result


def steps_to(curve: list[float], target: float, steps_per_epoch: int) -> int | None:
    return next(((i + 1) * steps_per_epoch for i, v in enumerate(curve) if v >= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10, help="optimiser steps per epoch")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = TrainingConfig(method="udvd", architecture={"width": 16, "triplet_channels": 16},
                            epochs=args.epochs, steps_per_epoch=args.steps, crop=64,
                            patience=args.epochs, validation_crops=8)
    seen = simulate_movie(**MOVIE, particle_diameter_nm=2.2, seed=12)
    unseen = simulate_movie(**MOVIE, particle_diameter_nm=1.4, seed=31, lattice_spacing=2.26)
    _, champion = train(seen, config)
    scratch, _ = train(unseen, config)
    warm, _ = train(unseen, config, start=champion.model.state_dict())
    target = scratch[-1] - 0.3
    print(f"{'steps':>6} {'scratch dB':>11} {'warm dB':>8}")
    for i, (a, b) in enumerate(zip(scratch, warm, strict=True)):
        print(f"{(i + 1) * args.steps:>6} {a:>11.2f} {b:>8.2f}")
    need = {name: steps_to(curve, target, args.steps)
            for name, curve in (("scratch", scratch), ("warm", warm))}
    print(f"target: within 0.3 dB of scratch's final {scratch[-1]:.2f} dB = {target:.2f} dB")
    print(f"steps to reach it: scratch {need['scratch']}, warm start {need['warm']}")
    if need["warm"] and need["scratch"]:
        print(f"warm start needs {need['warm'] / need['scratch']:.2f}x the steps of scratch")


if __name__ == "__main__":
    main()
