"""Errors of the tile server, and the one place that turns exceptions into HTTP answers.

Endpoints do not try/except: they raise one of the small classes below (or a library raises),
and :data:`STATUS_CODES` maps the class to a status code. Bodies are JSON ``{"detail": ...}``
(plus ``"parameter"`` when one request parameter was wrong). They describe the request, never
a filesystem path, a GDAL message or a traceback: library exceptions get a fixed message.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from rasterio.errors import RasterioError
from rio_tiler.errors import RioTilerError, TileOutsideBounds
from starlette import status
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from geo.errors import GeoError, InvalidCodeError, PantauError
from tiles.access import TokenError
from tiles.routes import api_routes

__all__ = [
    "TilesError",
    "InvalidParameter",
    "LayerNotFound",
    "PeriodNotFound",
    "VillageNotFound",
    "OutOfScope",
    "TileNotFound",
    "EmptyTile",
    "ProductsUnavailable",
    "Overloaded",
    "STATUS_CODES",
    "ErrorBody",
    "error_responses",
    "register_error_handlers",
]

logger = logging.getLogger(__name__)


class TilesError(PantauError):
    """Base of the tile server's errors."""

    parameter: str | None = None

    def __init__(self, message: str = "", *, parameter: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        self.parameter = parameter


class InvalidParameter(TilesError):
    """A query or path parameter is malformed, unknown or outside its allowed range."""


class LayerNotFound(TilesError):
    """No layer has this id."""


class PeriodNotFound(TilesError):
    """The layer has no data for this period."""


class VillageNotFound(TilesError):
    """No village has this code in the products."""


class OutOfScope(TilesError):
    """The access token is valid but its scope does not cover this region."""


class TileNotFound(TilesError):
    """The tile is not on the tile grid or outside the served zoom range."""


class EmptyTile(TilesError):
    """The tile is on the grid but holds no data."""


class ProductsUnavailable(TilesError):
    """The products directory is missing or cannot be read."""


class Overloaded(TilesError):
    """Every render slot is busy; retry after the seconds in Retry-After."""

    def __init__(self, message: str = "", *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


#: Exception class -> HTTP status. Looked up along the exception's MRO (most specific first).
STATUS_CODES: dict[type[Exception], int] = {
    InvalidParameter: status.HTTP_400_BAD_REQUEST,
    InvalidCodeError: status.HTTP_400_BAD_REQUEST,
    TokenError: status.HTTP_401_UNAUTHORIZED,
    OutOfScope: status.HTTP_403_FORBIDDEN,
    LayerNotFound: status.HTTP_404_NOT_FOUND,
    PeriodNotFound: status.HTTP_404_NOT_FOUND,
    VillageNotFound: status.HTTP_404_NOT_FOUND,
    TileNotFound: status.HTTP_404_NOT_FOUND,
    EmptyTile: status.HTTP_204_NO_CONTENT,
    TileOutsideBounds: status.HTTP_204_NO_CONTENT,
    ProductsUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    Overloaded: status.HTTP_503_SERVICE_UNAVAILABLE,
    TilesError: status.HTTP_500_INTERNAL_SERVER_ERROR,
    GeoError: status.HTTP_500_INTERNAL_SERVER_ERROR,
    RioTilerError: status.HTTP_500_INTERNAL_SERVER_ERROR,
    RasterioError: status.HTTP_500_INTERNAL_SERVER_ERROR,
    Exception: status.HTTP_500_INTERNAL_SERVER_ERROR,
}

#: Messages of our own classes are written for clients; only these are shown.
_CLIENT_SAFE = (TilesError, InvalidCodeError, TokenError)
_GENERIC = {
    status.HTTP_404_NOT_FOUND: "not found",
    status.HTTP_500_INTERNAL_SERVER_ERROR: "internal server error",
    status.HTTP_503_SERVICE_UNAVAILABLE: "products are not available",
}
#: Seconds a client is asked to wait (Retry-After) after a 503 that names no other delay.
RETRY_AFTER = 5


class ErrorBody(BaseModel):
    """The JSON body of an error answer."""

    detail: str
    parameter: str | None = None


_DESCRIPTIONS = {
    status.HTTP_400_BAD_REQUEST: "a parameter is malformed or out of range (named in the body)",
    status.HTTP_401_UNAUTHORIZED: "a sensitive layer or field needs a valid access token "
    "(`?token=` or `Authorization: Bearer`): it is missing, malformed, altered or expired",
    status.HTTP_403_FORBIDDEN: "the access token is valid but its region scope does not "
    "cover the region asked for",
    status.HTTP_404_NOT_FOUND: "no such layer, period, village or region in the products "
    "(the parameter is named in the body)",
    status.HTTP_422_UNPROCESSABLE_CONTENT: "a parameter has the wrong type or length "
    "(named in the body)",
    status.HTTP_503_SERVICE_UNAVAILABLE: "the products are unavailable, or every render slot "
    "is busy: retry after Retry-After seconds",
}
_AUTHENTICATE = 'Bearer realm="pantau", error="invalid_token"'
_AUTH_HEADER = {
    "WWW-Authenticate": {
        "description": "how to authenticate: a Bearer access token (or `?token=`)",
        "required": True,
        "schema": {"type": "string"},
    }
}
_RETRY_HEADER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` of the error answers a route gives (400, 401, 403, 404, 422,
    503)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[code]}
        if code == status.HTTP_503_SERVICE_UNAVAILABLE:
            entry["headers"] = _RETRY_HEADER
        elif code == status.HTTP_401_UNAUTHORIZED:
            entry["headers"] = _AUTH_HEADER
        responses[code] = entry
    return responses


def _error_body(exc: BaseException, code: int) -> dict[str, str]:
    if isinstance(exc, _CLIENT_SAFE) and code < 500:
        body = {"detail": str(exc)}
        parameter = getattr(exc, "parameter", None)
        if parameter:
            body["parameter"] = parameter
        return body
    if isinstance(exc, TilesError) and code == status.HTTP_503_SERVICE_UNAVAILABLE:
        return {"detail": (type(exc).__doc__ or "").strip() or _GENERIC[code]}  # fixed text
    return {"detail": _GENERIC.get(code, "request failed")}


def _handle(request: Request, exc: Exception) -> Response:
    matched = next(cls for cls in type(exc).__mro__ if cls in STATUS_CODES)
    code = STATUS_CODES[matched]
    if code == status.HTTP_204_NO_CONTENT:
        return Response(status_code=code)
    headers = None
    if code == status.HTTP_503_SERVICE_UNAVAILABLE:
        headers = {"Retry-After": str(getattr(exc, "retry_after", RETRY_AFTER))}
    elif code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
        headers = {"Cache-Control": "private, no-store", "Vary": "Authorization"}
        if code == status.HTTP_401_UNAUTHORIZED:
            headers["WWW-Authenticate"] = _AUTHENTICATE
    # The catch-all runs in Starlette's ServerErrorMiddleware, which re-raises and logs.
    elif code >= 500 and matched is not Exception:
        logger.error("%s on %s", type(exc).__name__, request.url.path, exc_info=exc)
    return JSONResponse(_error_body(exc, code), status_code=code, headers=headers)


def _handle_validation(request: Request, exc: Exception) -> Response:
    # FastAPI's default body echoes the input and pydantic internals; keep location and reason.
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("path", "query", "body")]
    parameter = loc[0] if loc else "request"
    reason = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return JSONResponse(
        {"detail": f"invalid {parameter}: {reason}"[:300], "parameter": parameter},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def _path_parameter(request: Request) -> str:
    """The path parameter of a request that matched no route: the one left empty or holding
    an encoded ``/`` in the raw path of a documented route (``path`` when none fits)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1").partition("?")[0]
    for _, entry in api_routes(request.app):
        template = entry.path_format or ""
        if "{" not in template:
            continue
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]*)", re.escape(template))
        match = re.fullmatch(pattern, path)
        if match is not None:
            for name, value in match.groupdict().items():
                if not value or "%2f" in value.lower():
                    return name
    return "path"


def _handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == status.HTTP_204_NO_CONTENT:
        return Response(status_code=exc.status_code)
    if exc.status_code == status.HTTP_404_NOT_FOUND:  # no route: a path segment is wrong
        name = _path_parameter(request)
        detail = f"{name}: no such endpoint; a path parameter may not be empty or hold '/'"
        return JSONResponse({"detail": detail, "parameter": name}, status_code=404)
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


def register_error_handlers(app: FastAPI) -> None:
    """Register the handlers once on the app: one per class in :data:`STATUS_CODES`."""
    for exc_class in STATUS_CODES:
        app.add_exception_handler(exc_class, _handle)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
