"""kedro run --pipeline ingestion"""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.pipelines.ingestion.nodes import choose_movies, describe_movies, validate_movies

# the figures and metrics stay inside the namespace (ingestion.movie_overviews, ...), so
# kedro-viz shows only the data that flows on when the pipeline is collapsed
OUTPUTS = {"validated_movies", "movie_info", "movie_masks", "ingestion_summary"}
PARAMETERS = {"params:ingestion.validation", "params:ingestion.regions", "params:ingestion.splits"}


def validation_pipeline() -> Pipeline:
    """Validate and copy ``movies``, then find their regions and splits (also used by the
    re-analysis of incoming movies)."""
    return pipeline(
        [
            node(validate_movies, ["movies", "params:ingestion.validation"], "validated_movies",
                 name="validate_and_copy_movies"),
            node(describe_movies,
                 ["validated_movies", "movies", "params:ingestion.regions",
                  "params:ingestion.splits"],
                 ["movie_info", "movie_masks", "ingestion_summary", "ingestion_metrics",
                  "movie_overviews"],
                 name="find_regions_and_splits"),
        ],
        namespace="ingestion", inputs={"movies"}, outputs=OUTPUTS, parameters=PARAMETERS,
    )


def create_pipeline(**kwargs) -> Pipeline:
    choose = pipeline(
        [node(choose_movies, ["user_movies", "params:demo"], "movies",
              name="find_movies_or_demo")],
        namespace="ingestion", inputs={"user_movies"}, outputs={"movies"},
        parameters={"params:demo"},
    )
    return choose + validation_pipeline()
