"""The server-side catalogue: what a products directory holds, and the layers it offers.

Clients only ever name layers by id (``raster.ndvi``, ``choropleth.idm.status_idm_2024``)
and periods by label; :class:`Catalogue` maps those to files it found itself when it
scanned the directory (fixed names from docs/products.md, resolved inside the directory).
:class:`ProductsStore` re-scans when the files' names, sizes or mtimes change; the hash of
those is the catalogue's ``version``, which is part of every tile cache key.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.warp import transform_bounds

from geo.errors import GeoError
from geo.indicators import joined_indicators
from tiles.errors import LayerNotFound, PeriodNotFound, ProductsUnavailable, VillageNotFound
from tiles.legend import (
    MAX_CATEGORIES,
    Classes,
    ClassParams,
    category_order,
    classify_bivariate,
    classify_categorical,
    classify_numeric,
)
from tiles.raster import ALLOWED_DRIVER, RASTER_SPECS

__all__ = [
    "PERIOD_RE",
    "LAYER_ID_RE",
    "Column",
    "Layer",
    "VillageData",
    "Catalogue",
    "ProductsStore",
    "fingerprint",
    "load_indicators",
]

logger = logging.getLogger(__name__)

PERIOD_RE = re.compile(r"^\d{4}(?:-Q[1-4]|-(?:0[1-9]|1[0-2]))?$")
LAYER_ID_RE = re.compile(r"^(raster|choropleth|bivariate|vector)\.[a-z0-9_.]{1,200}$")
_SLUG_RE = re.compile(r"[^a-z0-9]+")
_RESERVED = {"kode", "nama", "period", "geometry", "level"}
#: Columns that identify or name things (nama_desa, kode_kec ...) are not maps.
_IDENTIFIER_RE = re.compile(r"^(kode|nama|name|id)(_|$)")
#: Web-mercator size of the world and the zoom from which full-resolution polygons are used.
_WORLD = 2 * np.pi * 6378137.0
FULL_RESOLUTION_ZOOM = 15
#: Default bivariate pairs: satellite x columns, indicator y columns (by column name).
_BIVARIATE_X = ("built_up_fraction_change", "built_up_fraction")
_BIVARIATE_Y = re.compile(r"^(p0|nilai_idm)")
_ACRONYMS = {
    "ndvi": "NDVI",
    "ndbi": "NDBI",
    "mndwi": "MNDWI",
    "bsi": "BSI",
    "idm": "IDM",
    "iks": "IKS",
    "ike": "IKE",
    "ikl": "IKL",
    "p0": "P0",
    "p10": "p10",
    "p90": "p90",
}


def slug(name: object) -> str:
    """Safe id fragment of a file or column name (lower-case letters, digits, ``_``)."""
    return _SLUG_RE.sub("_", str(name).lower()).strip("_")


def column_title(column_id: str) -> str:
    """Readable title of a column id (``idm.nilai_idm_2024`` -> ``IDM: nilai IDM 2024``)."""
    source, _, name = column_id.rpartition(".")
    text = " ".join(_ACRONYMS.get(w, w) for w in name.split("_"))
    text = text[:1].upper() + text[1:]
    return f"{_ACRONYMS.get(source, source.capitalize())}: {text}" if source else text


# --------------------------------------------------------------------------- files


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except OSError:
        return False


def _product_files(root: Path) -> Iterator[Path]:
    """Every file the catalogue reads, in a stable order; only fixed names under ``root``."""
    villages = root / "villages.parquet"
    if villages.is_file():
        yield villages
    indicators = root / "indicators"
    if indicators.is_dir():
        yield from sorted(p for p in indicators.glob("*.parquet") if p.is_file())
    composites = root / "composites"
    if composites.is_dir():
        for period_dir in sorted(composites.iterdir()):
            if period_dir.is_dir() and PERIOD_RE.match(period_dir.name):
                for name in RASTER_SPECS:
                    path = period_dir / f"{name}.tif"
                    if path.is_file():
                        yield path


def fingerprint(root: Path) -> str:
    """Version token of a products directory: hash of names, sizes and mtimes."""
    if not root.is_dir():
        raise ProductsUnavailable()
    digest = hashlib.sha256()
    for path in _product_files(root):
        try:
            st = path.stat()
        except OSError:  # removed between listing and stat: the next check sees it
            continue
        digest.update(f"{path.relative_to(root)}|{st.st_mtime_ns}|{st.st_size}\n".encode())
    return digest.hexdigest()[:16]


def _raster_bounds(path: Path, gdal_env: dict[str, str]) -> tuple[float, ...] | None:
    """Lon/lat bounds of a COG, or None when it is not a readable GeoTIFF."""
    try:
        with rasterio.Env(**gdal_env), rasterio.open(path, driver=ALLOWED_DRIVER) as src:
            if src.crs is None:
                return None
            return tuple(transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21))
    except Exception:  # a broken product is skipped, not served
        logger.warning("skipping unreadable raster %s", path.name, exc_info=True)
        return None


# --------------------------------------------------------------------------- indicators


def load_indicators(root: Path, kodes: pd.Index) -> pd.DataFrame:
    """Indicator columns ``"{name}.{column}"`` for each village code (NaN where none).

    The join (a kab/kota table gives each of its villages its value) is
    ``geo.indicators.joined_indicators``; a table that cannot be read costs its columns,
    not the village layers.
    """
    if not (root / "indicators").is_dir():
        return pd.DataFrame(index=kodes)
    try:
        table = joined_indicators(root, kodes=list(kodes))
    except GeoError:
        logger.error("cannot join the indicator tables; serving villages without them",
                     exc_info=True)  # fmt: skip
        return pd.DataFrame(index=kodes)
    table.index = table.index.astype(str)
    return table.reindex(kodes)


def _infer_objects(frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for name, col in frame.items():
        if col.dtype == object:
            numeric = pd.to_numeric(col, errors="coerce")
            if numeric.notna().sum() == col.notna().sum():
                col = numeric
        out[name] = col
    return pd.DataFrame(out, index=frame.index)


# --------------------------------------------------------------------------- villages


@dataclass(frozen=True)
class Column:
    """A column a choropleth can show: from villages.parquet or an indicator table."""

    id: str
    source: str  # "villages" or the indicator name
    name: str  # the column's name in its table
    kind: Literal["numeric", "categorical"]
    periods: tuple[str, ...]
    categories: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """Readable title."""
        return column_title(self.id)


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

    def __init__(self, frame: gpd.GeoDataFrame, indicators: pd.DataFrame) -> None:
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
        self.indicators = _infer_objects(indicators.reindex(self.kodes))
        self.columns = self._find_columns(table)
        self._zoom: dict[int, ZoomGeometry] = {}
        self._lock = threading.Lock()

    def _find_columns(self, table: pd.DataFrame) -> dict[str, Column]:
        columns: dict[str, Column] = {}
        for name in table.columns:
            if name in _RESERVED or not slug(name) or _IDENTIFIER_RE.match(slug(name)):
                continue
            periods = tuple(p for p in self.periods if self.stats[p][name].notna().any())
            column = self._describe(slug(name), "villages", name, table[name], periods)
            if column and column.id not in columns:
                columns[column.id] = column
        for name in self.indicators.columns:
            source, _, col = str(name).partition(".")
            if not col or not slug(source) or not slug(col) or _IDENTIFIER_RE.match(slug(col)):
                continue
            cid = f"{slug(source)}.{slug(col)}"
            column = self._describe(cid, source, name, self.indicators[name], self.periods)
            if column and cid not in columns:
                columns[cid] = column
        return columns

    @staticmethod
    def _describe(
        cid: str, source: str, name: str, values: pd.Series, periods: tuple[str, ...]
    ) -> Column | None:
        if not periods or values.notna().sum() == 0:
            return None
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return Column(cid, source, name, "numeric", periods)
        categories = category_order(values.dropna().astype(str))
        if len(categories) > MAX_CATEGORIES:
            return None  # names, codes, free text: not a map
        return Column(cid, source, name, "categorical", periods, categories)

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

    def geometry_for_zoom(self, z: int) -> ZoomGeometry:
        """Polygons simplified to half a 256-px pixel of the band (full ones at high zoom)."""
        band = FULL_RESOLUTION_ZOOM if z >= FULL_RESOLUTION_ZOOM else (z // 2) * 2
        with self._lock:
            cached = self._zoom.get(band)
            if cached is None:
                geoms = self.geometry
                if band < FULL_RESOLUTION_ZOOM:
                    tolerance = 0.5 * _WORLD / 256 / 2 ** (band + 1)
                    geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
                cached = self._zoom[band] = ZoomGeometry(geoms, shapely.STRtree(geoms))
        return cached

    def village(self, kode: str) -> dict[str, Any]:
        """Everything known about one village."""
        if kode not in self.kodes:
            raise VillageNotFound("kode: no village with this code", parameter="kode")
        i = self.kodes.get_loc(kode)
        periods = {}
        for p in self.periods:
            row = self.stats[p].loc[kode].drop(labels=["period", "nama"], errors="ignore")
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


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class Layer:
    """One map layer: what ``GET /layers`` lists and the tile endpoints serve."""

    id: str
    kind: Literal["raster", "choropleth", "bivariate", "vector"]
    title: str
    periods: tuple[str, ...]
    bounds: tuple[float, ...]
    formats: tuple[str, ...]
    raster: str | None = None
    column: str | None = None
    x: str | None = None
    y: str | None = None


@dataclass
class Catalogue:
    """A scanned products directory; immutable once built, replaced when files change."""

    root: Path
    version: str
    rasters: dict[tuple[str, str], Path]
    raster_bounds: dict[tuple[str, str], tuple[float, ...]]
    villages: VillageData | None
    layers: dict[str, Layer] = field(default_factory=dict)
    _classes: dict[tuple, Classes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.layers = self._build_layers()

    @property
    def periods(self) -> tuple[str, ...]:
        """Every period label with any product."""
        found = {p for _, p in self.rasters}
        if self.villages is not None:
            found.update(self.villages.periods)
        return tuple(sorted(found))

    def _build_layers(self) -> dict[str, Layer]:
        layers: dict[str, Layer] = {}
        for name, spec in RASTER_SPECS.items():
            periods = tuple(sorted(p for n, p in self.rasters if n == name))
            if periods:
                boxes = np.array([self.raster_bounds[(name, p)] for p in periods])
                bounds = (*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0))
                lid = f"raster.{name}"
                layers[lid] = Layer(
                    lid, "raster", spec.title, periods, bounds, ("png",), raster=name
                )
        v = self.villages
        if v is None:
            return layers
        for column in v.columns.values():
            lid = f"choropleth.{column.id}"
            layers[lid] = Layer(
                lid, "choropleth", column.title, column.periods, v.bounds, ("png", "pbf"),
                column=column.id,
            )  # fmt: skip
        xs = [c for c in _BIVARIATE_X if c in v.columns and v.columns[c].kind == "numeric"]
        ys = [
            c.id
            for c in v.columns.values()
            if c.source != "villages"
            and c.kind == "numeric"
            and _BIVARIATE_Y.match(c.id.rpartition(".")[2])
        ]
        for x in xs[:1]:
            for y in ys:
                layer = self._bivariate(x, y)
                layers[layer.id] = layer
        layers["vector.villages"] = Layer(
            "vector.villages", "vector", "Village boundaries", v.periods, v.bounds, ("pbf",)
        )
        return layers

    def _bivariate(self, x: str, y: str) -> Layer:
        assert self.villages is not None
        cx, cy = self.villages.columns[x], self.villages.columns[y]
        periods = tuple(p for p in cx.periods if p in cy.periods)
        return Layer(
            f"bivariate.{x}__{y}", "bivariate", f"{cx.title} × {cy.title}", periods,
            self.villages.bounds, ("png", "pbf"), x=x, y=y,
        )  # fmt: skip

    def layer(self, layer_id: str) -> Layer:
        """The layer with this id (bivariate ids of any two numeric columns are valid)."""
        if not LAYER_ID_RE.match(layer_id):
            raise LayerNotFound("layer_id: no such layer; see GET /layers", parameter="layer_id")
        if layer_id in self.layers:
            return self.layers[layer_id]
        if layer_id.startswith("bivariate.") and self.villages is not None:
            x, sep, y = layer_id.removeprefix("bivariate.").partition("__")
            cols = self.villages.columns
            if sep and x != y and all(c in cols and cols[c].kind == "numeric" for c in (x, y)):
                layer = self._bivariate(x, y)
                if layer.periods:
                    return layer
        raise LayerNotFound("layer_id: no such layer; see GET /layers", parameter="layer_id")

    def require_period(self, layer: Layer, period: str) -> None:
        """Raise unless the layer has data for ``period``."""
        if period not in layer.periods:
            raise PeriodNotFound(
                f"period: {layer.id} has no data for this period; periods are "
                f"{', '.join(layer.periods)}",
                parameter="period",
            )

    def raster_file(self, layer: Layer, period: str) -> Path:
        """The COG of a raster layer in a period (a file this catalogue found itself)."""
        self.require_period(layer, period)
        assert layer.raster is not None
        return self.rasters[(layer.raster, period)]

    def classes(self, layer: Layer, params: ClassParams) -> Classes:
        """Classes of a choropleth or bivariate layer, computed once per catalogue."""
        assert self.villages is not None
        key = (layer.id, params)
        with self._lock:
            cached = self._classes.get(key)
        if cached is not None:
            return cached
        v = self.villages
        if layer.kind == "bivariate":
            assert layer.x and layer.y
            cx, cy = v.column(layer.x), v.column(layer.y)
            result = classify_bivariate(v.pooled(cx).to_numpy(), v.pooled(cy).to_numpy())
        else:
            assert layer.column
            column = v.column(layer.column)
            if column.kind == "categorical":
                result = classify_categorical(column.categories)
            else:
                result = classify_numeric(v.pooled(column).to_numpy(), column.id, params)
        with self._lock:
            self._classes[key] = result
        return result

    def codes(self, layer: Layer, period: str, classes: Classes) -> np.ndarray:
        """Class code per village (0 = no value) of a layer in a period."""
        assert self.villages is not None
        v = self.villages
        if layer.kind == "bivariate":
            assert layer.x and layer.y
            x = v.values(v.column(layer.x), period)
            return classes.codes(x.to_numpy(), v.values(v.column(layer.y), period))
        assert layer.column
        return classes.codes(v.values(v.column(layer.column), period))


def build_catalogue(root: Path, version: str, gdal_env: dict[str, str]) -> Catalogue:
    """Scan ``root`` (already fingerprinted as ``version``) into a catalogue."""
    rasters: dict[tuple[str, str], Path] = {}
    bounds: dict[tuple[str, str], tuple[float, ...]] = {}
    villages = None
    for path in _product_files(root):
        if not _inside(path, root):
            logger.warning("skipping %s: it resolves outside the products directory", path.name)
            continue
        if path.suffix == ".tif":
            box = _raster_bounds(path, gdal_env)
            if box is not None:
                key = (path.stem, path.parent.name)
                rasters[key], bounds[key] = path, box
    villages_path = root / "villages.parquet"
    if villages_path.is_file() and _inside(villages_path, root):
        try:
            frame = gpd.read_parquet(villages_path)
            kodes = pd.Index(sorted(frame["kode"].astype(str).unique()), name="kode")
            villages = VillageData(frame, load_indicators(root, kodes))
        except Exception:  # serve the rasters even when the table is unusable
            logger.error("cannot load villages.parquet", exc_info=True)
    return Catalogue(root, version, rasters, bounds, villages)


class ProductsStore:
    """The current catalogue of a products directory, re-scanned when its files change."""

    def __init__(self, root: Path, *, rescan_interval: float, gdal_env: dict[str, str]) -> None:
        self.root = Path(root).resolve()
        self.rescan_interval = rescan_interval
        self.gdal_env = gdal_env
        self._catalogue: Catalogue | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> Catalogue:
        """The catalogue, rebuilt first if the directory changed since the last check."""
        catalogue = self._catalogue
        if catalogue is not None and time.monotonic() - self._checked < self.rescan_interval:
            return catalogue
        with self._lock:
            catalogue = self._catalogue
            if catalogue is not None and time.monotonic() - self._checked < self.rescan_interval:
                return catalogue
            version = fingerprint(self.root)
            if catalogue is None or catalogue.version != version:
                logger.info("products version %s: scanning", version)
                catalogue = build_catalogue(self.root, version, self.gdal_env)
                self._catalogue = catalogue
            self._checked = time.monotonic()
            return catalogue
