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
from fluxion.movies.incoming import IncomingBatch, IncomingState
from fluxion.movies.ingest import validated_frames

log = logging.getLogger(__name__)


def screen_new_movies(incoming: IncomingBatch, validation: dict[str, Any],
                      ) -> tuple[dict[str, MovieLoader], dict[str, str], IncomingBatch]:
    """The new movies that can be read whole; the others are reported and skipped (recorded
    under their content, so they are retried once their file changes). The batch is passed on
    as it was looked at, so the record names the very content that was processed.

    Each movie is streamed through the same checks as ingestion, so a corrupt one cannot stop
    the others. Movies still being written are left for the next run.
    """
    good, rejected = {}, {}
    for name, path in incoming.paths().items():
        loader = MovieLoader(path)
        try:
            for _ in validated_frames(loader(), source=loader.path, **validation):
                pass
            loader.metadata()
        except (FluxionError, OSError) as error:
            rejected[name] = str(error)
            log.error("skipping %s: %s", loader.path, error)
            continue
        good[name] = loader
    log.info("re-analysis: %d new movie(s), %d skipped, %d still being written", len(good),
             len(rejected), len(incoming.scan.settling))
    return good, rejected, incoming


def store_results(series: pd.DataFrame, summary: pd.DataFrame, movie_info: dict[str, Any],
                  masks: dict[str, np.ndarray], denoised: dict[str, MovieLoader],
                  report: dict[str, Any], rejected: dict[str, str], incoming: IncomingBatch,
                  ) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, Any]], dict[str, Any],
                             IncomingState]:
    """One table of per-frame rows per movie (written whole, so a repeated run replaces it),
    one MLflow run per movie, a report of the batch (one per run) and the record: the
    processed movies done, the unreadable ones skipped, each under its content hash."""
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
    state, pending = incoming.state, incoming.scan.pending
    for name in movie_info:
        state.record(name, pending[name][1], "done")
    for name, reason in rejected.items():
        state.record(name, pending[name][1], "skipped", reason)
    batch = {"processed": sorted(movie_info), "skipped": rejected,
             "still_skipped": incoming.scan.still_skipped,
             "still_being_written": incoming.scan.settling, "model": model}
    return results, runs, batch, state
