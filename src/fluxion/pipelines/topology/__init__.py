"""Topology: ALPS, ALPS* and entropy per frame, their time series and size dependence."""

from fluxion.pipelines.topology.pipeline import create_pipeline

__all__ = ["create_pipeline"]
