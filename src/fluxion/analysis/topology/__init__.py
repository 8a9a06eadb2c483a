"""Topology of the particle: persistence, ALPS / ALPS* / entropy, series and per-movie studies.

``kernels`` holds the compiled work, ``persistence`` the public per-image API, ``series`` the
fan-out over frames (threads or Dask), ``movies`` the per-movie calibration and summaries.
"""

from fluxion.analysis.topology.movies import (
    calibrate_on_vacuum,
    calibration_group,
    extreme_frames,
    movie_series,
    size_group,
    summarise_series,
)
from fluxion.analysis.topology.persistence import (
    REFERENCE_BETA0,
    REFERENCE_BETA1,
    alps,
    alps_from_lifetimes,
    calibrate_alps,
    fit_alps_scaling,
    persistence_diagram,
    persistent_entropy,
    smooth,
    standardize_frames,
    standardized_alps,
)
from fluxion.analysis.topology.series import alps_series

__all__ = [
    "REFERENCE_BETA0",
    "REFERENCE_BETA1",
    "alps",
    "alps_from_lifetimes",
    "alps_series",
    "calibrate_alps",
    "calibrate_on_vacuum",
    "calibration_group",
    "extreme_frames",
    "fit_alps_scaling",
    "movie_series",
    "persistence_diagram",
    "persistent_entropy",
    "size_group",
    "smooth",
    "standardize_frames",
    "standardized_alps",
    "summarise_series",
]
