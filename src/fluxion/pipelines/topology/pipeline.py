"""kedro run --pipeline topology"""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.pipelines.topology.nodes import topology_figures, topology_of_movies


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(topology_of_movies,
                 ["movie_info", "movie_masks", "denoised_movies", "denoise_report",
                  "params:topology"],
                 ["alps_series", "alps_summary", "alps_calibration", "alps_metrics"],
                 name="alps_per_frame"),
            node(topology_figures,
                 ["alps_series", "alps_summary", "movie_info", "denoised_movies",
                  "params:topology"],
                 ["alps_timeline_figures", "persistence_diagram_figures",
                  "extreme_frame_figures", "size_dependence_figure"],
                 name="plot_topology", tags=["figures"]),
        ],
        namespace="topology",
        inputs={"movie_info", "movie_masks", "denoised_movies", "denoise_report"},
        outputs={"alps_series", "alps_summary", "alps_calibration"},  # figures, metrics: inside
        parameters={"params:topology"},
    )
