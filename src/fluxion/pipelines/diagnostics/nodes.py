"""Thin nodes of the diagnostics pipeline; the science is in fluxion.analysis.diagnostics
and fluxion.analysis.physics."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fluxion.analysis.diagnostics import (
    bin_frames,
    bin_mask,
    noise_correlation,
    raw_versus_denoised,
    vacuum_snr,
)
from fluxion.analysis.noise import CorrelationLimits, correlation_flags
from fluxion.analysis.physics import (
    beam_jump_rate,
    crossover_energy,
    knock_on_max_energy,
    thermal_jump_rate,
)
from fluxion.datasets.movies import MovieLoader
from fluxion.movies.records import movie_records, movie_regions
from fluxion.reporting.plots import (
    binned_frames,
    frame_sums,
    migration_rates,
    noise_correlations,
    vacuum_spectra,
)

log = logging.getLogger(__name__)


def measure_noise_correlation(movie_info: dict[str, Any], masks: dict[str, np.ndarray],
                              options: dict[str, Any],
                              ) -> tuple[pd.DataFrame, Figure, dict[str, dict[str, float]],
                                         pd.DataFrame, dict[str, str]]:
    """Vacuum noise correlation of every raw movie against distance and lag, and the flags
    of movies whose noise breaks the blind-spot assumption (table and MLflow run tags)."""
    limits = CorrelationLimits(**options["correlation_limits"])
    curves, rows, metrics, flags = {}, [], {}, []
    for name, record in movie_records(movie_info).items():
        movie = record.frames()
        curve = noise_correlation(movie, movie_regions(masks, name).vacuum,
                                  max_distance=options["max_distance"],
                                  max_lag=min(options["max_lag"], len(movie) - 1))
        curves[name] = curve
        for axis, steps in (("horizontal", "distance"), ("vertical", "distance"),
                            ("temporal", "lag")):
            rows += [{"movie": name, "axis": axis, "step": int(s), "correlation": float(r)}
                     for s, r in zip(curve[steps], curve[axis], strict=True)]
        flags.append({"movie": name, **correlation_flags(curve, limits),
                      "neighbour_limit": limits.neighbour, "frame_limit": limits.frame})
        for key in ("neighbour_correlation", "frame_correlation"):
            metrics[f"{name}.{key}"] = {"value": flags[-1][key], "step": 0}
    table = pd.DataFrame(flags)
    flagged = sorted(table.loc[table["correlated_noise"], "movie"]) if len(table) else []
    tags = {"fluxion.correlated_noise": ",".join(flagged) or "none"}
    return pd.DataFrame(rows), noise_correlations(curves), metrics, table, tags


def compare_raw_and_denoised(movie_info: dict[str, Any], masks: dict[str, np.ndarray],
                             denoised: dict[str, MovieLoader], options: dict[str, Any],
                             ) -> tuple[dict[str, Figure], dict[str, Figure], dict[str, Figure]]:
    """Per movie: vacuum spectra raw vs denoised, n-frame sums with a line scan through the
    particle, and a raw frame next to its 3x3 + 4-frame binning."""
    spectra, sums, binned = {}, {}, {}
    for name, record in movie_records(movie_info).items():
        raw = record.frames()
        regions = movie_regions(masks, name)
        vacuum = regions.vacuum
        n = min(options["sum_frames"], len(raw))
        space, time = options["bin_space"], options["bin_time"]
        binned_movie = bin_frames(raw[: 4 * time], space=space, time=time)
        binned[f"{name}.png"] = binned_frames(
            raw[0], binned_movie[0], title=name, pixel_size=record.metadata.pixel_size,
            snr=(vacuum_snr(raw[:n], vacuum), vacuum_snr(binned_movie,
                                                         bin_mask(vacuum, space))))
        if name not in denoised:
            log.warning("%s has no denoised movie; run `kedro run --pipeline denoise` for the "
                        "raw-vs-denoised diagnostics.", name)
            continue
        compared = raw_versus_denoised(raw, denoised[name](), vacuum, regions.particle,
                                       sum_n=n, spectrum_frames=options["spectrum_frames"])
        spectra[f"{name}.png"] = vacuum_spectra(compared.raw_vacuum, compared.denoised_vacuum,
                                                title=name)
        sums[f"{name}.png"] = frame_sums(compared.raw_sum, compared.denoised_sum,
                                         row=compared.scan_row, n=compared.n_summed, title=name,
                                         pixel_size=record.metadata.pixel_size)
    return spectra, sums, binned


def beam_versus_thermal(conditions: dict[str, Any]) -> tuple[Figure, dict[str, Any]]:
    """Jump rates against activation energy at the recording conditions, and their crossover."""
    beam_args = {k: conditions[k] for k in ("dose_rate", "E0_keV", "mass_u", "Z")}
    emax = knock_on_max_energy(conditions["E0_keV"], conditions["mass_u"])
    energies = np.linspace(0.05, emax * 0.999, 400)
    crossover = crossover_energy(**beam_args, T_K=conditions["T_K"],
                                 attempt_hz=conditions["attempt_hz"])
    figure = migration_rates(
        energies, beam_jump_rate(energies, **beam_args),
        thermal_jump_rate(energies, T_K=conditions["T_K"], attempt_hz=conditions["attempt_hz"]),
        crossover, conditions=(f"{conditions['E0_keV']:g} kV, {conditions['dose_rate']:g} "
                               f"e/A^2/s, M = {conditions['mass_u']:g} u, T = "
                               f"{conditions['T_K']:g} K; Emax = {emax:.2f} eV"))
    return figure, {"knock_on_max_energy_eV": emax, "crossover_energy_eV": crossover}
