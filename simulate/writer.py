"""A background thread for the simulator's file writes, so rendering and writing overlap."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["BackgroundWriter"]


class BackgroundWriter:
    """Runs file writes in one background thread, in order, while the caller computes on.

    At most ``max_pending`` writes wait at a time, bounding the memory held by queued
    arrays. Writes run first-in first-out, so a job submitted after a scene's COGs (its
    item JSON) lands after them. The first error is raised on the next ``submit`` or on
    ``wait``.
    """

    def __init__(self, max_pending: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simulate-writer")
        self._slots = threading.BoundedSemaphore(max_pending)
        self._futures: list[Future[None]] = []

    def submit(self, job: Callable[[], object], *, done: Callable[[], None] = lambda: None) -> None:
        """Queue ``job``; call ``done`` (in the writer thread) once it has run."""
        self._raise_failed()
        self._slots.acquire()

        def run() -> None:
            try:
                job()
                done()
            finally:
                self._slots.release()

        self._futures.append(self._executor.submit(run))

    def _raise_failed(self) -> None:
        pending = []
        for future in self._futures:
            if future.done():
                future.result()
            else:
                pending.append(future)
        self._futures = pending

    def wait(self) -> None:
        """Block until every queued write has finished; raise the first error."""
        futures, self._futures = self._futures, []
        for future in futures:
            future.result()

    def close(self) -> None:
        """Finish the queued writes (at most ``max_pending``) and stop the thread."""
        self._executor.shutdown(wait=True)

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        # also on an error or Ctrl-C: finished scenes still land, so a rerun resumes after them
        self.close()
