"""kedro run --pipeline ingestion"""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.pipelines.ingestion.nodes import choose_movies, describe_movies, validate_movies


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(choose_movies, ["user_movies", "params:demo"], "movies",
                 name="find_movies_or_demo"),
            node(validate_movies, ["movies", "params:ingestion.validation"], "validated_movies",
                 name="validate_and_copy_movies"),
            node(describe_movies,
                 ["validated_movies", "movies", "params:ingestion.regions",
                  "params:ingestion.splits"],
                 ["movie_info", "movie_masks", "ingestion_summary", "ingestion_metrics",
                  "movie_overviews"],
                 name="find_regions_and_splits"),
        ],
        namespace="ingestion",
        inputs={"user_movies"},
        outputs={"movies", "validated_movies", "movie_info", "movie_masks", "ingestion_summary",
                 "ingestion_metrics", "movie_overviews"},
        parameters={"params:demo", "params:ingestion.validation", "params:ingestion.regions",
                    "params:ingestion.splits"},
    )
