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
from fluxion.movies.records import movie_records, movie_regions

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
    """One table of per-frame rows per movie (written whole, so a repeated run replaces it;
    each row names its ``denoiser``, ``model_version`` and ``gate_passed``), one MLflow run per
    movie, a report of the batch (one per run) and the record: the processed movies done, the
    unreadable ones skipped, each under its content hash."""
    results, runs = {}, {}
    for name, record in movie_records(movie_info).items():
        entry = report["movies"][name]
        results[name] = series[series["movie"] == name].reset_index(drop=True)
        gain = snr_gain(record.frames(), denoised[name](), movie_regions(masks, name).vacuum)
        denoised_rows = summary[(summary["movie"] == name) & (summary["source"] == "denoised")]
        runs[name] = {
            "params": {"movie": name, "source": record.source, "denoiser": entry["name"],
                       "model_version": entry["version"] or "none"},
            "tags": {"movie": name, "gate_passed": str(entry["gate_passed"]),
                     "gate_reason": "; ".join(entry["reasons"])[:4000]},
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
             "still_being_written": incoming.scan.settling, "denoisers": report["movies"]}
    return results, runs, batch, state
