"""Ingestion: validate movies, keep float32 copies, split frames, find vacuum and particle."""

from fluxion.pipelines.ingestion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
