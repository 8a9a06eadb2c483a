"""Denoise whole movies with a registered model; write them and MP4 previews."""

from fluxion.pipelines.denoise.pipeline import create_pipeline

__all__ = ["create_pipeline"]
