"""Figures a person would rather look at than read. Every function returns a Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are written to files; never open a window

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["movie_overview", "training_curves"]


def _add_scale_bar(ax, width_px: int, pixel_size: float | None) -> None:
    """A 1 nm (or 10% of the width) scale bar in the lower-left corner."""
    if not pixel_size:
        return
    length_nm = max(0.5, round(0.2 * width_px * pixel_size / 10.0 * 2) / 2)
    length_px = length_nm * 10.0 / pixel_size
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


def training_curves(histories: dict[str, list[dict[str, float]]]) -> Figure:
    """Training and validation loss per epoch for each method.

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
    return fig
