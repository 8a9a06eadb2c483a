"""Self-supervised training of the denoisers on the noisy movie itself.

UDVD and its single-frame variant learn to predict the noisy middle frame through their blind
spot (MSE to the noisy frame); Neighbor2Neighbor learns from pairs of neighbouring sub-sampled
pixels. Random crops with flips and 90-degree rotations, Adam with a plateau learning-rate
schedule, early stopping on the validation loss (the best weights are kept), a checkpoint every
epoch that a killed run resumes from, mixed precision and ``torch.compile`` on GPUs, and
DistributedDataParallel under ``torchrun`` (NCCL on GPUs, gloo on CPUs).

Run it on several GPUs with::

    torchrun --nproc_per_node=4 -m fluxion.training --movie data/02_intermediate/movies/m.npy \
        --splits '{"train": [0, 400], "validation": [404, 600]}' --config training.yml \
        --checkpoint-dir data/06_models/checkpoints/udvd --output data/06_models/udvd.pt
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
import yaml

from fluxion.errors import MovieError, ParameterError
from fluxion.io import LazyMovie, read_movie
from fluxion.models import METHODS, Denoiser, build_model
from fluxion.models.checkpoint import save_denoiser
from fluxion.progress import progress

log = logging.getLogger(__name__)

__all__ = [
    "TrainingConfig",
    "TrainingResult",
    "neighbor_subsample",
    "train_denoiser",
]


@dataclass
class TrainingConfig:
    """Everything that decides a training run (all of it is logged to MLflow)."""

    method: str = "udvd"
    architecture: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10                 # at most; early stopping may end sooner
    steps_per_epoch: int = 50
    batch_size: int = 4
    crop: int = 64                   # square training crops (512 in the reference)
    learning_rate: float = 1e-3
    lr_factor: float = 0.5           # ReduceLROnPlateau on the validation loss
    lr_patience: int = 2
    patience: int = 5                # epochs without improvement before stopping
    validation_crops: int = 16
    n2n_gamma: float = 2.0           # Neighbor2Neighbor regulariser weight, ramped from 0
    seed: int = 0
    device: str = "auto"             # auto | cpu | cuda | cuda:N
    amp: str = "auto"                # auto (bf16/fp16 on CUDA, off on CPU) | off | bf16 | fp16
    compile: bool = False            # torch.compile the model (GPU)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingConfig:
        """Build from parameters, naming any unknown or invalid key."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParameterError(f"training: unknown parameter(s) {unknown}; allowed: "
                                 f"{', '.join(sorted(known))}.")
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if self.method not in METHODS or METHODS[self.method][1] == "none":
            trainable = [m for m, (_, how) in METHODS.items() if how != "none"]
            raise ParameterError(f"training.method must be one of {trainable}, "
                                 f"got {self.method!r}.")
        for name in ("epochs", "steps_per_epoch", "batch_size", "validation_crops"):
            if getattr(self, name) < 1:
                raise ParameterError(f"training.{name} must be >= 1, got {getattr(self, name)}.")
        if self.crop < 8:
            raise ParameterError(f"training.crop must be >= 8 pixels, got {self.crop}.")
        if self.method == "n2n" and self.crop % 2:
            raise ParameterError(f"training.crop must be even for n2n, got {self.crop}.")
        if not self.learning_rate > 0:
            raise ParameterError(f"training.learning_rate must be > 0, got {self.learning_rate}.")
        if self.amp not in ("auto", "off", "bf16", "fp16"):
            raise ParameterError(f"training.amp must be auto, off, bf16 or fp16, got {self.amp!r}.")


@dataclass
class TrainingResult:
    """A trained denoiser (best weights, on the CPU, in eval mode) and how it got there."""

    model: Denoiser
    config: TrainingConfig
    history: list[dict[str, float]]
    best_epoch: int
    best_val_loss: float
    noise_floor: float
    movie: str
    stopped_early: bool

    def summary(self) -> dict[str, Any]:
        return {"method": self.config.method, "movie": self.movie, "best_epoch": self.best_epoch,
                "best_val_loss": self.best_val_loss, "noise_floor": self.noise_floor,
                "epochs_run": len(self.history), "stopped_early": self.stopped_early}


# --------------------------------------------------------------------------------------------
# Data: random windows from a (lazy) movie
# --------------------------------------------------------------------------------------------
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


_NEIGHBOUR_PAIRS = torch.tensor([(0, 1), (1, 0), (0, 2), (2, 0), (1, 3), (3, 1), (2, 3), (3, 2)])


def neighbor_subsample(images: torch.Tensor, choice: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Neighbor2Neighbor sub-sampling: from every 2x2 cell take two adjacent pixels.

    ``images`` is (B, C, H, W) with even H, W; ``choice`` (B, 1, H/2, W/2) holds integers in
    [0, 8) picking one of the 8 ordered adjacent pairs of a cell. Returns g1, g2, each
    (B, C, H/2, W/2). The same ``choice`` applied to f(y) gives g1(f(y)) and g2(f(y)).
    """
    # (B, 4C, H/2, W/2); per channel the cell pixels (0,0) (0,1) (1,0) (1,1)
    cells = F.pixel_unshuffle(images, 2)
    b, c4, h, w = cells.shape
    cells = cells.view(b, c4 // 4, 4, h, w)
    pairs = _NEIGHBOUR_PAIRS.to(choice.device)[choice.long()]  # (B, 1, h, w, 2)
    first = pairs[..., 0].unsqueeze(2).expand(b, c4 // 4, 1, h, w)
    second = pairs[..., 1].unsqueeze(2).expand(b, c4 // 4, 1, h, w)
    return cells.gather(2, first).squeeze(2), cells.gather(2, second).squeeze(2)


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------
def blind_spot_loss(net: torch.nn.Module, windows: torch.Tensor) -> torch.Tensor:
    """MSE between the prediction and the noisy middle frame it could not see."""
    middle = windows.shape[1] // 2
    return F.mse_loss(net(windows).float(), windows[:, middle:middle + 1].float())


def n2n_loss(net: torch.nn.Module, noisy: torch.Tensor, gamma: float,
             generator: torch.Generator) -> torch.Tensor:
    """|f(g1 y) - g2 y|^2 + gamma |f(g1 y) - g2 y - (g1 f(y) - g2 f(y))|^2 (Huang et al.)."""
    b, _, h, w = noisy.shape
    choice = torch.randint(0, 8, (b, 1, h // 2, w // 2), generator=generator).to(noisy.device)
    g1, g2 = neighbor_subsample(noisy, choice)
    with torch.no_grad():
        g1_full, g2_full = neighbor_subsample(net(noisy).float(), choice)
    out = net(g1).float()
    diff = out - g2.float()
    return (diff**2).mean() + gamma * ((diff - (g1_full - g2_full)) ** 2).mean()


# --------------------------------------------------------------------------------------------
# Devices, precision, distribution
# --------------------------------------------------------------------------------------------
def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if dist.is_available() and dist.is_initialized() and torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"training.device is {name!r} but no CUDA GPU is available; use "
                             "'auto' or 'cpu'.")
    return device


def precision(device: torch.device, amp: str) -> tuple[contextlib.AbstractContextManager,
                                                      torch.amp.GradScaler]:
    """The autocast context and grad scaler for a device and ``amp`` setting."""
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return contextlib.nullcontext(), torch.amp.GradScaler(device.type, enabled=False)
    if amp == "auto":
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    return torch.autocast(device.type, dtype=dtype), scaler


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------
def count_scale(movie: np.ndarray | LazyMovie, targets: tuple[int, int]) -> tuple[float, float]:
    """Mean and std of the counts over (up to 64 evenly spaced) training frames."""
    index = np.unique(np.linspace(targets[0], targets[1] - 1, 64).round().astype(int))
    frames = np.asarray(movie[index], np.float64)
    return float(frames.mean()), float(frames.std())


def _check_movie(movie: np.ndarray | LazyMovie, splits: dict[str, list[int]], frames: int,
                 crop: int, name: str) -> None:
    if len(movie.shape) != 3:
        raise MovieError(f"{name}: training needs a (frames, height, width) movie, got shape "
                         f"{tuple(movie.shape)}.")
    n, height, width = movie.shape
    if n < frames:
        raise MovieError(f"{name}: has {n} frames, fewer than the {frames}-frame window of the "
                         "denoiser.")
    if min(height, width) < crop:
        raise ParameterError(f"training.crop {crop} is larger than the {height}x{width} frames "
                             f"of {name}; lower training.crop.")
    for span in ("train", "validation"):
        start, stop = splits[span]
        if not 0 <= start < stop <= n:
            raise ParameterError(f"{name}: {span} frames [{start}, {stop}) are not inside the "
                                 f"movie's {n} frames.")
    if isinstance(movie, np.ndarray) and not np.isfinite(movie).all():
        raise MovieError(f"{name}: holds NaN or infinite values; ingest it first (the ingestion "
                         "pipeline names the bad frame).")


def train_denoiser(movie: np.ndarray | LazyMovie, *, splits: dict[str, list[int]],
                   config: TrainingConfig, checkpoint_dir: str | Path | None = None,
                   movie_name: str = "movie") -> TrainingResult:
    """Train ``config.method`` on one movie; resume from ``checkpoint_dir/last.pt`` if there.

    ``splits`` gives [start, stop) target frames for ``train`` and ``validation`` (see
    :func:`fluxion.ingest.split_frames`). Under ``torchrun`` every process trains on its own
    random crops and gradients are averaged (DistributedDataParallel); rank 0 writes the
    checkpoints.
    """
    config.validate()
    torch.manual_seed(config.seed)
    model = build_model(config.method, **config.architecture)
    frames, crop = model.frames, config.crop
    _check_movie(movie, splits, frames, crop, movie_name)
    rank, world = _world()
    device = resolve_device(config.device)
    train_span = tuple(splits["train"])
    mean, std = count_scale(movie, train_span)
    model.set_count_scale(mean, std)
    noise_floor = mean  # the loss is in counts^2; Poisson noise variance = mean count
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=config.lr_factor, patience=config.lr_patience)
    autocast, scaler = precision(device, config.amp)

    state = _load_checkpoint(checkpoint_dir, config)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        log.info("%s: resuming %s from epoch %d", movie_name, config.method, state["epoch"] + 1)
    history: list[dict[str, float]] = state["history"] if state else []
    best = {"epoch": state["best_epoch"], "loss": state["best_val_loss"],
            "weights": state["best_model"]} if state else {"epoch": -1, "loss": math.inf,
                                                          "weights": None}
    stale = state["stale_epochs"] if state else 0
    finished = state["finished"] if state else False

    net: torch.nn.Module = torch.compile(model) if config.compile else model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)
    validation = _validation_windows(movie, splits, frames, crop, config)

    start_epoch = len(history)
    epochs = progress(range(start_epoch, config.epochs), total=config.epochs - start_epoch,
                      desc=f"training {config.method} on {movie_name}", unit="epoch")
    for epoch in ([] if finished else epochs):
        began = time.perf_counter()
        gamma = config.n2n_gamma * epoch / max(config.epochs - 1, 1)
        train_loss = _train_epoch(net, optimizer, scaler, autocast, movie, train_span, frames,
                                  config, epoch, rank, gamma, device)
        val_loss = _validate(net, validation, config, autocast, device, world)
        scheduler.step(val_loss)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                        "learning_rate": optimizer.param_groups[0]["lr"],
                        "seconds": time.perf_counter() - began})
        if val_loss < best["loss"]:
            best = {"epoch": epoch, "loss": val_loss,
                    "weights": copy.deepcopy(model.state_dict())}
            stale = 0
        else:
            stale += 1
        finished = stale >= config.patience or epoch == config.epochs - 1
        log.info("%s %s epoch %d: train %.4f, validation %.4f (noise floor %.4f)",
                 movie_name, config.method, epoch, train_loss, val_loss, noise_floor)
        if rank == 0 and checkpoint_dir is not None:
            _save_checkpoint(checkpoint_dir, {
                "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                "torch_rng": torch.get_rng_state(), "history": history,
                "best_model": best["weights"], "best_epoch": best["epoch"],
                "best_val_loss": best["loss"], "stale_epochs": stale, "finished": finished,
                "config": asdict(config)})
        if world > 1:
            dist.barrier()
        if finished:
            break
    if best["weights"] is None:
        raise ParameterError(f"{movie_name}: training {config.method} produced no finite "
                             "validation loss; lower training.learning_rate.")
    model.load_state_dict(best["weights"])
    if config.method != "n2n" and best["loss"] < 0.9 * noise_floor:
        log.warning("%s: %s validation loss %.4f is below the noise floor %.4f: correlated "
                    "noise may be leaking through the blind spot (see the diagnostics "
                    "pipeline's noise correlation).", movie_name, config.method, best["loss"],
                    noise_floor)
    return TrainingResult(model.cpu().eval(), config, history, best["epoch"], best["loss"],
                          noise_floor, movie_name, stale >= config.patience)


def _train_epoch(net, optimizer, scaler, autocast, movie, span, frames, config, epoch, rank,
                 gamma, device) -> float:
    net.train()
    rng = np.random.default_rng([config.seed, epoch, rank])
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    total = 0.0
    for _ in range(config.steps_per_epoch):
        batch = augment(sample_windows(movie, span, frames=frames, crop=config.crop,
                                       count=config.batch_size, rng=rng), rng)
        windows = torch.from_numpy(batch).to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = (n2n_loss(net, windows, gamma, generator) if config.method == "n2n"
                    else blind_spot_loss(net, windows))
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total += float(loss.detach())
    return total / config.steps_per_epoch


def _validation_windows(movie, splits, frames, crop, config) -> torch.Tensor:
    rng = np.random.default_rng([config.seed, 10**6])
    return torch.from_numpy(sample_windows(movie, tuple(splits["validation"]), frames=frames,
                                           crop=crop, count=config.validation_crops, rng=rng))


@torch.no_grad()
def _validate(net, windows, config, autocast, device, world) -> float:
    """Mean validation loss over fixed windows (each process scores its share).

    For Neighbor2Neighbor it is the reconstruction term alone (gamma = 0), so that epochs with
    different gamma compare fairly for early stopping.
    """
    net.eval()
    rank = _world()[0]
    generator = torch.Generator().manual_seed(config.seed)
    total = torch.zeros(2, dtype=torch.float64)
    for i in range(rank, len(windows), world):
        batch = windows[i:i + 1].to(device)
        with autocast:
            loss = (n2n_loss(net, batch, 0.0, generator) if config.method == "n2n"
                    else blind_spot_loss(net, batch))
        total += torch.tensor([float(loss), 1.0], dtype=torch.float64)
    if world > 1:
        total = total.to(device)
        dist.all_reduce(total)
    return float(total[0] / total[1])


def _load_checkpoint(folder: str | Path | None, config: TrainingConfig) -> dict | None:
    if folder is None or not (Path(folder) / "last.pt").is_file():
        return None
    path = Path(folder) / "last.pt"
    state = torch.load(path, map_location="cpu", weights_only=True)
    saved = {k: v for k, v in state["config"].items() if k not in ("epochs", "patience")}
    wanted = {k: v for k, v in asdict(config).items() if k not in ("epochs", "patience")}
    if saved != wanted:
        stale = path.with_name("last.stale.pt")
        path.replace(stale)
        log.warning("%s was made with other training settings; kept it as %s and started "
                    "afresh.", path, stale)
        return None
    if state["finished"] and len(state["history"]) < config.epochs and \
            state["stale_epochs"] < config.patience:
        state["finished"] = False  # more epochs were asked for: carry on
    return state


def _save_checkpoint(folder: str | Path, state: dict[str, Any]) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "last.pt.partial"
    torch.save(state, partial)
    partial.replace(folder / "last.pt")


# --------------------------------------------------------------------------------------------
# torchrun entry point
# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    """Train one denoiser from the command line; under torchrun, with DDP across processes."""
    parser = argparse.ArgumentParser(prog="python -m fluxion.training", description=main.__doc__)
    parser.add_argument("--movie", required=True, help="a validated movie (e.g. .npy copy)")
    parser.add_argument("--splits", required=True, help='JSON: {"train": [a, b], '
                        '"validation": [c, d]}')
    parser.add_argument("--config", required=True, help="YAML file of TrainingConfig keys")
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--output", required=True, help="where rank 0 writes the best model")
    args = parser.parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend)
    try:
        config = TrainingConfig.from_dict(yaml.safe_load(Path(args.config).read_text()) or {})
        movie = read_movie(args.movie, lazy=True)
        result = train_denoiser(movie, splits=json.loads(args.splits), config=config,
                                checkpoint_dir=args.checkpoint_dir,
                                movie_name=Path(args.movie).stem)
        checksum = sum(float(p.double().sum()) for p in result.model.parameters())
        print(f"rank {_world()[0]} of {world}: best epoch {result.best_epoch}, "
              f"weights checksum {checksum:.10e}", flush=True)
        if _world()[0] == 0:
            save_denoiser(args.output, result.model, history=result.history,
                          summary=result.summary())
    finally:
        if world > 1:
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
