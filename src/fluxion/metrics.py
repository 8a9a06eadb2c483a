"""Public name kept for users' code: ``fluxion.metrics`` is :mod:`fluxion.scoring.metrics`."""

from fluxion.scoring.metrics import *  # noqa: F403
from fluxion.scoring.metrics import __all__  # noqa: F401

