"""Synthetic low-dose HRTEM movies of a nanoparticle on a support, with ground truth.

The clean image is a bright vacuum (the dose) with atomic columns as dark Gaussian spots (as in
phase-contrast HRTEM near Scherzer focus): a crystalline particle on a static crystalline support.
Surface columns jitter and hop between frames; the particle switches between ordered periods
(small thermal jitter) and disordered, fluxional periods (large displacements, and atoms out of
their columns, which lose contrast in projection). Shot noise is
Poisson at the given dose, optionally with a weak detector point-spread that correlates
neighbouring pixels, as measured in real cameras.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import ndimage

from fluxion.errors import ParameterError
from fluxion.movies.io import write_movie
from fluxion.movies.metadata import MovieMetadata

__all__ = [
    "SimulatedMovie",
    "drop_demo_into_incoming",
    "ensure_demo_movies",
    "simulate_movie",
    "write_simulated_movie",
]

COLUMN_WIDTH_A = 0.45  # Gaussian sigma of a projected atomic column, Angstrom


@dataclass
class SimulatedMovie:
    """A simulated movie and everything known about it.

    ``noisy`` and ``clean`` are (T, H, W) float32 counts per pixel and frame; ``vacuum_mask`` is
    (H, W) bool; ``particle_polygon`` is (k, 2) vertices (x = column, y = row); ``disordered`` is
    (T,) bool, True in fluxional periods.
    """

    noisy: np.ndarray
    clean: np.ndarray
    vacuum_mask: np.ndarray
    particle_polygon: np.ndarray
    disordered: np.ndarray
    metadata: MovieMetadata


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ParameterError(f"simulate_movie: {message}")


def simulate_movie(*, frames: int = 100, size: int | tuple[int, int] = 128, dose: float = 0.2,
                   particle_diameter_nm: float = 2.0, pixel_size: float = 0.3, seed: int = 0,
                   frame_rate: float = 75.0, lattice_spacing: float = 1.96,
                   support_spacing: float = 2.71, contrast: float = 0.35,
                   support_fraction: float = 0.22, jitter: float = 0.08,
                   disorder_jitter: float = 0.55, hop_probability: float = 0.03,
                   disordered_fraction: float = 0.5, size_dependent_disorder: bool = False,
                   switch_probability: float = 0.05, noise_correlation: float = 0.01,
                   imaging: str = "bright-field") -> SimulatedMovie:
    """Simulate a noisy movie of a nanoparticle with its clean ground truth.

    Parameters
    ----------
    frames, size
        Number of frames and frame size (an int for square frames, or (height, width)).
    dose
        Mean counts per pixel per frame in vacuum (0.2 in the reference data, 0.045 low dose).
    particle_diameter_nm, pixel_size
        Particle diameter (nm) and pixel size (Angstrom per pixel).
    seed
        Everything is deterministic for a seed.
    lattice_spacing, support_spacing
        Projected column spacings (Angstrom) of the particle (Pt: 1.96) and support (CeO2: 2.71).
    contrast
        Depth of a column's dark spot as a fraction of the vacuum intensity.
    jitter, disorder_jitter
        RMS column displacement (Angstrom) in ordered and in disordered periods.
    hop_probability
        Per frame, the chance that a surface column hops to a neighbouring site.
    disordered_fraction, size_dependent_disorder
        Long-run fraction of disordered frames, the same for every size by default (so a size
        trend is never built in); ``size_dependent_disorder`` makes smaller particles more
        fluxional instead (0.9 at <= 1 nm, 0.05 at >= 3 nm), for tests of size dependence.
    switch_probability
        Per-frame chance of switching between ordered and disordered periods.
    noise_correlation
        Pearson correlation of horizontally / vertically adjacent pixels' noise (0 = none;
        ~0.01 in the reference detector).
    imaging
        ``bright-field``: dark Gaussian columns. ``ncsi`` (negative spherical-aberration
        imaging, aberration-corrected): bright columns, and a contrast-transfer-like fringe
        (a bright and a dark band) along the particle's and the support's edges.
    """
    height, width = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    _require(frames >= 1, f"frames must be >= 1, got {frames}")
    _require(min(height, width) >= 32, f"size must be at least 32 pixels, got {size}")
    _require(dose > 0, f"dose must be > 0 counts/pixel/frame, got {dose}")
    _require(pixel_size > 0, f"pixel_size must be > 0 Angstrom, got {pixel_size}")
    _require(0 <= noise_correlation < 0.5, f"noise_correlation must be in [0, 0.5), got "
             f"{noise_correlation}")
    radius = particle_diameter_nm * 10.0 / pixel_size / 2.0
    support_top = height * (1.0 - support_fraction)
    _require(2 * radius < min(support_top - 4, width - 8),
             f"a {particle_diameter_nm} nm particle ({2 * radius:.0f} px) does not fit above the "
             f"support in a {height}x{width} frame at {pixel_size} A/px; enlarge size or "
             "pixel_size")
    _require(imaging in ("bright-field", "ncsi"), f"imaging must be bright-field or ncsi, got "
             f"{imaging!r}")
    _require(0 <= disordered_fraction <= 1, f"disordered_fraction must be in [0, 1], got "
             f"{disordered_fraction}")
    rng = np.random.default_rng(seed)
    if size_dependent_disorder:
        disordered_fraction = float(np.clip((3.0 - particle_diameter_nm) / 2.0, 0.05, 0.9))
    sign = 1.0 if imaging == "ncsi" else -1.0  # bright or dark columns

    center = np.array([width / 2.0, support_top - 0.85 * radius])  # (x, y): rests on the support
    sigma_px = COLUMN_WIDTH_A / pixel_size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)

    # Static support: a crystalline band along the bottom edge.
    support_mask = yy >= support_top
    support_cols = _lattice(np.array([width / 2, support_top + 2]), support_spacing / pixel_size,
                            angle=0.0, extent=max(height, width) * 1.5)
    inside = (support_cols[:, 1] >= support_top + 1) & (support_cols[:, 1] < height + 3)
    background = 1.0 - 0.12 * ndimage.gaussian_filter(support_mask.astype(np.float32), 2.0)
    background += sign * contrast * 0.8 * _render(support_cols[inside], (height, width), sigma_px)

    # The particle: a square lattice of columns inside a disk, at a random orientation.
    sites = _lattice(center, lattice_spacing / pixel_size, angle=rng.uniform(0, np.pi / 2),
                     extent=2.2 * radius)
    sites = sites[np.hypot(*(sites - center).T) <= radius]
    depth = radius - np.hypot(*(sites - center).T)
    surface = depth < lattice_spacing / pixel_size
    particle_disk = (np.hypot(xx - center[0], yy - center[1]) <= radius).astype(np.float32)
    particle_shadow = 0.08 * ndimage.gaussian_filter(particle_disk, 2.0)
    if imaging == "ncsi":  # a fringe along every edge, as contrast transfer draws it
        edges = particle_disk + support_mask.astype(np.float32)
        background += 0.6 * (ndimage.gaussian_filter(edges, 1.5)
                             - ndimage.gaussian_filter(edges, 4.0))

    disordered = _two_state_chain(frames, disordered_fraction, switch_probability, rng)
    hops = np.zeros_like(sites)
    clean = np.empty((frames, height, width), np.float32)
    step = lattice_spacing / pixel_size
    for t in range(frames):
        hop_now = surface & (rng.random(len(sites)) < hop_probability)
        angles = rng.uniform(0, 2 * np.pi, hop_now.sum())
        hops[hop_now] = np.column_stack([np.cos(angles), np.sin(angles)]) * step * 0.5
        amplitude = (disorder_jitter if disordered[t] else jitter) / pixel_size
        scale = np.where(surface, 1.5, 1.0 if disordered[t] else 0.6)[:, None]
        positions = sites + hops + rng.normal(0.0, amplitude, sites.shape) * scale
        if disordered[t]:  # fluxional: atoms leave their columns, which lose contrast
            positions += rng.normal(0.0, 0.3 * step, sites.shape) * surface[:, None]
            columns = 0.55 * _render(positions, (height, width), 1.6 * sigma_px)
        else:
            columns = _render(positions, (height, width), sigma_px)
        clean[t] = dose * np.clip(background - particle_shadow + sign * contrast * columns, 0.05,
                                  None)

    counts = rng.poisson(clean).astype(np.float32)
    if noise_correlation > 0:
        counts = _point_spread(counts, noise_correlation)

    margin = 3.0 * step  # broad fluxional columns reach 2.5 steps out
    vacuum_mask = ((np.hypot(xx - center[0], yy - center[1]) > radius + margin)
                   & (yy < support_top - margin))
    polygon_radius = radius + 0.6 * step
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    polygon = np.column_stack([center[0] + polygon_radius * np.cos(angles),
                               center[1] + polygon_radius * np.sin(angles)])
    polygon[:, 0] = np.clip(polygon[:, 0], 0, width)
    polygon[:, 1] = np.clip(polygon[:, 1], 0, height)
    metadata = MovieMetadata(
        pixel_size=float(pixel_size),
        dose_rate=float(dose / pixel_size**2 * frame_rate),
        frame_rate=float(frame_rate),
        particle_polygon=np.round(polygon, 2).tolist(),
        particle_diameter_nm=float(particle_diameter_nm),
        sources={"all": "simulation"},
    )
    return SimulatedMovie(counts, clean, vacuum_mask, polygon, disordered, metadata)


def _lattice(origin: np.ndarray, spacing: float, *, angle: float, extent: float) -> np.ndarray:
    """Points of a square lattice through ``origin`` covering a square of side ``extent``."""
    n = int(np.ceil(extent / spacing)) + 1
    i, j = np.mgrid[-n:n + 1, -n:n + 1].reshape(2, -1)
    c, s = np.cos(angle), np.sin(angle)
    return origin + spacing * np.column_stack([c * i - s * j, s * i + c * j])


def _render(points: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Sum of unit-height Gaussians of width ``sigma`` at ``points`` (x, y), via bilinear splats."""
    grid = np.zeros(shape, np.float64)
    x, y = points[:, 0], points[:, 1]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                           (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        ok = (xi >= 0) & (xi < shape[1]) & (yi >= 0) & (yi < shape[0])
        np.add.at(grid, (yi[ok], xi[ok]), weight[ok])
    return (ndimage.gaussian_filter(grid, sigma) * (2 * np.pi * sigma**2)).astype(np.float32)


def _two_state_chain(n: int, fraction: float, switch: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Ordered (False) / disordered (True) periods with the given long-run disordered fraction."""
    to_disordered = switch * fraction / max(1 - fraction, 1e-9) if fraction < 1 else 1.0
    to_ordered = switch
    scale = min(1.0, 1.0 / max(to_disordered, to_ordered))
    to_disordered, to_ordered = to_disordered * scale, to_ordered * scale
    states = np.empty(n, bool)
    state = rng.random() < fraction
    for t in range(n):
        states[t] = state
        state = (rng.random() >= to_ordered) if state else (rng.random() < to_disordered)
    return states


def _point_spread(counts: np.ndarray, correlation: float) -> np.ndarray:
    """Blur each frame with a normalised cross kernel giving the wanted neighbour correlation.

    For the kernel [0 e 0; e 1 e; 0 e 0] the correlation of adjacent pixels' noise is
    2e / (1 + 4e^2); solved for e. The kernel sums to one, so the mean is kept.
    """
    e = (2.0 - np.sqrt(4.0 - 16.0 * correlation**2)) / (8.0 * correlation)
    kernel = np.array([[0, e, 0], [e, 1, e], [0, e, 0]], np.float32) / (1 + 4 * e)
    return ndimage.convolve(counts, kernel[None], mode="reflect")


# --------------------------------------------------------------------------------------------
# The embedded demo
# --------------------------------------------------------------------------------------------
def ensure_demo_movies(folder: str | Path, movies: Mapping[str, Mapping[str, Any]],
                       defaults: Mapping[str, Any] | None = None) -> list[Path]:
    """Write the demo movies into ``folder`` once, with sidecars and ground truth.

    ``movies`` maps a movie name to its :func:`simulate_movie` keywords (merged over
    ``defaults``). A movie is (re)generated only when missing or when its settings changed, so
    repeated runs reuse the files. Returns the movie paths.
    """
    folder = Path(folder)
    (folder / "ground_truth").mkdir(parents=True, exist_ok=True)
    paths = []
    for name, spec in movies.items():
        settings = {**(defaults or {}), **spec}
        movie_path = folder / f"{name}.tif"
        truth = folder / "ground_truth" / f"{name}.npy"
        settings_file = folder / "ground_truth" / f"{name}.settings.yml"
        current = yaml.safe_load(settings_file.read_text()) if settings_file.exists() else None
        if not (movie_path.exists() and truth.exists() and current == settings):
            write_simulated_movie(movie_path, settings, truth=truth)
            settings_file.write_text(yaml.safe_dump(dict(settings), sort_keys=True))
        paths.append(movie_path)
    return paths


def write_simulated_movie(path: Path, settings: Mapping[str, Any], *,
                          truth: Path | None = None) -> SimulatedMovie:
    """Simulate, then write the noisy movie (TIFF), its sidecar and (optionally) the truth."""
    sim = simulate_movie(**settings)
    sidecar = {k: v for k, v in sim.metadata.to_dict().items()
               if v is not None and k != "sources"}
    if truth is not None:
        np.save(truth, sim.clean)
        sidecar["ground_truth"] = str(truth.relative_to(path.parent))
    write_movie(path, sim.noisy)
    path.with_suffix(".yml").write_text(yaml.safe_dump(sidecar, sort_keys=False))
    return sim


def drop_demo_into_incoming(folder: str | Path, settings: Mapping[str, Any]) -> Path | None:
    """Put one timestamp-named demo movie into the re-analysis folder, unless it holds one."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(p.suffix.lower() == ".tif" for p in folder.iterdir()):
        return None
    path = folder / f"{time.strftime('%Y-%m-%dT%H-%M-%S')}_demo_incoming.tif"
    write_simulated_movie(path, settings)
    return path


def main(argv: list[str] | None = None) -> None:
    """``python -m fluxion.simulate --incoming FOLDER``: the demo's incoming movie."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m fluxion.simulate",
                                     description=main.__doc__)
    parser.add_argument("--incoming", required=True, help="the re-analysis folder")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--dose", type=float, default=2.0)
    parser.add_argument("--diameter-nm", type=float, default=2.0)
    args = parser.parse_args(argv)
    written = drop_demo_into_incoming(args.incoming, {
        "frames": args.frames, "size": args.size, "dose": args.dose,
        "particle_diameter_nm": args.diameter_nm, "seed": 21})
    print(f"wrote {written}" if written else f"{args.incoming} already holds a movie")


if __name__ == "__main__":
    main()
