"""Self-supervised training of the denoisers on the noisy movie itself, on PyTorch Lightning.

UDVD and its single-frame variant learn to predict the noisy middle frame through their blind
spot (:class:`BlindSpotModule`); Neighbor2Neighbor learns from pairs of neighbouring sub-sampled
pixels (:class:`Neighbor2NeighborModule`). The Trainer brings checkpoints (``last.ckpt`` every
epoch, ``best.ckpt`` by validation loss), early stopping, progress bars, mixed precision from
configuration, DistributedDataParallel (gloo on CPUs, NCCL on GPUs; several nodes through
torchrun or SLURM as Lightning documents) and resume through ``ckpt_path``.

Resume is exact: batches depend only on (seed, epoch, rank, step) and the plateau schedule is
stepped by the module itself before the epoch's checkpoint is written (Lightning steps epoch
schedulers after it and skips plateau schedulers on restart), so a killed and resumed run ends
with the same weights as one that was never interrupted.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch.utils.data import DataLoader

from fluxion.allocator import keep_freed_memory
from fluxion.analysis.noise import measure_noise
from fluxion.denoising.losses import blind_spot_loss, n2n_loss
from fluxion.denoising.methods import method as find_method
from fluxion.denoising.methods import trainable_methods
from fluxion.denoising.models import Denoiser
from fluxion.denoising.windows import EpochSteps, WindowBatches, sample_windows
from fluxion.errors import CheckpointError, MovieError, ParameterError, reject_unknown_keys
from fluxion.movies.io import LazyMovie
from fluxion.progress import progress_enabled

log = logging.getLogger(__name__)

__all__ = [
    "BlindSpotModule",
    "DenoiserModule",
    "Neighbor2NeighborModule",
    "TrainingConfig",
    "TrainingResult",
    "train_denoiser",
]

_PRECISION = {"off": "32-true", "bf16": "bf16-mixed", "fp16": "16-mixed"}
# settings that may change without invalidating a checkpoint (more epochs: carry on)
_RESUMABLE = ("epochs", "patience", "device", "devices", "num_nodes")
LEAK_FRACTION = 0.9  # a validation loss under this fraction of the noise floor: a leak


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
    devices: int | str = "auto"      # auto: one, or what torchrun / SLURM launched
    num_nodes: int = 1

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingConfig:
        """Build from parameters, naming any unknown or invalid key."""
        reject_unknown_keys("training", values, (f.name for f in fields(cls)))
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        """Types and ranges of every field, with the parameter's name in the message."""
        names = [m.name for m in trainable_methods()]
        if self.method not in names:
            raise ParameterError(f"training.method must be one of {names}, got {self.method!r}.")
        for name in ("epochs", "steps_per_epoch", "batch_size", "validation_crops", "crop",
                     "lr_patience", "patience", "seed", "num_nodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ParameterError(f"training.{name} must be a whole number, got {value!r}.")
        for name in ("epochs", "steps_per_epoch", "batch_size", "validation_crops", "num_nodes"):
            if getattr(self, name) < 1:
                raise ParameterError(f"training.{name} must be >= 1, got {getattr(self, name)}.")
        self._validate_numbers()

    def _validate_numbers(self) -> None:
        if self.crop < 8:
            raise ParameterError(f"training.crop must be >= 8 pixels, got {self.crop}.")
        if find_method(self.method).loss == "neighbor2neighbor" and self.crop % 2:
            raise ParameterError(f"training.crop must be even for {self.method}, got "
                                 f"{self.crop}.")
        for name in ("learning_rate", "lr_factor", "n2n_gamma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or \
                    not math.isfinite(value) or value < 0 or (name != "n2n_gamma" and value == 0):
                raise ParameterError(f"training.{name} must be a positive number, got "
                                     f"{value!r}.")
        if self.amp not in ("auto", *_PRECISION):
            raise ParameterError(f"training.amp must be auto, off, bf16 or fp16, got {self.amp!r}.")

    def key(self) -> dict[str, Any]:
        """The settings a checkpoint must share to be resumed."""
        return {k: v for k, v in asdict(self).items() if k not in _RESUMABLE}


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
    run_id: str | None = None        # the MLflow run its losses were logged to, if any
    identity: dict[str, Any] = field(default_factory=dict)  # settings, splits, movie, init

    @property
    def leak_suspected(self) -> bool:
        """A blind-spot loss under 0.9x the measured noise floor: correlated noise is leaking
        through the blind spot, and the model learns noise as signal."""
        blind_spot = find_method(self.config.method).loss == "blind-spot"
        return bool(blind_spot and self.best_val_loss < LEAK_FRACTION * self.noise_floor)

    def summary(self) -> dict[str, Any]:
        splits = self.identity.get("splits", {})
        return {"method": self.config.method, "movie": self.movie,
                "movie_sha256": self.identity.get("movie_sha256"),
                "init": self.identity.get("init", "scratch"),
                "train_frames": splits.get("train"), "validation_frames": splits.get("validation"),
                "best_epoch": self.best_epoch, "best_val_loss": self.best_val_loss,
                "noise_floor": self.noise_floor, "leak_suspected": self.leak_suspected,
                "epochs_run": len(self.history), "stopped_early": self.stopped_early}


# --------------------------------------------------------------------------------------------
# Lightning modules: the loss and little else
# --------------------------------------------------------------------------------------------
class DenoiserModule(L.LightningModule):
    """What every method shares: Adam, the plateau schedule, the per-epoch history."""

    def __init__(self, model: Denoiser, config: TrainingConfig) -> None:
        super().__init__()
        self.model, self.config = model, config
        # the compiled wrapper shares the model's parameters; kept out of the module tree so
        # that the state dict holds them once
        object.__setattr__(self, "_compiled", compile_network(model) if config.compile else None)
        if not config.compile:
            # channels-last weights make the convolutions channels-last: 3-5% more steps per
            # second on 2 CPU cores (benchmarks/training_speed.py), the layout GPUs prefer
            model.to(memory_format=torch.channels_last)
        self.history: list[dict[str, float]] = []
        self.identity: dict[str, Any] = {"config": config.key()}  # what a checkpoint must match
        self._began = time.perf_counter()

    @property
    def net(self) -> torch.nn.Module:
        """The network the loss calls: compiled when ``config.compile``."""
        return self._compiled if self._compiled is not None else self.model

    def loss(self, windows: torch.Tensor, step: int, training: bool) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover - abstract

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch, self.global_step, training=True)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("val_loss", self.loss(batch, batch_idx, training=False), on_epoch=True,
                 batch_size=len(batch), sync_dist=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.learning_rate)
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=self.config.lr_factor, patience=self.config.lr_patience)
        return optimizer

    def on_train_epoch_start(self) -> None:
        self._began = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        """Step the plateau schedule and record the epoch before its checkpoint is written."""
        metrics = self.trainer.callback_metrics  # epoch means of the logged losses
        val_loss = float(metrics["val_loss"])
        self.plateau.step(val_loss)
        self.history.append({
            "epoch": self.current_epoch, "train_loss": float(metrics["train_loss"]),
            "val_loss": val_loss, "learning_rate": self.plateau.optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - self._began})
        log.info("%s epoch %d: train %.4f, validation %.4f", self.config.method,
                 self.current_epoch, self.history[-1]["train_loss"], val_loss)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        stopped = bool(self.trainer.should_stop)
        checkpoint["fluxion"] = {
            "identity": self.identity, "history": self.history,
            "plateau": self.plateau.state_dict(), "stopped_early": stopped}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = list(checkpoint["fluxion"]["history"])
        self._plateau_state = checkpoint["fluxion"]["plateau"]

    def on_fit_start(self) -> None:
        state = getattr(self, "_plateau_state", None)
        if state is not None:
            self.plateau.load_state_dict(state)


def compile_network(model: Denoiser) -> torch.nn.Module:
    """``torch.compile`` without the compiler's own switch to channels-last: with it (or with
    a channels-last model) the backward of replicate padding fails its stride check
    (torch 2.13: ``replication_pad2d_backward``, "expected ... stride"), measured on the CPU."""
    return torch.compile(model, options={"layout_optimization": False})


class BlindSpotModule(DenoiserModule):
    """UDVD and single-frame UDVD: MSE to the noisy middle frame, unseen through the blind
    spot."""

    def loss(self, windows: torch.Tensor, step: int, training: bool) -> torch.Tensor:
        return blind_spot_loss(self.net, windows)


class Neighbor2NeighborModule(DenoiserModule):
    """Neighbor2Neighbor with its regulariser weight ramped linearly over the optimisation
    steps of the whole schedule (no early stopping, so the ramp always completes); validation
    scores the reconstruction term alone, so epochs with different weights compare fairly."""

    def loss(self, windows: torch.Tensor, step: int, training: bool) -> torch.Tensor:
        rank = self.global_rank if training else 0
        seed = int(np.random.default_rng([self.config.seed, step, rank, int(training)])
                   .integers(2**31))
        generator = torch.Generator().manual_seed(seed)
        return n2n_loss(self.net, windows, self.gamma() if training else 0.0, generator)

    def gamma(self) -> float:
        total = self.config.epochs * self.config.steps_per_epoch
        return self.config.n2n_gamma * min(self.global_step / max(total - 1, 1), 1.0)


_MODULES: dict[str, type[DenoiserModule]] = {"blind-spot": BlindSpotModule,
                                             "neighbor2neighbor": Neighbor2NeighborModule}


# --------------------------------------------------------------------------------------------
# The entry point
# --------------------------------------------------------------------------------------------
def train_denoiser(movie: np.ndarray | LazyMovie, *, splits: dict[str, list[int]],
                   config: TrainingConfig, checkpoint_dir: str | Path | None = None,
                   movie_name: str = "movie", loggers: list | None = None,
                   noise_gain: float | None = None, movie_sha256: str | None = None,
                   initial_state: dict[str, torch.Tensor] | None = None,
                   init_from: str = "scratch", callbacks: list | None = None,
                   ) -> TrainingResult:
    """Train ``config.method`` on one movie; resume from ``checkpoint_dir/last.ckpt`` if there.

    ``splits`` gives [start, stop) target frames for ``train`` and ``validation`` (see
    :func:`fluxion.movies.ingest.split_frames`). A finished run is not trained again; one made
    with other settings is moved to ``checkpoint_dir/stale/``. Under torchrun every process
    trains on its own random crops and gradients are averaged; ``loggers`` are Lightning
    loggers (e.g. an MLflow logger bound to the run Kedro opened). ``noise_gain`` (noise
    variance / mean, measured in the vacuum at ingestion) sets the loss floor of the leak
    check; without it the gain is measured on the training frames. A checkpoint is resumed
    only when it was made with the same settings, splits and movie content (``movie_sha256``,
    see :func:`fluxion.movies.io.content_hash`): a changed movie trains afresh.
    """
    config.validate()
    keep_freed_memory()
    torch.manual_seed(config.seed)
    model = find_method(config.method).build(**config.architecture)
    _check_movie(movie, splits, model.frames, config.crop, movie_name)
    if initial_state is not None:
        _warm_start(model, initial_state, init_from)
    mean, std = count_scale(movie, tuple(splits["train"]))
    model.set_count_scale(mean, std)
    if noise_gain is None:
        noise_gain = measure_noise(movie, frames=tuple(splits["train"])).gain
    module = _MODULES[find_method(config.method).loss](model, config)
    module.identity = {"config": config.key(), "splits": {k: list(v) for k, v in splits.items()
                                                          if k in ("train", "validation")},
                       "movie_sha256": movie_sha256, "init": init_from}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(checkpoint_dir) if checkpoint_dir is not None else Path(scratch)
        saved = _resumable_state(folder, module.identity)
        if saved is not None:  # it keeps the start it was made from
            module.identity = saved["identity"]
        trained = saved is None or not _finished(saved, config)
        if trained:
            resume = folder / "last.ckpt" if saved is not None else None
            _fit(module, movie, splits, config, folder, resume, loggers or [], movie_name,
                 callbacks or [])
        result = _result(module, folder, config, movie_name, noise_floor=noise_gain * mean)
    result.identity = module.identity
    if trained:  # the run the loggers wrote to, for the model's registration
        result.run_id = next((lg.run_id for lg in loggers or [] if hasattr(lg, "run_id")), None)
    return result


def _warm_start(model: Denoiser, state: dict[str, torch.Tensor], source: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ParameterError(f"training.init: the weights of {source} do not fit this "
                             f"{model.method} architecture ({error}); use training.init: "
                             "scratch or the champion's architecture.") from error


def _fit(module: DenoiserModule, movie, splits, config: TrainingConfig, folder: Path,
         resume: Path | None, loggers: list, movie_name: str, callbacks: list) -> None:
    trainer = _trainer(config, folder, loggers, callbacks)
    train = WindowBatches(movie, tuple(splits["train"]), frames=module.model.frames,
                          crop=config.crop, batch_size=config.batch_size, seed=config.seed,
                          rank=trainer.global_rank)
    validation = _validation_windows(movie, splits, module.model.frames, config)
    if resume is not None:
        log.info("%s: resuming %s from %s", movie_name, config.method, resume)
    trainer.fit(module,
                train_dataloaders=DataLoader(train, sampler=EpochSteps(config.steps_per_epoch),
                                             batch_size=None),
                val_dataloaders=DataLoader(validation, batch_size=config.batch_size),
                ckpt_path=resume)


def _trainer(config: TrainingConfig, folder: Path, loggers: list,
             extra_callbacks: list) -> L.Trainer:
    """A Trainer from the configuration: devices, precision, DDP, checkpoints, stopping."""
    accelerator, devices, nodes = _devices(config)
    checkpoints = [ModelCheckpoint(dirpath=folder, filename=name, monitor=monitor, save_top_k=1,
                                   save_on_train_epoch_end=True, enable_version_counter=False)
                   for name, monitor in (("best", "val_loss"), ("last", None))]
    callbacks = [*extra_callbacks, *checkpoints]
    if find_method(config.method).loss == "blind-spot":
        callbacks.append(EarlyStopping(monitor="val_loss", patience=config.patience,
                                       check_on_train_epoch_end=True))
    world = (devices if isinstance(devices, int) else 1) * nodes
    return L.Trainer(
        max_epochs=config.epochs, accelerator=accelerator, devices=devices, num_nodes=nodes,
        strategy="ddp" if world > 1 else "auto", precision=_precision(accelerator, config.amp),
        callbacks=callbacks, logger=loggers or False, enable_progress_bar=progress_enabled(),
        enable_model_summary=False, num_sanity_val_steps=0, use_distributed_sampler=False,
        default_root_dir=folder, log_every_n_steps=max(1, min(50, config.steps_per_epoch)))


def _devices(config: TrainingConfig) -> tuple[str, int | str | list[int], int]:
    """accelerator, devices, nodes; under torchrun / SLURM the launcher's process counts."""
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(f"training.device is {config.device!r} but no CUDA GPU is "
                             "available; use 'auto' or 'cpu'.")
    accelerator = "cpu" if config.device == "cpu" or not torch.cuda.is_available() else "gpu"
    devices: int | str | list[int] = config.devices
    if devices == "auto":
        devices = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("SLURM_NTASKS_PER_NODE",
                                                                         1)))
    if config.device.startswith("cuda:"):
        devices = [int(config.device.split(":")[1])]
    nodes = max(config.num_nodes, int(os.environ.get("WORLD_SIZE", 1)) // max(
        int(os.environ.get("LOCAL_WORLD_SIZE", 1)), 1))
    return accelerator, devices, nodes


def _precision(accelerator: str, amp: str) -> str:
    if amp == "auto":
        if accelerator != "gpu":
            return "32-true"
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return _PRECISION[amp]


def _validation_windows(movie, splits, frames: int, config: TrainingConfig) -> torch.Tensor:
    rng = np.random.default_rng([config.seed, 10**6])
    return torch.from_numpy(sample_windows(movie, tuple(splits["validation"]), frames=frames,
                                           crop=config.crop, count=config.validation_crops,
                                           rng=rng))


# --------------------------------------------------------------------------------------------
# Checkpoints and the result
# --------------------------------------------------------------------------------------------
def _read_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises RuntimeError, EOFError, pickle errors ...
        raise CheckpointError(f"{path}: cannot read this training checkpoint ({error}). Delete "
                              "it to train afresh.") from error


def _resumable_state(folder: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """Fluxion's state in ``last.ckpt`` when it was made with these settings, splits and movie
    (whatever it started from: a run begun from scratch is not redone because a champion
    appeared since); otherwise the checkpoints are moved to ``stale/`` and None is returned."""
    last = folder / "last.ckpt"
    if not last.is_file():
        return None
    saved = _read_checkpoint(last).get("fluxion", {})
    if _without_init(saved.get("identity") or {}) == _without_init(identity):
        return saved
    stale = folder / "stale"
    stale.mkdir(exist_ok=True)
    for path in folder.glob("*.ckpt"):
        path.replace(stale / path.name)
    log.warning("%s was made with other training settings, splits or movie content; kept it in "
                "%s and started afresh.", last, stale)
    return None


def _without_init(identity: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in identity.items() if key != "init"}


def _finished(saved: dict[str, Any], config: TrainingConfig) -> bool:
    return saved["stopped_early"] or len(saved["history"]) >= config.epochs


def _result(module: DenoiserModule, folder: Path, config: TrainingConfig, movie_name: str,
            noise_floor: float) -> TrainingResult:
    """The best weights (``best.ckpt``) with the history of ``last.ckpt``."""
    best = _read_checkpoint(folder / "best.ckpt")
    last = _read_checkpoint(folder / "last.ckpt")["fluxion"]
    module.load_state_dict(best["state_dict"])
    history = last["history"]
    losses = [row["val_loss"] for row in history]
    if not np.isfinite(losses).any():
        raise ParameterError(f"{movie_name}: training {config.method} produced no finite "
                             "validation loss; lower training.learning_rate.")
    best_epoch = int(np.nanargmin(losses))
    model = module.model.cpu().eval()
    result = TrainingResult(model, config, history, best_epoch, float(losses[best_epoch]),
                            noise_floor, movie_name, bool(last["stopped_early"]))
    if result.leak_suspected:
        log.warning("%s: %s validation loss %.4f is below the noise floor %.4f: correlated "
                    "noise may be leaking through the blind spot (see the diagnostics "
                    "pipeline's noise correlation); the quality gate will refuse this model.",
                    movie_name, config.method, losses[best_epoch], noise_floor)
    return result


# --------------------------------------------------------------------------------------------
# Input checks
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
