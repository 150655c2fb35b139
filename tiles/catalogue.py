"""The layer catalogue: the layers a scanned products directory offers, and their classes.

Clients only ever name layers by id (``raster.ndvi``, ``choropleth.idm.status_idm_2024``)
and periods by label; :class:`Catalogue` maps those to files it found itself when it
scanned the directory (:mod:`tiles.scan`). Raster layers are the registry's products
(:mod:`geo.products`) with unit COGs in some period, each period served as one
:class:`~tiles.mosaic.Mosaic` of its units (and overview); village layers are the columns of
:class:`~tiles.villages.VillageData`. :class:`ProductsStore` re-scans when the files change;
their fingerprint is the catalogue's ``version``, part of every tile cache key.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.products import ProductRegistry
from tiles.errors import LayerNotFound, PeriodNotFound
from tiles.indicators import load_indicators
from tiles.legend import (
    SUPPRESSED_CODE,
    Classes,
    ClassParams,
    classify_bivariate,
    classify_categorical,
    classify_numeric,
)
from tiles.mosaic import Mosaic
from tiles.regions import RegionSet, load_regions
from tiles.scan import fingerprint, inside, is_overview, product_files, raster_info
from tiles.sensitive import find_sensitive, flag_column, flag_values, scope_mask
from tiles.villages import VillageData

__all__ = [
    "CLASS_CACHE_SIZE",
    "LAYER_ID_RE",
    "Catalogue",
    "Layer",
    "ProductsStore",
    "build_catalogue",
]

logger = logging.getLogger(__name__)

LAYER_ID_RE = re.compile(r"^(raster|choropleth|bivariate|vector)\.[a-z0-9_.]{1,200}$")
#: Classifications kept per catalogue; clients choose ``breaks``, so the cache is bounded.
CLASS_CACHE_SIZE = 256
#: Default bivariate pairs: satellite x columns, indicator y columns (by column name).
_BIVARIATE_X = ("built_up_fraction_change", "built_up_fraction")
_BIVARIATE_Y = re.compile(r"^(p0|nilai_idm)")
_T = TypeVar("_T")


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
    #: the title in Indonesian (``title`` is English)
    title_id: str = ""


@dataclass
class Catalogue:
    """A scanned products directory; immutable once built, replaced when files change."""

    root: Path
    version: str
    products: ProductRegistry
    rasters: dict[tuple[str, str], Mosaic]
    raster_bounds: dict[tuple[str, str], tuple[float, ...]]
    villages: VillageData | None
    layers: dict[str, Layer] = field(default_factory=dict)
    regions: RegionSet = field(default_factory=RegionSet)
    #: names of the sensitive indicator tables (tiles.sensitive): their layers need a token
    sensitive: frozenset[str] = frozenset()
    #: ``GET /layers`` bodies by base URL, built once per catalogue (= products version)
    listings: dict[str, list] = field(default_factory=dict, repr=False)
    _classes: OrderedDict[tuple, Classes] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: values derived from the products once per version (search index, place names)
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)
    _derived_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

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
        for name, product in self.products.items():
            periods = tuple(sorted(p for n, p in self.rasters if n == name))
            if periods:
                boxes = np.array([self.raster_bounds[(name, p)] for p in periods])
                bounds = (*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0))
                lid = f"raster.{name}"
                layers[lid] = Layer(
                    lid, "raster", product.title, periods, bounds, ("png",), raster=name,
                    title_id=product.title_id,
                )  # fmt: skip
        v = self.villages
        if v is None:
            return layers
        for column in v.columns.values():
            if column.source in self.sensitive and column.id == flag_column(column.source):
                continue  # the suppression flag is drawn as a class of every layer, not a map
            lid = f"choropleth.{column.id}"
            layers[lid] = Layer(
                lid, "choropleth", column.title, column.periods, v.bounds, ("png", "pbf"),
                column=column.id, title_id=column.title_id or column.title,
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
            "vector.villages", "vector", "Village boundaries", v.periods, v.bounds, ("pbf",),
            title_id="Batas desa/kelurahan",
        )  # fmt: skip
        return layers

    def _bivariate(self, x: str, y: str) -> Layer:
        assert self.villages is not None
        cx, cy = self.villages.columns[x], self.villages.columns[y]
        periods = tuple(p for p in cx.periods if p in cy.periods)
        return Layer(
            f"bivariate.{x}__{y}", "bivariate", f"{cx.title} × {cy.title}", periods,
            self.villages.bounds, ("png", "pbf"), x=x, y=y,
            title_id=f"{cx.title_id or cx.title} × {cy.title_id or cy.title}",
        )  # fmt: skip

    def is_sensitive(self, layer: Layer, column: str | None = None) -> bool:
        """True when the layer (or ``vector.villages`` with ``column``) draws a column of a
        sensitive table."""
        ids = (layer.column, layer.x, layer.y, column)
        return any(c and c.partition(".")[0] in self.sensitive for c in ids if c and "." in c)

    def _sensitive_tables(self, layer: Layer) -> list[str]:
        ids = (layer.column, layer.x, layer.y)
        return [c.partition(".")[0] for c in ids if c and c.partition(".")[0] in self.sensitive]

    def derived(self, key: str, build: Callable[[Catalogue], _T]) -> _T:
        """``build(self)``, computed once per catalogue (= products version) and kept."""
        # one build at a time (re-entrant: a build may use another derived value)
        with self._derived_lock:
            if key not in self._derived:
                self._derived[key] = build(self)
            return self._derived[key]

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

    def raster_mosaic(self, layer: Layer, period: str) -> Mosaic:
        """The unit COGs (and overview) of a raster layer in a period, found by the scan."""
        self.require_period(layer, period)
        assert layer.raster is not None
        return self.rasters[(layer.raster, period)]

    def data(self, level: str = "village") -> VillageData:
        """The villages, or the regions of one level (province, kab, kecamatan)."""
        assert self.villages is not None
        return self.villages if level == "village" else self.regions.levels[level]

    def classes(
        self, layer: Layer, params: ClassParams, level: str = "village", scope: str = ""
    ) -> Classes:
        """Classes of a choropleth or bivariate layer at a level, from the values inside
        ``scope`` (a region code prefix; all when empty). The last :data:`CLASS_CACHE_SIZE`
        are kept."""
        key = (layer.id if level == "village" and not scope else (layer.id, level, scope), params)
        with self._lock:
            cached = self._classes.get(key)
            if cached is not None:
                self._classes.move_to_end(key)
                return cached
        v = self.data(level)

        def pooled(column: Any) -> pd.Series:
            values = v.pooled(column)
            return values[values.index.astype(str).str.startswith(scope)] if scope else values

        if layer.kind == "bivariate":
            assert layer.x and layer.y
            cx, cy = v.column(layer.x), v.column(layer.y)
            result = classify_bivariate(pooled(cx).to_numpy(), pooled(cy).to_numpy())
        else:
            assert layer.column
            column = v.column(layer.column)
            if column.kind == "categorical":
                present = set(pooled(column).dropna().astype(str)) if scope else None
                shown = [c for c in column.categories if present is None or c in present]
                result = classify_categorical(shown)
            else:
                result = classify_numeric(pooled(column).to_numpy(), column.id, params)
        with self._lock:
            self._classes[key] = result
            self._classes.move_to_end(key)
            while len(self._classes) > CLASS_CACHE_SIZE:
                self._classes.popitem(last=False)
        return result

    def codes(
        self, layer: Layer, period: str, classes: Classes, level: str = "village"
    ) -> np.ndarray:
        """Class code per village or region of ``level`` (0 = no value, ``SUPPRESSED_CODE``
        where a sensitive table's values are suppressed) of a layer in a period."""
        v = self.data(level)
        if layer.kind == "bivariate":
            assert layer.x and layer.y
            x = v.values(v.column(layer.x), period)
            codes = classes.codes(x.to_numpy(), v.values(v.column(layer.y), period))
        else:
            assert layer.column
            codes = classes.codes(v.values(v.column(layer.column), period))
        for table in self._sensitive_tables(layer):
            flags = flag_values(v.indicators.get(flag_column(table)), len(codes))
            codes = np.where(flags, SUPPRESSED_CODE, codes).astype(np.uint8)
        return codes

    def scope_mask(self, level: str, scope: str) -> np.ndarray | None:
        """Which villages (regions) of ``level`` lie inside ``scope`` (None: no scope)."""
        return scope_mask(self.data(level).kodes, scope)


def build_catalogue(
    root: Path, version: str, gdal_env: dict[str, str], products: ProductRegistry
) -> Catalogue:
    """Scan ``root`` (already fingerprinted as ``version``) into a catalogue."""
    units: dict[tuple[str, str], dict[Path, tuple[tuple[float, ...], tuple[float, ...], float]]]
    units = {}
    overviews: dict[tuple[str, str], tuple[Path, tuple[str, ...] | None]] = {}
    villages, regions = None, RegionSet()
    for path in product_files(root, products):
        if not inside(path, root):
            logger.warning("skipping %s: it resolves outside the products directory", path.name)
            continue
        if path.suffix == ".tif":
            info = raster_info(path, gdal_env)
            if info is None:
                continue
            if is_overview(path, root):
                overviews[(path.stem, path.parent.name)] = (path, info.units)
            else:
                key = (path.stem, path.parent.parent.name)
                units.setdefault(key, {})[path] = (info.lonlat, info.mercator, info.coarsest_pixel)
    rasters = {
        key: Mosaic.from_units(found, _overview(key, found, overviews))
        for key, found in units.items()
    }
    bounds = {key: mosaic.bounds for key, mosaic in rasters.items()}
    villages_path = root / "villages.parquet"
    if villages_path.is_file() and inside(villages_path, root):
        try:
            frame = gpd.read_parquet(villages_path)
            kodes = pd.Index(sorted(frame["kode"].astype(str).unique()), name="kode")
            villages = VillageData(
                frame,
                load_indicators(root, kodes),
                column_titles=products.column_titles(),
                column_titles_id=products.column_titles("id"),
            )
        except Exception:  # serve the rasters even when the table is unusable
            logger.error("cannot load villages.parquet", exc_info=True)
    sensitive = find_sensitive(root)
    if villages is not None:
        regions = load_regions(root, villages, products, sensitive=sensitive)
    return Catalogue(
        root, version, products, rasters, bounds, villages, regions=regions, sensitive=sensitive
    )


def _overview(
    key: tuple[str, str],
    units: dict[Path, Any],
    overviews: dict[tuple[str, str], tuple[Path, tuple[str, ...] | None]],
) -> Path | None:
    """The overview of a (product, period) if it was built from exactly the units found."""
    if key not in overviews:
        return None
    path, listed = overviews[key]
    found = tuple(sorted(p.parent.name for p in units))
    if listed is None or tuple(sorted(listed)) != found:
        logger.warning(
            "not using %s/%s overview: built from other units than found (%d); rerun "
            "`pantau run` to rebuild it", key[1], key[0], len(found),
        )  # fmt: skip
        return None
    return path


class ProductsStore:
    """The current catalogue of a products directory, re-scanned when its files change."""

    def __init__(
        self,
        root: Path,
        *,
        products: ProductRegistry,
        rescan_interval: float,
        gdal_env: dict[str, str],
    ) -> None:
        self.root = Path(root).resolve()
        self.products = products
        self.rescan_interval = rescan_interval
        self.gdal_env = gdal_env
        self._catalogue: Catalogue | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def latest(self) -> Catalogue | None:
        """The catalogue of the last scan, without checking the directory (no I/O, no lock)."""
        return self._catalogue

    def due(self) -> bool:
        """True when :meth:`current` would check the directory (no catalogue, or stale)."""
        return self._catalogue is None or (time.monotonic() - self._checked >= self.rescan_interval)

    def current(self) -> Catalogue:
        """The catalogue, rebuilt first if the directory changed since the last check."""
        catalogue = self._catalogue
        if catalogue is not None and time.monotonic() - self._checked < self.rescan_interval:
            return catalogue
        with self._lock:
            catalogue = self._catalogue
            if catalogue is not None and time.monotonic() - self._checked < self.rescan_interval:
                return catalogue
            version = fingerprint(self.root, self.products)
            if catalogue is None or catalogue.version != version:
                logger.info("products version %s: scanning", version)
                catalogue = build_catalogue(self.root, version, self.gdal_env, self.products)
                self._catalogue = catalogue
            self._checked = time.monotonic()
            return catalogue
