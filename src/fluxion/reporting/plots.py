"""Figures a person would rather look at than read. Every function returns a Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are written to files; never open a window

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from fluxion.reporting.preview import scale_bar

__all__ = [
    "alps_time_series",
    "binned_frames",
    "example_frames",
    "extreme_frame_images",
    "frame_sums",
    "migration_rates",
    "movie_overview",
    "noise_correlations",
    "persistence_diagrams",
    "size_dependence",
    "training_curves",
    "upsnr_comparison",
    "vacuum_spectra",
]


def _add_scale_bar(ax, width_px: int, pixel_size: float | None) -> None:
    """A scale bar of a round length near a fifth of the width, in the lower-left corner."""
    if not pixel_size:
        return
    length_nm, length_px = scale_bar(width_px, pixel_size)
    y = ax.get_ylim()[0] * 0.95
    ax.plot([0.05 * width_px, 0.05 * width_px + length_px], [y, y], color="white", lw=3)
    ax.text(0.05 * width_px + length_px / 2, y * 0.97, f"{length_nm:g} nm", color="white",
            ha="center", va="bottom", fontsize=9)


def movie_overview(mean_image: np.ndarray, vacuum_mask: np.ndarray, polygon: np.ndarray, *,
                   title: str, pixel_size: float | None = None, summary: str = "") -> Figure:
    """The time-averaged movie with the vacuum region (cyan) and particle polygon (red)."""
    fig, ax = plt.subplots(figsize=(6, 6), layout="constrained")
    ax.imshow(mean_image, cmap="gray")
    ax.contour(vacuum_mask, levels=[0.5], colors="cyan", linewidths=1)
    closed = np.vstack([polygon, polygon[:1]])
    ax.plot(closed[:, 0], closed[:, 1], color="red", lw=1.5)
    _add_scale_bar(ax, mean_image.shape[1], pixel_size)
    ax.set_title(f"{title}: time average\ncyan = vacuum, red = particle", fontsize=10)
    if summary:
        ax.set_xlabel(summary, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def training_curves(histories: dict[str, list[dict[str, float]]], *, title: str = "") -> Figure:
    """Training and validation loss per epoch for each method (of one movie).

    The losses are MSEs to noisy targets, so they sit just above the noise variance; the
    Neighbor2Neighbor training loss grows as its regulariser weight is ramped up.
    """
    fig, axes = plt.subplots(1, len(histories), figsize=(4.5 * len(histories), 3.5),
                             layout="constrained", squeeze=False)
    for ax, (method, history) in zip(axes[0], histories.items(), strict=True):
        epochs = [row["epoch"] for row in history]
        ax.plot(epochs, [row["train_loss"] for row in history], "o-", label="training")
        ax.plot(epochs, [row["val_loss"] for row in history], "s-", label="validation")
        best = min(history, key=lambda row: row["val_loss"])
        ax.axvline(best["epoch"], color="grey", ls=":", label=f"best (epoch {best['epoch']})")
        ax.set_title(method)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (counts$^2$)")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def upsnr_comparison(summary, *, title: str = "", selected: str | None = None) -> Figure:
    """uPSNR with its confidence interval per method, for each reference and region; the
    method the quality gate ``selected`` is drawn as a star and named in bold."""
    scored = summary[summary["reference"] != "truth"]
    panels = list(scored.groupby(["reference", "region"], sort=False))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6),
                             layout="constrained", squeeze=False)
    for ax, ((reference, region), group) in zip(axes[0], panels, strict=True):
        y = np.arange(len(group))
        values = group[["upsnr_low", "upsnr", "upsnr_high"]].to_numpy(float)
        finite = values[np.isfinite(values)]
        ceiling = (finite.max() if finite.size else 0.0) + 5  # uMSE <= 0: uPSNR = inf
        values = np.where(np.isfinite(values), values, ceiling)
        # the interval as drawn from its ends: a percentile bootstrap interval need not
        # contain the point estimate (an error bar would need it to)
        ax.hlines(y, values[:, 0], values[:, 2], color="C0")
        ax.plot(values[:, 0], y, "|", values[:, 2], y, "|", color="C0", ms=8)
        ax.plot(values[:, 1], y, "o", color="C0")
        unresolved = values[:, 1] >= ceiling
        ax.plot(values[unresolved, 1], y[unresolved], ">", color="red",
                label="uMSE <= 0 (beyond resolution)" if unresolved.any() else None)
        chosen = (group["method"] == selected).to_numpy()
        ax.plot(values[chosen, 1], y[chosen], "*", color="orange", ms=14, zorder=3,
                label="selected by the quality gate" if chosen.any() else None)
        if unresolved.any() or chosen.any():
            ax.legend(fontsize=7, loc="lower right")
        ax.set_yticks(y, group["method"])
        for tick, is_chosen in zip(ax.get_yticklabels(), chosen, strict=True):
            tick.set_fontweight("bold" if is_chosen else "normal")
        ax.set_xlabel("uPSNR (dB), 90% CI")
        ax.set_title(f"{reference} references, {region}", fontsize=10)
        ax.invert_yaxis()
    fig.suptitle(title)
    return fig


def example_frames(frames: dict[str, np.ndarray], *, title: str = "",
                   pixel_size: float | None = None) -> Figure:
    """One frame side by side: raw, every method's output, the ground truth if any, each with
    a scale bar (``pixel_size`` in Angstrom per pixel)."""
    fig, axes = plt.subplots(1, len(frames), figsize=(3 * len(frames), 3.3),
                             layout="constrained", squeeze=False)
    reference = frames.get("truth", next(iter(frames.values())))
    lo, hi = np.percentile(reference, [1, 99.5])
    for ax, (name, frame) in zip(axes[0], frames.items(), strict=True):
        window = np.percentile(frame, [1, 99.5]) if name == "raw" else (lo, hi)
        ax.imshow(frame, cmap="gray", vmin=window[0], vmax=window[1])
        _add_scale_bar(ax, frame.shape[1], pixel_size)
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
    fig.suptitle(title)
    return fig


def noise_correlations(curves: dict[str, dict[str, np.ndarray]]) -> Figure:
    """|Pearson r| of vacuum noise against pixel distance (both axes) and frame lag, log scale."""
    fig, (space, time) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    for movie, c in curves.items():
        line = space.semilogy(c["distance"], np.abs(c["horizontal"]) + 1e-6, "o-",
                              label=f"{movie} horizontal")[0]
        space.semilogy(c["distance"], np.abs(c["vertical"]) + 1e-6, "s--",
                       color=line.get_color(), label=f"{movie} vertical")
        time.semilogy(c["lag"], np.abs(c["temporal"]) + 1e-6, "o-", label=movie)
    space.set_xlabel("pixel distance")
    time.set_xlabel("frame lag")
    for ax in (space, time):
        ax.set_ylabel("|correlation| of vacuum noise")
        ax.legend(fontsize=7)
    space.set_title("between pixels")
    time.set_title("between frames")
    return fig


def vacuum_spectra(raw: np.ndarray, denoised: np.ndarray, *, title: str = "") -> Figure:
    """Mean vacuum frame and log power spectrum, raw vs denoised (phantom lattices show as
    spots in the spectrum)."""
    fig, axes = plt.subplots(2, 2, figsize=(7, 7), layout="constrained")
    for row, (name, patches) in enumerate((("raw", raw), ("denoised", denoised))):
        centred = patches - patches.mean(axis=(1, 2), keepdims=True)
        power = np.fft.fftshift((np.abs(np.fft.fft2(centred)) ** 2).mean(axis=0))
        axes[row, 0].imshow(patches.mean(axis=0), cmap="gray")
        axes[row, 0].set_title(f"{name}: mean vacuum", fontsize=10)
        axes[row, 1].imshow(np.log10(power + 1e-12), cmap="magma")
        axes[row, 1].set_title(f"{name}: log power spectrum", fontsize=10)
        for ax in axes[row]:
            ax.set_axis_off()
    fig.suptitle(title)
    return fig


def frame_sums(raw_sum: np.ndarray, denoised_sum: np.ndarray, *, row: int, n: int,
               title: str = "", pixel_size: float | None = None) -> Figure:
    """n-frame sums of raw and denoised frames (with scale bars), and a line scan through
    ``row`` (the yellow line)."""
    fig = plt.figure(figsize=(10, 6.5), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=[3, 2])
    for col, (name, image) in enumerate((("raw", raw_sum), ("denoised", denoised_sum))):
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(image, cmap="gray")
        ax.axhline(row, color="yellow", lw=0.8, label="line scan")
        _add_scale_bar(ax, image.shape[1], pixel_size)
        ax.legend(fontsize=7, loc="upper right")
        ax.set_title(f"sum of {n} {name} frames", fontsize=10)
        ax.set_axis_off()
    scan = fig.add_subplot(grid[1, :])
    scan.plot(raw_sum[row], label="raw", alpha=0.7)
    scan.plot(denoised_sum[row], label="denoised")
    scan.set_xlabel("column (px)")
    scan.set_ylabel(f"counts in {n} frames")
    scan.legend()
    fig.suptitle(title)
    return fig


def binned_frames(raw: np.ndarray, binned: np.ndarray, *, snr: tuple[float, float],
                  title: str = "", pixel_size: float | None = None) -> Figure:
    """A raw frame next to the same data binned 3x3 in space and 4 frames in time, each with a
    scale bar (``pixel_size`` of the raw frame, Angstrom per pixel)."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), layout="constrained")
    for ax, image, name, value in zip(axes, (raw, binned), ("raw frame", "3x3 + 4-frame bin"),
                                      snr, strict=True):
        ax.imshow(image, cmap="gray")
        binning = raw.shape[1] / image.shape[1]
        _add_scale_bar(ax, image.shape[1], pixel_size * binning if pixel_size else None)
        ax.set_title(f"{name}: vacuum SNR {value:.2f}", fontsize=10)
        ax.set_axis_off()
    fig.suptitle(title)
    return fig


def migration_rates(energies: np.ndarray, beam: np.ndarray, thermal: np.ndarray,
                    crossover: float, *, conditions: str = "") -> Figure:
    """Beam-driven and thermal jump rates against activation energy, with their crossover."""
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    ax.semilogy(energies, beam, label="beam-driven (knock-on)")
    ax.semilogy(energies, thermal, label="thermal, A exp(-Ea/kT)")
    ax.axvline(crossover, color="grey", ls=":", label=f"crossover {crossover:.2f} eV")
    ax.set_xlabel("activation energy Ea (eV)")
    ax.set_ylabel("jump rate (1/s)")
    ax.set_ylim(1e-8, 1e12)
    ax.set_title(conditions, fontsize=9)
    ax.legend()
    return fig


def alps_time_series(series, *, title: str = "", window: int = 15,
                     study_thresholds: bool = False) -> Figure:
    """ALPS* per frame (denoised and raw) with a rolling mean. The study's 1.1 / 1.3 guides
    are drawn only with ``study_thresholds`` (ALPS* on the study's own betas): with a movie's
    own calibration they do not apply."""
    fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    x_name = "time_s" if series["time_s"].notna().all() else "frame"
    for source, group in series.groupby("source", sort=False):
        line = ax.plot(group[x_name], group["alps_star"], ".", alpha=0.35, label=source)[0]
        rolling = group["alps_star"].rolling(window, center=True, min_periods=1).mean()
        ax.plot(group[x_name], rolling, color=line.get_color(), lw=2,
                label=f"{source}, rolling mean ({window})")
    if study_thresholds:
        ax.axhline(1.3, color="green", ls="--", lw=1, label="study: ordered (>= 1.3)")
        ax.axhline(1.1, color="red", ls="--", lw=1, label="study: disordered (<= 1.1)")
    ax.set_xlabel("time (s)" if x_name == "time_s" else "frame")
    ax.set_ylabel("ALPS* (1 = noise-like)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=3)
    return fig


def persistence_diagrams(diagrams: dict[str, np.ndarray], *, title: str = "") -> Figure:
    """H0 persistence diagrams (persim) of chosen frames, side by side."""
    from persim import plot_diagrams

    fig, axes = plt.subplots(1, len(diagrams), figsize=(4.2 * len(diagrams), 4),
                             layout="constrained", squeeze=False)
    for ax, (name, diagram) in zip(axes[0], diagrams.items(), strict=True):
        plot_diagrams([diagram[:, :2]], ax=ax, labels=["H0 (basins of local minima)"],
                      show=False)
        ax.set_xlabel("birth (smoothed intensity, counts)")
        ax.set_ylabel("death (smoothed intensity, counts)")
        ax.set_title(name, fontsize=10)
    fig.suptitle(title)
    return fig


def extreme_frame_images(frames: dict[str, tuple[np.ndarray, np.ndarray]],
                         polygon: np.ndarray, *, title: str = "",
                         pixel_size: float | None = None) -> Figure:
    """Frames with the particle polygon and the birth points (local minima) inside it, with a
    legend and a scale bar."""
    fig, axes = plt.subplots(1, len(frames), figsize=(4.2 * len(frames), 4.2),
                             layout="constrained", squeeze=False)
    closed = np.vstack([polygon, polygon[:1]])
    for ax, (name, (image, diagram)) in zip(axes[0], frames.items(), strict=True):
        ax.imshow(image, cmap="gray")
        ax.plot(closed[:, 0], closed[:, 1], color="red", lw=1, label="particle polygon")
        lifetimes = diagram[:, 1] - diagram[:, 0]
        ax.scatter(diagram[:, 2], diagram[:, 3], s=8 + 60 * lifetimes / max(lifetimes.max(),
                                                                             1e-12),
                   c="cyan", alpha=0.7, linewidths=0,
                   label="local minimum (size: persistence)")
        _add_scale_bar(ax, image.shape[1], pixel_size)
        ax.legend(fontsize=7, loc="upper right")
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
    fig.suptitle(title)
    return fig


def size_dependence(summary, *, small_max_nm: float, large_min_nm: float) -> Figure:
    """Mean ALPS* per movie (with its block-bootstrap interval) and its std against particle
    diameter, within one calibration group: the group of the first row (denoised movies when
    there are any); the title names it, how many movies of other groups were left out, and the
    movies left out because their denoiser failed its quality gate."""
    group = summary["calibration_group"].iloc[0] if len(summary) else ""
    rows = summary[summary["calibration_group"] == group]
    others = summary.loc[summary["calibration_group"] != group, "movie"].nunique()
    failed = []
    if "gate_passed" in rows and (rows["source"] == "denoised").any():
        failed = sorted(rows.loc[~rows["gate_passed"].astype(bool), "movie"])
        rows = rows[rows["gate_passed"].astype(bool)]
    fig, (mean_ax, std_ax) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for size, picked in rows.groupby("size_group"):
        error = np.abs(picked[["alps_star_low", "alps_star_high"]].to_numpy().T
                       - picked["alps_star_mean"].to_numpy())
        mean_ax.errorbar(picked["particle_diameter_nm"], picked["alps_star_mean"], yerr=error,
                         fmt="o", capsize=3, label=size)
        std_ax.scatter(picked["particle_diameter_nm"], picked["alps_star_std"], label=size, s=40)
    for ax in (mean_ax, std_ax):
        ax.axvline(small_max_nm, color="grey", ls=":", lw=1)
        ax.axvline(large_min_nm, color="grey", ls=":", lw=1)
        ax.set_xlabel("particle diameter (nm, equivalent circle)")
        if len(rows):
            ax.legend(title="size group", fontsize=8)
    mean_ax.set_ylabel("mean ALPS* over frames (90% block-bootstrap interval)")
    std_ax.set_ylabel("std of ALPS* over frames")
    note = f"; {others} movie(s) of other groups left out" if others else ""
    if failed:
        note += f"; left out, denoiser failed its gate: {', '.join(failed)}"
    fig.suptitle(f"calibration group: {group}{note}", fontsize=10)
    return fig
