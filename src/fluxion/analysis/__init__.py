"""Analysis of denoised movies: noise and artifact diagnostics, physics, topology."""
