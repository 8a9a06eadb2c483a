"""Re-analysis: new movies in data/01_raw/incoming/ -> ingest -> champion -> topology."""

from fluxion.pipelines.reanalysis.pipeline import create_pipeline

__all__ = ["create_pipeline"]
