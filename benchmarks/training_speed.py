"""Training throughput: optimiser steps per second of Fluxion's Lightning training against the
same network and loss in a plain eager PyTorch loop.

    .venv/bin/python benchmarks/training_speed.py [--width 48] [--crop 128] [--batch 2]

Defaults: UDVD at the published widths (48, triplets 32), 128 x 128 crops, batch 2, 2 threads.
Run it on a quiet machine: a busy neighbour slows two torch threads several-fold.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from fluxion.denoising.losses import blind_spot_loss
from fluxion.denoising.methods import build_model
from fluxion.denoising.training import TrainingConfig, train_denoiser
from fluxion.denoising.windows import augment, sample_windows


def eager_steps_per_second(movie: np.ndarray, args: argparse.Namespace) -> float:
    """The reference: sample, augment, forward, backward, Adam; nothing else."""
    torch.manual_seed(0)
    model = build_model("udvd", width=args.width, triplet_channels=args.triplets)
    model.set_count_scale(float(movie.mean()), float(movie.std()))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)

    def step() -> None:
        batch = augment(sample_windows(movie, (2, len(movie) - 2), frames=5, crop=args.crop,
                                       count=args.batch, rng=rng), rng)
        optimizer.zero_grad(set_to_none=True)
        blind_spot_loss(model, torch.from_numpy(batch)).backward()
        optimizer.step()

    step()  # warm-up
    began = time.perf_counter()
    for _ in range(args.steps):
        step()
    return args.steps / (time.perf_counter() - began)


def fluxion_steps_per_second(movie: np.ndarray, args: argparse.Namespace) -> float:
    """train_denoiser for two epochs of ``steps`` (the first warms up), timed by its history."""
    config = TrainingConfig(method="udvd", architecture={"width": args.width,
                                                         "triplet_channels": args.triplets},
                            epochs=2, steps_per_epoch=args.steps, batch_size=args.batch,
                            crop=args.crop, learning_rate=1e-4, validation_crops=args.batch)
    splits = {"train": [0, len(movie) - 8], "validation": [len(movie) - 6, len(movie)]}
    result = train_denoiser(movie, splits=splits, config=config)
    return args.steps / result.history[-1]["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=48)
    parser.add_argument("--triplets", type=int, default=32)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    movie = np.random.default_rng(1).poisson(2.0, (40, 256, 256)).astype(np.float32)
    eager = eager_steps_per_second(movie, args)
    ours = fluxion_steps_per_second(movie, args)
    print(f"UDVD width {args.width}, crop {args.crop}, batch {args.batch}, "
          f"{args.threads} threads")
    print(f"plain eager loop: {eager:.3f} steps/s")
    print(f"fluxion (Lightning, incl. validation): {ours:.3f} steps/s")
    print(f"ratio fluxion / eager: {ours / eager:.2f}")


if __name__ == "__main__":
    main()
