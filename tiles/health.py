"""``GET /healthz``: liveness that answers while every render slot and worker thread is busy.

The endpoint is a coroutine, so it runs on the event loop and never queues for a worker
thread behind tile renders. The products check (:meth:`ProductsStore.current`, which may
stat every product file or rescan) runs on a thread of its own; when it takes longer than
:data:`REFRESH_WAIT` seconds, the answer comes from the last scan and the check finishes in
the background.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from starlette.requests import Request

from tiles.dependencies import app_context, check_query
from tiles.errors import ProductsUnavailable, error_responses

if TYPE_CHECKING:
    from tiles.catalogue import Catalogue, ProductsStore

__all__ = ["REFRESH_WAIT", "HealthCheck", "router"]

#: Seconds /healthz waits for the products check before answering from the last scan.
REFRESH_WAIT = 0.05


class HealthCheck:
    """Checks the products on one thread of its own, at most one check at a time."""

    def __init__(self, store: ProductsStore) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="pantau-health")
        self._pending: Future[Catalogue] | None = None

    async def catalogue(self) -> Catalogue:
        """The current catalogue, or the last one if the check is slow (503 when none)."""
        latest = self.store.latest()
        if latest is not None and not self.store.due():
            return latest  # checked less than rescan_interval ago: nothing to wait for
        pending = self._pending
        if pending is None or pending.done():
            pending = self._pending = self._executor.submit(self.store.current)
        try:
            wrapped = asyncio.wrap_future(pending)
            return await asyncio.wait_for(asyncio.shield(wrapped), REFRESH_WAIT)
        except TimeoutError:
            latest = self.store.latest()
            if latest is None:
                raise ProductsUnavailable() from None
            return latest


router = APIRouter()


@router.get("/healthz", tags=["service"], responses=error_responses(400, 503))
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness: the products directory can be scanned (answers even when renders are busy)."""
    check_query(request, ())
    cat = await app_context(request).health.catalogue()
    return {
        "status": "ok",
        "version": cat.version,
        "periods": list(cat.periods),
        # public layers only: the count says nothing about sensitive tables
        "layers": sum(not cat.is_sensitive(layer) for layer in cat.layers.values()),
    }
