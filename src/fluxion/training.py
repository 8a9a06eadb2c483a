"""Public name kept for users' code: ``fluxion.training`` is :mod:`fluxion.denoising.training`."""

from fluxion.denoising.training import *  # noqa: F403
from fluxion.denoising.training import __all__  # noqa: F401

if __name__ == "__main__":  # python -m fluxion.training (also under torchrun)
    from fluxion.denoising.cli import main

    main()
