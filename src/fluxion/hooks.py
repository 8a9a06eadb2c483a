"""Kedro hooks: the re-analysis lock."""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl

from fluxion.locking import FileLock


class ReanalysisLockHook:
    """Hold ``reanalysis.lock_file`` for the whole of any run that contains re-analysis nodes,
    taken before any dataset is loaded, so two runs never process the same incoming movie."""

    def __init__(self) -> None:
        self._lock: FileLock | None = None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        if not any(n.namespace and n.namespace.startswith("reanalysis") for n in pipeline.nodes):
            return
        options = catalog.load("params:reanalysis")
        self._lock = FileLock(options["lock_file"], wait_s=options["lock_wait_s"])
        self._lock.acquire()

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._release()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
