"""Evaluation: every denoiser scored on held-out frames without (and with) ground truth."""

from fluxion.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
