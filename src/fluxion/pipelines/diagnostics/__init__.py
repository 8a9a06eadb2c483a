"""Diagnostics: noise correlations, vacuum spectra, frame sums, binning, beam vs thermal."""

from fluxion.pipelines.diagnostics.pipeline import create_pipeline

__all__ = ["create_pipeline"]
