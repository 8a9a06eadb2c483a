"""kedro run --pipeline evaluation"""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.pipelines.evaluation.nodes import (
    choose_champion,
    comparison_figures,
    evaluate_movies,
    example_frame_figures,
    method_runs,
    methods_to_compare,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(methods_to_compare,
                 ["udvd_model", "udvd_single_model", "n2n_model", "current_champion",
                  "params:evaluation.gaussian_sigma"],
                 ["methods", "candidates"], name="gather_methods"),
            node(evaluate_movies, ["movie_info", "movie_masks", "methods",
                                   "params:evaluation"],
                 ["per_frame_scores", "method_comparison", "artifact_checks"],
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
        inputs={"movie_info", "movie_masks", "udvd_model", "udvd_single_model", "n2n_model",
                "current_champion"},
        outputs={"per_frame_scores", "method_comparison", "artifact_checks",
                 "comparison_figures", "example_frames", "evaluation_runs", "champion_alias"},
        parameters={"params:evaluation", "params:evaluation.gaussian_sigma",
                    "params:evaluation.champion_metric"},
    )
