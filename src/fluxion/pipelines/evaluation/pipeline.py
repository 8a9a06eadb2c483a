"""kedro run --pipeline evaluation"""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.denoising.methods import trainable_methods
from fluxion.pipelines.evaluation.nodes import (
    comparison_figures,
    evaluate_movies,
    example_frame_figures,
    method_runs,
    methods_to_compare,
)
from fluxion.scoring.selection import choose_champion


def create_pipeline(**kwargs) -> Pipeline:
    trained = {m.key: f"{m.key}_model" for m in trainable_methods()}
    return pipeline(
        [
            node(methods_to_compare,
                 {"champion": "current_champion",
                  "gaussian_sigma": "params:evaluation.gaussian_sigma", **trained},
                 ["methods", "candidates"], name="gather_methods"),
            node(evaluate_movies, ["movie_info", "movie_masks", "methods",
                                   "params:evaluation"],
                 ["per_frame_scores", "method_comparison", "artifact_checks",
                  "method_differences"],
                 name="score_methods_on_test_frames"),
            node(comparison_figures, "method_comparison", "comparison_figures",
                 name="plot_upsnr_comparison"),
            node(example_frame_figures, ["movie_info", "methods"], "example_frames",
                 name="plot_example_frames"),
            node(method_runs, ["method_comparison", "artifact_checks", "candidates"],
                 "evaluation_runs", name="log_one_run_per_method"),
            node(choose_champion, ["method_comparison", "candidates",
                                   "params:evaluation.champion_metric"],
                 "champion_alias", name="promote_the_best_model"),
        ],
        namespace="evaluation",
        inputs={"movie_info", "movie_masks", "current_champion", *trained.values()},
        outputs={"per_frame_scores", "method_comparison", "artifact_checks",
                 "method_differences", "comparison_figures", "example_frames",
                 "evaluation_runs", "champion_alias"},
        parameters={"params:evaluation", "params:evaluation.gaussian_sigma",
                    "params:evaluation.champion_metric"},
    )
