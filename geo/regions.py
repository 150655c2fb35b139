"""Villages to regions: statistics of kecamatan, kab/kota and province from the village table.

A region of a level is every village whose 10-digit code starts with the region's code
(2 digits province, 4 kab/kota, 6 kecamatan). Each statistic aggregates by a declared rule:

``clear_mean``
    mean weighted by the village's clear area, ``area x valid_fraction``. Index means and
    ``built_up_fraction`` are means over the pixels with a clear observation, so this is the
    exact region value (the mean over the region's clear pixels), not an approximation.
``area_mean``
    mean weighted by the village's area (``valid_fraction`` itself: the share of the region's
    area with a clear observation).
``sum``
    summed (counts; ``n_villages`` and ``area_km2`` of every region).

Quantiles, the standard deviation and ``n_obs`` (a per-pixel median) cannot be aggregated
exactly from village values, so they are left out of the regions rather than shown as
something they are not. Areas are computed in EPSG:6933 (equal-area). Missing values drop
out of both sides of a weighted mean; a region without any value is NaN.

Change columns are recomputed at region level: the region's value in a period minus its value
in the previous period (never an average of village changes).

Indicators (:func:`region_indicators`) aggregate by their own level: a table of kab/kota
values gives each kab/kota its own value, each kecamatan and village the value of its
kab/kota, and each province the mean of its kab/kota values weighted by their area (there
is no population in the products); a village table gives each region the area-weighted mean
of its villages that have a value. Categorical columns only pass down to finer levels (a
kab/kota category is every kecamatan's category) and are left out of coarser ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.codes import CodeLevel, kemendagri_names

__all__ = [
    "AREA_CRS",
    "CODE_LEVELS",
    "LEVELS",
    "RULES",
    "SLIVER_AREA",
    "Level",
    "RegionLevel",
    "Rule",
    "aggregate_regions",
    "default_rules",
    "region_indicators",
    "village_areas",
]

RegionLevel = Literal["province", "kab", "kecamatan"]
Level = Literal["province", "kab", "kecamatan", "village"]
Rule = Literal["clear_mean", "area_mean", "sum"]

#: Code length of each level, coarsest first.
LEVELS: Final[dict[Level, int]] = {"province": 2, "kab": 4, "kecamatan": 6, "village": 10}
#: The names geo.codes uses for the same levels.
CODE_LEVELS: Final[dict[Level, CodeLevel]] = {
    "province": "provinsi",
    "kab": "kabkota",
    "kecamatan": "kecamatan",
    "village": "desa",
}
RULES: Final[dict[Rule, str]] = {
    "clear_mean": "area-weighted mean over the clear area",
    "area_mean": "area-weighted mean",
    "sum": "sum",
}
#: Equal-area CRS the village areas are computed in.
AREA_CRS: Final = "EPSG:6933"
#: Holes smaller than this (degrees², about 1 ha) in a dissolved region are slivers between
#: village polygons that do not quite touch; they are filled.
SLIVER_AREA: Final = 8e-7
_CHANGE = "_change"


def default_rules(columns: Mapping[str, str] | None = None) -> dict[str, Rule]:
    """Rules of the engine's columns plus ``columns`` (e.g. ``PRODUCTS.aggregation()``)."""
    rules: dict[str, Rule] = {"valid_fraction": "area_mean"}
    for column, rule in (columns or {}).items():
        if rule not in RULES:
            raise ValueError(f"column {column!r}: unknown rule {rule!r}; use one of {list(RULES)}")
        rules[column] = rule  # type: ignore[assignment]
    return rules


def village_areas(geometry: gpd.GeoSeries) -> np.ndarray:
    """Area of each polygon in m² (EPSG:6933)."""
    return np.asarray(geometry.to_crs(AREA_CRS).area, dtype="float64")


def _weighted(values: pd.Series, weights: pd.Series, keys: list[pd.Series]) -> pd.Series:
    ok = values.notna() & np.isfinite(values.astype("float64")) & (weights > 0)
    w = weights.where(ok, 0.0)
    num = (values.astype("float64").where(ok, 0.0) * w).groupby(keys).sum()
    den = w.groupby(keys).sum()
    return num / den.where(den > 0)


def _fill_slivers(geom: shapely.Geometry) -> shapely.Geometry:
    parts = []
    for part in shapely.get_parts(geom):
        if not isinstance(part, shapely.Polygon):
            continue
        holes = [r for r in part.interiors if shapely.Polygon(r).area >= SLIVER_AREA]
        parts.append(shapely.Polygon(part.exterior, holes))
    if not parts:
        return geom
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _dissolve(geoms: np.ndarray, kodes: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(region codes, union of their members' polygons) for prefixes of ``length``."""
    keys = np.array([k[:length] for k in kodes], dtype=object)
    order = np.argsort(keys, kind="stable")
    keys, geoms = keys[order], geoms[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    pairs = zip(starts, ends, strict=True)
    unions = [_fill_slivers(shapely.union_all(geoms[a:b])) for a, b in pairs]
    return keys[starts], np.array(unions, dtype=object)


def _names(level: RegionLevel, kodes: pd.Index, names: Mapping[str, str] | None) -> pd.Series:
    given = dict(names or {})
    try:
        official = kemendagri_names(CODE_LEVELS[level])
    except Exception:  # names are a nicety: a missing list must not stop the aggregation
        official = {}
    return pd.Series([given.get(k, official.get(k)) for k in kodes], index=kodes, dtype=object)


def aggregate_regions(
    villages: gpd.GeoDataFrame,
    *,
    columns: Mapping[str, Rule],
    names: Mapping[str, str] | None = None,
    levels: tuple[RegionLevel, ...] = ("province", "kab", "kecamatan"),
) -> gpd.GeoDataFrame:
    """Every statistic of ``villages`` (villages.parquet) aggregated to region levels.

    Args:
        villages: one row per village x period: ``kode`` (10 digits), ``period``, the
            statistic columns, ``geometry``; ``valid_fraction`` when a rule is ``clear_mean``.
        columns: column -> rule (:data:`RULES`); columns absent from ``villages`` are skipped.
        names: region code -> name, preferred over the Kemendagri 2025 list (from boundaries).
        levels: the region levels to build.

    Returns:
        EPSG:4326 GeoDataFrame, one row per region x period: ``level``, ``kode``, ``nama``,
        ``period``, ``n_villages``, ``area_km2``, the aggregated columns, ``<col>_change``
        for each column that has a change column in ``villages``, ``geometry`` (the union
        of the villages' polygons, sliver holes filled).
    """
    for name in ("kode", "period"):
        if name not in villages.columns:
            raise ValueError(f"villages has no {name!r} column: pass villages.parquet's content")
    rules = {c: columns[c] for c in villages.columns if c in columns}
    if "clear_mean" in rules.values() and "valid_fraction" not in villages.columns:
        raise ValueError("clear_mean needs a valid_fraction column (share of clear area)")
    frame = villages.to_crs("EPSG:4326") if villages.crs else villages.set_crs("EPSG:4326")
    frame = frame.assign(kode=frame["kode"].astype(str), period=frame["period"].astype(str))
    first = frame.drop_duplicates("kode").sort_values("kode")
    area = pd.Series(village_areas(first.geometry), index=first["kode"].to_numpy())
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name)).reset_index(drop=True)
    table["_area"] = area.reindex(table["kode"]).to_numpy()
    clear = table["_area"] * table.get("valid_fraction", 1.0)
    periods = sorted(table["period"].unique())

    out = []
    geoms, kodes = np.asarray(first.geometry.values, dtype=object), first["kode"].to_numpy()
    shapes: dict[str, shapely.Geometry] = {}
    for level in sorted(levels, key=lambda lv: -LEVELS[lv]):  # finest first: dissolve upward
        length = LEVELS[level]
        codes, geoms = _dissolve(geoms, kodes, length)
        kodes = codes
        shapes.update(zip(codes, geoms, strict=True))
        keys = [table["kode"].str.slice(0, length).rename("kode"), table["period"]]
        parts = {
            "n_villages": table.groupby(keys)["kode"].nunique().astype("int64"),
            "area_km2": table.groupby(keys)["_area"].sum() / 1e6,
        }
        for column, rule in rules.items():
            values = table[column]
            if rule == "sum":
                parts[column] = values.astype("float64").groupby(keys).sum(min_count=1)
            else:
                weights = clear if rule == "clear_mean" else table["_area"]
                parts[column] = _weighted(values, weights, keys)
        result = pd.DataFrame(parts)
        grid = pd.MultiIndex.from_product([codes, periods], names=["kode", "period"])
        result = result.reindex(grid)
        result["n_villages"] = result["n_villages"].fillna(0).astype("int64")
        for column in rules:
            if f"{column}{_CHANGE}" in villages.columns:
                wide = result[column].unstack("period").reindex(columns=periods)
                change = wide - wide.shift(1, axis=1)
                result[f"{column}{_CHANGE}"] = change.stack(future_stack=True).reindex(grid)
        result = result.reset_index()
        region_names = _names(level, pd.Index(codes), names)
        result.insert(0, "level", level)
        result.insert(2, "nama", region_names.reindex(result["kode"]).to_numpy())
        out.append(result)
    regions = pd.concat(out[::-1], ignore_index=True)  # coarsest first
    geometry = gpd.GeoSeries([shapes[k] for k in regions["kode"]], crs="EPSG:4326")
    return gpd.GeoDataFrame(regions, geometry=geometry.values, crs="EPSG:4326")


def region_indicators(
    table: pd.DataFrame,
    areas: pd.Series,
    level: Level,
    *,
    table_level: Level | None = None,
) -> pd.DataFrame:
    """An indicator table's value columns at ``level``, aggregated by the table's own level.

    Args:
        table: ``kode`` (digits) and value columns (a stored indicator table; its ``level``
            and ``kode_known`` columns are ignored).
        areas: village area (any unit) indexed by 10-digit village code: the villages that
            exist, and the weights of finer-to-coarser means.
        level: the level to report.
        table_level: the table's level (default from the length of its codes).

    Returns:
        One row per region of ``level`` that has villages in ``areas`` (index ``kode``).
    """
    kodes = pd.Index(areas.index.astype(str))
    target = LEVELS[level]
    regions = pd.Index(sorted(kodes.str.slice(0, target).unique()), name="kode")
    values = table.drop(columns=[c for c in ("level", "kode_known") if c in table.columns])
    values = values.assign(kode=values["kode"].astype(str)).set_index("kode")
    own = LEVELS[table_level] if table_level else len(str(values.index[0])) if len(values) else 10
    if own <= target:  # the table's level or coarser: every region takes its prefix's value
        found = values.reindex(regions.str.slice(0, own))
        found.index = regions
        return found
    # finer table: area-weighted mean of the table's units, unit area = its villages' area
    unit = pd.Series(np.asarray(areas, dtype="float64"), index=kodes)
    unit_area = unit.groupby(kodes.str.slice(0, own)).sum()
    numeric = [c for c in values.columns if pd.api.types.is_numeric_dtype(values[c].dtype)]
    units = values[numeric].reindex(unit_area.index)
    keys = [pd.Series(unit_area.index.str.slice(0, target), index=unit_area.index, name="kode")]
    result = pd.DataFrame({c: _weighted(units[c], unit_area, keys) for c in numeric}, index=regions)
    return result.reindex(regions)
