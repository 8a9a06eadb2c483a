"""Public name kept for users' code: ``fluxion.io`` is :mod:`fluxion.movies.io`."""

from fluxion.movies.io import *  # noqa: F403
from fluxion.movies.io import __all__  # noqa: F401

