"""The app's routes as a flat list, whatever the FastAPI version nests them in.

FastAPI 0.12x keeps ``include_router`` routes flat in ``app.routes``; later versions keep
included routers as nodes and expose the flat view through ``iter_route_contexts``. Both the
OpenAPI builder and the 404 handler need the flat list of documented paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import routing
from fastapi.routing import APIRoute

__all__ = ["api_routes"]


def api_routes(app: Any) -> Iterator[tuple[APIRoute, Any]]:
    """``(route, entry)`` of every API route: ``entry`` carries the full ``path_format`` and
    is what ``fastapi.openapi.utils.get_openapi(routes=...)`` takes."""
    iterate = getattr(routing, "iter_route_contexts", None)
    if iterate is None:
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route, route
        return
    for context in iterate(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context.original_route, context
