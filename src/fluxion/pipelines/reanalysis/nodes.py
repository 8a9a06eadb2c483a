"""Nodes of the re-analysis pipeline that are its own: screening new movies, storing results.

Everything in between is the ingestion, denoise and topology pipelines' nodes, reused.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from fluxion.analysis.diagnostics import snr_gain
from fluxion.datasets.movies import MovieLoader
from fluxion.errors import FluxionError
from fluxion.movies.ingest import validated_frames
from fluxion.movies.io import is_movie_path

log = logging.getLogger(__name__)


def screen_new_movies(incoming: dict[str, MovieLoader], validation: dict[str, Any],
                      ) -> tuple[dict[str, MovieLoader], dict[str, str]]:
    """The new movies that can be read whole; the others are reported and skipped.

    Sidecars and hidden files in the folder are not movies. Each movie is streamed through the
    same checks as ingestion, so a corrupt one cannot stop the others.
    """
    good, rejected = {}, {}
    for partition, loader in sorted(incoming.items()):
        if loader.path.name.startswith(".") or not is_movie_path(loader.path):
            continue
        try:
            for _ in validated_frames(loader(), source=loader.path, **validation):
                pass
            loader.metadata()
        except (FluxionError, OSError) as error:
            rejected[partition] = str(error)
            log.error("skipping %s: %s", loader.path, error)
            continue
        good[loader.name] = loader
    log.info("re-analysis: %d new movie(s), %d skipped", len(good), len(rejected))
    return good, rejected


def store_results(series: pd.DataFrame, summary: pd.DataFrame, movie_info: dict[str, Any],
                  masks: dict[str, np.ndarray], denoised: dict[str, MovieLoader],
                  report: dict[str, Any], rejected: dict[str, str],
                  ) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, Any]], dict[str, Any]]:
    """One table of per-frame rows per movie (written whole, so a repeated run replaces it),
    one MLflow run per movie, and a report of the batch."""
    model = report["model"]
    results, runs = {}, {}
    for name, info in movie_info.items():
        rows = series[series["movie"] == name].assign(
            model=model["name"], model_version=model["version"])
        results[name] = rows.reset_index(drop=True)
        gain = snr_gain(MovieLoader(info["copy"])(), denoised[name](), masks[f"{name}.vacuum"])
        denoised_rows = summary[(summary["movie"] == name) & (summary["source"] == "denoised")]
        runs[name] = {
            "params": {"movie": name, "source": info["source"], "model": model["name"],
                       "model_version": model["version"]},
            "metrics": {"alps_star_mean": float(denoised_rows["alps_star_mean"].iloc[0]),
                        "alps_star_std": float(denoised_rows["alps_star_std"].iloc[0]),
                        "vacuum_snr_gain": float(gain)}}
    batch = {"processed": sorted(movie_info), "skipped": rejected, "model": model}
    return results, runs, batch
