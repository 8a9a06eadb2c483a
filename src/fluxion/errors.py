"""The project's exceptions.

Every error a user can cause names the file or parameter, what was wrong and what to do.
They subclass the built-in ``ValueError`` / ``FileNotFoundError`` so generic handlers still work.
"""

from __future__ import annotations

from collections.abc import Iterable


class FluxionError(Exception):
    """Base class of every error Fluxion raises on purpose."""


class MovieError(FluxionError, ValueError):
    """A movie file, its sidecar or its contents cannot be used as given."""


class FluxionNotFoundError(FluxionError, FileNotFoundError):
    """Something Fluxion needs is not where it was said to be."""

    def __str__(self) -> str:  # FileNotFoundError formats its args oddly; keep the message whole.
        return str(self.args[0]) if self.args else ""


class MovieNotFoundError(FluxionNotFoundError):
    """A movie (or a folder of movies) is not where it was said to be."""


class ParameterError(FluxionError, ValueError):
    """A parameter of a function or of ``conf/`` is out of its allowed range."""


def reject_unknown_keys(section: str, values: Iterable[str], known: Iterable[str]) -> None:
    """A :class:`ParameterError` naming the keys of ``section`` (e.g. ``training``) that are not
    ``known``, and the allowed ones."""
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParameterError(f"{section}: unknown parameter(s) {unknown}; allowed: "
                             f"{', '.join(sorted(known))}.")


class CheckpointError(FluxionError, ValueError):
    """A training checkpoint or model file cannot be read (truncated, corrupt, foreign)."""


class ModelNotFoundError(FluxionNotFoundError):
    """A trained model file is not where it was said to be."""


class RegisteredModelNotFoundError(FluxionNotFoundError):
    """A registered model, version or alias does not exist in the MLflow registry."""


class LockedError(FluxionError, RuntimeError):
    """Another process holds a lock that this run needs (e.g. a re-analysis in progress)."""
