"""Training throughput: optimiser steps per second of Fluxion's Lightning training against the
same network and loss in a plain eager PyTorch loop, and what the allocator setting
(:mod:`fluxion.allocator`), channels-last and ``torch.compile`` change on this machine.

    .venv/bin/python benchmarks/training_speed.py [--width 48] [--crop 128] [--batch 2]
                                                  [--compile]

Defaults: UDVD at the published widths (48, triplets 32), 128 x 128 crops, batch 2, 2 threads.
Fluxion's rate counts every step of its second epoch, data sampling and Lightning included
(the first epoch warms up); its rate with the once-per-epoch validation and checkpoints is
printed too. Run it on a quiet machine: a busy neighbour slows two torch threads several-fold.
"""

from __future__ import annotations

import argparse
import time

import lightning as L
import numpy as np
import torch

from fluxion.allocator import keep_freed_memory
from fluxion.denoising.losses import blind_spot_loss
from fluxion.denoising.methods import build_model
from fluxion.denoising.training import TrainingConfig, compile_network, train_denoiser
from fluxion.denoising.windows import augment, sample_windows


def eager_steps_per_second(movie: np.ndarray, args: argparse.Namespace, *,
                           channels_last: bool = False, compiled: bool = False) -> float:
    """The reference: sample, augment, forward, backward, Adam; nothing else."""
    torch.manual_seed(0)
    model = build_model("udvd", width=args.width, triplet_channels=args.triplets)
    model.set_count_scale(float(movie.mean()), float(movie.std()))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = compile_network(model) if compiled else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)

    def step() -> None:
        batch = augment(sample_windows(movie, (2, len(movie) - 2), frames=5, crop=args.crop,
                                       count=args.batch, rng=rng), rng)
        optimizer.zero_grad(set_to_none=True)
        blind_spot_loss(net, torch.from_numpy(batch)).backward()
        optimizer.step()

    for _ in range(3 if compiled else 1):  # warm-up (compilation)
        step()
    began = time.perf_counter()
    for _ in range(args.steps):
        step()
    return args.steps / (time.perf_counter() - began)


class StepClock(L.Callback):
    """When each training step of the last epoch ended."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_train_epoch_start(self, trainer, module) -> None:
        self.ends = [time.perf_counter()]

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.ends.append(time.perf_counter())


def fluxion_steps_per_second(movie: np.ndarray, args: argparse.Namespace) -> tuple[float, float]:
    """train_denoiser for two epochs of ``steps``: steps/s of the second epoch's steps, and of
    the whole epoch with its validation and checkpoints."""
    config = TrainingConfig(method="udvd", architecture={"width": args.width,
                                                         "triplet_channels": args.triplets},
                            epochs=2, steps_per_epoch=args.steps, batch_size=args.batch,
                            crop=args.crop, learning_rate=1e-4, validation_crops=args.batch)
    splits = {"train": [0, len(movie) - 8], "validation": [len(movie) - 6, len(movie)]}
    clock = StepClock()
    result = train_denoiser(movie, splits=splits, config=config, callbacks=[clock])
    steps = args.steps / (clock.ends[-1] - clock.ends[0])
    return steps, args.steps / result.history[-1]["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=48)
    parser.add_argument("--triplets", type=int, default=32)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile (minutes of compilation on a CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    movie = np.random.default_rng(1).poisson(2.0, (40, 256, 256)).astype(np.float32)
    print(f"UDVD width {args.width}, crop {args.crop}, batch {args.batch}, "
          f"{args.threads} threads")
    system = eager_steps_per_second(movie, args)
    print(f"plain eager loop, glibc's allocator as it is:  {system:.3f} steps/s")
    keep_freed_memory()  # what training does first (fluxion.allocator); from here on, all
    eager = eager_steps_per_second(movie, args)
    print(f"plain eager loop:           {eager:.3f} steps/s ({eager / system:.2f}x with "
          "freed memory kept)")
    last = eager_steps_per_second(movie, args, channels_last=True)
    print(f"eager, channels-last:       {last:.3f} steps/s ({last / eager:.2f}x)")
    if args.compile:
        compiled = eager_steps_per_second(movie, args, compiled=True)
        print(f"eager, torch.compile:       {compiled:.3f} steps/s ({compiled / eager:.2f}x)")
    steps, epoch = fluxion_steps_per_second(movie, args)
    print(f"fluxion (Lightning) steps:  {steps:.3f} steps/s ({steps / eager:.2f}x eager)")
    print(f"  with validation and checkpoints once per epoch: {epoch:.3f} steps/s")


if __name__ == "__main__":
    main()
