"""Mapbox Vector Tiles of the village or region polygons (layer ``villages``).

Polygons come from the catalogue's simplified copy for the zoom band and are clipped to
the tile plus a small buffer, so a tile never carries a full-resolution province.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import mapbox_vector_tile
import numpy as np
import pandas as pd
import shapely
from mapbox_vector_tile.encoder import on_invalid_geometry_make_valid

__all__ = ["MVT_LAYER", "MVT_EXTENT", "MVT_MEDIA_TYPE", "render_mvt", "vector_fields"]

MVT_LAYER = "villages"
MVT_EXTENT = 4096
MVT_BUFFER = 64
MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"


def vector_fields(*, value_kind: str | None, classes: bool) -> dict[str, str]:
    """TileJSON ``vector_layers[].fields`` of a village tile."""
    fields = {
        "kode": "String: Kemendagri code (2, 4, 6 or 10 digits: province to village)",
        "nama": "String: region or village name",
    }
    if value_kind:
        fields["value"] = "Number" if value_kind == "numeric" else "String"
    if classes:
        fields["class"] = "Number: class code (0 = no value)"
        fields["color"] = "String: fill colour of the class"
    return fields


def _value(value: object) -> float | str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return float(value)
    return str(value)


def render_mvt(
    geoms: np.ndarray,
    indices: np.ndarray,
    bounds: tuple[float, float, float, float],
    *,
    kodes: Sequence[str],
    names: Sequence[str | None],
    values: Sequence[object] | None = None,
    codes: np.ndarray | None = None,
    colors: Sequence[str] = (),
    no_data_color: str = "",
    special_colors: Mapping[int, str] | None = None,
) -> bytes | None:
    """Encode the villages ``indices`` (web mercator ``geoms``) into one tile, or None.

    ``special_colors`` colour class codes beyond ``colors`` (the suppressed class)."""
    pad = (bounds[2] - bounds[0]) * MVT_BUFFER / MVT_EXTENT
    box = (bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad)
    clipped = shapely.clip_by_rect(geoms[indices], *box)
    features = []
    for i, geom in zip(indices, clipped, strict=True):
        if geom is None or geom.is_empty or geom.area == 0:
            continue
        props: dict[str, object] = {"kode": str(kodes[i])}
        if names[i]:
            props["nama"] = str(names[i])
        if values is not None and (value := _value(values[i])) is not None:
            props["value"] = value
        if codes is not None:
            code = int(codes[i])
            props["class"] = code
            if 0 < code <= len(colors):
                props["color"] = colors[code - 1]
            else:
                props["color"] = (special_colors or {}).get(code, no_data_color)
        features.append({"geometry": geom, "properties": props})
    if not features:
        return None
    return mapbox_vector_tile.encode(
        [{"name": MVT_LAYER, "features": features}],
        default_options={
            "quantize_bounds": bounds,
            "extents": MVT_EXTENT,
            "on_invalid_geometry": on_invalid_geometry_make_valid,
        },
    )
