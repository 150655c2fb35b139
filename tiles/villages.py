"""The village data model: villages.parquet plus joined indicators, and the columns to map.

:class:`VillageData` holds one row per village (polygons in web mercator, names), the
statistics of every period, the joined indicator columns, and the :class:`Column` s a
choropleth can show. Identifier and name columns are never maps (``geo.indicators``' rule),
nor text columns with too many distinct values to be categories.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.indicators import MAX_CATEGORIES, infer_numeric, is_identifier
from tiles.errors import LayerNotFound, VillageNotFound
from tiles.legend import category_order

__all__ = [
    "FULL_RESOLUTION_ZOOM",
    "Column",
    "VillageData",
    "ZoomGeometry",
    "column_title",
    "simplify_tolerance",
    "slug",
]

_SLUG_RE = re.compile(r"[^a-z0-9]+")
_RESERVED = {"kode", "nama", "period", "geometry", "level"}
#: Web-mercator size of the world and the zoom from which full-resolution polygons are used.
_WORLD = 2 * np.pi * 6378137.0
FULL_RESOLUTION_ZOOM = 15
#: Acronyms of indicator tables and columns (product columns take their registry titles).
_ACRONYMS = {"idm": "IDM", "iks": "IKS", "ike": "IKE", "ikl": "IKL", "p0": "P0"}
_CHANGE = "_change"
#: Indonesian titles of the columns the registry does not declare (zonal and region columns).
_TITLES_ID = {
    "valid_fraction": "Fraksi area dengan pengamatan cerah",
    "n_villages": "Jumlah desa/kelurahan",
    "area_km2": "Luas (km²)",
}
#: Indonesian names of indicator tables whose file name is English.
_SOURCES_ID = {"poverty": "Kemiskinan"}


def slug(name: object) -> str:
    """Safe id fragment of a file or column name (lower-case letters, digits, ``_``)."""
    return _SLUG_RE.sub("_", str(name).lower()).strip("_")


def _words(name: str) -> str:
    text = " ".join(_ACRONYMS.get(w, w) for w in name.split("_"))
    return text[:1].upper() + text[1:]


def _change_id(title: str) -> str:
    """``Fraksi lahan terbangun`` -> ``Perubahan fraksi lahan terbangun`` (acronyms kept)."""
    first = title.split(" ", 1)[0]
    keep = first.upper() == first or any(c.isupper() for c in first[1:])
    return f"Perubahan {title if keep else title[:1].lower() + title[1:]}"


def column_title(
    column_id: str, titles: Mapping[str, str] | None = None, *, language: str = "en"
) -> str:
    """Readable title of a column id (``idm.nilai_idm_2024`` -> ``IDM: nilai IDM 2024``).

    ``titles`` maps product statistic columns to their titles in ``language`` (the
    registry's ``column_titles(language)``); ``<column>_change`` takes the column's title
    plus "change" (``language="id"``: "Perubahan ..."). Indicator columns keep their own
    (Indonesian) words in both languages.
    """
    source, _, name = column_id.rpartition(".")
    base = name.removesuffix(_CHANGE)
    if language == "id":
        known = {**_TITLES_ID, **(titles or {})} if not source else {}
        if base in known:
            return _change_id(known[base]) if name != base else known[base]
        text = _change_id(_words(base)) if name != base else _words(name)
        label = _SOURCES_ID.get(source) or _ACRONYMS.get(source, source.capitalize())
        return f"{label}: {text}" if source else text
    if not source and titles and base in titles:
        return titles[base] + (" change" if name != base else "")
    text = _words(name)
    return f"{_ACRONYMS.get(source, source.capitalize())}: {text}" if source else text


def simplify_tolerance(z: int) -> float:
    """Metres polygons are simplified by at zoom ``z``: half a 256-px pixel of its band."""
    band = (z // 2) * 2
    return 0.5 * _WORLD / 256 / 2 ** (band + 1)


@dataclass(frozen=True)
class Column:
    """A column a choropleth can show: from villages.parquet or an indicator table."""

    id: str
    source: str  # "villages" or the indicator name
    name: str  # the column's name in its table
    kind: Literal["numeric", "categorical"]
    periods: tuple[str, ...]
    categories: tuple[str, ...] = ()
    title: str = ""
    #: the title in Indonesian (``title`` is English)
    title_id: str = ""


@dataclass(frozen=True)
class ZoomGeometry:
    """Village polygons (web mercator) simplified for a zoom band, with a spatial index."""

    geoms: np.ndarray
    tree: shapely.STRtree

    def query(self, bounds: tuple[float, float, float, float]) -> np.ndarray:
        """Indices of the villages intersecting ``bounds``."""
        return np.sort(self.tree.query(shapely.box(*bounds), predicate="intersects"))


class VillageData:
    """villages.parquet (one row per village x period) plus joined indicators."""

    def __init__(
        self,
        frame: gpd.GeoDataFrame,
        indicators: pd.DataFrame,
        *,
        column_titles: Mapping[str, str] | None = None,
        column_titles_id: Mapping[str, str] | None = None,
        level: str = "village",
    ) -> None:
        self.level = level
        frame = frame.assign(kode=frame["kode"].astype(str), period=frame["period"].astype(str))
        if frame.crs is None:
            frame = frame.set_crs("EPSG:4326")
        first = frame.drop_duplicates("kode").set_index("kode").sort_index()
        self.kodes: pd.Index = first.index
        self.names = (
            first["nama"].astype(object).where(first["nama"].notna(), None)
            if "nama" in first.columns
            else pd.Series(None, index=self.kodes, dtype=object)
        )
        lonlat = first.geometry.to_crs("EPSG:4326")
        self.bounds = tuple(float(b) for b in lonlat.total_bounds)
        self.lonlat_bounds = lonlat.bounds
        self.geometry = np.asarray(first.geometry.to_crs("EPSG:3857").values, dtype=object)
        self.periods = tuple(sorted(frame["period"].unique()))
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        self.stats = {
            p: table[table["period"] == p]
            .drop_duplicates("kode")
            .set_index("kode")
            .reindex(self.kodes)
            for p in self.periods
        }
        self.indicators = infer_numeric(indicators.reindex(self.kodes))
        self._titles = dict(column_titles or {})
        self._titles_id = dict(column_titles_id or {})
        self.columns = self._find_columns(table)
        self._zoom: dict[int, ZoomGeometry] = {}
        self._lock = threading.Lock()
        self._simplify_bands()

    def _find_columns(self, table: pd.DataFrame) -> dict[str, Column]:
        columns: dict[str, Column] = {}
        for name in table.columns:
            if name in _RESERVED or not slug(name) or is_identifier(slug(name)):
                continue
            periods = tuple(p for p in self.periods if self.stats[p][name].notna().any())
            column = self._describe(slug(name), "villages", name, table[name], periods)
            if column and column.id not in columns:
                columns[column.id] = column
        for name in self.indicators.columns:
            source, _, col = str(name).partition(".")
            if not col or not slug(source) or not slug(col) or is_identifier(slug(col)):
                continue
            cid = f"{slug(source)}.{slug(col)}"
            column = self._describe(cid, source, name, self.indicators[name], self.periods)
            if column and cid not in columns:
                columns[cid] = column
        return columns

    def _describe(
        self, cid: str, source: str, name: str, values: pd.Series, periods: tuple[str, ...]
    ) -> Column | None:
        if not periods or values.notna().sum() == 0:
            return None
        title = column_title(cid, self._titles)
        title_id = column_title(cid, self._titles_id, language="id")
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return Column(cid, source, name, "numeric", periods, title=title, title_id=title_id)
        categories = category_order(values.dropna().astype(str))
        if len(categories) > MAX_CATEGORIES:
            return None  # names, codes, free text: not a map
        return Column(cid, source, name, "categorical", periods, categories, title, title_id)

    def column(self, column_id: str) -> Column:
        """The column with this id."""
        try:
            return self.columns[column_id]
        except KeyError:
            raise LayerNotFound("layer_id: no such column", parameter="layer_id") from None

    def values(self, column: Column, period: str) -> pd.Series:
        """Values of a column in a period, aligned with :attr:`kodes`."""
        if column.source == "villages":
            return self.stats[period][column.name]
        return self.indicators[column.name]

    def pooled(self, column: Column) -> pd.Series:
        """All values of a column over every period (for classes stable across periods)."""
        if column.source == "villages":
            return pd.concat([self.stats[p][column.name] for p in column.periods])
        return self.indicators[column.name]

    def _simplify_bands(self) -> None:
        """Simplify the polygons for every zoom band once, finest band first.

        Each band simplifies the next finer band's result (fewer vertices to visit); the
        tolerances quarter per band, so the total stays under 4/3 of the band's own.
        """
        geoms = self.geometry
        self._zoom[FULL_RESOLUTION_ZOOM] = ZoomGeometry(geoms, shapely.STRtree(geoms))
        for band in range(FULL_RESOLUTION_ZOOM - 1 - (FULL_RESOLUTION_ZOOM - 1) % 2, -1, -2):
            geoms = shapely.simplify(geoms, simplify_tolerance(band), preserve_topology=True)
            self._zoom[band] = ZoomGeometry(geoms, shapely.STRtree(geoms))

    def geometry_for_zoom(self, z: int) -> ZoomGeometry:
        """Polygons simplified by :func:`simplify_tolerance` (full ones from zoom 15)."""
        band = FULL_RESOLUTION_ZOOM if z >= FULL_RESOLUTION_ZOOM else (z // 2) * 2
        with self._lock:
            cached = self._zoom.get(band)
            if cached is None:  # only when FULL_RESOLUTION_ZOOM changed after the scan
                geoms = self.geometry
                if band < FULL_RESOLUTION_ZOOM:
                    geoms = shapely.simplify(
                        geoms, simplify_tolerance(band), preserve_topology=True
                    )
                cached = self._zoom[band] = ZoomGeometry(geoms, shapely.STRtree(geoms))
        return cached

    def village(self, kode: str) -> dict[str, Any]:
        """Everything known about one village."""
        if kode not in self.kodes:
            raise VillageNotFound("kode: no village with this code", parameter="kode")
        i = self.kodes.get_loc(kode)
        periods = {}
        for p in self.periods:
            row = self.stats[p].loc[kode].drop(labels=["period", "nama", "level"], errors="ignore")
            periods[p] = {str(k): _jsonable(v) for k, v in row.items()}
        indicators = {str(k): _jsonable(v) for k, v in self.indicators.loc[kode].items()}
        return {
            "kode": kode,
            "nama": self.names.iloc[i],
            "bounds": [float(b) for b in self.lonlat_bounds.iloc[i]],
            "periods": periods,
            "indicators": indicators,
        }


def _jsonable(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        return None if isinstance(value, float) and not np.isfinite(value) else value
    if pd.isna(value):
        return None
    return value
