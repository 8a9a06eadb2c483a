"""The C allocator set up for tensor work on the CPU.

glibc serves every allocation above 32 MB with a fresh memory map and returns it to the system
when freed, so a network whose activations are that large pays page faults (zeroed pages, in the
kernel) for every tensor of every step: measured here, UDVD at the published widths trained at
half speed, with as much system time as computing. Keeping freed memory in the heap for reuse
removes that cost; the price is that the process keeps its peak footprint (up to 2 GB of free
heap) instead of returning it. Set ``FLUXION_MALLOC=system`` to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import sys

__all__ = ["keep_freed_memory"]

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
KEPT_BYTES = 2**31 - 1  # free heap kept before trimming: mallopt takes a C int


@functools.cache
def keep_freed_memory() -> bool:
    """Serve large allocations from the heap and keep freed memory for reuse (glibc on Linux;
    elsewhere, or with ``FLUXION_MALLOC=system``, nothing changes). Returns whether it did."""
    if not sys.platform.startswith("linux") or os.environ.get("FLUXION_MALLOC") == "system":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return False
    done = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, KEPT_BYTES) == 1
    if done:
        log.debug("glibc malloc: no memory maps for large blocks, up to %d bytes kept free",
                  KEPT_BYTES)
    return done
