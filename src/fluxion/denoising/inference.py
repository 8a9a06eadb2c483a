"""Whole-movie denoising: streamed frame by frame, tiled, with a cached sliding window.

A movie of 2000 frames of 3500 x 3500 pixels (~100 GB) never sits in memory: frames are read
from the lazy movie a block at a time, each frame is cut into overlapping tiles whose margins
cover the network's receptive field (so the stitched result equals the full-frame result), and
for 5-frame UDVD each triplet's first-stage features are computed once and reused by the three
output frames whose windows contain that triplet. Edge frames use reflected neighbours.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fluxion.allocator import keep_freed_memory
from fluxion.denoising.models import UDVD, Denoiser, build_model
from fluxion.denoising.models.blind import derotate, pad_to_multiple
from fluxion.denoising.windows import reflect_index
from fluxion.errors import MovieError, ParameterError
from fluxion.movies.io import LazyMovie, write_movie
from fluxion.progress import progress

__all__ = ["DenoisedMovieWriter", "Tile", "denoise_movie", "plan_tiles", "receptive_margin"]

ALIGN = 4  # the blind U-Nets pool twice: tiles start and end on multiples of 4
PRECISIONS: dict[str, Callable[[torch.device], AbstractContextManager]] = {
    "fp32": lambda device: nullcontext(),
    "bf16": lambda device: torch.autocast(device.type, dtype=torch.bfloat16),
}


@dataclass(frozen=True)
class Tile:
    """A core region of the output and the larger region read to compute it (y0, y1, x0, x1)."""

    core: tuple[int, int, int, int]
    read: tuple[int, int, int, int]


def receptive_margin(model: Denoiser) -> int:
    """Pixels of context an output pixel depends on, rounded up to a multiple of 4, plus 4.

    Measured by autograd on a narrow twin of the network (the receptive field depends on the
    layer plan, not the widths), for several random inputs.
    """
    return _margin(model.method, tuple(sorted(model.architecture().items())))


@lru_cache(maxsize=32)
def _margin(method: str, architecture: tuple) -> int:
    arch = dict(architecture)
    if method == "gaussian":
        radius = int(4 * arch["sigma"] + 0.5)
        return -(-radius // ALIGN) * ALIGN
    narrow = {**arch, **{k: 1 for k in ("width", "triplet_channels") if k in arch}}
    twin = build_model(method, **narrow)
    generator = torch.Generator().manual_seed(0)
    size = 384
    while True:
        for p in twin.parameters():  # positive weights: no cancellation, every path counts
            p.data = torch.rand(p.shape, generator=generator) + 0.5
        x = torch.rand(1, twin.frames, size, size, generator=generator, requires_grad=True)
        out = twin(x)[0, 0]
        # several output pixels around the centre, so max-pooling's argmax cannot hide a path
        out[size // 2 - 2:size // 2 + 2, size // 2 - 2:size // 2 + 2].sum().backward()
        rows, cols = np.nonzero(x.grad[0].abs().sum(0).numpy())
        reach = max(int(np.abs(rows - size // 2).max()), int(np.abs(cols - size // 2).max()))
        if reach < size // 2 - 8:
            return -(-(reach + 2) // ALIGN) * ALIGN + ALIGN
        size *= 2


def plan_tiles(height: int, width: int, *, tile: int, margin: int) -> list[Tile]:
    """Cover the frame with ``tile`` x ``tile`` cores, each read with ``margin`` context.

    Every read region starts on a multiple of 4 and ends on one or at the frame edge, so the
    network's pooling grid and zero padding are the same as for the whole frame.
    """
    if tile % ALIGN or margin % ALIGN:
        raise ParameterError(f"tile ({tile}) and overlap ({margin}) must be multiples of {ALIGN}.")
    tiles = []
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            read = (max(y0 - margin, 0), min(y1 + margin, height),
                    max(x0 - margin, 0), min(x1 + margin, width))
            tiles.append(Tile((y0, y1, x0, x1), read))
    return tiles


def _check(model: Denoiser, movie: np.ndarray | LazyMovie) -> None:
    if not isinstance(model, Denoiser):
        raise ParameterError(f"denoise_movie needs a fluxion Denoiser, got {type(model)}.")
    if len(movie.shape) != 3:
        raise MovieError(f"denoise_movie needs a (frames, height, width) movie, got shape "
                         f"{tuple(movie.shape)}.")
    if movie.shape[0] < model.frames:
        raise MovieError(f"the movie has {movie.shape[0]} frames, fewer than the "
                         f"{model.frames}-frame window of {model.method}.")


def _resolve_tiling(model: Denoiser, shape: tuple[int, ...], tile: int | None,
                    overlap: int | None) -> list[Tile]:
    height, width = shape[1:]
    if tile is None or tile >= max(height, width):
        return plan_tiles(height, width, tile=-(-max(height, width) // ALIGN) * ALIGN, margin=0)
    margin = receptive_margin(model)
    if tile < margin:
        raise ParameterError(f"tile {tile} px is smaller than the {margin} px receptive-field "
                             f"margin of {model.method}; use tile >= {margin} (larger tiles "
                             "waste less on overlap).")
    if overlap is None:
        overlap = margin
    elif overlap < margin:
        raise ParameterError(f"overlap {overlap} px is smaller than the {margin} px receptive-"
                             f"field margin of {model.method}: tiles would not stitch exactly. "
                             f"Use overlap >= {margin} (or leave it unset).")
    overlap = -(-overlap // ALIGN) * ALIGN
    return plan_tiles(height, width, tile=-(-tile // ALIGN) * ALIGN, margin=overlap)


def denoise_movie(model: Denoiser, movie: np.ndarray | LazyMovie, *, tile: int | None = None,
                  overlap: int | None = None, batch: int = 4, device: str | None = None,
                  block: int = 16, cache: bool = True, channels_last: bool = True,
                  frames: Sequence[int] | None = None, precision: str = "fp32",
                  compile: bool = False) -> Iterator[np.ndarray]:
    """Yield the denoised frames of ``movie`` one at a time, in order, as float32 (H, W).

    Parameters
    ----------
    model
        A trained :class:`~fluxion.denoising.models.Denoiser` (UDVD, single-frame UDVD, N2N,
        Gaussian).
    movie
        A (T, H, W) array or :class:`~fluxion.movies.io.LazyMovie`; only ``block`` + window
        frames are held at a time, so memory does not grow with the movie's length.
    tile, overlap
        Process frames larger than ``tile`` in tiles with ``overlap`` px of context (default:
        the receptive-field margin, which makes tiles stitch to exactly the full-frame result).
    batch
        Windows per forward pass when the triplet cache is not used.
    device
        ``cuda``, ``cpu``, ... (default: CUDA when available).
    cache
        Reuse UDVD first-stage features across the sliding window (same output, ~2x faster).
    frames
        Only these output frames (e.g. the test frames), in this order; default: all.
    precision
        ``fp32`` (the trained model's output), or ``bf16``: autocast to bfloat16, for GPUs
        with bf16 units (about 1e-3 relative difference: not the same numbers).
    compile
        ``torch.compile`` the network's parts (meant for GPUs; compiling costs time in every
        new process).
    """
    _check(model, movie)
    if precision not in PRECISIONS:
        raise ParameterError(f"denoise.precision must be one of {sorted(PRECISIONS)}, got "
                             f"{precision!r}.")
    keep_freed_memory()
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tiles = _resolve_tiling(model, movie.shape, tile, overlap)
    net = copy.deepcopy(model).to(device).eval()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=memory_format)
    run = _cached_udvd if cache and isinstance(net, UDVD) and net.frames > 1 else _windows
    if compile:
        _compile_parts(net)
    n, height, width = movie.shape
    wanted = np.arange(n) if frames is None else np.asarray(list(frames), dtype=int)
    if wanted.size and (wanted.min() < 0 or wanted.max() >= n):
        raise ParameterError(f"frames to denoise must lie in [0, {n}), got {wanted.min()}.."
                             f"{wanted.max()}.")
    with torch.inference_mode(), PRECISIONS[precision](device):
        for start in progress(range(0, len(wanted), block), total=-(-len(wanted) // block),
                              desc="denoising", unit="block"):
            targets = wanted[start:start + block]
            out = np.empty((len(targets), height, width), np.float32)
            for piece in tiles:
                (y0, y1, x0, x1), (ry0, _, rx0, _) = piece.core, piece.read
                for i, frame in run(net, movie, targets, piece.read, batch, device,
                                    memory_format):
                    out[i, y0:y1, x0:x1] = frame[y0 - ry0:y1 - ry0, x0 - rx0:x1 - rx0]
            yield from out


def _compile_parts(net: Denoiser) -> None:
    """``torch.compile`` what the denoising calls: UDVD's two networks and fusion head (the
    cached sweep calls them one by one), any other model's ``denoise``."""
    if isinstance(net, UDVD):
        for name in ("first", "second", "fusion"):
            if getattr(net, name) is not None:
                setattr(net, name, torch.compile(getattr(net, name)))
    else:
        net.denoise = torch.compile(net.denoise)


def _read(movie: np.ndarray | LazyMovie, index: np.ndarray, region: tuple[int, int, int, int],
          device: torch.device) -> torch.Tensor:
    """Frames ``index`` cropped to ``region`` as an (n, h, w) tensor; refuses NaN / inf."""
    y0, y1, x0, x1 = region
    frames = np.asarray(movie[index, y0:y1, x0:x1], dtype=np.float32)
    if not np.isfinite(frames).all():
        raise MovieError(f"frames {sorted(set(index.tolist()))} hold NaN or infinite values; "
                         "ingest the movie first (the ingestion pipeline names the bad frame).")
    return torch.from_numpy(frames).to(device)


def _windows(net: Denoiser, movie, targets: np.ndarray, region, batch: int, device,
             memory_format) -> Iterator[tuple[int, np.ndarray]]:
    """Each target's window through the whole network, ``batch`` windows at a time."""
    n, radius = movie.shape[0], net.frames // 2
    for first in range(0, len(targets), batch):
        chunk = targets[first:first + batch]
        index = np.concatenate([reflect_index(np.arange(t - radius, t + radius + 1), n)
                                for t in chunk])
        windows = _read(movie, index, region, device)
        windows = windows.view(len(chunk), net.frames, *windows.shape[-2:])
        result = net(windows.contiguous(memory_format=memory_format))[:, 0].float().cpu().numpy()
        for offset, frame in enumerate(result):
            yield first + offset, frame


def _cached_udvd(net: UDVD, movie, targets: np.ndarray, region, batch: int, device,
                 memory_format) -> Iterator[tuple[int, np.ndarray]]:
    """UDVD with each triplet's first-stage features computed once per sweep.

    Output frame t reads the triplets (t-2, t-1, t), (t-1, t, t+1), (t, t+1, t+2); consecutive
    outputs share two of them. Features are kept only while a later window still needs them.
    Rotations go through the networks one at a time and the fusion head a band of rows at a
    time: on the CPU every tensor above 32 MB is a fresh memory map, paged in on each use, and
    the four-rotation batch of a 256 x 256 frame spent as long in the kernel as computing.
    """
    n = movie.shape[0]
    mean, std = net.count_mean, net.count_std
    features: dict[tuple[int, ...], list[torch.Tensor]] = {}
    size: tuple[int, int] = (0, 0)

    def triplets(t: int) -> list[tuple[int, ...]]:
        index = reflect_index(np.arange(t - 2, t + 3), n)
        return [tuple(index[i:i + 3].tolist()) for i in range(net.frames - 2)]

    for i, t in enumerate(targets):
        keys = triplets(int(t))
        for key in keys:
            if key not in features:
                x = (_read(movie, np.array(key), region, device)[None] - mean) / std
                x, size = pad_to_multiple(x, 4)
                features[key] = [net.first(torch.rot90(x, k, dims=(-2, -1))
                                           .contiguous(memory_format=memory_format))
                                 for k in range(4)]
        branches = [net.second(torch.cat([features[key][k] for key in keys], dim=1))
                    for k in range(4)]
        frame = _fuse_in_bands(net, branches)[..., :size[0], :size[1]] * std + mean
        yield i, frame[0, 0].float().cpu().numpy()
        keep = set(triplets(int(targets[i + 1]))) if i + 1 < len(targets) else set()
        for key in [k for k in features if k not in keep]:
            del features[key]


def _fuse_in_bands(net: UDVD, branches: list[torch.Tensor],
                   elements: int = 1 << 21) -> torch.Tensor:
    """``net.fuse`` of the four rotations' outputs, about ``elements`` values of its input at
    a time: its 1x1 convolutions act per pixel, so rows can be fused in bands and the
    four-branch concatenation is never held whole."""
    upright = derotate(branches)
    channels, height, width = 4 * upright[0].shape[1], *upright[0].shape[-2:]
    band = max(1, elements // (channels * width))
    return torch.cat([net.fusion(torch.cat([u[..., y:y + band, :] for u in upright], dim=1))
                      for y in range(0, height, band)], dim=-2)


@dataclass
class DenoisedMovieWriter:
    """A prediction writer: denoises one movie with :func:`denoise_movie` and streams each
    frame to ``target`` as it comes (bounded memory). The denoise node builds one per movie;
    the catalog's movie folder calls :meth:`write` with the file to fill."""

    model: Denoiser
    movie: np.ndarray | LazyMovie
    settings: dict[str, Any] = field(default_factory=dict)

    def write(self, target: str | Path) -> Path:
        """Denoise every frame into ``target`` (TIFF, MRC or NPY by its extension)."""
        frames = denoise_movie(self.model, self.movie, **self.settings)
        return write_movie(target, frames, n_frames=len(self.movie))
