"""kedro run --pipeline denoise"""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.pipelines.denoise.nodes import denoise_movies, make_previews


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(denoise_movies, ["movie_info", "movie_models", "gate_verdicts",
                                  "params:denoise", "params:evaluation"],
                 ["denoised_movies", "denoise_report"], name="denoise_whole_movies"),
            node(make_previews, ["movie_info", "denoised_movies", "denoise_report",
                                 "params:preview"],
                 "previews", name="make_mp4_previews", tags=["figures"]),
        ],
        namespace="denoise",
        inputs={"movie_info", "movie_models", "gate_verdicts"},
        outputs={"denoised_movies", "denoise_report", "previews"},
        parameters={"params:denoise", "params:preview", "params:evaluation"},
    )
