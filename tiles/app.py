"""The tile server: ``create_app(settings)`` builds a FastAPI app over a products directory.

Routes
    GET /healthz                                    liveness + products version (tiles.health)
    GET /layers                                     every layer: id, kind, periods, legend ...
    GET /layers/{id}                                one layer (any bivariate pair id too)
    GET /bivariate?x=&y=                            a bivariate layer of two numeric columns
    GET /layers/{id}/{period}/tilejson.json         TileJSON 3.0.0
    GET /layers/{id}/{period}/tiles/{z}/{x}/{y}.png raster / choropleth / bivariate PNG
    GET /layers/{id}/{period}/tiles/{z}/{x}/{y}.pbf Mapbox Vector Tile (village layers)
    GET /layers/{id}/{period}/legend.json           legend with village counts
    GET /wmts/WMTSCapabilities.xml                  OGC WMTS 1.0.0 of every PNG layer
    GET /villages/{kode}                            one village: statistics + indicators
    GET /regions/{kode}                             a province/kab/kecamatan/village + children
    GET /regions?level=                             the regions of a level: names, centres, bounds
    GET /search?q=                                  villages and regions by name or code
    GET /layers/{id}/{period}/table.csv             a layer's village values in a box or region

Layers of sensitive indicator tables need an access token (``?token=`` or ``Authorization:
Bearer``, :mod:`tiles.sensitive`); run with ``uvicorn --factory tiles.app:create_app``
(settings from ``PANTAU_TILES_*``) or ``pantau serve --products DIR``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import pathlib
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Path, Query
from fastapi.middleware.cors import CORSMiddleware
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from titiler.core.models.mapbox import TileJSON

from geo.products import BUILT_UP_METHODS, PRODUCTS, ProductRegistry, with_built_up
from tiles import choropleth, export, health, openapi, regions, search
from tiles.access import Keyring
from tiles.cache import build_cache
from tiles.catalogue import ProductsStore
from tiles.dependencies import (
    AppContext,
    app_context,
    catalogue,
    check_query,
    class_params,
    tilesize_value,
)
from tiles.errors import (
    InvalidParameter,
    ProductsUnavailable,
    VillageNotFound,
    error_responses,
    register_error_handlers,
)
from tiles.listing import base_url, layer_bounds, layer_entry, listed_layers
from tiles.raster import (
    RASTER_QUERY,
    RasterTilerFactory,
    raster_colormap,
    raster_rendering,
)
from tiles.reader import gdal_environment
from tiles.sensitive import (
    Access,
    indicator_fields,
    layer_grant,
    mark,
    place_grant,
    private,
    refuse_client_classes,
    request_access,
)
from tiles.settings import TilesSettings
from tiles.shedding import Admission, RenderLimiter
from tiles.vector import MVT_LAYER, vector_fields
from tiles.wmts import WMTS_MEDIA_TYPE, capabilities, ogc_kvp

__all__ = ["create_app"]

_KODE_RE = re.compile(r"^(\d{10}|\d{2}\.\d{2}\.\d{2}\.\d{4})$")


class _IdConvertor(Convertor[str]):
    """Path convertor matching one family of layer ids, so each family has its own routes."""

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _RasterId(_IdConvertor):
    regex = r"raster\.[a-z0-9_]{1,64}"


class _VillageLayerId(_IdConvertor):
    regex = r"(?:choropleth|bivariate|vector)\.[a-z0-9_.]{1,250}"


def _register_convertors() -> None:
    register_url_convertor("raster_layer", _RasterId())
    register_url_convertor("village_layer", _VillageLayerId())


# --------------------------------------------------------------------------- helpers


def _center(bounds: tuple[float, ...], min_zoom: int, max_zoom: int) -> tuple[float, float, int]:
    width = max(bounds[2] - bounds[0], bounds[3] - bounds[1], 1e-6)
    zoom = int(math.floor(math.log2(360 / width)))
    zoom = min(max(zoom, min_zoom), max_zoom)
    return ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, zoom)


# --------------------------------------------------------------------------- routes

router = APIRouter()
#: The error answers of endpoints that take parameters (ids, options).
_ERRORS = error_responses(400, 401, 404, 422, 503)
#: Who asks (``?token=`` or ``Authorization: Bearer``): sensitive layers need a token.
AccessDep = Annotated[Access, Depends(request_access)]


@router.get("/layers", tags=["layers"], responses=error_responses(400, 401, 422, 503))
def list_layers(request: Request, response: Response, access: AccessDep) -> list[dict[str, Any]]:
    """Every layer of the products, with periods, range or categories, legend and TileJSON
    (sensitive layers only for a valid access token)."""
    check_query(request, ())
    cat = catalogue(request)
    listing = listed_layers(request, cat, access)
    mark(response, cat, access.grant() if cat.sensitive else None)
    return listing


def _entry(request: Request, response: Response, access: Access, layer_id: str) -> dict[str, Any]:
    """A layer's description; a sensitive layer's for the token's scope only."""
    cat = catalogue(request)
    layer = cat.layer(layer_id)
    grant = layer_grant(access, cat, layer)
    if grant is None:
        return layer_entry(request, cat, layer)
    private(response)
    token = access.token if access.in_query else None
    return layer_entry(request, cat, layer, scope=grant.scope, token=token)


@router.get("/layers/{layer_id}", tags=["layers"], responses=_ERRORS)
def get_layer(
    request: Request,
    response: Response,
    access: AccessDep,
    layer_id: Annotated[str, Path(max_length=250)],
) -> dict[str, Any]:
    """One layer (also any ``bivariate.<x>__<y>`` of two numeric columns)."""
    check_query(request, ())
    return _entry(request, response, access, layer_id)


@router.get("/bivariate", tags=["layers"], responses=_ERRORS)
def bivariate(
    request: Request,
    response: Response,
    access: AccessDep,
    x: Annotated[
        str, Query(max_length=120, description="numeric column id, e.g. built_up_fraction_change")
    ],
    y: Annotated[
        str, Query(max_length=120, description="numeric column id, e.g. poverty.p0_persen_2021")
    ],
) -> dict[str, Any]:
    """The bivariate layer of two numeric columns (ids as in ``GET /layers``)."""
    check_query(request, ("x", "y"))
    cat = catalogue(request)
    columns = cat.villages.columns if cat.villages is not None else {}
    for name, value in (("x", x), ("y", y)):
        if value not in columns or columns[value].kind != "numeric":
            raise InvalidParameter(f"{name}: not a numeric column; see GET /layers", parameter=name)
    if x == y:
        raise InvalidParameter("y: must differ from x", parameter="y")
    return _entry(request, response, access, f"bivariate.{x}__{y}")


@router.get(
    "/layers/{layer_id}/{period}/tilejson.json",
    response_model=TileJSON,
    response_model_exclude_none=True,
    tags=["layers"],
    responses=_ERRORS,
)
def tilejson(
    request: Request,
    response: Response,
    access: AccessDep,
    layer_id: Annotated[str, Path(max_length=250)],
    period: Annotated[str, Path(max_length=16)],
    tile_format: Annotated[str | None, Query(max_length=8, description="png or pbf")] = None,
    tilesize: Annotated[int | None, Query()] = None,
    colormap_name: Annotated[str | None, Query(max_length=64)] = None,
    rescale: Annotated[list[str] | None, Query()] = None,
    gamma: Annotated[float | None, Query()] = None,
    classification: Annotated[str | None, Query(max_length=32)] = None,
    n_classes: Annotated[int | None, Query()] = None,
    breaks: Annotated[str | None, Query(max_length=400)] = None,
    column: Annotated[str | None, Query(max_length=120)] = None,
    level: Annotated[str | None, Query(max_length=16, description="pin the level")] = None,
) -> dict[str, Any]:
    """TileJSON 3.0.0 of a layer in a period; its tile URLs carry the (validated) options
    (and the access token of a sensitive layer, when given as ``token``)."""
    ctx = app_context(request)
    cat = ctx.store.current()
    layer = cat.layer(layer_id)
    grant = layer_grant(access, cat, layer)
    if grant is not None:
        refuse_client_classes(request)
        private(response)
    cat.require_period(layer, period)
    fmt = tile_format or layer.formats[0]
    if fmt not in layer.formats:
        raise InvalidParameter(
            f"tile_format: this layer serves {' or '.join(layer.formats)}", parameter="tile_format"
        )
    if layer.raster:
        check_query(request, (RASTER_QUERY - {"v"}) | {"tile_format"})
        spec = ctx.products[layer.raster]
        raster_colormap(spec, colormap_name)
        raster_rendering(spec, rescale, gamma)
    else:
        allowed = choropleth.village_query(layer, fmt) - {"v"}
        check_query(request, allowed | {"tile_format"})
        class_params(request, classification, n_classes, breaks)
        villages = cat.villages
        if column is not None and (villages is None or column not in villages.columns):
            raise InvalidParameter("column: no such column; see GET /layers", parameter="column")
        if column is not None and grant is None:
            grant = layer_grant(access, cat, layer, column=column)
            if grant is not None:
                private(response)
        if level is not None:
            regions.resolve_level(
                cat, layer, settings=ctx.settings, z=None, level=level, column=column
            )
    if fmt == "png":
        tilesize_value(ctx.settings, tilesize)
    # options carried into the tile URLs; the token only for a sensitive layer's tiles
    dropped = {"tile_format"} if grant is not None else {"tile_format", "token"}
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in dropped]
    query.append(("v", cat.version))
    tiles = f"{base_url(request)}/layers/{layer.id}/{period}/tiles/{{z}}/{{x}}/{{y}}.{fmt}"
    bounds = layer_bounds(cat, layer, period)
    settings = ctx.settings
    body: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": f"{layer.title} ({period})",
        "description": f"Pantau layer {layer.id}, period {period}",
        "version": cat.version,
        "attribution": settings.attribution,
        "scheme": "xyz",
        "tiles": [f"{tiles}?{urlencode(query)}"],
        "minzoom": settings.min_zoom,
        "maxzoom": settings.max_zoom,
        "bounds": list(bounds),
        "center": _center(bounds, settings.min_zoom, settings.max_zoom),
    }
    if fmt == "pbf":
        value_kind = None
        if layer.column or column:
            assert cat.villages is not None
            value_kind = cat.villages.columns[layer.column or column or ""].kind
        body["vector_layers"] = [
            {
                "id": MVT_LAYER,
                "fields": vector_fields(value_kind=value_kind, classes=layer.kind != "vector"),
                "minzoom": settings.min_zoom,
                "maxzoom": settings.max_zoom,
            }
        ]
    return body


@router.get(
    "/wmts/WMTSCapabilities.xml",
    tags=["service"],
    response_class=Response,
    responses={
        200: {"content": {WMTS_MEDIA_TYPE: {}}, "description": "WMTS 1.0.0 capabilities"},
        **error_responses(400, 401, 422, 503),
    },
)
def wmts(
    request: Request,
    access: AccessDep,
    service: Annotated[str | None, Query(alias="SERVICE", description="WMTS (KVP)")] = None,
    request_: Annotated[
        str | None, Query(alias="REQUEST", description="GetCapabilities (KVP)")
    ] = None,
    version: Annotated[str | None, Query(alias="VERSION", description="1.0.0 (KVP)")] = None,
) -> Response:
    """OGC WMTS 1.0.0 capabilities listing every PNG layer in every period (sensitive layers
    only for a valid access token, which their tile URLs then carry).

    GIS clients (QGIS, ArcGIS) append the OGC key-value pairs ``SERVICE=WMTS&REQUEST=
    GetCapabilities&VERSION=1.0.0`` to a capabilities URL; they are taken in any letter case
    (OGC parameter names are case-insensitive) and must hold those values.
    """
    check_query(request, ogc_kvp(request))
    ctx = app_context(request)
    cat = ctx.store.current()
    grant = access.grant() if cat.sensitive and access.presented else None
    layers = [
        (layer, period, layer_bounds(cat, layer, period))
        for layer in cat.layers.values()
        if "png" in layer.formats and (grant is not None or not cat.is_sensitive(layer))
        for period in layer.periods
    ]
    body = capabilities(
        base_url(request),
        layers,
        min_zoom=ctx.settings.min_zoom,
        max_zoom=ctx.settings.max_zoom,
        attribution=ctx.settings.attribution,
        query=urlencode({"token": access.token}) if grant and access.in_query else "",
    )
    response = Response(body, media_type=WMTS_MEDIA_TYPE)
    mark(response, cat, grant)
    return response


@router.get(
    "/villages/{kode}", tags=["villages"], responses=error_responses(400, 401, 403, 404, 422, 503)
)
def village(
    request: Request,
    response: Response,
    access: AccessDep,
    kode: Annotated[str, Path(max_length=32)],
) -> dict[str, Any]:
    """One village: name, statistics for every period, every joined indicator (those of
    sensitive tables only for an access token whose scope covers the village)."""
    if not _KODE_RE.match(kode):
        raise InvalidParameter(
            "kode: expected a 10-digit Kemendagri village code such as 3471011001",
            parameter="kode",
        )
    check_query(request, ())
    cat = catalogue(request)
    code = kode.replace(".", "")
    grant = place_grant(access, cat, code)
    mark(response, cat, grant)
    if cat.villages is None:
        raise VillageNotFound("kode: no village table in the products", parameter="kode")
    body = cat.villages.village(code)
    body["indicators"] = indicator_fields(
        body["indicators"], cat.sensitive, granted=grant is not None
    )
    return body


# --------------------------------------------------------------------------- factory


def _with_run_built_up(root: pathlib.Path, products: ProductRegistry) -> ProductRegistry:
    """The registry with the built-up method the run recorded in quality.json, if another."""
    try:
        method = json.loads((root / "quality.json").read_text()).get("built_up_method")
    except (OSError, ValueError, AttributeError):
        return products
    if method not in BUILT_UP_METHODS or "built_up" not in products:
        return products
    if BUILT_UP_METHODS[method].recipe == products["built_up"].recipe:
        return products
    return with_built_up(method, products)


def create_app(
    settings: TilesSettings | None = None, *, products: ProductRegistry = PRODUCTS
) -> FastAPI:
    """Build the tile server for ``settings.products_dir`` (settings from env when None).

    ``products`` is the product registry whose rasters are served (``raster.<name>``) and
    whose statistic columns get their titles from it.
    """
    settings = settings or TilesSettings()  # type: ignore[call-arg]
    if not settings.products_dir.is_dir():
        raise ProductsUnavailable(f"products directory not found: {settings.products_dir}")
    products = _with_run_built_up(settings.products_dir, products)
    _register_convertors()
    gdal_env = gdal_environment()
    store = ProductsStore(
        settings.products_dir,
        products=products,
        rescan_interval=settings.rescan_interval,
        gdal_env=gdal_env,
    )
    store.current()  # scan once now, so a broken directory fails at start-up
    keyring = Keyring.load(*settings.token_secrets())  # a bad secret fails at start-up too
    cache = build_cache(
        settings.cache_size, settings.cache_url, settings.cache_ttl, max_bytes=settings.cache_bytes
    )

    app = FastAPI(
        title="Pantau tiles",
        description="Village-level indicators from Sentinel-2 as map tiles (TileJSON, WMTS, MVT).",
        version="0.1.0",
    )
    limiter = RenderLimiter(
        settings.max_concurrent_renders, settings.max_waiting_renders, settings.render_wait_seconds
    )
    app.state.pantau = AppContext(
        settings=settings, products=products, store=store, cache=cache, gdal_env=gdal_env,
        limiter=limiter, health=health.HealthCheck(store), keyring=keyring,
    )  # fmt: skip
    register_error_handlers(app)
    openapi.install(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["X-Cache"],
        )

    raster_prefix = "/layers/{layer_id:raster_layer}/{period}"
    raster = RasterTilerFactory(router_prefix=raster_prefix, name="raster")
    app.include_router(export.router)  # before the tile routers: /layers/{id}/{period}/table.csv
    app.include_router(raster.router, prefix=raster_prefix, tags=["raster"])
    app.include_router(
        choropleth.router, prefix="/layers/{layer_id:village_layer}/{period}", tags=["villages"]
    )
    app.include_router(openapi.fallback_router)  # ids of no family: 404 naming layer_id
    app.include_router(health.router)
    app.include_router(router)
    app.include_router(regions.router)
    app.include_router(search.router)
    app.add_middleware(Admission, limiter=limiter)  # outermost: before anything queues

    if importlib.util.find_spec("tiles.webmap") is not None:
        importlib.import_module("tiles.webmap").register(app, settings)
    return app
