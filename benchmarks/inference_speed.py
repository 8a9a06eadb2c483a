"""Whole-movie UDVD inference against frame-by-frame evaluation of the same network.

Prints frames/s of both, their ratio (target >= 3.5x on 2 CPU cores at 256 x 256, the
published widths) and the largest difference between their outputs (target <= 1e-5); then the
peak memory of denoising a short and a long movie from disk to disk (target: equal within 20%).

    .venv/bin/python benchmarks/inference_speed.py [--size 256] [--frames 8] [--width 48]
                                                   [--allocator fluxion|system]

``--allocator system`` leaves glibc's allocator as it is (see :mod:`fluxion.allocator`), as a
process running the published code would have it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
import torch

from fluxion.denoising.inference import denoise_movie
from fluxion.denoising.models import UDVD

MEMORY_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, torch
    from fluxion.denoising.inference import denoise_movie
    from fluxion.movies.io import read_movie, write_movie
    from fluxion.denoising.models import UDVD
    frames, size, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = np.random.default_rng(0)
    write_movie(f"{folder}/in.npy", (rng.poisson(0.2, (size, size)).astype(np.float32)
                                     for _ in range(frames)))
    movie = read_movie(f"{folder}/in.npy", lazy=True)
    write_movie(f"{folder}/out.tif", denoise_movie(UDVD(width=8, triplet_channels=8).eval(),
                                                    movie))
    # this process's peak in MB (ru_maxrss would include the parent's, inherited at fork)
    print(next(int(line.split()[1]) for line in open('/proc/self/status')
               if line.startswith('VmHWM')) / 1024)
""")


def speed(size: int, frames: int, width: int, triplet: int) -> None:
    torch.manual_seed(0)
    model = UDVD(frames=5, width=width, triplet_channels=triplet).eval()
    movie = np.random.default_rng(0).poisson(0.2, (frames, size, size)).astype(np.float32)
    list(denoise_movie(model, movie[:5], cache=False, batch=1))  # warm-up
    began = time.perf_counter()
    reference = np.stack(list(denoise_movie(model, movie, cache=False, batch=1,
                                            channels_last=False)))
    frame_by_frame = frames / (time.perf_counter() - began)
    began = time.perf_counter()
    fast = np.stack(list(denoise_movie(model, movie)))
    whole_movie = frames / (time.perf_counter() - began)
    print(f"UDVD width {width} ({sum(p.numel() for p in model.parameters()) / 1e6:.2f} M "
          f"parameters), {frames} frames of {size}x{size}, {torch.get_num_threads()} threads")
    print(f"  frame by frame (published): {frame_by_frame:7.3f} frames/s")
    print(f"  whole movie (cached):       {whole_movie:7.3f} frames/s")
    print(f"  speed-up: {whole_movie / frame_by_frame:.2f}x   "
          f"largest difference: {np.abs(fast - reference).max():.2e}")


def memory(size: int) -> None:
    peaks = {}
    for frames in (50, 500):
        with tempfile.TemporaryDirectory() as folder:
            run = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(frames), str(size),
                                  folder], capture_output=True, text=True, check=True)
            peaks[frames] = float(run.stdout.split()[-1])
    print(f"peak memory, {size}x{size} frames: 50 frames {peaks[50]:.0f} MB, 500 frames "
          f"{peaks[500]:.0f} MB, ratio {peaks[500] / peaks[50]:.2f} (movie 10x longer)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--width", type=int, default=48)
    parser.add_argument("--triplet-channels", type=int, default=32)
    parser.add_argument("--allocator", choices=["fluxion", "system"], default="fluxion")
    args = parser.parse_args()
    os.environ["FLUXION_MALLOC"] = args.allocator
    print(f"allocator: {args.allocator}")
    speed(args.size, args.frames, args.width, args.triplet_channels)
    memory(args.size)
