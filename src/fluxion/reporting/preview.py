"""MP4 previews: raw | denoised side by side, with a frame counter and a scale bar."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fluxion.movies.io import LazyMovie

__all__ = ["display_range", "preview_frames", "scale_bar", "write_video"]


def display_range(movie: np.ndarray | LazyMovie, *, low: float = 1.0, high: float = 99.5,
                  samples: int = 16) -> tuple[float, float]:
    """Grey-level window from percentiles of up to ``samples`` evenly spaced frames."""
    index = np.unique(np.linspace(0, len(movie) - 1, samples).round().astype(int))
    values = np.asarray(movie[index], np.float32)
    lo, hi = np.percentile(values, [low, high])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def _grey(frame: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    lo, hi = window
    return (np.clip((frame - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


_LEGIBLE = {"fill": (255, 255, 0), "stroke_width": 2, "stroke_fill": (0, 0, 0)}


def preview_frames(raw: np.ndarray | LazyMovie, denoised: Iterable[np.ndarray], *,
                   frame_rate: float | None = None, pixel_size: float | None = None,
                   label: str = "denoised", scale: int = 2) -> Iterator[np.ndarray]:
    """RGB frames: raw (left) | denoised (right), upscaled ``scale`` times, annotated in
    yellow with a black outline (legible on any background), at a twentieth of the height."""
    raw_window = display_range(raw)
    font = ImageFont.load_default(size=max(14, raw.shape[1] * scale // 20))
    denoised_window = None
    total = len(raw)
    for t, frame in enumerate(denoised):
        if denoised_window is None:  # from the first denoised frame: the movie streams past
            denoised_window = tuple(np.percentile(frame, [1.0, 99.5]).tolist())
        pair = np.hstack([_grey(np.asarray(raw[t]), raw_window), _grey(frame, denoised_window)])
        image = Image.fromarray(pair).resize((pair.shape[1] * scale, pair.shape[0] * scale),
                                             Image.NEAREST).convert("RGB")
        draw = ImageDraw.Draw(image)
        width = image.width // 2
        stamp = f"frame {t + 1}/{total}" + (f"  t = {t / frame_rate:.3f} s" if frame_rate else "")
        draw.text((4, 4), f"raw   {stamp}", font=font, **_LEGIBLE)
        draw.text((width + 4, 4), label, font=font, **_LEGIBLE)
        if pixel_size:
            _scale_bar(draw, width, image.height, pixel_size / scale, font)
        yield np.asarray(image)


def scale_bar(width_px: int, angstrom_per_px: float) -> tuple[float, float]:
    """A round scale-bar length (nm, in steps of 0.5) near a fifth of the width, and its
    length in pixels."""
    nm = max(0.5, round(0.2 * width_px * angstrom_per_px / 10.0 * 2) / 2)
    return nm, nm * 10.0 / angstrom_per_px


def _scale_bar(draw: ImageDraw.ImageDraw, width: int, height: int, angstrom_per_px: float,
               font) -> None:
    nm, length = scale_bar(width, angstrom_per_px)
    y = height - 10
    for x0 in (8, width + 8):
        draw.rectangle([x0 - 1, y - 1, x0 + length + 1, y + 4], fill=(0, 0, 0))
        draw.rectangle([x0, y, x0 + length, y + 3], fill=(255, 255, 255))
        draw.text((x0, y - 4), f"{nm:g} nm", font=font, anchor="ld", **_LEGIBLE)


def write_video(path: str | Path, frames: Iterable[np.ndarray], *, fps: float = 15.0) -> Path:
    """Stream RGB frames to an H.264 MP4 (padded to even sizes), written atomically."""
    import imageio_ffmpeg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial" + path.suffix)
    writer = None
    try:
        for frame in frames:
            height, width = frame.shape[:2]
            frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)))
            if writer is None:
                writer = imageio_ffmpeg.write_frames(
                    str(partial), (frame.shape[1], frame.shape[0]), fps=fps, codec="libx264",
                    pix_fmt_out="yuv420p", macro_block_size=1, quality=7,
                    ffmpeg_log_level="error")
                writer.send(None)
            writer.send(np.ascontiguousarray(frame))
    finally:
        if writer is not None:
            writer.close()
    partial.replace(path)
    return path
