"""A fault-injecting STAC API and asset server on loopback, for the reliability tests.

A small Starlette app served by uvicorn in a thread on ``127.0.0.1:0``. It serves the items
it is given (real recorded items, or the simulator's) through ``POST /search`` with
token pagination (``next`` links with ``method: POST``, ``merge: true``, as
stac-fastapi answers), and files under ``/assets/<name>`` (with HTTP Range, as GDAL's
``/vsicurl/`` reads them). On command it misbehaves:

* one-shot faults, consumed one per request at a target (``"landing"``, ``"page:<n>"``,
  ``"asset:<name>"``): ``"429"`` (with ``Retry-After``), ``"500"``, ``"502"``, ``"503"``,
  ``"404"``, ``"slow"`` (answers after ``slow_seconds``), ``"truncated"`` (a 200 whose JSON
  body is cut in half, with a matching Content-Length), ``"cut"`` (the connection closes
  half-way through a body whose Content-Length promised more);
* ``always`` faults, applied to every request at a target (a server that never recovers);
* ``loop_to``: the last page's ``next`` link points back to page ``loop_to`` (pages never
  end); ``overlap``: every page after the first repeats the last ``overlap`` items of the
  page before (offset paging while items are inserted).

Every request is logged (``log``: time, target, status) so tests can count attempts and
measure the waits between them. Search filters are ignored: every search pages through all
the items, so the expected answer is exactly the item set given.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

CONFORMS_TO = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
]
STATUS_FAULTS = {"404", "429", "500", "502", "503"}


@dataclass(frozen=True)
class Hit:
    """One request the server received: when it arrived, its target, the fault played (or
    None), the status answered (a ``slow`` answer is sent, late, with 200)."""

    time: float
    target: str
    fault: str | None
    status: int


@dataclass
class FaultApi:
    """The app's state: items, files and the faults to play (edit it while it serves)."""

    items: Sequence[dict[str, Any]] = ()
    files: dict[str, Path] = field(default_factory=dict)
    slow_seconds: float = 2.0
    retry_after: str = "1"
    loop_to: int | None = None
    overlap: int = 0
    always: dict[str, str] = field(default_factory=dict)
    log: list[Hit] = field(default_factory=list)
    url: str = ""
    _faults: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))

    def reset(self) -> None:
        """No faults, no log: a healthy API again (for a server shared by several tests)."""
        self.log.clear()
        self._faults.clear()
        self.always.clear()
        self.loop_to, self.overlap, self.retry_after = None, 0, "1"

    def inject(self, target: str, *faults: str) -> None:
        """Play ``faults`` on the next requests at ``target``, one per request."""
        self._faults[target].extend(faults)

    def hits(self, prefix: str = "") -> list[Hit]:
        """Requests whose target starts with ``prefix``."""
        return [h for h in self.log if h.target.startswith(prefix)]

    def _next_fault(self, target: str) -> str | None:
        if target in self.always:
            return self.always[target]
        queue = self._faults.get(target)
        return queue.popleft() if queue else None

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(
            routes=[
                Route("/", self._landing),
                Route("/search", self._search, methods=["POST"]),
                Route("/assets/{name:path}", self._asset, methods=["GET", "HEAD"]),
            ]
        )

    async def _landing(self, request: Request) -> Response:
        root = self.url
        links = [
            {"rel": "self", "href": f"{root}/", "type": "application/json"},
            {"rel": "root", "href": f"{root}/", "type": "application/json"},
            {"rel": "search", "href": f"{root}/search", "method": "POST",
             "type": "application/geo+json"},
        ]  # fmt: skip
        body = {
            "type": "Catalog",
            "stac_version": "1.0.0",
            "id": "pantau-fault-api",
            "description": "fault-injecting test API",
            "conformsTo": CONFORMS_TO,
            "links": links,
        }
        return await self._answer(request, "landing", body)

    async def _search(self, request: Request) -> Response:
        params = json.loads(await request.body() or b"{}")
        limit = int(params.get("limit") or 10)
        page = int(str(params.get("token", "page:0")).split(":")[1])
        start = max(0, page * limit - (self.overlap if page else 0))
        features = list(self.items[start : (page + 1) * limit])
        links = []
        has_more = (page + 1) * limit < len(self.items)
        target = page + 1 if has_more else self.loop_to
        if target is not None:
            links.append(
                {"rel": "next", "href": f"{self.url}/search", "method": "POST",
                 "body": {"token": f"page:{target}"}, "merge": True}
            )  # fmt: skip
        body = {"type": "FeatureCollection", "features": features, "links": links}
        return await self._answer(request, f"page:{page}", body)

    async def _asset(self, request: Request) -> Response:
        target = f"asset:{request.path_params['name']}"
        fault = self._next_fault(target)
        path = self.files.get(request.path_params["name"])
        if fault in STATUS_FAULTS:
            response: Response = Response("fault", status_code=int(fault))
        elif path is None:
            response = Response("no such asset", status_code=404)
        else:
            response = FileResponse(path)
        return await self._send(target, fault, response)

    async def _answer(self, request: Request, target: str, body: dict[str, Any]) -> Response:
        fault = self._next_fault(target)
        data = json.dumps(body).encode()
        if fault == "429":
            response: Response = JSONResponse(
                {"code": "TooManyRequests", "description": "slow down"},
                status_code=429,
                headers={"Retry-After": self.retry_after},
            )
        elif fault in STATUS_FAULTS:
            response = JSONResponse({"code": fault}, status_code=int(fault))
        elif fault == "truncated":
            response = Response(data[: len(data) // 2], media_type="application/geo+json")
        elif fault == "cut":
            response = _CutResponse(data)
        else:
            response = Response(data, media_type="application/geo+json")
        return await self._send(target, fault, response)

    async def _send(self, target: str, fault: str | None, response: Response) -> Response:
        self.log.append(Hit(time.monotonic(), target, fault, response.status_code))
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
        return response


class _CutResponse(Response):
    """Promises the whole body in Content-Length, sends half of it, then ends the response
    (uvicorn closes the connection: the client sees an incomplete read)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data[: len(data) // 2], media_type="application/geo+json")
        self.headers["content-length"] = str(len(data))


@contextmanager
def serve(api: FaultApi) -> Iterator[FaultApi]:
    """Serve ``api`` on a free loopback port (``api.url``) for the duration of the block."""
    config = uvicorn.Config(
        api.app(), host="127.0.0.1", port=0, log_level="critical", lifespan="off",
        ws="none", http="h11", access_log=False, timeout_graceful_shutdown=1,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fault-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fault API did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    api.url = f"http://127.0.0.1:{port}"
    try:
        yield api
    finally:
        server.should_exit = True
        thread.join(timeout=10)
