"""Figures and MP4 previews (matplotlib, imageio); the library's other modules draw nothing."""
