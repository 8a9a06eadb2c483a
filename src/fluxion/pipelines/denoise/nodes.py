"""Thin nodes of the denoise pipeline: each movie denoised by the model its gate selected (the
Gaussian baseline where none passed). The work is in fluxion.denoising.inference and
fluxion.reporting.preview."""

from __future__ import annotations

from functools import partial
from typing import Any

from fluxion.datasets.movies import MovieLoader
from fluxion.denoising.inference import DenoisedMovieWriter
from fluxion.denoising.models import Denoiser, GaussianDenoiser
from fluxion.denoising.per_movie import own_models
from fluxion.errors import ParameterError
from fluxion.movies.records import MovieRecord, movie_records
from fluxion.reporting.preview import preview_frames
from fluxion.scoring.evaluation import EvaluationOptions
from fluxion.scoring.gate import Verdict


def chosen_movies(movie_info: dict[str, Any], movies: list[str] | None) -> dict[str, Any]:
    """The ingested movies to process (``movies``: a list of names; null = all)."""
    if movies is None:
        return movie_info
    missing = sorted(set(movies) - set(movie_info))
    if missing:
        raise ParameterError(f"denoise.movies names {missing}, which were not ingested; the "
                             f"ingested movies are {sorted(movie_info)}.")
    return {name: movie_info[name] for name in movies}


def gated_model(record: MovieRecord, verdict: Verdict | None,
                movie_models: dict[str, dict[str, Denoiser]], sigma: float) -> Denoiser:
    """The model the gate selected for this movie, or the Gaussian baseline when it failed;
    an error when the movie was never gated or its model changed since."""
    if verdict is None:
        raise ParameterError(f"{record.name}: no quality-gate verdict; run `kedro run "
                             "--pipeline evaluation` before denoising (nothing touches a movie "
                             "before the gate).")
    if not verdict.gate_passed:
        return GaussianDenoiser(sigma)
    model = own_models(record, movie_models).get(verdict.method)
    registered = (getattr(model, "registered", None) or {}) if model is not None else {}
    if model is None or (verdict.version and registered.get("version") != verdict.version):
        raise ParameterError(f"{record.name}: the {verdict.method} model that passed the gate "
                             f"(version {verdict.version}) is not the one in data/06_models "
                             "any more; run `kedro run --pipeline evaluation` again.")
    return model


def report_entry(record: MovieRecord, verdict: Verdict) -> dict[str, Any]:
    """What denoised one movie, for ``denoise_report.json`` and every results table."""
    return {"name": verdict.name or verdict.method, "version": verdict.version,
            "method": verdict.method, "gate_passed": verdict.gate_passed,
            "reasons": verdict.reasons, "movie_sha256": record.sha256}


def denoise_movies(movie_info: dict[str, Any], movie_models: dict[str, dict[str, Denoiser]],
                   verdicts: dict[str, dict[str, Any]], options: dict[str, Any],
                   evaluation: dict[str, Any],
                   ) -> tuple[dict[str, DenoisedMovieWriter], dict[str, Any]]:
    """A prediction writer per chosen movie with the model its gate selected (the catalog
    gives each its file), and the report of which model denoised which movie."""
    sigma = EvaluationOptions.from_dict(evaluation).gaussian_sigma
    records = movie_records(chosen_movies(movie_info, options.get("movies")))
    settings = {k: options[k] for k in ("tile", "overlap", "batch", "block", "device",
                                        "precision", "compile")
                if options.get(k) is not None}
    writers, movies = {}, {}
    for name, record in records.items():
        verdict = Verdict.from_dict(verdicts[name]) if name in verdicts else None
        model = gated_model(record, verdict, movie_models, sigma)
        writers[name] = DenoisedMovieWriter(model, record.frames(), settings)
        movies[name] = report_entry(record, verdict)
    return writers, {"movies": movies, "settings": settings}


def make_previews(movie_info: dict[str, Any], denoised: dict[str, MovieLoader],
                  report: dict[str, Any], options: dict[str, Any]) -> dict[str, partial]:
    """Raw | denoised MP4 of every denoised movie, made from the files on disk."""
    previews = {}
    for name, entry in report["movies"].items():
        record = movie_records({name: movie_info[name]})[name]
        label = entry["name"] + (f" v{entry['version']}" if entry["version"] else "") + (
            "" if entry["gate_passed"] else " (gate failed)")
        previews[name] = partial(preview_frames, record.frames(), denoised[name](),
                                 frame_rate=record.metadata.frame_rate,
                                 pixel_size=record.metadata.pixel_size, label=label,
                                 scale=options["scale"])
    return previews
