"""kedro run --pipeline training: one denoiser per movie (and the baselines to compare)."""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.pipelines.training.nodes import (
    plan_training,
    summarise_training,
    train_movie_models,
)


def training_steps() -> Pipeline:
    """Train the planned ``training_jobs`` into ``movie_models`` and summarise them (also used
    by re-analysis, after its own plan)."""
    return pipeline([
        node(train_movie_models, ["training_jobs", "params:training"], "movie_models",
             name="train_one_model_per_movie"),
        node(summarise_training, ["movie_models", "movie_info"],
             ["training_history", "training_curves"], name="summarise_training"),
    ])


def create_pipeline(**kwargs) -> Pipeline:
    plan = pipeline([node(plan_training,
                          ["movie_info", "params:training", "current_champion"],
                          "training_jobs", name="plan_training")])
    return pipeline(
        plan + training_steps(), namespace="training",
        inputs={"movie_info", "current_champion"},
        outputs={"movie_models", "training_history"},  # curves: training.training_curves
        parameters={"params:training"},
    )
