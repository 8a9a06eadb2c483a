"""Training: UDVD, single-frame UDVD and Neighbor2Neighbor on a noisy movie, with MLflow."""

from fluxion.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
