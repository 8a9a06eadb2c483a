"""A file lock so that two scheduled re-analyses never process the same movie."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from fluxion.errors import FluxionError

__all__ = ["FileLock", "LockedError"]


class LockedError(FluxionError, RuntimeError):
    """Another process holds the lock."""


class FileLock:
    """An exclusive ``flock`` on ``path``; waits up to ``wait_s`` seconds, then raises
    :class:`LockedError` naming the holder. The lock dies with its process (no stale locks)."""

    def __init__(self, path: str | Path, *, wait_s: float = 0.0) -> None:
        self.path = Path(path)
        self.wait_s = wait_s
        self._handle = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    handle.close()
                    raise LockedError(
                        f"{self.path} is held by {holder}: another re-analysis is running. This "
                        "run exits without touching anything; the next scheduled run picks up "
                        "the new movies.") from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
