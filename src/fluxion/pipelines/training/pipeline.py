"""kedro run --pipeline training: one node per trainable method of the registry."""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.denoising.methods import trainable_methods
from fluxion.pipelines.training.nodes import select_training_movie, summarise_training, train_method


def create_pipeline(**kwargs) -> Pipeline:
    keys = [m.key for m in trainable_methods()]
    nodes = [node(select_training_movie, ["movie_info", "params:training.movie"],
                  "training_movie", name="select_training_movie")]
    for key in keys:
        nodes.append(node(
            train_method,
            ["training_movie", "params:training.common", f"params:training.methods.{key}",
             "params:training.checkpoint_folder"],
            [f"{key}_model", f"{key}_history"], name=f"train_{key}"))
    nodes.append(node(summarise_training, {key: f"{key}_history" for key in keys},
                      ["training_history", "training_curves"], name="summarise_training"))
    return pipeline(
        nodes, namespace="training",
        inputs={"movie_info"},
        outputs={*(f"{key}_model" for key in keys), "training_history", "training_curves"},
        parameters={"params:training.movie", "params:training.common",
                    "params:training.checkpoint_folder",
                    *(f"params:training.methods.{key}" for key in keys)},
    )
