"""Public name kept for users' code: ``fluxion.physics`` is :mod:`fluxion.analysis.physics`."""

from fluxion.analysis.physics import *  # noqa: F403
from fluxion.analysis.physics import __all__  # noqa: F401

