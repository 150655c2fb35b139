"""Places of the products: every village and region present, with names, bounds and a centre.

A region is present when at least one of its villages is in the products' village table;
its bounds are the union of those villages' lon/lat bounds (the part of the region the
products cover). Village names come from the village table (``nama``), region names and
the names of a place's kecamatan, kab/kota and province from the Kemendagri 2025 master list
(:func:`geo.codes.kemendagri_names`). Centres are points inside the polygon
(``point_on_surface``) where the products have one (villages; regions of regions.parquet),
so a label drawn there falls on the place; else the centre of the bounds.

Built once per products version (:meth:`tiles.catalogue.Catalogue.derived`) and shared by
``GET /search``, ``GET /regions?level=`` and the CSV export.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo.codes import kemendagri_names
from geo.errors import GeoError
from geo.regions import CODE_LEVELS, LEVELS

if TYPE_CHECKING:
    from tiles.catalogue import Catalogue

__all__ = [
    "PLACE_LEVELS",
    "Place",
    "Places",
    "build_places",
    "places",
    "public_level",
]

logger = logging.getLogger(__name__)

PlaceLevel = Literal["province", "kabkota", "kecamatan", "village"]
#: Levels as the search and export endpoints name them, coarsest first, with code lengths.
PLACE_LEVELS: Final[dict[PlaceLevel, int]] = {
    "province": 2,
    "kabkota": 4,
    "kecamatan": 6,
    "village": 10,
}
#: The tile server's level names (geo.regions.LEVELS) -> the endpoints' names.
_PUBLIC: Final[dict[str, PlaceLevel]] = {
    "province": "province",
    "kab": "kabkota",
    "kecamatan": "kecamatan",
    "village": "village",
}
_TO_LONLAT = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)

Bounds = tuple[float, float, float, float]


def public_level(level: str) -> PlaceLevel:
    """The endpoints' name of a level (``kab`` -> ``kabkota``; the others are the same)."""
    return _PUBLIC[level]


@dataclass(frozen=True, slots=True)
class Place:
    """A village or region: its code, level, name, containing regions, bounds and centre."""

    kode: str
    level: PlaceLevel
    name: str
    kecamatan: str | None = None
    kabkota: str | None = None
    province: str | None = None
    bounds: Bounds | None = None
    center: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``GET /search`` returns (containing regions null above the level)."""
        return {
            "kode": self.kode,
            "level": self.level,
            "name": self.name,
            "kecamatan": self.kecamatan,
            "kabkota": self.kabkota,
            "province": self.province,
            "bounds": list(self.bounds) if self.bounds else None,
            "center": list(self.center) if self.center else None,
        }


@dataclass(frozen=True)
class Places:
    """The places of one products version: villages in the village table's order, regions."""

    #: one per village of ``catalogue.villages``, aligned with its ``kodes``
    villages: tuple[Place, ...]
    #: level (province, kabkota, kecamatan) -> its regions, sorted by code
    regions: Mapping[str, tuple[Place, ...]]

    def all(self) -> tuple[Place, ...]:
        """Every place, regions coarsest first, then villages."""
        return (*(p for level in self.regions.values() for p in level), *self.villages)


def _names(level: str) -> dict[str, str]:
    try:
        return kemendagri_names(CODE_LEVELS[level])  # type: ignore[index]
    except GeoError:  # the master list is a dependency; without it, codes stand for names
        logger.warning("no Kemendagri master list: region names are their codes")
        return {}


def _centers(geometry: np.ndarray) -> np.ndarray:
    """(n, 2) lon/lat points inside web-mercator polygons (NaN for missing ones)."""
    points = shapely.point_on_surface(geometry)
    xy = np.full((len(geometry), 2), np.nan)
    ok = ~(shapely.is_missing(points) | shapely.is_empty(points))
    if ok.any():
        x, y = _TO_LONLAT.transform(shapely.get_x(points[ok]), shapely.get_y(points[ok]))
        xy[ok] = np.column_stack([x, y])
    return xy


def _with_centers(box: pd.DataFrame, inside: np.ndarray) -> pd.DataFrame:
    """``box`` (w, s, e, n) plus ``lon``/``lat``: ``inside`` where finite, else the box centre."""
    ok = np.isfinite(inside).all(axis=1)
    lon = np.where(ok, inside[:, 0], (box["w"] + box["e"]) / 2)
    lat = np.where(ok, inside[:, 1], (box["s"] + box["n"]) / 2)
    return box.assign(lon=np.round(lon, 6), lat=np.round(lat, 6))


def _region_centers(cat: Catalogue, level: str, codes: pd.Index) -> np.ndarray:
    """(n, 2) points inside the regions.parquet polygons of ``codes`` (NaN where none)."""
    data = cat.regions.levels.get(level)
    if data is None:
        return np.full((len(codes), 2), np.nan)
    points = pd.DataFrame(_centers(data.geometry), index=data.kodes.astype(str))
    return points.reindex(codes).to_numpy(dtype=float)


def _places(
    level: str, table: pd.DataFrame, names: dict[str, dict[str, str]], own: list | None
) -> tuple[Place, ...]:
    """Places of one level from a table indexed by code with w, s, e, n, lon, lat."""
    codes = [str(c) for c in table.index]
    length = LEVELS[level]  # type: ignore[index]
    name = [names[level].get(c, c) for c in codes]
    if own is not None:  # the products' own names first (villages)
        pairs = zip(own, name, strict=True)
        name = [o if isinstance(o, str) and o.strip() else n for o, n in pairs]

    def parent(region: str, n: int) -> list[str | None]:
        found = names[region]
        return [found.get(c[:n]) if n < length else None for c in codes]

    return tuple(
        Place(
            kode=kode, level=public_level(level), name=nm, kecamatan=kec, kabkota=kab,
            province=prov, bounds=(w, s, e, n), center=(lon, lat),
        )
        for kode, nm, kec, kab, prov, w, s, e, n, lon, lat in zip(
            codes, name, parent("kecamatan", 6), parent("kab", 4), parent("province", 2),
            *(table[c].tolist() for c in "w s e n lon lat".split()),
            strict=True,
        )
    )  # fmt: skip


def build_places(cat: Catalogue) -> Places:
    """The villages and regions present in a catalogue's village table."""
    v = cat.villages
    if v is None:
        return Places((), {})
    names = {level: _names(level) for level in LEVELS}
    kodes = pd.Index(v.kodes.astype(str))
    boxes = v.lonlat_bounds[["minx", "miny", "maxx", "maxy"]].to_numpy(dtype=float)
    frame = pd.DataFrame(boxes, columns=["w", "s", "e", "n"], index=kodes)
    own = v.names.tolist()
    villages = _places("village", _with_centers(frame, _centers(v.geometry)), names, own)
    regions: dict[str, tuple[Place, ...]] = {}
    for level, length in LEVELS.items():
        if level == "village":
            continue
        grouped = frame.groupby(frame.index.str.slice(0, length))
        union = grouped.agg({"w": "min", "s": "min", "e": "max", "n": "max"}).sort_index()
        table = _with_centers(union, _region_centers(cat, level, union.index))
        regions[public_level(level)] = _places(level, table, names, None)
    return Places(villages, regions)


def places(cat: Catalogue) -> Places:
    """The places of a catalogue, built on first use and kept for its products version."""
    return cat.derived("places", build_places)
