"""The one registry of denoising methods: name, network, how it trains, registered model name.

Configuration, the catalog, training, evaluation and plots read it, so a fourth method is one
entry here. Names are what users type (``udvd-single``); ``key`` is the same name as a Kedro
dataset and parameter key (``udvd_single``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from fluxion.denoising.models.base import Denoiser
from fluxion.denoising.models.udvd import UDVD, GaussianDenoiser
from fluxion.denoising.models.unet import N2NUNet
from fluxion.errors import ParameterError

__all__ = ["METHODS", "Method", "build_model", "method", "registered_model_names",
           "trainable_methods"]


@dataclass(frozen=True)
class Method:
    """One denoising method.

    ``loss`` is ``blind-spot`` (predict the noisy frame through the blind spot),
    ``neighbor2neighbor`` or ``none`` (a fixed filter); ``fixed_architecture`` is merged over
    the user's architecture keywords (``udvd-single`` is UDVD with one frame).
    """

    name: str
    model: type[Denoiser]
    loss: str
    label: str
    registered_name: str | None = None
    fixed_architecture: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.name.replace("-", "_")

    @property
    def trainable(self) -> bool:
        return self.loss != "none"

    def build(self, **architecture: Any) -> Denoiser:
        """The network with ``architecture`` keywords (a clear error for unknown ones)."""
        try:
            return self.model(**{**architecture, **self.fixed_architecture})
        except TypeError as error:
            raise ParameterError(f"method {self.name!r}: bad architecture parameters "
                                 f"{architecture} ({error}).") from error


METHODS: Mapping[str, Method] = MappingProxyType({m.name: m for m in (
    Method("udvd", UDVD, "blind-spot", "UDVD (5 frames)", "fluxion-udvd"),
    Method("udvd-single", UDVD, "blind-spot", "UDVD (1 frame)", "fluxion-udvd-single",
           MappingProxyType({"frames": 1})),
    Method("n2n", N2NUNet, "neighbor2neighbor", "Neighbor2Neighbor", "fluxion-n2n"),
    Method("gaussian", GaussianDenoiser, "none", "Gaussian filter"),
)})


def method(name: str) -> Method:
    """The method called ``name`` (or its key); a clear error naming the known ones."""
    for candidate in METHODS.values():
        if name in (candidate.name, candidate.key):
            return candidate
    raise ParameterError(f"unknown denoising method {name!r}; choose one of "
                         f"{', '.join(METHODS)}.")


def trainable_methods() -> list[Method]:
    """The methods that learn from the movie, in registry order."""
    return [m for m in METHODS.values() if m.trainable]


def registered_model_names() -> list[str]:
    """Every registered model name, in registry order (where the champion alias may live)."""
    return [m.registered_name for m in METHODS.values() if m.registered_name]


def build_model(method_name: str, **architecture: Any) -> Denoiser:
    """Build a denoiser by method name with its architecture keywords.

    ``udvd`` defaults to 5 frames and ``udvd-single`` to 1; ``n2n`` takes ``width`` and
    ``depth``; ``gaussian`` takes ``sigma``.
    """
    return method(method_name).build(**architecture)
