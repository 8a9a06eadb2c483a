"""Denoising: the networks (``models``), the method registry, training windows and losses,
training on Lightning, and whole-movie inference."""
