"""Public name kept for users' code: ``fluxion.simulate`` is :mod:`fluxion.movies.simulate`."""

from fluxion.movies.simulate import *  # noqa: F403
from fluxion.movies.simulate import __all__  # noqa: F401

if __name__ == "__main__":  # python -m fluxion.simulate
    from fluxion.movies.simulate import main

    main()
