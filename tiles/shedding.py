"""Load shedding: at most N tiles are drawn at once, the rest wait a bounded time, then 503.

Tile endpoints are synchronous and run in the server's worker threads. A cache miss takes a
render slot from the app's :class:`RenderLimiter` (``max_concurrent_renders``); when none is
free it waits, but only while fewer than ``max_waiting_renders`` others wait and only until
``render_wait_seconds`` after the request *arrived*, so a flood is answered with 503s
carrying ``Retry-After`` instead of a queue that grows without limit. Cache hits take no slot.

:class:`Admission`, the outermost middleware, stamps each request's arrival and refuses a tile
request at once, on the event loop, when :data:`ADMISSION_FACTOR` times the render capacity
(slots plus waiters) of tile requests are already in flight: the refused ones never queue for
the worker threads that resolve dependencies, so the queue before the render slots is bounded
too, and the event loop stays free for ``/healthz`` (a coroutine, :mod:`tiles.health`).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.requests import Request

from tiles.errors import Overloaded

__all__ = ["ADMISSION_FACTOR", "Admission", "RenderLimiter", "arrival"]

_ARRIVED = "pantau_arrived"
#: Tile requests in flight at most, in multiples of the render capacity (slots + waiters):
#: room for cache hits and requests still being validated beside the renders.
ADMISSION_FACTOR = 2


def _is_tile(path: str) -> bool:
    return path.startswith("/layers/") and "/tiles/" in path


class Admission:
    """ASGI middleware: stamps each request's arrival; refuses tile requests beyond the bound."""

    def __init__(self, app: Any, *, limiter: RenderLimiter) -> None:
        self.app = app
        self.limiter = limiter
        self.in_flight = 0  # touched on the event loop only

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Stamp, admit or refuse, then pass the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[_ARRIVED] = time.monotonic()
        if not _is_tile(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limiter.admission_bound:
            self.limiter.refused_at_admission += 1
            await self._refuse(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"detail": (Overloaded.__doc__ or "").strip()}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(self.limiter.retry_after).encode()),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def arrival(request: Request) -> float:
    """When the request arrived (now, if no :class:`Admission` stamped it)."""
    return float(request.scope.get("state", {}).get(_ARRIVED, time.monotonic()))


class RenderLimiter:
    """Render slots shared by the threads of one app: bounded concurrency, waiters and wait."""

    def __init__(self, max_concurrent: int, max_waiting: int, wait_seconds: float) -> None:
        self.max_concurrent = max_concurrent
        self.max_waiting = max_waiting
        self.wait_seconds = wait_seconds
        self.retry_after = max(1, math.ceil(wait_seconds))
        self.admission_bound = ADMISSION_FACTOR * (max_concurrent + max_waiting)
        self.active = 0
        self.waiting = 0
        self.refused = 0
        self.refused_at_admission = 0
        self._cond = threading.Condition()

    def _refuse(self) -> Overloaded:
        self.refused += 1
        return Overloaded(retry_after=self.retry_after)

    def acquire(self, arrived: float) -> None:
        """Take a slot, waiting until ``arrived + wait_seconds`` at most (else Overloaded)."""
        deadline = arrived + self.wait_seconds
        with self._cond:
            if self.active < self.max_concurrent and not self.waiting:
                self.active += 1
                return
            if self.waiting >= self.max_waiting:
                raise self._refuse()
            self.waiting += 1
            try:
                while self.active >= self.max_concurrent:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise self._refuse()
                    self._cond.wait(remaining)
                self.active += 1
            finally:
                self.waiting -= 1

    def release(self) -> None:
        """Give a slot back and wake one waiter."""
        with self._cond:
            self.active -= 1
            self._cond.notify()

    @contextmanager
    def slot(self, arrived: float) -> Iterator[None]:
        """Hold a render slot for the ``with`` block (see :meth:`acquire`)."""
        self.acquire(arrived)
        try:
            yield
        finally:
            self.release()
