"""kedro run --pipeline evaluation: each movie's own models against the Gaussian baseline on its
test frames, the quality gate, the champion."""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.pipelines.evaluation.nodes import (
    comparison_figures,
    evaluate_movies,
    example_frame_figures,
    gate_movies,
    label_comparison,
    method_runs,
    promote_champion_model,
)

# figures and MLflow runs stay inside the namespace (evaluation.comparison_figures, ...)
OUTPUTS = {"per_frame_scores", "method_comparison", "artifact_checks", "method_differences",
           "gate_verdicts", "movie_selections", "gate_table"}


def gate_steps() -> Pipeline:
    """Score, gate and label (also used by re-analysis)."""
    return pipeline([
        node(evaluate_movies, ["movie_info", "movie_masks", "movie_models", "params:evaluation"],
             ["per_frame_scores", "scores_by_method", "artifact_checks", "method_differences"],
             name="score_methods_on_test_frames"),
        node(gate_movies, ["movie_info", "movie_models", "artifact_checks",
                           "method_differences", "noise_flags", "movie_selections_before"],
             ["gate_verdicts", "movie_selections", "gate_table"], name="quality_gate"),
        node(label_comparison, ["scores_by_method", "movie_models", "gate_verdicts"],
             "method_comparison", name="label_comparison"),
        node(comparison_figures, "method_comparison", "comparison_figures",
             name="plot_upsnr_comparison", tags=["figures"]),
        node(example_frame_figures, ["movie_info", "movie_models", "params:evaluation"],
             "example_frames", name="plot_example_frames", tags=["figures"]),
        node(method_runs, ["method_comparison", "artifact_checks", "gate_verdicts",
                           "movie_info", "movie_models", "params:evaluation"],
             "evaluation_runs", name="log_one_run_per_movie_and_method",
             tags=["mlflow"]),
    ])


def create_pipeline(**kwargs) -> Pipeline:
    promote = pipeline([node(
        promote_champion_model, ["gate_verdicts", "method_comparison", "params:evaluation",
                                 "params:training", "current_champion"],
        "champion_alias", name="promote_the_best_model")])
    return pipeline(
        gate_steps() + promote, namespace="evaluation",
        inputs={"movie_info", "movie_masks", "movie_models", "noise_flags",
                "movie_selections_before", "current_champion"},
        outputs=OUTPUTS | {"champion_alias"},
        parameters={"params:evaluation", "params:training"},
    )
