"""Pantau STAC layer: search Sentinel-2 L2A scenes, parse them, load pixels, publish products."""

from __future__ import annotations

from stac.assets import ReadPolicy
from stac.errors import (
    AssetReadError,
    RadiometryError,
    StacError,
    StacPagingError,
    StacSourceError,
)
from stac.parse import (
    Scene,
    normalize_item,
    parse_item,
    parse_items,
    radiometry,
    scenes_table,
)
from stac.search import search_scenes
from stac.settings import StacSettings
from stac.source import StacSource, resolve_source

__all__: list[str] = [
    "AssetReadError",
    "RadiometryError",
    "ReadPolicy",
    "Scene",
    "StacError",
    "StacSettings",
    "StacPagingError",
    "StacSource",
    "StacSourceError",
    "normalize_item",
    "parse_item",
    "parse_items",
    "radiometry",
    "resolve_source",
    "scenes_table",
    "search_scenes",
]
