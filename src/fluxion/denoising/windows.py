"""Training windows: random (frames, crop, crop) windows of a movie, flips and rotations.

Every batch is a pure function of (seed, epoch, rank, step), so a resumed run sees exactly the
batches an uninterrupted one would, and each DDP rank draws its own crops.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from fluxion.movies.io import LazyMovie

__all__ = ["EpochSteps", "WindowBatches", "augment", "reflect_index", "sample_windows"]


def reflect_index(index: np.ndarray, n: int) -> np.ndarray:
    """Reflect frame indices into [0, n): -1 -> 1, n -> n - 2 (edge frames get mirrored
    neighbours)."""
    index = np.abs(index)
    return np.where(index >= n, 2 * (n - 1) - index, index)


def sample_windows(movie: np.ndarray | LazyMovie, targets: tuple[int, int], *, frames: int,
                   crop: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random (frames, crop, crop) windows centred on target frames in
    [start, stop)."""
    n, height, width = movie.shape
    radius = frames // 2
    out = np.empty((count, frames, crop, crop), np.float32)
    t = rng.integers(targets[0], targets[1], count)
    y = rng.integers(0, height - crop + 1, count)
    x = rng.integers(0, width - crop + 1, count)
    for i in range(count):
        index = reflect_index(np.arange(t[i] - radius, t[i] + radius + 1), n)
        out[i] = movie[index, y[i]:y[i] + crop, x[i]:x[i] + crop]
    return out


def augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random 90-degree rotation and flip per window (the same for all its frames)."""
    out = np.empty_like(batch)
    for i, window in enumerate(batch):
        window = np.rot90(window, rng.integers(4), axes=(-2, -1))
        out[i] = window[..., ::-1] if rng.random() < 0.5 else window
    return out


class EpochSteps(Sampler[tuple[int, int]]):
    """Yields (epoch, step) for the steps of one epoch; the Trainer calls :meth:`set_epoch`."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        return ((self.epoch, step) for step in range(self.steps))


class WindowBatches(Dataset):
    """A whole augmented batch of windows per (epoch, step) key, drawn from ``targets``."""

    def __init__(self, movie: np.ndarray | LazyMovie, targets: tuple[int, int], *, frames: int,
                 crop: int, batch_size: int, seed: int, rank: int = 0) -> None:
        self.movie, self.targets = movie, tuple(targets)
        self.frames, self.crop, self.batch_size = frames, crop, batch_size
        self.seed, self.rank = seed, rank

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        epoch, step = key
        rng = np.random.default_rng([self.seed, epoch, self.rank, step])
        windows = sample_windows(self.movie, self.targets, frames=self.frames, crop=self.crop,
                                 count=self.batch_size, rng=rng)
        return torch.from_numpy(augment(windows, rng))
