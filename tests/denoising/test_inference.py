"""fluxion.denoising.inference: tiles stitch exactly, the cached sliding window equals
frame-by-frame evaluation, edge frames are reflected, memory does not grow with the movie, bad
input."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from fluxion.denoising.inference import denoise_movie, plan_tiles, receptive_margin
from fluxion.denoising.models import UDVD, GaussianDenoiser, N2NUNet
from fluxion.errors import MovieError, ParameterError
from fluxion.movies.io import read_movie, write_movie


@pytest.fixture(scope="module")
def udvd():
    torch.manual_seed(0)
    model = UDVD(width=4, triplet_channels=4).eval()
    model.set_count_scale(2.0, 1.4)
    return model


@pytest.fixture(scope="module")
def movie():
    return np.random.default_rng(0).poisson(2.0, (9, 72, 60)).astype(np.float32)


def _frame_by_frame(model, movie):
    """The published way: the whole network on each reflected 5-frame window."""
    n, r = len(movie), model.frames // 2
    out = []
    for t in range(n):
        index = [abs(i) if i < n else 2 * (n - 1) - i for i in range(t - r, t + r + 1)]
        with torch.no_grad():
            out.append(model(torch.from_numpy(movie[index][None]))[0, 0].numpy())
    return np.stack(out)


def test_fusing_in_bands_of_rows_equals_fusing_whole_frames(udvd):
    from fluxion.denoising.inference import _fuse_in_bands

    branches = [torch.randn(1, 8, 20, 20) for _ in range(4)]
    whole = udvd.fuse([(0,), (1,), (2,), (3,)], branches)
    banded = _fuse_in_bands(udvd, branches, elements=32 * 20 * 3)  # bands of 3 rows
    torch.testing.assert_close(banded, whole, atol=1e-6, rtol=1e-6)


def test_bf16_autocast_stays_close_and_an_unknown_precision_is_refused(udvd, movie):
    full = np.stack(list(denoise_movie(udvd, movie[:6])))
    half = np.stack(list(denoise_movie(udvd, movie[:6], precision="bf16")))
    assert half.dtype == np.float32
    assert 0 < np.abs(half - full).max() < 1e-2 * np.abs(full).max()  # bf16: 8-bit mantissa
    with pytest.raises(ParameterError, match="precision"):
        next(denoise_movie(udvd, movie, precision="fp16"))


@pytest.mark.skipif(shutil.which("cc") is None, reason="torch.compile needs a C compiler")
def test_compiled_network_gives_the_same_frames(movie):
    model = GaussianDenoiser(1.5)
    eager = np.stack(list(denoise_movie(model, movie[:3])))
    compiled = np.stack(list(denoise_movie(model, movie[:3], compile=True)))
    np.testing.assert_allclose(compiled, eager, atol=1e-5, rtol=1e-5)


def test_cached_sliding_window_equals_frame_by_frame(udvd, movie):
    reference = _frame_by_frame(udvd, movie)
    cached = np.stack(list(denoise_movie(udvd, movie, block=4)))
    np.testing.assert_allclose(cached, reference, atol=1e-5, rtol=1e-5)
    plain = np.stack(list(denoise_movie(udvd, movie, cache=False, batch=3)))
    np.testing.assert_allclose(plain, reference, atol=1e-5, rtol=1e-5)


def test_edge_frames_use_reflected_neighbours(udvd, movie):
    out = list(denoise_movie(udvd, movie))
    with torch.no_grad():
        first = udvd(torch.from_numpy(movie[[2, 1, 0, 1, 2]][None]))[0, 0].numpy()
        last = udvd(torch.from_numpy(movie[[6, 7, 8, 7, 6]][None]))[0, 0].numpy()
    np.testing.assert_allclose(out[0], first, atol=1e-5)
    np.testing.assert_allclose(out[-1], last, atol=1e-5)


@pytest.mark.parametrize("model", [UDVD(frames=1, width=4), N2NUNet(width=4, depth=2),
                                   GaussianDenoiser(2.0)], ids=["udvd-single", "n2n", "gauss"])
def test_tiles_stitch_to_the_full_frame_result(model, movie):
    torch.manual_seed(1)
    margin = receptive_margin(model)
    big = np.tile(movie, (1, 3, 4))[:, : 2 * margin + 40, : 2 * margin + 52]
    whole = np.stack(list(denoise_movie(model.eval(), big)))
    tiled = np.stack(list(denoise_movie(model, big, tile=margin + 4, block=3)))
    assert len(plan_tiles(*big.shape[1:], tile=margin + 4, margin=margin)) >= 4
    np.testing.assert_allclose(tiled, whole, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_udvd_tiles_stitch_exactly(udvd):
    margin = receptive_margin(udvd)
    movie = np.random.default_rng(1).poisson(2.0, (6, margin + 60, margin + 36)).astype(
        np.float32)
    whole = np.stack(list(denoise_movie(udvd, movie)))
    tiled = np.stack(list(denoise_movie(udvd, movie, tile=margin, block=6)))
    np.testing.assert_allclose(tiled, whole, atol=1e-5, rtol=1e-5)


def test_receptive_margin_is_what_the_network_reads():
    model = N2NUNet(width=2, depth=2).double()
    margin = receptive_margin(model)
    x = torch.rand(1, 1, 160, 160, dtype=torch.float64, requires_grad=True)
    model(x)[0, 0, 80, 80].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    assert max(abs(rows - 80).max(), abs(cols - 80).max()) <= margin
    assert margin % 4 == 0


def test_a_lazy_movie_streams_from_disk_to_disk_in_bounded_memory(tmp_path):
    """Peak RSS of denoising 30 and 300 frames from disk to disk differs by < 20%."""
    script = textwrap.dedent("""
        import sys, numpy as np, torch
        from fluxion.denoising.inference import denoise_movie
        from fluxion.movies.io import read_movie, write_movie
        from fluxion.denoising.models import UDVD
        torch.set_num_threads(1)
        frames, folder = int(sys.argv[1]), sys.argv[2]
        write_movie(f"{folder}/in.npy", (np.full((64, 64), t % 7, np.float32)
                                         for t in range(frames)))
        model = UDVD(frames=5, width=2, triplet_channels=2).eval()
        movie = read_movie(f"{folder}/in.npy", lazy=True)
        write_movie(f"{folder}/out.tif", denoise_movie(model, movie, block=8))
        # this process's peak, kB (ru_maxrss would include the parent's, inherited at fork)
        print(next(int(line.split()[1]) for line in open('/proc/self/status')
                   if line.startswith('VmHWM')))
    """)
    peaks = {}
    for frames in (30, 300):
        folder = tmp_path / str(frames)
        folder.mkdir()
        run = subprocess.run([sys.executable, "-c", script, str(frames), str(folder)],
                             capture_output=True, text=True, check=True)
        peaks[frames] = int(run.stdout.split()[-1])
        assert read_movie(folder / "out.tif", lazy=True).shape == (frames, 64, 64)
    assert peaks[300] < 1.2 * peaks[30]


def test_bad_input_is_refused(udvd, movie):
    with pytest.raises(MovieError, match="fewer than the 5-frame window"):
        next(denoise_movie(udvd, movie[:4]))
    with pytest.raises(MovieError, match="frames, height, width"):
        next(denoise_movie(udvd, movie[0]))
    broken = movie.copy()
    broken[5, 3, 3] = np.nan
    with pytest.raises(MovieError, match="NaN"):
        list(denoise_movie(udvd, broken))
    margin = receptive_margin(udvd)
    large = np.zeros((5, 3 * margin, 3 * margin), np.float32)
    with pytest.raises(ParameterError, match=r"smaller than the .* receptive-field margin"):
        next(denoise_movie(udvd, large, tile=margin - 8))
    with pytest.raises(ParameterError, match="overlap"):
        next(denoise_movie(udvd, large, tile=margin + 40, overlap=8))


def test_denoised_movie_round_trips_through_a_file(tmp_path, udvd, movie):
    write_movie(tmp_path / "out.tif", denoise_movie(udvd, movie))
    np.testing.assert_allclose(read_movie(tmp_path / "out.tif"),
                               np.stack(list(denoise_movie(udvd, movie))), atol=1e-6)


def test_chosen_frames_only(udvd, movie):
    everything = np.stack(list(denoise_movie(udvd, movie)))
    some = np.stack(list(denoise_movie(udvd, movie, frames=[7, 2, 3, 8], block=3)))
    np.testing.assert_allclose(some, everything[[7, 2, 3, 8]], atol=1e-5)
    with pytest.raises(ParameterError, match="must lie in"):
        next(denoise_movie(udvd, movie, frames=[9]))
