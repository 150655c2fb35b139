"""Village boundaries: read a boundary file, check its codes and geometries, keep one region.

:func:`load_villages` is the one entry point. It returns the villages as a GeoDataFrame in
EPSG:4326 (columns ``kode``, ``nama`` when the file has names, ``geometry``; one row per
10-digit Kemendagri code) and a :class:`BoundaryReport` of everything it had to fix or drop,
which the workflow writes into ``quality.json``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.codes import CodeSample, normalize_code, normalize_codes, valid_village_mask
from geo.errors import BoundaryFileError
from geo.safe_open import BOUNDARY_FORMATS, PARQUET, check_input_file

__all__ = ["BoundaryReport", "VillageSet", "load_villages"]

log = logging.getLogger(__name__)

#: Default code and name columns, most specific first (matched case-insensitively).
CODE_COLUMNS: Final = ("kode_10", "kode_desa", "kode", "kdepum")
NAME_COLUMNS: Final = ("nama", "nama_desa", "name", "namobj")
_FORMATS = (
    "GeoParquet (.parquet), GeoPackage (.gpkg), GeoJSON (.geojson), Shapefile (.shp) or "
    "FlatGeobuf (.fgb)"
)
#: Where Indonesia is (lon, lat), with a margin: villages outside it mean a wrong CRS or axes.
INDONESIA: Final = (94.0, -12.0, 142.0, 7.0)
_POLYGONAL: Final = ("Polygon", "MultiPolygon")
_POLYGONAL_TYPE_IDS: Final = (3, 6)  # shapely.get_type_id of Polygon, MultiPolygon
# A code column must hold village codes in at least this share of its non-empty rows.
_MIN_CODE_SHARE: Final = 0.5


@dataclass(frozen=True)
class BoundaryReport:
    """What :func:`load_villages` read, fixed and dropped."""

    source: str
    n_features_read: int
    n_villages: int
    code_column: str
    name_column: str | None = None
    crs: str | None = None
    region: str | None = None
    invalid_codes: CodeSample = field(default_factory=CodeSample)
    outside_region: int = 0
    duplicate_codes: tuple[str, ...] = ()
    repaired_geometries: tuple[str, ...] = ()
    dropped_geometries: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``quality.json``."""
        return {
            "source": self.source,
            "n_features_read": self.n_features_read,
            "n_villages": self.n_villages,
            "code_column": self.code_column,
            "name_column": self.name_column,
            "crs": self.crs,
            "region": self.region,
            "invalid_codes": self.invalid_codes.to_dict(),
            "outside_region": self.outside_region,
            "duplicate_codes": list(self.duplicate_codes),
            "repaired_geometries": list(self.repaired_geometries),
            "dropped_geometries": list(self.dropped_geometries),
        }


@dataclass(frozen=True, eq=False)
class VillageSet:
    """Validated villages (``kode``, ``nama``?, ``geometry`` in EPSG:4326) and their report."""

    villages: gpd.GeoDataFrame
    report: BoundaryReport

    def __len__(self) -> int:
        return len(self.villages)


def load_villages(
    path: str | Path,
    *,
    code_column: str | None = None,
    name_column: str | None = None,
    region: str | None = None,
) -> VillageSet:
    """Read village polygons with Kemendagri codes, validated and repaired, in EPSG:4326.

    Args:
        path: GeoParquet, GeoPackage, GeoJSON, Shapefile or FlatGeobuf with one polygon per
            village; opened only as the format its extension names (:mod:`geo.safe_open`).
        code_column: column of village codes; default the first of ``kode_10``,
            ``kode_desa``, ``kode``, ``kdepum`` holding 10-digit codes.
        name_column: column of names; default ``nama``, ``nama_desa``, ``name`` or ``namobj``.
        region: keep villages whose code starts with this province/kab/kec code.

    Raises:
        BoundaryFileError: the file cannot be used; the message says what to fix.
        InvalidCodeError: ``region`` is not a Kemendagri code.
    """
    path = Path(path)
    region_code = normalize_code(region) if region is not None else None
    frame = _read(path)
    if frame.empty:
        raise BoundaryFileError(
            f"boundary file {path} has no features (0 rows); export the village polygons again"
        )
    crs = _check_crs(frame, path)
    code_col = _code_column(frame, code_column, path)
    name_col = _name_column(frame, name_column, path)

    codes, bad = normalize_codes(frame[code_col])
    bad |= ~valid_village_mask(codes)
    invalid = CodeSample.of(frame.loc[bad, code_col])
    if invalid.count:
        log.warning(
            "%s: %d rows with invalid village codes excluded, e.g. %s",
            path,
            invalid.count,
            ", ".join(invalid.examples),
        )
    columns = {"kode": codes.astype(str)}
    if name_col is not None:
        columns["nama"] = frame[name_col].astype(str)
    villages = gpd.GeoDataFrame(columns, geometry=frame.geometry.values, crs=frame.crs)
    villages = villages.loc[~bad.to_numpy()]

    outside = 0
    if region_code is not None:
        inside = villages["kode"].str.startswith(region_code)
        if not inside.any():
            raise BoundaryFileError(_unknown_region(region_code, villages["kode"], path))
        outside = int((~inside).sum())
        villages = villages.loc[inside]

    villages, repaired, dropped = _repair(villages)
    villages, duplicates = _merge_duplicates(villages)
    villages = _to_wgs84(villages, path)
    _check_extent(villages, path, crs)
    if villages.empty:
        raise BoundaryFileError(
            f"no usable villages in {path}: {len(frame)} features read, {invalid.count} with "
            f"invalid codes, {len(dropped)} with empty or non-polygon geometry; the file needs "
            "Polygon/MultiPolygon features with 10-digit Kemendagri codes"
        )
    report = BoundaryReport(
        source=str(path),
        n_features_read=len(frame),
        n_villages=len(villages),
        code_column=code_col,
        name_column=name_col,
        crs=crs,
        region=region_code,
        invalid_codes=invalid,
        outside_region=outside,
        duplicate_codes=duplicates,
        repaired_geometries=repaired,
        dropped_geometries=dropped,
    )
    return VillageSet(villages=villages, report=report)


def _read(path: Path) -> gpd.GeoDataFrame:
    """Read any supported boundary file, turning every reader failure into one message."""
    # Extension and first bytes must agree before GDAL sees the file: GDAL picks its driver
    # by content, and a VRT disguised as .gpkg would otherwise open (and fetch) its sources.
    fmt = check_input_file(
        path, BOUNDARY_FORMATS, what="boundary file", expected=_FORMATS, error=BoundaryFileError
    )
    try:
        if fmt is PARQUET:
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # every reader error becomes one clear message
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise BoundaryFileError(
            f"cannot read boundary file {path} ({reason}); expected {_FORMATS}"
        ) from exc
    if not isinstance(frame, gpd.GeoDataFrame) or frame.active_geometry_name is None:
        raise BoundaryFileError(
            f"cannot read boundary file {path} (it has no geometry column); expected {_FORMATS}"
        )
    return frame


def _check_crs(frame: gpd.GeoDataFrame, path: Path) -> str:
    """The file's CRS as text; a missing or unusable CRS is an error."""
    if frame.crs is None:
        raise BoundaryFileError(
            f"boundary file {path} has no CRS (or one that cannot be read); set one (a .prj "
            "beside a shapefile, or e.g. `ogr2ogr -a_srs EPSG:4326 out.gpkg in.shp`)"
        )
    crs = CRS.from_user_input(frame.crs)
    return crs.to_string()


def _columns_by_lower(frame: pd.DataFrame) -> dict[str, str]:
    """Map lower-case column names to their spelling in the file (geometry excluded)."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    return {str(c).lower(): str(c) for c in frame.columns if c != geometry}


def _code_column(frame: gpd.GeoDataFrame, wanted: str | None, path: Path) -> str:
    """The column of 10-digit village codes: the one asked for, or the best default."""
    lower = _columns_by_lower(frame)
    available = ", ".join(lower.values()) or "(none)"
    if wanted is not None:
        if wanted not in frame.columns:
            raise BoundaryFileError(
                f"code column {wanted!r} not in {path}; columns are: {available}"
            )
        return wanted
    present = [lower[c] for c in CODE_COLUMNS if c in lower]
    if not present:
        raise BoundaryFileError(
            f"no village code column in {path}: expected one of {', '.join(CODE_COLUMNS)}; "
            f"columns are: {available}; pass the code column explicitly"
        )
    shares = {}
    normalized = {}
    for column in present:
        codes, bad = normalize_codes(frame[column])
        filled = frame[column].notna()
        good = ~bad & valid_village_mask(codes)
        shares[column] = float(good.sum()) / max(int(filled.sum()), 1)
        normalized[column] = codes.where(good)
    usable = [c for c in present if shares[c] >= _MIN_CODE_SHARE]
    if not usable:
        tried = ", ".join(f"{c} ({shares[c]:.0%})" for c in present)
        raise BoundaryFileError(
            f"no column of 10-digit village codes in {path}: share of valid codes per "
            f"candidate: {tried}; columns are: {available}; pass the code column explicitly"
        )
    first = usable[0]
    for other in usable[1:]:
        a, b = normalized[first], normalized[other]
        both = a.notna() & b.notna()
        if not (a[both] == b[both]).all():
            raise BoundaryFileError(
                f"ambiguous village code column in {path}: {first!r} and {other!r} both hold "
                "village codes but disagree; pass the code column explicitly"
            )
    return first


def _name_column(frame: gpd.GeoDataFrame, wanted: str | None, path: Path) -> str | None:
    """The column of village names, or None when the file has none."""
    if wanted is not None:
        if wanted not in frame.columns:
            available = ", ".join(_columns_by_lower(frame).values())
            raise BoundaryFileError(
                f"name column {wanted!r} not in {path}; columns are: {available}"
            )
        return wanted
    lower = _columns_by_lower(frame)
    return next((lower[c] for c in NAME_COLUMNS if c in lower), None)


def _unknown_region(region: str, codes: pd.Series, path: Path) -> str:
    """Message for a region prefix that matches no village, listing the ones there are."""
    prefixes = sorted(codes.str.slice(0, len(region)).unique())
    shown = ", ".join(prefixes[:40]) + (
        f" ... ({len(prefixes)} in all)" if len(prefixes) > 40 else ""
    )
    return (
        f"region {region} matches no village in {path}; the file's {len(region)}-digit "
        f"prefixes are: {shown}"
    )


def _polygonal(geometry: shapely.Geometry | None) -> shapely.Geometry | None:
    """The polygonal part of a geometry (a repaired one may carry stray lines or points)."""
    if geometry is None or geometry.is_empty:
        return None
    if geometry.geom_type in _POLYGONAL:
        return geometry
    parts = shapely.get_parts(shapely.get_parts(geometry))
    polygons = [p for p in parts if p.geom_type == "Polygon" and not p.is_empty]
    return shapely.MultiPolygon(polygons) if polygons else None


def _repair(
    villages: gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, tuple[str, ...], tuple[str, ...]]:
    """Make invalid geometries valid (polygonal part only); drop empty or non-polygon ones."""
    geoms = np.array(villages.geometry.array, dtype=object)
    if shapely.has_z(geoms).any():  # 3D shapefiles: heights mean nothing for a boundary
        geoms = shapely.force_2d(geoms)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    invalid = ~empty & ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    # Only odd types (collections left by make_valid, points, lines) need a look one by one.
    odd = ~empty & ~np.isin(shapely.get_type_id(geoms), _POLYGONAL_TYPE_IDS)
    if odd.any():
        geoms[odd] = [_polygonal(g) for g in geoms[odd]]
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    repaired = tuple(villages.loc[(invalid | odd) & keep, "kode"])
    dropped = tuple(villages.loc[~keep, "kode"])
    if repaired:
        log.warning("repaired %d invalid village geometries: %s", len(repaired), repaired[:10])
    if dropped:
        log.warning("dropped %d empty or non-polygon geometries: %s", len(dropped), dropped[:10])
    out = villages.set_geometry(gpd.GeoSeries(geoms, index=villages.index, crs=villages.crs))
    return out.loc[keep], repaired, dropped


def _merge_duplicates(villages: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, tuple[str, ...]]:
    """One row per code: rows sharing a code are dissolved into one (first name kept)."""
    repeated = villages["kode"].duplicated(keep=False)
    duplicates = tuple(sorted(villages.loc[repeated, "kode"].unique()))
    if duplicates:
        log.warning("merged %d duplicated village codes: %s", len(duplicates), duplicates[:10])
        merged = villages.loc[repeated].dissolve(by="kode", aggfunc="first").reset_index()
        villages = pd.concat([villages.loc[~repeated], merged[villages.columns]])
    return villages.sort_values("kode").reset_index(drop=True), duplicates


def _check_extent(villages: gpd.GeoDataFrame, path: Path, crs: str) -> None:
    """Refuse villages whose lon/lat are impossible, swapped, or outside Indonesia."""
    if villages.empty:
        return
    bounds = shapely.bounds(np.asarray(villages.geometry.array, dtype=object))
    x0, y0, x1, y1 = (bounds[:, i] for i in range(4))
    degrees = np.isfinite(bounds).all(axis=1) & (x0 >= -180) & (x1 <= 180)
    degrees &= (y0 >= -90) & (y1 <= 90)
    codes = villages["kode"].to_numpy()
    west, south, east, north = INDONESIA
    inside = (x0 >= west) & (x1 <= east) & (y0 >= south) & (y1 <= north)
    if inside.all():
        return
    swapped = (y0 >= west) & (y1 <= east) & (x0 >= south) & (x1 <= north)
    if swapped[~inside].all():
        raise BoundaryFileError(
            f"longitude and latitude are swapped in {path} (e.g. {codes[~inside][0]} at x "
            f"{x0[~inside][0]:.4f}, y {y0[~inside][0]:.4f}; Indonesia is at x=lon 95..141, "
            "y=lat -11..6): write the coordinates as x=longitude, y=latitude (or fix the axis "
            "order of the CRS)"
        )
    if not degrees.all():
        bad = ~degrees
        example = f"{codes[bad][0]} spans x {x0[bad][0]:.6g}..{x1[bad][0]:.6g}"
        raise BoundaryFileError(
            f"{int(bad.sum())} villages in {path} have coordinates that are not longitude/"
            f"latitude once read in the file's CRS {crs} (e.g. {example}): the declared CRS "
            "is wrong (metres declared as EPSG:4326?) or the coordinates are corrupt; set the "
            "real CRS, e.g. `ogr2ogr -a_srs EPSG:32749 out.gpkg in.gpkg`"
        )
    raise BoundaryFileError(
        f"{int((~inside).sum())} villages in {path} lie outside Indonesia (lon {west:g}..{east:g}"
        f", lat {south:g}..{north:g}), e.g. {codes[~inside][0]} at lon {x0[~inside][0]:.4f}, "
        f"lat {y0[~inside][0]:.4f}: check the file's CRS {crs}"
    )


def _to_wgs84(villages: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326; a CRS that cannot be transformed is an error."""
    if CRS.from_user_input(villages.crs).equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return villages.set_crs(4326, allow_override=True)
    try:
        out = villages.to_crs(4326)
    except Exception as exc:  # pyproj cannot build a transformation from this CRS
        raise BoundaryFileError(
            f"cannot reproject {path} from its CRS {villages.crs.name!r} to EPSG:4326 ({exc}); "
            "fix the file's CRS (e.g. its .prj) or reproject it first"
        ) from exc
    return out
