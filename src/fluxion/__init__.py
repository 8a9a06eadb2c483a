"""Fluxion: denoise low-dose in-situ electron-microscope movies and quantify structure."""

__version__ = "0.1.0"
