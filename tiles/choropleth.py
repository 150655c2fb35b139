"""Village layers: choropleth and bivariate PNG tiles, their MVT twins, and their legends.

A PNG tile rasterizes the villages intersecting the tile (polygons simplified for the zoom
band, in web mercator) with their class code, then looks the codes up in the legend's
colours; villages without a value are grey with darker hatching, villages whose values a
sensitive table suppresses mid grey with darker cross-hatching. Sensitive layers
(:mod:`tiles.sensitive`) need a token, draw only the villages of its scope, and bypass the
tile cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, NamedTuple

import morecantile
import numpy as np
import shapely
from fastapi import APIRouter, Depends, Path, Query
from rasterio.features import rasterize
from rasterio.transform import Affine
from rio_tiler.utils import render
from starlette.requests import Request
from starlette.responses import Response

from tiles.access import Grant
from tiles.cache import CachedTile, cached_response, tile_key
from tiles.catalogue import Catalogue, Layer
from tiles.dependencies import (
    CLASS_QUERY,
    app_context,
    catalogue,
    check_query,
    check_tile,
    class_params,
    tilesize_value,
)
from tiles.errors import InvalidParameter, LayerNotFound, TileNotFound, error_responses
from tiles.legend import (
    HATCH_COLOR,
    NO_DATA_COLOR,
    SUPPRESSED_CODE,
    SUPPRESSED_COLOR,
    SUPPRESSED_HATCH_COLOR,
    Classes,
    ClassParams,
    hex_to_rgba,
    suppressed_entry,
)
from tiles.regions import LEVEL_NAMES, aggregation_notes, resolve_level
from tiles.sensitive import (
    Access,
    layer_grant,
    private,
    refuse_client_classes,
    request_access,
)
from tiles.shedding import arrival
from tiles.vector import MVT_MEDIA_TYPE, render_mvt
from tiles.villages import ZoomGeometry

__all__ = [
    "VILLAGE_KINDS",
    "OUTLINE_ZOOM",
    "tile_bounds",
    "render_png",
    "village_query",
    "layer_legend",
    "router",
]

VILLAGE_KINDS = ("choropleth", "bivariate", "vector")
#: From this zoom, village borders are drawn on PNG tiles.
OUTLINE_ZOOM = 12
_NO_DATA_CODE = 255
_WMQ = morecantile.tms.get("WebMercatorQuad")


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web-mercator bounds of a WebMercatorQuad tile."""
    b = _WMQ.xy_bounds(morecantile.Tile(x, y, z))
    return (b.left, b.bottom, b.right, b.top)


def _lookup(colors: Sequence[str]) -> np.ndarray:
    lut = np.zeros((256, 4), dtype=np.uint8)
    for i, color in enumerate(colors):
        lut[i + 1] = hex_to_rgba(color)
    lut[_NO_DATA_CODE] = hex_to_rgba(NO_DATA_COLOR)
    lut[SUPPRESSED_CODE] = hex_to_rgba(SUPPRESSED_COLOR)
    return lut


def render_png(
    geometry: ZoomGeometry,
    indices: np.ndarray,
    codes: np.ndarray,
    colors: Sequence[str],
    bounds: tuple[float, float, float, float],
    *,
    tilesize: int,
    outline: bool,
) -> bytes | None:
    """RGBA PNG of the villages ``indices`` coloured by class, or None when nothing shows."""
    west, south, east, north = bounds
    transform = Affine((east - west) / tilesize, 0.0, west, 0.0, (south - north) / tilesize, north)
    values = np.where(codes[indices] == 0, _NO_DATA_CODE, codes[indices]).astype(int)
    shapes = zip(geometry.geoms[indices], values.tolist(), strict=True)
    raster = rasterize(
        shapes, out_shape=(tilesize, tilesize), transform=transform, fill=0, dtype="uint8"
    )
    if not raster.any():
        return None
    rgba = _lookup(colors)[raster]
    no_data, suppressed = raster == _NO_DATA_CODE, raster == SUPPRESSED_CODE
    if no_data.any() or suppressed.any():
        rows, cols = np.indices(raster.shape)
        rgba[no_data & ((rows + cols) % 6 == 0)] = hex_to_rgba(HATCH_COLOR)
        cross = ((rows + cols) % 6 == 0) | ((rows - cols) % 6 == 0)
        rgba[suppressed & cross] = hex_to_rgba(SUPPRESSED_HATCH_COLOR)
    if outline:
        lines = rasterize(
            ((shapely.boundary(g), 1) for g in geometry.geoms[indices]),
            out_shape=raster.shape, transform=transform, fill=0, dtype="uint8",
        )  # fmt: skip
        edge = (lines == 1) & (raster > 0)
        rgba[edge, :3] = (rgba[edge, :3] * 0.55).astype(np.uint8)
        rgba[edge, 3] = 255
    bands = np.moveaxis(rgba, -1, 0)
    return render(np.ascontiguousarray(bands[:3]), mask=bands[3], img_format="PNG")


def village_query(layer: Layer, fmt: str) -> frozenset[str]:
    """Query parameters a village tile takes."""
    allowed = {"v", "level"}
    if fmt == "png":
        allowed.add("tilesize")
    if layer.kind == "choropleth":
        allowed |= CLASS_QUERY
    if layer.kind == "vector":
        allowed.add("column")
    return frozenset(allowed)


def legend_entries(
    cat: Catalogue,
    layer: Layer,
    classes: Classes,
    periods: Sequence[str],
    level: str = "village",
    scope: str = "",
) -> list[dict]:
    """Legend entries with a village (region) count per period (``counts``) or one (``count``),
    counting the villages (regions) inside ``scope``; a sensitive layer's end with the
    suppressed class."""
    sensitive = cat.is_sensitive(layer)
    entries = classes.legend() + ([suppressed_entry()] if sensitive else [])
    mask = cat.scope_mask(level, scope)
    for period in periods:
        codes = cat.codes(layer, period, classes, level)
        if mask is not None:
            codes = codes[mask]
        counted = classes.legend(codes) + ([suppressed_entry(codes)] if sensitive else [])
        for entry, c in zip(entries, counted, strict=True):
            if len(periods) == 1:
                entry["count"] = c["count"]
            else:
                entry.setdefault("counts", {})[period] = c["count"]
    return entries


def layer_legend(
    cat: Catalogue,
    layer: Layer,
    params: ClassParams,
    periods: Sequence[str],
    level: str = "village",
    scope: str = "",
) -> list[dict] | dict:
    """The legend of a village layer at a level (counts inside ``scope``): a list, or a 3x3
    grid for a bivariate layer."""
    if layer.kind == "vector":
        return []
    classes = cat.classes(layer, params, level, scope)
    entries = legend_entries(cat, layer, classes, periods, level, scope)
    if layer.kind != "bivariate":
        return entries
    assert cat.villages is not None and layer.x and layer.y
    cols = cat.villages.columns
    grid = {
        "x": {"column": layer.x, "title": cols[layer.x].title, "breaks": list(classes.x_breaks)},
        "y": {"column": layer.y, "title": cols[layer.y].title, "breaks": list(classes.y_breaks)},
        "cells": [entries[row * 3 : row * 3 + 3] for row in range(3)],
        "no_data": entries[9],
    }
    if len(entries) > 10:
        grid["suppressed"] = entries[10]
    return grid


# --------------------------------------------------------------------------- endpoints

router = APIRouter()

LayerId = Annotated[str, Path(description="choropleth.*, bivariate.* or vector.villages")]
Period = Annotated[str, Path(description="period label, e.g. 2024 or 2024-Q1")]
LevelQuery = Annotated[
    str | None,
    Query(
        max_length=16,
        description=f"pin the level ({', '.join(LEVEL_NAMES)}); default: by zoom (tiles), "
        "village (legend)",
    ),
]


class VillageLayer(NamedTuple):
    """A village layer named in the path, with who asks and, for a sensitive one, the grant."""

    cat: Catalogue
    layer: Layer
    access: Access
    grant: Grant | None


def village_layer(
    request: Request,
    layer_id: LayerId,
    period: Period,
    access: Annotated[Access, Depends(request_access)],
) -> VillageLayer:
    """The village layer named in the path, for a period it has; a sensitive layer's token is
    checked first (401), so nothing of it is told to a reader without one."""
    cat = catalogue(request)
    layer = cat.layer(layer_id)
    if layer.kind not in VILLAGE_KINDS or cat.villages is None:
        raise LayerNotFound("layer_id: no such layer; see GET /layers", parameter="layer_id")
    grant = layer_grant(access, cat, layer)
    if grant is not None:
        refuse_client_classes(request)
    cat.require_period(layer, period)
    return VillageLayer(cat, layer, access, grant)


@router.get(
    "/tiles/{z}/{x}/{y}.{format}",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, MVT_MEDIA_TYPE: {}}, "description": "a tile"},
        204: {"description": "no village in this tile"},
        **error_responses(400, 401, 404, 422, 503),
    },
    operation_id="getVillageTile",
)
def village_tile(
    request: Request,
    z: Annotated[int, Path(description="zoom level")],
    x: Annotated[int, Path(description="tile column")],
    y: Annotated[int, Path(description="tile row")],
    format: Annotated[str, Path(description="png or pbf")],
    resolved: Annotated[VillageLayer, Depends(village_layer)],
    params: Annotated[ClassParams, Depends(class_params)],
    tilesize: Annotated[int | None, Query(description="tile size in pixels (png)")] = None,
    column: Annotated[
        str | None, Query(max_length=120, description="column id for vector.villages")
    ] = None,
    v: Annotated[str | None, Query(max_length=64, description="products version")] = None,
    level: LevelQuery = None,
) -> Response:
    """A choropleth/bivariate PNG or an MVT of the villages (204 where there are none).

    A sensitive layer needs an access token (``token``) and draws only the villages (regions)
    inside its scope; its tiles are never cached (``Cache-Control: private, no-store``)."""
    ctx = app_context(request)
    cat, layer, access, grant = resolved
    period = request.path_params["period"]
    if format not in layer.formats:
        raise TileNotFound(
            f"format: this layer serves {' or '.join(layer.formats)}", parameter="format"
        )
    check_query(request, village_query(layer, format))
    check_tile(ctx.settings, z, x, y)
    size = tilesize_value(ctx.settings, tilesize) if format == "png" else 0
    villages = cat.villages
    assert villages is not None
    value_column = None
    if layer.kind == "vector" and column is not None:
        if column not in villages.columns:
            raise InvalidParameter("column: no such column; see GET /layers", parameter="column")
        value_column = villages.columns[column]
        grant = layer_grant(access, cat, layer, column=column)
    elif layer.column:
        value_column = villages.columns[layer.column]
    drawn = resolve_level(
        cat, layer, settings=ctx.settings, z=z, level=level,
        column=value_column.id if value_column else None,
    )  # fmt: skip
    key = tile_key(
        layer=layer.id, period=period, z=z, x=x, y=y, fmt=format,
        params={"tilesize": size, "classes": params, "column": column, "level": drawn},
        version=cat.version,
    )  # fmt: skip

    scope = grant.scope if grant else ""

    def inside(indices: np.ndarray) -> np.ndarray:
        mask = cat.scope_mask(drawn, scope)
        return indices if mask is None else indices[mask[indices]]

    def draw() -> CachedTile:
        data = cat.data(drawn)
        geometry = data.geometry_for_zoom(z)
        bounds = tile_bounds(z, x, y)
        classes = cat.classes(layer, params, drawn, scope) if layer.kind != "vector" else None
        codes = cat.codes(layer, period, classes, drawn) if classes else None
        if format == "png":
            assert classes is not None and codes is not None
            indices = inside(geometry.query(bounds))
            body = render_png(
                geometry, indices, codes, classes.colors, bounds,
                tilesize=size, outline=z >= OUTLINE_ZOOM,
            ) if indices.size else None  # fmt: skip
            return CachedTile(200, "image/png", body) if body else CachedTile(204, "", b"")
        pad = (bounds[2] - bounds[0]) / 64
        indices = inside(
            geometry.query((bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad))
        )
        values = (
            data.values(data.columns[value_column.id], period).to_numpy() if value_column else None
        )
        body = render_mvt(
            geometry.geoms, indices, bounds,
            kodes=data.kodes, names=data.names.to_numpy(), values=values, codes=codes,
            colors=classes.colors if classes else (), no_data_color=NO_DATA_COLOR,
            special_colors={SUPPRESSED_CODE: SUPPRESSED_COLOR},
        ) if indices.size else None  # fmt: skip
        return CachedTile(200, MVT_MEDIA_TYPE, body) if body else CachedTile(204, "", b"")

    arrived = arrival(request)
    return cached_response(
        ctx.cache, key, draw, fresh=v == cat.version, slot=lambda: ctx.limiter.slot(arrived),
        private=grant is not None,
    )  # fmt: skip


@router.get(
    "/legend.json",
    operation_id="getVillageLegend",
    responses=error_responses(400, 401, 404, 422, 503),
)
def village_legend(
    request: Request,
    response: Response,
    resolved: Annotated[VillageLayer, Depends(village_layer)],
    params: Annotated[ClassParams, Depends(class_params)],
    level: LevelQuery = None,
) -> dict:
    """Legend of a village layer in one period at a level, with the count per class (for a
    sensitive layer: inside the token's scope, and a class of suppressed villages)."""
    cat, layer, _, grant = resolved
    scope = grant.scope if grant else ""
    if grant is not None:
        private(response)
    check_query(request, village_query(layer, "pbf") - {"v", "column"})
    period = request.path_params["period"]
    ctx = app_context(request)
    drawn = resolve_level(cat, layer, settings=ctx.settings, z=None, level=level)
    body: dict = {"id": layer.id, "period": period, "level": drawn}
    notes = aggregation_notes(cat, layer)
    if drawn in notes:
        body["aggregation"] = notes[drawn]
    if layer.kind == "choropleth":
        classes = cat.classes(layer, params, drawn, scope)
        body["kind"] = classes.kind
        if classes.kind == "numeric":
            body["breaks"] = list(classes.breaks)
    body["legend"] = layer_legend(cat, layer, params, [period], drawn, scope)
    return body
