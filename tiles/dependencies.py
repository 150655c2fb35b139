"""FastAPI dependencies shared by the endpoints: the app context and request validation.

Every size a client can choose is capped here (zoom, tile coordinates, ``tilesize``,
``n_classes``, the length of ``breaks``), and every endpoint names the query parameters it
takes: any other parameter (``url=``, ``expression=``, ``colormap=`` ...) is refused with a
400 that names it, so nothing a client sends can reach GDAL as a path or an option.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Query
from starlette.requests import Request

from tiles.errors import InvalidParameter, TileNotFound
from tiles.legend import ClassParams
from tiles.settings import MAX_CLASSES, TilesSettings

if TYPE_CHECKING:
    from geo.products import ProductRegistry
    from tiles.access import Keyring
    from tiles.cache import TileCache
    from tiles.catalogue import Catalogue, ProductsStore
    from tiles.health import HealthCheck
    from tiles.shedding import RenderLimiter

__all__ = [
    "AppContext",
    "app_context",
    "catalogue",
    "check_query",
    "check_tile",
    "tilesize_value",
    "class_params",
    "DEFAULT_TILESIZE",
    "MAX_BREAKS",
]

DEFAULT_TILESIZE = 256
MIN_TILESIZE = 64
MAX_BREAKS = MAX_CLASSES - 1
_PARAM_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
CLASS_QUERY = frozenset({"classification", "n_classes", "breaks"})


@dataclass
class AppContext:
    """What ``create_app`` builds from the settings and the endpoints share."""

    settings: TilesSettings
    products: ProductRegistry
    store: ProductsStore
    cache: TileCache
    gdal_env: dict[str, str]
    limiter: RenderLimiter
    health: HealthCheck
    #: the secrets access tokens are checked against (None: sensitive layers are off)
    keyring: Keyring | None = None


def app_context(request: Request) -> AppContext:
    """The context of the app serving ``request``."""
    return request.app.state.pantau


def catalogue(request: Request) -> Catalogue:
    """The current catalogue (re-scanned first when the products changed)."""
    return app_context(request).store.current()


def check_query(request: Request, allowed: Iterable[str]) -> None:
    """Refuse any query parameter the endpoint does not take (``url=``, ``expression=`` ...).

    ``token`` (an access token, :mod:`tiles.sensitive`) is taken everywhere: a client may put
    it on every URL; endpoints that serve nothing sensitive ignore it.
    """
    allowed = {*allowed, "token"}
    for key in request.query_params.keys():
        if key not in allowed:
            name = key if _PARAM_NAME_RE.match(key) else "query"
            raise InvalidParameter(f"{name}: unknown parameter", parameter=name)


def check_tile(settings: TilesSettings, z: int, x: int, y: int) -> None:
    """Raise :class:`TileNotFound` unless z/x/y is a WebMercatorQuad tile in the zoom range."""
    if not settings.min_zoom <= z <= settings.max_zoom:
        raise TileNotFound(
            f"z: zoom must be between {settings.min_zoom} and {settings.max_zoom}", parameter="z"
        )
    size = 1 << z
    if not 0 <= x < size:
        raise TileNotFound(f"x: must be between 0 and {size - 1} at zoom {z}", parameter="x")
    if not 0 <= y < size:
        raise TileNotFound(f"y: must be between 0 and {size - 1} at zoom {z}", parameter="y")


def tilesize_value(settings: TilesSettings, tilesize: int | None) -> int:
    """The tile size in pixels, default 256, capped by ``max_tile_size``."""
    if tilesize is None:
        return DEFAULT_TILESIZE
    if not MIN_TILESIZE <= tilesize <= settings.max_tile_size:
        raise InvalidParameter(
            f"tilesize: must be between {MIN_TILESIZE} and {settings.max_tile_size}",
            parameter="tilesize",
        )
    return tilesize


def _parse_breaks(text: str) -> tuple[float, ...]:
    parts = text.split(",")
    if len(parts) > MAX_BREAKS:
        raise InvalidParameter(f"breaks: at most {MAX_BREAKS} values", parameter="breaks")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise InvalidParameter(
            "breaks: comma-separated numbers expected", parameter="breaks"
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise InvalidParameter("breaks: values must be finite", parameter="breaks")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise InvalidParameter("breaks: values must increase strictly", parameter="breaks")
    return values


def class_params(
    request: Request,
    classification: Annotated[
        str | None, Query(max_length=32, description="quantile (default) or equal_interval")
    ] = None,
    n_classes: Annotated[
        int | None, Query(description=f"number of classes, 2 to {MAX_CLASSES}")
    ] = None,
    breaks: Annotated[
        str | None,
        Query(max_length=400, description=f"fixed class breaks, at most {MAX_BREAKS} numbers"),
    ] = None,
) -> ClassParams:
    """How to classify a numeric choropleth: settings' default, or the validated request."""
    settings = app_context(request).settings
    if breaks is not None:
        if classification is not None or n_classes is not None:
            raise InvalidParameter(
                "breaks: cannot be combined with classification or n_classes", parameter="breaks"
            )
        values = _parse_breaks(breaks)
        return ClassParams("breaks", len(values) + 1, values)
    method = classification or settings.classification
    if method not in ("quantile", "equal_interval"):
        raise InvalidParameter(
            "classification: must be quantile or equal_interval", parameter="classification"
        )
    n = settings.n_classes if n_classes is None else n_classes
    if not 2 <= n <= MAX_CLASSES:
        raise InvalidParameter(
            f"n_classes: must be between 2 and {MAX_CLASSES}", parameter="n_classes"
        )
    return ClassParams(method, n)  # type: ignore[arg-type]
