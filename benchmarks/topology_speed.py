"""ALPS on 1024 x 1024 frames: Fluxion against detectda (the reference implementation).

Prints the per-frame time of the whole computation (smoothing, persistence, ALPS) on one thread
for both and their ratio (target >= 200x), checks that the values agree, then the throughput of
a 16-frame series: detectda frame by frame, Fluxion on one thread and on all cores (target
>= 300x on 2 cores).

    .venv/bin/pip install detectda   # optional, see pyproject's `reference` extra
    NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/topology_speed.py
"""

from __future__ import annotations

import os
import time

import numpy as np

from fluxion.analysis.topology import alps, alps_series


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def main(size: int = 1024, frames: int = 16) -> None:
    from detectda import hlpr

    rng = np.random.default_rng(0)
    movie = rng.poisson(3.0, (frames, size, size)).astype(np.float64)
    frame = movie[0]
    alps(frame)  # compile
    ours = best_of(lambda: alps(frame), 30)
    reference = best_of(lambda: hlpr.alps(hlpr.fitsmoo(frame, sigma=2)[:, 2]), 2)
    ours_value, reference_value = alps(frame), hlpr.alps(hlpr.fitsmoo(frame, sigma=2)[:, 2])
    print(f"{size}x{size} frame, one thread: Fluxion {1e3 * ours:.1f} ms, detectda "
          f"{1e3 * reference:.0f} ms, ratio {reference / ours:.0f}x "
          f"(ALPS {ours_value:.6f} vs {reference_value:.6f})")
    began = time.perf_counter()
    for f in movie:
        hlpr.alps(hlpr.fitsmoo(f, sigma=2)[:, 2])
    detectda_series = time.perf_counter() - began
    one = best_of(lambda: alps_series(movie, n_jobs=1), 2)
    cores = os.cpu_count() or 1
    many = best_of(lambda: alps_series(movie, n_jobs=-1, chunk=2), 2)
    print(f"{frames}-frame series: detectda {frames / detectda_series:.2f} frames/s, Fluxion "
          f"{frames / one:.1f} frames/s on 1 thread ({detectda_series / one:.0f}x), "
          f"{frames / many:.1f} frames/s on {cores} cores ({detectda_series / many:.0f}x)")


if __name__ == "__main__":
    main()
