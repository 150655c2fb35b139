"""OGC WMTS 1.0.0 capabilities (RESTful) for every PNG layer and period, for QGIS and co.

titiler.core 2.x no longer ships a WMTS endpoint (it moved to titiler.extensions, which
describes one dataset per document); this one lists all layers of the catalogue, each
period as its own WMTS layer ``<layer id>@<period>``, in the WebMercatorQuad matrix set.
"""

from __future__ import annotations

import functools
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

import morecantile

from tiles.catalogue import Layer
from tiles.errors import InvalidParameter

__all__ = ["WMTS_MEDIA_TYPE", "capabilities", "ogc_kvp", "wmts_identifier"]

WMTS_MEDIA_TYPE = "application/xml"
_NS = {
    "xmlns": "http://www.opengis.net/wmts/1.0",
    "xmlns:ows": "http://www.opengis.net/ows/1.1",
    "xmlns:xlink": "http://www.w3.org/1999/xlink",
}
_WMQ = morecantile.tms.get("WebMercatorQuad")
_TMS_ID = "WebMercatorQuad"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    # Prefixed names are written as-is; the root declares the prefixes (no global registry).
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def wmts_identifier(layer: Layer, period: str) -> str:
    """WMTS layer identifier of a layer in a period."""
    return f"{layer.id}@{period}"


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    """Column and row of the WebMercatorQuad tile holding a point (clamped to the grid)."""
    n = 1 << z
    lat = max(min(lat, 85.0511), -85.0511)
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return min(max(int(x), 0), n - 1), min(max(int(y), 0), n - 1)


@functools.lru_cache(maxsize=256)
def _limit_rows(bounds: tuple[float, ...], zooms: range) -> tuple[tuple[str, ...], ...]:
    west, south, east, north = bounds
    rows = []
    for z in zooms:
        col0, row0 = _tile_xy(west, north, z)
        col1, row1 = _tile_xy(east, south, z)
        rows.append((str(z), str(row0), str(row1), str(col0), str(col1)))
    return tuple(rows)


def _limits(parent: ET.Element, bounds: tuple[float, ...], zooms: range) -> None:
    links = _sub(parent, "TileMatrixSetLimits")
    names = ("TileMatrix", "MinTileRow", "MaxTileRow", "MinTileCol", "MaxTileCol")
    for values in _limit_rows(tuple(float(b) for b in bounds), zooms):
        limit = _sub(links, "TileMatrixLimits")
        for name, value in zip(names, values, strict=True):
            _sub(limit, name, value)


def capabilities(
    base_url: str,
    layers: Iterable[tuple[Layer, str, tuple[float, ...]]],
    *,
    min_zoom: int,
    max_zoom: int,
    title: str = "Pantau village indicators",
    attribution: str = "",
    query: str = "",
) -> bytes:
    """The capabilities document; ``layers`` are (layer, period, lon/lat bounds).

    ``query`` (e.g. ``token=...``) is appended to the tile URL templates."""
    base = base_url.rstrip("/")
    suffix = f"?{query}" if query else ""
    zooms = range(min_zoom, max_zoom + 1)
    root = ET.Element("Capabilities", {**_NS, "version": "1.0.0"})
    ident = _sub(root, "ows:ServiceIdentification")
    _sub(ident, "ows:Title", title)
    if attribution:
        _sub(ident, "ows:Abstract", attribution)
    _sub(ident, "ows:ServiceType", "OGC WMTS")
    _sub(ident, "ows:ServiceTypeVersion", "1.0.0")
    ops = _sub(root, "ows:OperationsMetadata")
    for operation in ("GetCapabilities", "GetTile"):
        op = _sub(ops, "ows:Operation", name=operation)
        get = _sub(_sub(_sub(op, "ows:DCP"), "ows:HTTP"), "ows:Get")
        get.set("xlink:href", f"{base}/wmts/WMTSCapabilities.xml")
        constraint = _sub(get, "ows:Constraint", name="GetEncoding")
        _sub(_sub(constraint, "ows:AllowedValues"), "ows:Value", "RESTful")
    contents = _sub(root, "Contents")
    for layer, period, bounds in layers:
        node = _sub(contents, "Layer")
        _sub(node, "ows:Title", f"{layer.title} ({period})")
        box = _sub(node, "ows:WGS84BoundingBox", crs="urn:ogc:def:crs:OGC:2:84")
        _sub(box, "ows:LowerCorner", f"{bounds[0]} {bounds[1]}")
        _sub(box, "ows:UpperCorner", f"{bounds[2]} {bounds[3]}")
        _sub(node, "ows:Identifier", wmts_identifier(layer, period))
        style = _sub(node, "Style", isDefault="true")
        _sub(style, "ows:Identifier", "default")
        _sub(node, "Format", "image/png")
        link = _sub(node, "TileMatrixSetLink")
        _sub(link, "TileMatrixSet", _TMS_ID)
        _limits(link, bounds, zooms)
        template = (
            f"{base}/layers/{layer.id}/{period}/tiles/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png"
            + suffix
        )
        _sub(node, "ResourceURL", format="image/png", resourceType="tile", template=template)
    tms = _sub(contents, "TileMatrixSet")
    _sub(tms, "ows:Identifier", _TMS_ID)
    _sub(tms, "ows:SupportedCRS", "urn:ogc:def:crs:EPSG::3857")
    if min_zoom == 0:
        _sub(tms, "WellKnownScaleSet", "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible")
    for z in zooms:
        matrix = _WMQ.matrix(z)
        node = _sub(tms, "TileMatrix")
        _sub(node, "ows:Identifier", str(z))
        _sub(node, "ScaleDenominator", repr(matrix.scaleDenominator))
        x0, y0 = matrix.pointOfOrigin
        _sub(node, "TopLeftCorner", f"{x0!r} {y0!r}")
        _sub(node, "TileWidth", str(matrix.tileWidth))
        _sub(node, "TileHeight", str(matrix.tileHeight))
        _sub(node, "MatrixWidth", str(matrix.matrixWidth))
        _sub(node, "MatrixHeight", str(matrix.matrixHeight))
    meta = _sub(root, "ServiceMetadataURL")
    meta.set("xlink:href", f"{base}/wmts/WMTSCapabilities.xml")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


#: OGC key-value pairs a WMTS client may add to the capabilities URL, and their one value.
_WMTS_KVP = {"service": "WMTS", "request": "GetCapabilities", "version": "1.0.0"}


def ogc_kvp(request: Any) -> list[str]:
    """The OGC key-value parameters present (any letter case), each checked for its value."""
    present = []
    for key, value in request.query_params.items():
        expected = _WMTS_KVP.get(key.lower())
        if expected is None:
            continue
        if value.strip().lower() != expected.lower():
            name = key.upper()
            raise InvalidParameter(f"{name}: must be {expected}", parameter=name)
        present.append(key)
    return present
