"""kedro run --pipeline reanalysis"""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.pipelines.denoise import create_pipeline as denoise_pipeline
from fluxion.pipelines.ingestion.pipeline import validation_pipeline
from fluxion.pipelines.reanalysis.nodes import screen_new_movies, store_results
from fluxion.pipelines.topology import create_pipeline as topology_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    screen = pipeline([node(screen_new_movies,
                            ["incoming_movies", "params:ingestion.validation"],
                            ["movies", "rejected_movies", "screened_batch"],
                            name="screen_new_movies")])
    store = pipeline([node(store_results,
                           ["alps_series", "alps_summary", "movie_info", "movie_masks",
                            "denoised_movies", "denoise_report", "rejected_movies",
                            "screened_batch"],
                           ["reanalysis_results", "reanalysis_runs", "reanalysis_report",
                            "reanalysis_state"],
                           name="store_results_and_record")])
    steps = (screen + validation_pipeline() + denoise_pipeline() + topology_pipeline() + store)
    return pipeline(
        steps, namespace="reanalysis",
        inputs={"incoming_movies", "champion_model", "champion_alias"},
        outputs={"reanalysis_results", "reanalysis_runs", "reanalysis_report",
                 "reanalysis_state"},
        parameters={"params:ingestion.validation", "params:ingestion.regions",
                    "params:ingestion.splits", "params:denoise", "params:preview",
                    "params:topology"},
    )
