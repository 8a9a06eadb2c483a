"""Noise and artifact diagnostics of raw and denoised movies.

- noise correlation in the vacuum against pixel distance and frame lag: blind-spot denoisers
  assume independent noise, and a detector point-spread breaks that;
- vacuum SNR, also after 3x3 binning and frame sums, and its gain by denoising;
- vacuum uniformity in real space and in the Fourier transform: a denoiser trained on too few
  frames invents atoms or lattice fringes in the vacuum;
- consistency of N-frame sums of raw and denoised frames (denoising must not move intensity).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from fluxion.errors import ParameterError
from fluxion.movies.io import LazyMovie, iter_chunks, time_average

__all__ = [
    "RawVersusDenoised",
    "bin_frames",
    "bin_mask",
    "largest_square",
    "noise_correlation",
    "raw_versus_denoised",
    "snr_gain",
    "sum_consistency",
    "sum_frames",
    "vacuum_snr",
    "vacuum_statistics",
    "vacuum_uniformity",
]

Movie = np.ndarray | LazyMovie


def _check_mask(vacuum_mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    mask = np.asarray(vacuum_mask, bool)
    if mask.shape != tuple(shape[-2:]):
        raise ParameterError(f"vacuum_mask has shape {mask.shape} but frames are {shape[-2:]}.")
    if mask.sum() < 2:
        raise ParameterError("vacuum_mask selects fewer than 2 pixels; a vacuum region is needed "
                             "(give a vacuum_box in the sidecar, or check the automatic mask).")
    return mask


def vacuum_statistics(frames: Movie, vacuum_mask: np.ndarray) -> dict[str, float]:
    """Mean counts, standard deviation and SNR (mean / std) in the vacuum, streamed over frames.

    The std is taken over vacuum pixels within each frame and averaged over frames, as is the
    per-frame SNR: the reference data give SNR ~ 0.45 at 0.2 counts/pixel (Poisson: sqrt(0.2)).
    """
    if frames.ndim == 2:
        frames = np.asarray(frames)[None]
    mask = _check_mask(vacuum_mask, frames.shape)
    means, stds = [], []
    for chunk in iter_chunks(frames):
        values = chunk[:, mask]
        means.append(values.mean(axis=1))
        stds.append(values.std(axis=1))
    mean, std = np.concatenate(means), np.concatenate(stds)
    snr = np.divide(mean, std, out=np.full_like(mean, np.inf), where=std > 0)
    return {"vacuum_mean": float(mean.mean()), "vacuum_std": float(std.mean()),
            "vacuum_snr": float(snr.mean())}


def vacuum_snr(frames: Movie, vacuum_mask: np.ndarray) -> float:
    """Vacuum SNR (mean / std of vacuum pixels per frame, averaged over frames)."""
    return vacuum_statistics(frames, vacuum_mask)["vacuum_snr"]


def snr_gain(raw: Movie, denoised: Movie, vacuum_mask: np.ndarray) -> float:
    """How many times the denoised movie's vacuum SNR exceeds the raw movie's."""
    return vacuum_snr(denoised, vacuum_mask) / vacuum_snr(raw, vacuum_mask)


def bin_frames(movie: Movie, *, space: int = 3, time: int = 4) -> np.ndarray:
    """Sum ``space`` x ``space`` pixel blocks and ``time`` consecutive frames (leftover rows,
    columns and frames are dropped), streamed: the result is space^2 x time times smaller."""
    if space < 1 or time < 1:
        raise ParameterError(f"space and time must be >= 1, got {space}, {time}.")
    n, height, width = movie.shape
    if n < time or min(height, width) < space:
        raise ParameterError(f"a {movie.shape} movie cannot be binned {space}x{space} in space "
                             f"and {time} in time.")
    h, w = height // space * space, width // space * space
    out = []
    for block in iter_chunks(movie, time * max(1, 16 // time)):
        usable = len(block) // time * time
        if usable == 0:
            continue
        block = block[:usable, :h, :w].reshape(usable // time, time, h // space, space,
                                                w // space, space)
        out.append(block.sum(axis=(1, 3, 5), dtype=np.float64).astype(np.float32))
    return np.concatenate(out)


def sum_frames(movie: Movie, n: int) -> np.ndarray:
    """Sums of consecutive, non-overlapping groups of ``n`` frames."""
    return bin_frames(movie, space=1, time=n)


def bin_mask(vacuum_mask: np.ndarray, space: int) -> np.ndarray:
    """A mask binned like :func:`bin_frames`: a block is in it when all its pixels are."""
    h, w = (s // space * space for s in vacuum_mask.shape)
    return vacuum_mask[:h, :w].reshape(h // space, space, w // space, space).all(axis=(1, 3))


def _pearson(sums: np.ndarray) -> float:
    """Pearson r from accumulated [n, sx, sy, sxx, syy, sxy]."""
    n, sx, sy, sxx, syy, sxy = sums
    cov = sxy / n - sx * sy / n**2
    return float(cov / np.sqrt((sxx / n - (sx / n) ** 2) * (syy / n - (sy / n) ** 2)))


def _pair_sums(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = x.astype(np.float64), y.astype(np.float64)
    return np.array([x.size, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()])


def noise_correlation(movie: Movie, vacuum_mask: np.ndarray, *, max_distance: int = 10,
                      max_lag: int = 10) -> dict[str, np.ndarray]:
    """Pearson correlation of vacuum noise against pixel distance and frame lag.

    The time-averaged vacuum image is subtracted first (Fresnel fringes and illumination
    gradients are static structure, not correlated noise), then each frame's remaining vacuum
    mean (dose fluctuations are not noise correlation either); the frame-to-frame values are
    corrected for the time average's own share of each frame. Pairs
    of vacuum pixels ``d`` apart horizontally / vertically (d = 1..max_distance) and the same
    pixel ``lag`` frames apart (lag = 1..max_lag) are accumulated over the whole movie.
    Returns ``distance``, ``horizontal``, ``vertical``, ``lag`` and ``temporal`` arrays.
    """
    mask = _check_mask(vacuum_mask, movie.shape)
    if len(movie) <= max_lag:
        raise ParameterError(f"noise_correlation: {len(movie)} frames are too few for lags up "
                             f"to {max_lag}; lower max_lag.")
    horizontal = np.zeros((max_distance, 6))
    vertical = np.zeros((max_distance, 6))
    temporal = np.zeros((max_lag, 6))
    history: list[np.ndarray] = []
    static = time_average(movie)
    for chunk in iter_chunks(movie):
        for frame in chunk:
            residual = frame - static
            noise = np.where(mask, residual - residual[mask].mean(), 0.0)
            for d in range(1, max_distance + 1):
                both = mask[:, :-d] & mask[:, d:]
                horizontal[d - 1] += _pair_sums(noise[:, :-d][both], noise[:, d:][both])
                both = mask[:-d] & mask[d:]
                vertical[d - 1] += _pair_sums(noise[:-d][both], noise[d:][both])
            values = noise[mask]
            for lag, earlier in enumerate(reversed(history), start=1):
                temporal[lag - 1] += _pair_sums(earlier, values)
            history = [*history[-(max_lag - 1):], values] if max_lag > 1 else [values]
    return {"distance": np.arange(1, max_distance + 1),
            "horizontal": np.array([_pearson(s) for s in horizontal]),
            "vertical": np.array([_pearson(s) for s in vertical]),
            "lag": np.arange(1, max_lag + 1),
            "temporal": _undo_mean_removal(np.array([_pearson(s) for s in temporal]),
                                           len(movie))}


def _undo_mean_removal(correlation: np.ndarray, n_frames: int) -> np.ndarray:
    """Frame-to-frame correlation corrected for subtracting the movie's own time average,
    which makes independent frames correlate by -1/(T - 1): rho = r (1 - 1/T) + 1/T."""
    return correlation * (1 - 1 / n_frames) + 1 / n_frames


def largest_square(mask: np.ndarray) -> tuple[slice, slice]:
    """Row and column slices of a large square lying entirely inside ``mask``."""
    distance = ndimage.distance_transform_cdt(np.pad(mask, 1), metric="chessboard")[1:-1, 1:-1]
    row, col = np.unravel_index(np.argmax(distance), distance.shape)
    half = int(distance[row, col]) - 1
    if half < 4:
        raise ParameterError("the vacuum holds no square of at least 9x9 pixels; the Fourier "
                             "uniformity check needs a larger vacuum region.")
    return slice(row - half, row + half + 1), slice(col - half, col + half + 1)


def vacuum_uniformity(denoised: Movie, vacuum_mask: np.ndarray, *,
                      lattice_spacings: Sequence[float] | None = None,
                      threshold: float = 0.01, ratio_threshold: float = 4.0,
                      block: int = 8) -> dict[str, float | bool]:
    """Does a denoised movie's vacuum stay uniform, in real and in Fourier space?

    Real space: ``nonuniformity`` is the standard deviation of ``block`` x ``block`` means of
    the time-averaged vacuum divided by its mean. Fourier space: over the largest vacuum square
    (a fitted plane removed, Hann window) the frames' power spectra are averaged; at every
    radius the strongest frequency is compared with its ring's median (the radial background).
    ``phantom_ratio`` is that peak-to-background ratio and ``phantom_score`` the amplitude of
    the excess, as a fraction of the vacuum mean: the contrast of an invented lattice fringe.
    Only rings of ``lattice_spacings`` (pixels) are searched when given. The check fails when a
    peak stands out (ratio >= ``ratio_threshold``) with contrast >= ``threshold``.
    """
    mask = _check_mask(vacuum_mask, denoised.shape)
    rows, cols = largest_square(mask)
    size = rows.stop - rows.start
    window = np.outer(np.hanning(size), np.hanning(size))
    yy, xx = np.mgrid[0:size, 0:size]
    design = np.column_stack([np.ones(size * size), yy.ravel(), xx.ravel()])
    power = np.zeros((size, size))
    mean_image = np.zeros(denoised.shape[1:])
    for chunk in iter_chunks(denoised):
        mean_image += chunk.sum(axis=0, dtype=np.float64)
        patches = chunk[:, rows, cols].astype(np.float64).reshape(len(chunk), -1)
        plane = np.linalg.lstsq(design, patches.T, rcond=None)[0]
        patches = (patches - (design @ plane).T).reshape(len(chunk), size, size)
        power += (np.abs(np.fft.fft2(patches * window)) ** 2).sum(axis=0)
    mean_image /= len(denoised)
    power = np.fft.fftshift(power / len(denoised))
    freq = np.fft.fftshift(np.fft.fftfreq(size))
    ring = np.round(np.hypot(*np.meshgrid(freq, freq, indexing="ij")) * size).astype(int)
    if lattice_spacings:
        wanted = {round(size / s) for s in lattice_spacings if s > 2}
        rings = sorted(r + k for r in wanted for k in (-1, 0, 1) if 3 <= r + k < size // 2)
    else:
        rings = list(range(3, size // 2))
    vacuum_mean = abs(float(mean_image[mask].mean())) or 1.0
    ratio = contrast = 0.0
    for r in rings:
        values = power[ring == r]
        if values.size < 8:
            continue
        background = max(float(np.median(values)), 1e-300)
        peak = float(values.max())
        amplitude = 2 * np.sqrt(max(peak - background, 0.0)) / window.sum()
        if amplitude / vacuum_mean > contrast:
            contrast, ratio = amplitude / vacuum_mean, peak / background
    h, w = (s // block * block for s in mean_image.shape)
    blocks = mean_image[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))
    inside = bin_mask(mask, block)
    vacuum_blocks = blocks[inside] if inside.sum() >= 2 else mean_image[mask]
    nonuniformity = float(vacuum_blocks.std() / abs(vacuum_blocks.mean()))
    passed = not (ratio >= ratio_threshold and contrast >= threshold)
    return {"nonuniformity": nonuniformity, "phantom_score": contrast, "phantom_ratio": ratio,
            "passed": passed, "fft_size": size}


def sum_consistency(raw: Movie, denoised: Movie, *, n: int = 30) -> dict[str, float]:
    """Compare sums of ``n`` consecutive raw and denoised frames.

    Denoising should only remove noise: the n-frame sums should correlate strongly and agree on
    average. Returns the mean Pearson ``correlation`` over sums, the ``relative_bias``
    (mean denoised sum / mean raw sum - 1) and the ``relative_rms`` difference.
    """
    if raw.shape != denoised.shape:
        raise ParameterError(f"raw {raw.shape} and denoised {denoised.shape} movies differ in "
                             "shape.")
    if len(raw) < n:
        raise ParameterError(f"sum_consistency: {len(raw)} frames are fewer than n = {n}.")
    correlations, raw_means, denoised_means, squared = [], [], [], []
    for r, d in zip(iter_chunks(raw, n), iter_chunks(denoised, n), strict=True):  # streamed
        if len(r) < n:
            break
        r, d = r.sum(axis=0, dtype=np.float64), d.sum(axis=0, dtype=np.float64)
        correlations.append(np.corrcoef(r.ravel(), d.ravel())[0, 1])
        raw_means.append(r.mean())
        denoised_means.append(d.mean())
        squared.append(np.mean((d - r) ** 2))
    raw_mean = np.mean(raw_means)
    return {"correlation": float(np.mean(correlations)),
            "relative_bias": float(np.mean(denoised_means) / raw_mean - 1),
            "relative_rms": float(np.sqrt(np.mean(squared)) / raw_mean),
            "sums": len(correlations)}


@dataclass
class RawVersusDenoised:
    """What the raw-vs-denoised figures show: vacuum squares of the first frames, n-frame sums
    and the row of a line scan through the particle."""

    raw_vacuum: np.ndarray
    denoised_vacuum: np.ndarray
    raw_sum: np.ndarray
    denoised_sum: np.ndarray
    n_summed: int
    scan_row: int


def raw_versus_denoised(raw: Movie, denoised: Movie, vacuum_mask: np.ndarray,
                        particle_mask: np.ndarray, *, sum_n: int,
                        spectrum_frames: int) -> RawVersusDenoised:
    """Vacuum squares of the first ``spectrum_frames`` frames (for spectra) and sums of the
    first ``sum_n`` frames of a raw movie and its denoised version."""
    rows, cols = largest_square(vacuum_mask)
    frames = np.arange(min(spectrum_frames, len(raw)))
    n = min(sum_n, len(raw))
    scan_row = (int(np.argwhere(particle_mask)[:, 0].mean()) if particle_mask.any()
                else raw.shape[1] // 2)
    return RawVersusDenoised(np.asarray(raw[frames])[:, rows, cols],
                             np.asarray(denoised[frames])[:, rows, cols],
                             sum_frames(raw[:n], n)[0], sum_frames(denoised[:n], n)[0], n,
                             scan_row)
