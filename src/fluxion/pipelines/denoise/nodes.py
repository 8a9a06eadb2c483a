"""Thin nodes of the denoise pipeline; the work is in fluxion.denoising.inference and
fluxion.reporting.preview."""

from __future__ import annotations

from functools import partial
from typing import Any

from fluxion.datasets.movies import MovieLoader
from fluxion.denoising.inference import DenoisedMovieWriter
from fluxion.denoising.models import Denoiser
from fluxion.errors import ParameterError
from fluxion.reporting.preview import preview_frames


def chosen_movies(movie_info: dict[str, Any], movies: list[str] | None) -> dict[str, Any]:
    """The ingested movies to process (``movies``: a list of names; null = all)."""
    if movies is None:
        return movie_info
    missing = sorted(set(movies) - set(movie_info))
    if missing:
        raise ParameterError(f"denoise.movies names {missing}, which were not ingested; the "
                             f"ingested movies are {sorted(movie_info)}.")
    return {name: movie_info[name] for name in movies}


def denoise_movies(movie_info: dict[str, Any], registered: tuple[Denoiser, dict[str, str]],
                   champion: tuple[str, str] | None, options: dict[str, Any],
                   ) -> tuple[dict[str, DenoisedMovieWriter], dict[str, Any]]:
    """A prediction writer per chosen movie with the registered model (the catalog gives each
    its file).

    ``champion`` is the alias holder after evaluation (so that, run together, denoising waits
    for the evaluation's verdict); it is recorded in the report.
    """
    model, which = registered
    movies = chosen_movies(movie_info, options.get("movies"))
    settings = {k: options[k] for k in ("tile", "overlap", "batch", "block", "device")
                if options.get(k) is not None}
    writers = {name: DenoisedMovieWriter(model, MovieLoader(info["copy"])(), settings)
               for name, info in movies.items()}
    report = {"model": which, "champion": list(champion) if champion else None,
              "movies": sorted(movies), "settings": settings}
    return writers, report


def make_previews(movie_info: dict[str, Any], denoised: dict[str, MovieLoader],
                  report: dict[str, Any], options: dict[str, Any]) -> dict[str, partial]:
    """Raw | denoised MP4 of every denoised movie, made from the files on disk."""
    label = f"{report['model']['name']} v{report['model']['version']}"
    previews = {}
    for name in report["movies"]:
        meta = movie_info[name]["metadata"]
        previews[name] = partial(preview_frames, MovieLoader(movie_info[name]["copy"])(),
                                 denoised[name](), frame_rate=meta["frame_rate"],
                                 pixel_size=meta["pixel_size"], label=label,
                                 scale=options["scale"])
    return previews
