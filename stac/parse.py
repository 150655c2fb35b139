"""Items -> scenes: canonical band hrefs and the radiometry of each scene. Pure, no I/O.

The radiometry rule is documented in ``docs/radiometry.md``; ``radiometry`` is the one
place that decides it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

import pandas as pd
import pystac

from geo.sentinel2 import (
    BANDS,
    BASELINE_WITH_OFFSET,
    BOA_ADD_OFFSET_DN,
    REFLECTANCE_SCALE,
    canonical_band,
)
from stac.errors import RadiometryError, StacError

__all__ = [
    "Scene",
    "REQUIRED_BANDS",
    "BASELINE_04_DATE",
    "parse_item",
    "parse_items",
    "scenes_table",
    "normalize_item",
    "band_assets",
    "radiometry",
    "processing_baseline",
    "item_datetime",
]

# Bands every scene must have for Pantau's indices and cloud mask.
REQUIRED_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir16", "scl")
# First day ESA produced L2A with processing baseline 04.00 (the +1000 DN shift).
BASELINE_04_DATE = date(2022, 1, 25)
_OFFSET_WITH_SHIFT = -BOA_ADD_OFFSET_DN * REFLECTANCE_SCALE
_BOA_APPLIED = "earthsearch:boa_offset_applied"
_BASELINE = "s2:processing_baseline"
# Bands whose pixels are reflectance (SCL is a class map: no scale, no offset).
_REFLECTANCE = frozenset(BANDS) - {"scl"}
_RASTER_SCHEMA = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
# Copernicus Data Space asset keys carry the resolution: B04_10m, SCL_20m.
_RESOLUTION_KEY = re.compile(r"(.+)_(\d+)m")
_TABLE_COLUMNS = [
    "id",
    "collection",
    "datetime",
    "cloud_cover",
    "processing_baseline",
    "epsg",
    "scale",
    "offset",
    "radiometry_rule",
    "bands",
]


@dataclass(frozen=True)
class Scene:
    """One Sentinel-2 L2A scene: when, where, its band hrefs and how DN become reflectance.

    ``reflectance = DN * scale + offset`` for every band in ``hrefs`` except ``scl``.
    """

    id: str
    collection: str | None
    datetime: datetime
    cloud_cover: float | None
    processing_baseline: str | None
    epsg: int | None
    bbox: tuple[float, float, float, float]
    hrefs: Mapping[str, str]
    scale: float
    offset: float
    radiometry_rule: str


def parse_item(item: pystac.Item, *, required: Iterable[str] = REQUIRED_BANDS) -> Scene:
    """The Scene of one STAC item; StacError if a required band is missing."""
    assets = band_assets(item, required=required)
    scale, offset, rule = radiometry(item)
    props = item.properties
    cloud = props.get("eo:cloud_cover")
    baseline = props.get(_BASELINE)
    return Scene(
        id=item.id,
        collection=item.collection_id,
        datetime=item_datetime(item),
        cloud_cover=None if cloud is None else float(cloud),
        processing_baseline=None if baseline is None else str(baseline),
        epsg=_epsg(item),
        bbox=_bbox(item),
        hrefs=MappingProxyType({band: asset.href for band, asset in assets.items()}),
        scale=scale,
        offset=offset,
        radiometry_rule=rule,
    )


def parse_items(
    items: Iterable[pystac.Item], *, required: Iterable[str] = REQUIRED_BANDS
) -> list[Scene]:
    """The Scenes of several items, in the order given."""
    required = tuple(required)
    return [parse_item(item, required=required) for item in items]


def scenes_table(scenes: Sequence[Scene]) -> pd.DataFrame:
    """One row per scene: id, datetime, cloud cover, baseline, radiometry, bands."""
    rows = [
        {
            "id": s.id,
            "collection": s.collection,
            "datetime": s.datetime,
            "cloud_cover": s.cloud_cover,
            "processing_baseline": s.processing_baseline,
            "epsg": s.epsg,
            "scale": s.scale,
            "offset": s.offset,
            "radiometry_rule": s.radiometry_rule,
            "bands": ",".join(s.hrefs),
        }
        for s in scenes
    ]
    table = pd.DataFrame(rows, columns=_TABLE_COLUMNS)
    table["datetime"] = pd.to_datetime(table["datetime"], utc=True)
    return table


def band_assets(item: pystac.Item, *, required: Iterable[str] = ()) -> dict[str, pystac.Asset]:
    """The item's band assets keyed by canonical name (``B04``/``red``/``B04_10m`` -> ``red``).

    Only bands are kept: no ``-jp2`` twins, previews or metadata. When a provider has several
    assets of one band, the canonical key wins, then a plain alias, then the finest of the
    resolution-suffixed keys of the Copernicus Data Space catalogue (``B04_10m`` before
    ``B04_20m``).
    """
    found: dict[str, tuple[tuple[int, int], pystac.Asset]] = {}
    for key, asset in item.assets.items():
        match = _asset_band(key)
        if match is None:
            continue
        band, rank = match
        if band not in found or rank < found[band][0]:
            found[band] = (rank, asset)
    missing = [band for band in required if band not in found]
    if missing:
        raise StacError(
            f"item {item.id!r} has no asset for band(s) {', '.join(missing)}; its assets are "
            f"{', '.join(sorted(item.assets)) or 'none'}. Search a Sentinel-2 L2A collection "
            "(asset keys like red/B04/B04_10m, nir/B08, swir16/B11, scl/SCL)"
        )
    return {band: asset for band, (_, asset) in found.items()}


def _asset_band(key: str) -> tuple[str, tuple[int, int]] | None:
    """``(band, rank)`` of an asset key; lower ranks win when a band has several assets."""
    band = canonical_band(key)
    if band is not None:
        return band, (0 if key == band else 1, 0)
    match = _RESOLUTION_KEY.fullmatch(key)
    if match is not None:
        band = canonical_band(match[1])
        if band is not None:
            return band, (2, int(match[2]))
    return None


def normalize_item(item: pystac.Item, *, required: Iterable[str] = REQUIRED_BANDS) -> pystac.Item:
    """A copy of the item whose assets are its bands under canonical names.

    The copy loads with ``odc.stac.load(items, bands=["red", "nir", "scl", ...])`` whatever
    the provider; each asset keeps its ``raster:bands``/``eo:bands`` metadata. Assets with no
    ``raster:bands`` (Planetary Computer) get the L2A pixel type and nodata only (uint16,
    SCL uint8, nodata 0) so odc-stac does not load them as float32 without nodata; no
    scale/offset is added: ``radiometry`` decides those.
    """
    assets = band_assets(item, required=required)
    copy = item.clone()
    copy.assets = {}
    for band, asset in assets.items():
        clone = asset.clone()
        if not clone.extra_fields.get("raster:bands"):
            dtype = "uint8" if band == "scl" else "uint16"
            clone.extra_fields["raster:bands"] = [{"nodata": 0, "data_type": dtype}]
            if not any("/raster/" in uri for uri in copy.stac_extensions):
                copy.stac_extensions.append(_RASTER_SCHEMA)
        copy.add_asset(band, clone)
    return copy


def radiometry(item: pystac.Item) -> tuple[float, float, str]:
    """How the item's DN become reflectance: ``(scale, offset, rule_text)``.

    Precedence (docs/radiometry.md):
    1. ``earthsearch:boa_offset_applied`` present: true -> no offset left in the pixels;
       false -> pixels are raw, the processing baseline (or date) decides;
    2. the scale and offset the reflectance assets declare: STAC 1.0 ``raster:bands``, or
       STAC 1.1 ``bands`` entries (``raster:scale``/``raster:offset`` or ``scale``/``offset``)
       and asset-level ``raster:scale``/``raster:offset`` (the Copernicus Data Space shape);
       except on Earth Search ``sentinel-2-l2a`` whose raster:bands offset is known to be wrong;
    3. ``s2:processing_baseline`` >= 04.00 -> offset -0.1, else 0;
    4. nothing known: the acquisition date (>= 2022-01-25 -> -0.1), said so in rule_text.
    """
    applied = item.properties.get(_BOA_APPLIED)
    if applied is True:
        return REFLECTANCE_SCALE, 0.0, f"{_BOA_APPLIED}=true: shift already removed from pixels"
    if applied is False:
        scale, offset, rule = _by_baseline_or_date(item)
        return scale, offset, f"{_BOA_APPLIED}=false, raw pixels; {rule}"
    if applied is not None:
        raise RadiometryError(
            f"item {item.id!r}: {_BOA_APPLIED} is {applied!r}; expected true or false"
        )
    if not _is_earth_search_l2a(item):
        declared = _declared_scale_offset(item)
        if declared is not None:
            scale, offset, where = declared
            return scale, offset, f"{where} of the reflectance assets: offset {offset:g}"
    return _by_baseline_or_date(item)


def processing_baseline(item: pystac.Item) -> tuple[int, int] | None:
    """The item's ``s2:processing_baseline`` as ``(major, minor)``, or None when absent."""
    value = item.properties.get(_BASELINE)
    if value is None:
        return None
    match = re.fullmatch(r"N?(\d{1,2})\.?(\d{1,2})", str(value).strip())
    if match is None:
        raise RadiometryError(
            f"item {item.id!r}: cannot read {_BASELINE} {value!r}; expected a value like '04.00'"
        )
    return int(match[1]), int(match[2])


def item_datetime(item: pystac.Item) -> datetime:
    """The acquisition time in UTC (``datetime`` or else ``start_datetime``)."""
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        raise StacError(f"item {item.id!r} has neither datetime nor start_datetime")
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _by_baseline_or_date(item: pystac.Item) -> tuple[float, float, str]:
    baseline = processing_baseline(item)
    if baseline is not None:
        text = f"{_BASELINE} {baseline[0]:02d}.{baseline[1]:02d}"
        if baseline >= BASELINE_WITH_OFFSET:
            return REFLECTANCE_SCALE, _OFFSET_WITH_SHIFT, f"{text} >= 04.00: +1000 DN shift"
        return REFLECTANCE_SCALE, 0.0, f"{text} < 04.00: no shift"
    day = item_datetime(item).date()
    if day >= BASELINE_04_DATE:
        rule = f"no radiometric metadata; assumed +1000 DN shift (acquired {day} >= 2022-01-25)"
        return REFLECTANCE_SCALE, _OFFSET_WITH_SHIFT, rule
    return REFLECTANCE_SCALE, 0.0, f"no radiometric metadata; assumed no shift (acquired {day})"


def _is_earth_search_l2a(item: pystac.Item) -> bool:
    """Earth Search's older ``sentinel-2-l2a``: raster:bands say -0.1 whatever the pixels."""
    if item.collection_id != "sentinel-2-l2a":
        return False
    if any(key.startswith("earthsearch:") for key in item.properties):
        return True
    return any("sentinel-cogs" in asset.href for asset in item.assets.values())


def _declared_scale_offset(item: pystac.Item) -> tuple[float, float, str] | None:
    """The one (scale, offset) the reflectance assets declare and where, None if none do.

    A band entry's own values win over its asset's (STAC 1.1 lets bands override the asset);
    an entry counts only with both a scale and an offset.
    """
    declared: set[tuple[float, float]] = set()
    sources: set[str] = set()
    for band, asset in band_assets(item).items():
        if band not in _REFLECTANCE:
            continue
        fields = asset.extra_fields
        for source, entries in (("raster:bands", "raster:bands"), ("STAC 1.1 bands", "bands")):
            for entry in fields.get(entries) or []:
                pair = _scale_offset(entry, fields)
                if pair is not None:
                    declared.add(pair)
                    sources.add(source)
        if not fields.get("bands") and not fields.get("raster:bands"):
            pair = _scale_offset({}, fields)
            if pair is not None:
                declared.add(pair)
                sources.add("STAC 1.1 asset raster:scale/raster:offset")
    if len(declared) > 1:
        raise RadiometryError(
            f"item {item.id!r}: its reflectance assets declare different "
            f"{' and '.join(sorted(sources))} scale/offset {sorted(declared)}; fix the catalog "
            "so all bands agree"
        )
    if not declared:
        return None
    scale, offset = declared.pop()
    return scale, offset, " and ".join(sorted(sources))


def _scale_offset(entry: Mapping[str, Any], asset: Mapping[str, Any]) -> tuple[float, float] | None:
    """(scale, offset) of a band entry, falling back on its asset's STAC 1.1 fields."""

    def pick(name: str) -> Any:
        for source in (entry, asset):
            for key in (name, f"raster:{name}"):
                if source.get(key) is not None:
                    return source[key]
        return None

    scale, offset = pick("scale"), pick("offset")
    if scale is None or offset is None:
        return None
    return float(scale), float(offset)


def _epsg(item: pystac.Item) -> int | None:
    """The item's EPSG code: item ``proj:epsg``/``proj:code``, else its band assets' one.

    STAC 1.1 catalogues (Copernicus Data Space) put ``proj:code`` on the assets only.
    """
    epsg = _epsg_of(item.properties)
    if epsg is not None:
        return epsg
    codes = {
        code
        for band, asset in band_assets(item).items()
        if (code := _epsg_of(asset.extra_fields)) is not None
    }
    if len(codes) > 1:
        raise StacError(
            f"item {item.id!r}: its band assets are in different projections "
            f"{sorted(codes)}; Pantau needs one EPSG per scene"
        )
    return codes.pop() if codes else None


def _epsg_of(fields: Mapping[str, Any]) -> int | None:
    epsg = fields.get("proj:epsg")
    if epsg is not None:
        return int(epsg)
    code = fields.get("proj:code")
    if isinstance(code, str) and re.fullmatch(r"EPSG:\d+", code.strip(), flags=re.IGNORECASE):
        return int(code.split(":", 1)[1])
    return None


def _bbox(item: pystac.Item) -> tuple[float, float, float, float]:
    if item.bbox is None or len(item.bbox) != 4:
        raise StacError(f"item {item.id!r} has no 2D bbox")
    west, south, east, north = (float(v) for v in item.bbox)
    return west, south, east, north
