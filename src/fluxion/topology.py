"""Public name kept for users' code: ``fluxion.topology`` is :mod:`fluxion.analysis.topology`."""

from fluxion.analysis.topology import *  # noqa: F403
from fluxion.analysis.topology import __all__  # noqa: F401

