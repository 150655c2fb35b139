"""What ``GET /layers`` says about each layer, and which layers a reader may see listed.

Public layers are described once per products version and host name (the listing is cached
on the catalogue); sensitive layers (:mod:`tiles.sensitive`) are listed only to a token
holder, described for the token's scope (range, breaks and legend counts of the villages
inside it), never cached, and their TileJSON URLs carry the token when it came as
``?token=`` (map clients pass URLs on, they cannot add headers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import numpy as np
from starlette.requests import Request

from tiles import choropleth, regions
from tiles.dependencies import app_context
from tiles.legend import ClassParams
from tiles.raster import raster_legend

if TYPE_CHECKING:
    from geo.products import Product, ProductRegistry
    from tiles.access import Grant
    from tiles.catalogue import Catalogue, Layer
    from tiles.sensitive import Access

__all__ = ["base_url", "layer_bounds", "layer_entry", "listed_layers", "tilejson_url"]

#: Host names whose public listing a catalogue keeps at most.
_MAX_LISTINGS = 8


def default_params(request: Request) -> ClassParams:
    """The server's default classification (settings)."""
    settings = app_context(request).settings
    return ClassParams(settings.classification, settings.n_classes)


def base_url(request: Request) -> str:
    """The server's URL as the client reached it, without a trailing ``/``."""
    return str(request.base_url).rstrip("/")


def tilejson_url(request: Request, layer: Layer, period: str, token: str | None = None) -> str:
    """The TileJSON URL of a layer in a period (with ``?token=`` when given)."""
    url = f"{base_url(request)}/layers/{layer.id}/{period}/tilejson.json"
    return f"{url}?{urlencode({'token': token})}" if token else url


def layer_bounds(cat: Catalogue, layer: Layer, period: str) -> tuple[float, ...]:
    """Lon/lat bounds of a layer in a period."""
    if layer.raster:
        return cat.raster_bounds[(layer.raster, period)]
    return layer.bounds


def _layer_product(products: ProductRegistry, layer: Layer) -> Product | None:
    """The registry product of a raster layer or of a choropleth of its statistic column."""
    if layer.raster:
        return products[layer.raster]
    column = (layer.column or "").removesuffix("_change")
    return products.column_products().get(column) if layer.kind == "choropleth" else None


def layer_entry(
    request: Request,
    cat: Catalogue,
    layer: Layer,
    *,
    scope: str = "",
    token: str | None = None,
) -> dict[str, Any]:
    """The JSON description of a layer, as listed by ``GET /layers``.

    ``scope`` limits the range, breaks, categories and legend counts of a sensitive layer to
    the villages inside it; ``token`` is added to its TileJSON URLs.
    """
    ctx = app_context(request)
    params = default_params(request)
    entry: dict[str, Any] = {
        "id": layer.id,
        "kind": layer.kind,
        "title": layer.title,
        "titles": {"id": layer.title_id or layer.title, "en": layer.title},
        "periods": list(layer.periods),
        "formats": list(layer.formats),
        "bounds": [float(b) for b in layer.bounds],
    }
    if layer.raster:
        spec = ctx.products[layer.raster]
        entry["range"] = list(spec.rescale[0] if spec.rescale else spec.valid_range)
        entry["legend"] = raster_legend(spec)
    elif layer.kind in ("choropleth", "bivariate"):
        assert cat.villages is not None
        if layer.column:
            column = cat.villages.columns[layer.column]
            classes = cat.classes(layer, params, scope=scope)
            if column.kind == "categorical":
                entry["categories"] = list(classes.categories)
            else:
                pooled = cat.villages.pooled(column)
                if scope:
                    pooled = pooled[pooled.index.astype(str).str.startswith(scope)]
                values = pooled.to_numpy(dtype="float64")
                finite = values[np.isfinite(values)]
                entry["range"] = [float(finite.min()), float(finite.max())] if finite.size else []
                entry["breaks"] = list(classes.breaks)
        else:
            entry["x"], entry["y"] = layer.x, layer.y
        entry["legend"] = choropleth.layer_legend(cat, layer, params, layer.periods, scope=scope)
    else:
        entry["legend"] = []
    product = _layer_product(ctx.products, layer)
    if product is not None and product.description:
        entry["descriptions"] = {
            "id": product.description_id or product.description,
            "en": product.description,
        }
    if layer.kind in ("choropleth", "bivariate", "vector"):
        entry["levels"] = list(regions.layer_levels(cat, layer))
        entry["aggregation"] = regions.aggregation_notes(cat, layer)
    if cat.is_sensitive(layer):
        entry["sensitive"] = True
        if scope:
            entry["scope"] = scope
    entry["tilejson"] = tilejson_url(request, layer, layer.periods[-1], token)
    entry["tilejsons"] = {p: tilejson_url(request, layer, p, token) for p in layer.periods}
    return entry


def listed_layers(request: Request, cat: Catalogue, access: Access) -> list[dict[str, Any]]:
    """``GET /layers``: the public layers, plus the sensitive ones for a token holder."""
    base = base_url(request)  # entries carry absolute TileJSON URLs
    public = cat.listings.get(base)
    if public is None:  # once per products version (a new version is a new catalogue)
        public = [
            layer_entry(request, cat, layer)
            for layer in cat.layers.values()
            if not cat.is_sensitive(layer)
        ]
        if len(cat.listings) < _MAX_LISTINGS:  # a few host names at most; never grows
            cat.listings[base] = public
    grant: Grant | None = None
    if cat.sensitive and access.presented:
        grant = access.grant()  # a presented token must be valid (401)
    if grant is None:
        return public
    by_id = {entry["id"]: entry for entry in public}
    token = access.token if access.in_query else None
    return [
        by_id.get(layer.id) or layer_entry(request, cat, layer, scope=grant.scope, token=token)
        for layer in cat.layers.values()
    ]
