"""kedro run --pipeline reanalysis: every new movie gets its own model (the champion fine-tuned
on it), the quality gate, then denoising and topology."""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.pipelines.denoise import create_pipeline as denoise_pipeline
from fluxion.pipelines.diagnostics.pipeline import noise_flag_steps
from fluxion.pipelines.evaluation.pipeline import gate_steps
from fluxion.pipelines.ingestion.pipeline import validation_pipeline
from fluxion.pipelines.reanalysis.nodes import screen_new_movies, store_results
from fluxion.pipelines.topology import create_pipeline as topology_pipeline
from fluxion.pipelines.training.nodes import plan_finetuning
from fluxion.pipelines.training.pipeline import training_steps


def create_pipeline(**kwargs) -> Pipeline:
    screen = pipeline([node(screen_new_movies,
                            ["incoming_movies", "params:ingestion.validation"],
                            ["movies", "rejected_movies", "screened_batch"],
                            name="screen_new_movies")])
    finetune = pipeline([node(plan_finetuning,
                              ["movie_info", "params:training", "params:reanalysis",
                               "champion_model", "champion_alias"],
                              "training_jobs", name="plan_finetuning")])
    store = pipeline([node(store_results,
                           ["alps_series", "alps_summary", "movie_info", "movie_masks",
                            "denoised_movies", "denoise_report", "rejected_movies",
                            "screened_batch"],
                           ["results", "runs", "report", "state"],
                           name="store_results_and_record")])
    steps = (screen + validation_pipeline() + finetune + training_steps() + noise_flag_steps()
             + gate_steps() + denoise_pipeline() + topology_pipeline() + store)
    return pipeline(
        steps, namespace="reanalysis",
        inputs={"incoming_movies", "champion_model", "champion_alias"},
        parameters={"params:ingestion.validation", "params:ingestion.regions",
                    "params:ingestion.splits", "params:training", "params:reanalysis",
                    "params:evaluation", "params:diagnostics", "params:denoise",
                    "params:preview", "params:topology"},
    )
