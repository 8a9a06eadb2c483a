"""Evaluation streams the raw test frames like the denoised ones: its peak memory does not
grow with the number of test frames."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np

from fluxion.movies.io import read_movie, write_movie

PEAK_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from fluxion.denoising.models import GaussianDenoiser
    from fluxion.movies.io import read_movie
    from fluxion.scoring.evaluation import EvaluationOptions, evaluate_movie
    path, test_frames = sys.argv[1], int(sys.argv[2])
    movie = read_movie(path, lazy=True)
    vacuum = np.zeros(movie.shape[1:], bool)
    vacuum[:64, :64] = True
    particle = np.zeros(movie.shape[1:], bool)
    particle[200:300, 200:300] = True
    scores, *_ = evaluate_movie(movie, {"gaussian": GaussianDenoiser(2.0)},
                                test=[4, 4 + test_frames], particle_mask=particle,
                                vacuum_mask=vacuum, truth=None,
                                options=EvaluationOptions(spatial=False, bootstrap=50,
                                                          sum_frames=10))
    assert scores.frame.nunique() == test_frames
    # this process's peak, kB (ru_maxrss would include the parent's, inherited at fork)
    print(next(int(line.split()[1]) for line in open('/proc/self/status')
               if line.startswith('VmHWM')))
""")


def test_peak_memory_of_evaluation_does_not_grow_with_test_frames(tmp_path):
    """200 raw test frames of 640 x 640 are 330 MB as float32; held in memory they would add
    that to the peak, streamed they add nothing. Measured with glibc's allocator as it is, so
    that memory kept for reuse (fluxion.allocator) cannot hide what the code holds."""
    rng = np.random.default_rng(0)
    path = tmp_path / "movie.npy"
    write_movie(path, (rng.poisson(0.5, (640, 640)).astype(np.float32) for _ in range(208)))
    assert read_movie(path, lazy=True).shape == (208, 640, 640)
    peaks = {}
    for frames in (20, 200):
        run = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path), str(frames)],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "FLUXION_MALLOC": "system"})
        peaks[frames] = int(run.stdout.split()[-1])
    assert peaks[200] <= 1.2 * peaks[20], peaks
