"""kedro run --pipeline diagnostics"""

from kedro.pipeline import Pipeline, node, pipeline

from fluxion.pipelines.diagnostics.nodes import (
    beam_versus_thermal,
    compare_raw_and_denoised,
    measure_noise_correlation,
)


def noise_flag_steps() -> Pipeline:
    """The raw movies' noise correlation and its flags (the quality gate reads them; also used
    by re-analysis)."""
    return pipeline([node(measure_noise_correlation,
                          ["movie_info", "movie_masks", "params:diagnostics"],
                          ["noise_correlation_table", "noise_correlation_figure",
                           "noise_correlation_metrics", "noise_flags", "noise_flag_tags"],
                          name="measure_noise_correlation")])


# only the flags flow on (to the gate); the table, figure, metrics and run tags stay inside
# the namespaces (noise.noise_correlation_table, diagnostics.frame_sum_figures, ...)
NOISE_OUTPUTS = {"noise_flags"}


def create_pipeline(**kwargs) -> Pipeline:
    noise = pipeline(noise_flag_steps(), namespace="noise", inputs={"movie_info", "movie_masks"},
                     outputs=NOISE_OUTPUTS, parameters={"params:diagnostics"})
    after_denoising = pipeline(
        [
            node(compare_raw_and_denoised,
                 ["movie_info", "movie_masks", "denoised_movies", "params:diagnostics"],
                 ["vacuum_spectra_figures", "frame_sum_figures", "binned_frame_figures"],
                 name="compare_raw_and_denoised", tags=["figures"]),
            node(beam_versus_thermal, "params:diagnostics.beam", ["migration_rates_figure",
                                                                  "migration_rates"],
                 name="beam_versus_thermal_migration", tags=["figures"]),
        ],
        namespace="diagnostics",
        inputs={"movie_info", "movie_masks", "denoised_movies"},
        outputs=set(),
        parameters={"params:diagnostics", "params:diagnostics.beam"},
    )
    return noise + after_denoising
