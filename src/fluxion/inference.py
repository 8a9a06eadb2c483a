"""Public name kept for users' code: ``fluxion.inference`` is :mod:`fluxion.denoising.inference`."""

from fluxion.denoising.inference import *  # noqa: F403
from fluxion.denoising.inference import __all__  # noqa: F401

