"""Progress bars that stay quiet in CI and when output is not a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled() -> bool:
    """True when a person is watching: stderr is a terminal and ``CI`` is not set."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "",
             unit: str = "it") -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when :func:`progress_enabled`."""
    return iter(tqdm(iterable, total=total, desc=desc, unit=unit, leave=False,
                     disable=not progress_enabled(), dynamic_ncols=True))
