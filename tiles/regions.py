"""Region levels for the tile server: regions.parquet, level by zoom, and ``/regions/{kode}``.

``regions.parquet`` (written by ``pantau run``, see :mod:`geo.regions`) holds the statistics of
every kecamatan, kab/kota and province; each level becomes a
:class:`~tiles.villages.VillageData` of its own, with the indicator tables aggregated by their
own level (:func:`geo.regions.region_indicators`). Village layers switch level with the zoom
(:func:`zoom_level`: province up to ``province_max_zoom``, then kab/kota, kecamatan, village),
or are pinned with ``?level=``. A layer whose column does not exist at a level (quantiles,
village categories) falls back to the next finer level that has it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from starlette.requests import Request
from starlette.responses import Response

from geo.codes import LEVEL_LENGTHS
from geo.indicators.store import stored_tables
from geo.privacy import regions_path
from geo.regions import (
    CODE_LEVELS,
    LEVELS,
    RULES,
    default_rules,
    region_indicators,
    village_areas,
)
from tiles.dependencies import catalogue, check_query
from tiles.errors import InvalidParameter, VillageNotFound, error_responses
from tiles.indicators import cached_table
from tiles.places import places
from tiles.sensitive import Access, indicator_fields, mark, place_grant, request_access
from tiles.villages import VillageData

if TYPE_CHECKING:
    from geo.products import ProductRegistry
    from tiles.catalogue import Catalogue, Layer
    from tiles.settings import TilesSettings

__all__ = [
    "LEVEL_NAMES",
    "MAIN_STATISTICS",
    "MAX_CHILDREN",
    "MAX_REGIONS",
    "REGIONS_FILE",
    "RegionSet",
    "aggregation_notes",
    "layer_levels",
    "load_regions",
    "resolve_level",
    "router",
    "zoom_level",
]

logger = logging.getLogger(__name__)

REGIONS_FILE = "regions.parquet"
#: Levels coarsest first; ``?level=`` takes one of these.
LEVEL_NAMES: tuple[str, ...] = tuple(LEVELS)
#: Statistics summarised over a region's children (those present in the products).
MAIN_STATISTICS = ("built_up_fraction", "ndvi_mean", "valid_fraction")
#: Child codes listed by ``/regions/{kode}`` at most.
MAX_CHILDREN = 1000
#: Regions ``GET /regions?level=`` lists at most (Indonesia has 7,285 kecamatan).
MAX_REGIONS = 10_000
#: ``GET /regions?level=`` values -> the level names of tiles.places (``kab`` as elsewhere).
_LIST_LEVELS = {
    "province": "province",
    "kabkota": "kabkota",
    "kab": "kabkota",
    "kecamatan": "kecamatan",
}
_REGION_RE = re.compile(r"^(\d{2}|\d{4}|\d{6}|\d{10}|\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?)$")


@dataclass(frozen=True)
class RegionSet:
    """The region levels of a products directory (none when it has no regions.parquet)."""

    levels: dict[str, VillageData] = field(default_factory=dict)
    #: statistic column -> aggregation rule (geo.regions.RULES)
    rules: dict[str, str] = field(default_factory=dict)
    #: indicator table -> its own level (province, kab, kecamatan, village)
    indicator_levels: dict[str, str] = field(default_factory=dict)


_BY_LENGTH = {n: level for level, n in LEVELS.items()}


def _protected_rows(path: Path, level: str, regions: pd.Index) -> pd.DataFrame:
    """A sensitive table's own region rows at ``level`` (suppressed ones flagged), from
    ``<name>.regions.parquet``: never re-aggregated from its published village rows."""
    rows = cached_table(regions_path(path))
    rows = rows[rows["level"] == CODE_LEVELS[level]]  # type: ignore[index]
    return rows.drop(columns=["level"]).set_index("kode").reindex(regions)


def _region_indicators(
    root: Path,
    areas: pd.Series,
    level: str,
    own_levels: dict[str, str],
    sensitive: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Every stored indicator table at ``level``, columns ``<name>.<column>``."""
    parts = []
    codes = areas.index.str.slice(0, LEVELS[level])  # type: ignore[index]
    index = pd.Index(sorted(codes.unique()), name="kode")
    for name, path in stored_tables(root):
        try:
            table = cached_table(path)
        except Exception:  # a broken table costs its columns, as at village level
            logger.error("cannot read indicator table %s", name, exc_info=True)
            continue
        if table.empty or len(table.columns) <= 3:
            continue
        own = _BY_LENGTH.get(LEVEL_LENGTHS.get(str(table["level"].iloc[0]), 0), "village")
        own_levels[name] = own
        if name in sensitive and LEVELS[own] > LEVELS[level]:  # type: ignore[index]
            try:
                values = _protected_rows(path, level, index)
            except Exception:  # no protected rows: the table has no values at this level
                logger.error("cannot read the region rows of %s", name, exc_info=True)
                continue
        else:
            values = region_indicators(table, areas, level, table_level=own)  # type: ignore[arg-type]
        parts.append(values.add_prefix(f"{name}."))
    return pd.concat(parts, axis=1).reindex(index) if parts else pd.DataFrame(index=index)


def load_regions(
    root: Path,
    villages: VillageData,
    products: ProductRegistry,
    *,
    sensitive: frozenset[str] = frozenset(),
) -> RegionSet:
    """Region levels of ``root/regions.parquet`` (empty when there is none or it is unusable).

    Sensitive tables (``sensitive``) finer than a level take their protected region rows
    (:func:`geo.privacy.regions_path`) there."""
    path = root / REGIONS_FILE
    if not path.is_file() or not path.resolve().is_relative_to(root.resolve()):
        return RegionSet()
    try:
        frame = gpd.read_parquet(path)
        areas = pd.Series(
            village_areas(gpd.GeoSeries(villages.geometry, crs="EPSG:3857")),
            index=pd.Index(villages.kodes.astype(str)),
        )
        levels, own_levels = {}, {}
        for level in LEVEL_NAMES[:-1]:
            rows = frame[frame["level"] == level].drop(columns=["level"])
            if rows.empty:
                continue
            indicators = _region_indicators(root, areas, level, own_levels, sensitive)
            levels[level] = VillageData(
                rows,
                indicators,
                column_titles=products.column_titles(),
                column_titles_id=products.column_titles("id"),
                level=level,
            )
        rules = default_rules(products.aggregation())
        return RegionSet(levels, dict(rules), own_levels)
    except Exception:  # serve the villages even when the regions are unusable
        logger.error("cannot load %s; serving villages only", REGIONS_FILE, exc_info=True)
        return RegionSet()


# --------------------------------------------------------------------------- levels


def _columns(layer: Layer, column: str | None) -> tuple[str, ...]:
    if layer.kind == "bivariate":
        return tuple(c for c in (layer.x, layer.y) if c)
    return tuple(c for c in (layer.column or column,) if c)


def layer_levels(cat: Catalogue, layer: Layer, column: str | None = None) -> tuple[str, ...]:
    """Levels at which a village layer can be drawn, coarsest first (``village`` always)."""
    wanted = _columns(layer, column)
    assert cat.villages is not None
    kinds = {c: cat.villages.columns[c].kind for c in wanted if c in cat.villages.columns}
    found = [
        level
        for level, data in cat.regions.levels.items()
        if all(c in data.columns and data.columns[c].kind == kinds.get(c) for c in wanted)
    ]
    return (*sorted(found, key=LEVEL_NAMES.index), "village")


def zoom_level(settings: TilesSettings, z: int) -> str:
    """The default level at zoom ``z`` (thresholds in the settings)."""
    if z <= settings.province_max_zoom:
        return "province"
    if z <= settings.kab_max_zoom:
        return "kab"
    if z <= settings.kecamatan_max_zoom:
        return "kecamatan"
    return "village"


def resolve_level(
    cat: Catalogue,
    layer: Layer,
    *,
    settings: TilesSettings,
    z: int | None,
    level: str | None,
    column: str | None = None,
) -> str:
    """The level to draw: ``level`` when given (validated), else by zoom, else ``village``."""
    available = layer_levels(cat, layer, column)
    if level is not None:
        if level not in LEVEL_NAMES:
            raise InvalidParameter(
                f"level: must be one of {', '.join(LEVEL_NAMES)}", parameter="level"
            )
        if level not in available:
            why = (
                ""
                if cat.regions.levels
                else " (the products have no regions.parquet; rerun pantau run)"
            )
            raise InvalidParameter(
                f"level: {layer.id} is not available at {level} level{why}; available: "
                f"{', '.join(available)}",
                parameter="level",
            )
        return level
    if z is None:
        return "village"
    start = LEVEL_NAMES.index(zoom_level(settings, z))
    return next(lv for lv in LEVEL_NAMES[start:] if lv in available)


def aggregation_notes(cat: Catalogue, layer: Layer) -> dict[str, str]:
    """How each level of a layer is computed (``area-weighted mean ...``), by level."""
    notes: dict[str, str] = {}
    rules = cat.regions.rules
    for level in layer_levels(cat, layer)[:-1]:
        parts = []
        for column in _columns(layer, None):
            base = column.removesuffix("_change")
            if "." in column:
                parts.append(_indicator_note(cat, column, level))
            elif base in rules:
                change = " (change of the region value)" if base != column else ""
                parts.append(RULES[rules[base]] + change)  # type: ignore[index]
        if parts:
            notes[level] = "; ".join(parts)
    notes["village"] = "village values"
    return notes


def _indicator_note(cat: Catalogue, column: str, level: str) -> str:
    name = column.partition(".")[0]
    own = cat.regions.indicator_levels.get(name, "village")
    if LEVELS[own] <= LEVELS[level]:  # type: ignore[index]
        return f"{own} value" if own != level else "own value"
    if name in cat.sensitive:  # the table's protected region rows (geo.privacy)
        return f"count-weighted mean of {own} values, suppressed where it could reveal one"
    return f"area-weighted mean of {own} values"


# --------------------------------------------------------------------------- /regions


def _summary(data: VillageData, kodes: pd.Index) -> dict[str, Any]:
    columns = [c for c in MAIN_STATISTICS if c in data.columns]
    stats: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for period in data.periods:
        table = data.stats[period].reindex(kodes)
        stats[period] = {}
        for column in columns:
            values = pd.to_numeric(table[column], errors="coerce").dropna()
            values = values[np.isfinite(values)]
            ok = len(values) > 0
            stats[period][column] = {
                "count": int(len(values)),
                "min": float(values.min()) if ok else None,
                "median": float(values.median()) if ok else None,
                "max": float(values.max()) if ok else None,
            }
    return stats


router = APIRouter()


@router.get(
    "/regions",
    tags=["regions"],
    operation_id="listRegions",
    responses=error_responses(400, 422, 503),
)
def list_regions(
    request: Request,
    level: Annotated[
        str | None, Query(description="province, kabkota (or kab) or kecamatan")
    ] = None,
) -> list[dict[str, Any]]:
    """The regions of a level present in the products (those with a village there), with a
    name from the Kemendagri 2025 master list, a ``center`` inside the region to draw the
    name at (lon, lat) and the ``bounds`` of its villages in the products (w, s, e, n)."""
    check_query(request, ("level",))
    if level not in _LIST_LEVELS:
        raise InvalidParameter("level: must be province, kabkota or kecamatan", parameter="level")
    found = places(catalogue(request)).regions.get(_LIST_LEVELS[level], ())
    if len(found) > MAX_REGIONS:
        raise InvalidParameter(
            f"level: the products hold {len(found)} regions of this level, more than the "
            f"{MAX_REGIONS} listed at most; use GET /search to find one",
            parameter="level",
        )
    return [
        {
            "kode": p.kode,
            "name": p.name,
            "level": p.level,
            "center": list(p.center) if p.center else None,
            "bounds": list(p.bounds) if p.bounds else None,
        }
        for p in found
    ]


@router.get(
    "/regions/{kode}",
    tags=["regions"],
    operation_id="getRegion",
    responses=error_responses(400, 401, 403, 404, 422, 503),
)
def region(
    request: Request,
    response: Response,
    access: Annotated[Access, Depends(request_access)],
    kode: Annotated[
        str,
        PathParam(
            max_length=16,
            description="Kemendagri code of a province (34), kab/kota (3404), kecamatan "
            "(340407) or village (3404072001); dotted forms accepted",
        ),
    ],
) -> dict[str, Any]:
    """A region of any level: statistics per period, indicators, and a summary of its children.

    Fields of sensitive indicator tables are only given with an access token whose scope
    covers the region (403 for a token that does not)."""
    if not _REGION_RE.match(kode):
        raise InvalidParameter(
            "kode: expected a Kemendagri code of 2, 4, 6 or 10 digits such as 34, 3404, "
            "340407 or 3404072001",
            parameter="kode",
        )
    check_query(request, ())
    code = kode.replace(".", "")
    level = next(lv for lv, n in LEVELS.items() if n == len(code))
    cat = catalogue(request)
    grant = place_grant(access, cat, code)
    mark(response, cat, grant)
    if cat.villages is None:
        raise VillageNotFound("kode: no village table in the products", parameter="kode")
    if level == "village":
        return _visible({**cat.villages.village(code), "level": "village"}, cat, grant)
    data = cat.regions.levels.get(level)
    if data is None:
        raise VillageNotFound(
            f"kode: the products have no {level} statistics (no regions.parquet)",
            parameter="kode",
        )
    if code not in data.kodes:
        raise VillageNotFound(f"kode: no {level} with this code", parameter="kode")
    body = _visible({**data.village(code), "level": level}, cat, grant)
    finer = LEVEL_NAMES[LEVEL_NAMES.index(level) + 1 :]
    child_level = next(lv for lv in finer if lv == "village" or lv in cat.regions.levels)
    child = cat.data(child_level)
    kodes = child.kodes[child.kodes.str.startswith(code)]
    body["children"] = {
        "level": child_level,
        "count": len(kodes),
        "kodes": list(kodes[:MAX_CHILDREN]),
        "truncated": len(kodes) > MAX_CHILDREN,
        "statistics": _summary(child, kodes),
    }
    return body


def _visible(body: dict[str, Any], cat: Catalogue, grant: object) -> dict[str, Any]:
    """A place's body with only the indicator fields its reader may see."""
    body["indicators"] = indicator_fields(
        body["indicators"], cat.sensitive, granted=grant is not None
    )
    return body
