"""kedro run --pipeline diagnostics"""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.pipelines.diagnostics.nodes import (
    beam_versus_thermal,
    compare_raw_and_denoised,
    measure_noise_correlation,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(measure_noise_correlation,
                 ["movie_info", "movie_masks", "params:diagnostics"],
                 ["noise_correlation_table", "noise_correlation_figure",
                  "noise_correlation_metrics", "noise_flags", "noise_flag_tags"],
                 name="measure_noise_correlation"),
            node(compare_raw_and_denoised,
                 ["movie_info", "movie_masks", "denoised_movies", "params:diagnostics"],
                 ["vacuum_spectra_figures", "frame_sum_figures", "binned_frame_figures"],
                 name="compare_raw_and_denoised"),
            node(beam_versus_thermal, "params:diagnostics.beam", ["migration_rates_figure",
                                                                  "migration_rates"],
                 name="beam_versus_thermal_migration"),
        ],
        namespace="diagnostics",
        inputs={"movie_info", "movie_masks", "denoised_movies"},
        outputs={"noise_correlation_table", "noise_correlation_figure",
                 "noise_correlation_metrics", "noise_flags", "noise_flag_tags",
                 "vacuum_spectra_figures", "frame_sum_figures",
                 "binned_frame_figures", "migration_rates_figure", "migration_rates"},
        parameters={"params:diagnostics", "params:diagnostics.beam"},
    )
