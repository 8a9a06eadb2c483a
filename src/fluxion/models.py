"""Public name kept for users' code: ``fluxion.models`` is :mod:`fluxion.denoising.models`."""

from fluxion.denoising.models import *  # noqa: F403
from fluxion.denoising.models import __all__  # noqa: F401

