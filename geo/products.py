"""The product registry: every raster product of a period, declared once.

A :class:`Product` says how a layer is computed (its inputs and formula), stored (dtype,
nodata, scale, overview resampling), summarised per village (statistic columns), described
in STAC (title, roles) and drawn (colormap, rescale, legend, tile resampling). ``workflows``
computes and writes the products a registry lists, ``stac`` describes them, ``tiles`` serves
them; none of them names a product itself.

Inputs are canonical Sentinel-2 reflectance band names (:mod:`geo.sentinel2`), the engine's
clear-observation count ``count``, or names of products declared earlier in the registry.
A registry is frozen; :meth:`ProductRegistry.register` returns a new one with more
products (titiler's ``Algorithms`` pattern), so a deployment or a test adds an index in one
place and every stage picks it up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from geo.sentinel2 import BANDS
from geo.unmixing import DEFAULT_METHOD, ImperviousFraction

__all__ = [
    "Product",
    "ProductRegistry",
    "PRODUCTS",
    "COUNT_INPUT",
    "INDEX_STATISTICS",
    "BuiltUpRule",
    "BUILT_UP_RULE",
    "BUILT_UP_METHODS",
    "with_built_up",
    "normalized_difference",
]

Array = Any  # numpy or dask array
RGBA = tuple[int, int, int, int]
Legend = Literal["continuous", "classes", "none"]

#: The engine's per-pixel count of clear observations, available as a product input.
COUNT_INPUT = "count"
#: Per-village statistics of a continuous index (column suffix -> statistic of geo.zonal).
INDEX_STATISTICS = ("mean", "median", "std", "p10", "p90")
_REFLECTANCE = tuple(b for b in BANDS if b != "scl")


def normalized_difference(a: Array, b: Array) -> Array:
    """(a - b) / (a + b); NaN where both are 0 (float32 in, float32 out)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a - b) / (a + b)


@dataclass(frozen=True)
class Product:
    """One raster product of a period: computed, stored, summarised, described and drawn.

    Values are computed as float32 (NaN = no value); ``dtype``/``scale``/``nodata`` say how
    they are stored: ``stored = value * scale`` cast to ``dtype``, ``nodata`` where NaN.
    ``valid_range`` and ``rescale`` are in stored units (what a tile client sees).
    """

    name: str
    title: str
    title_id: str
    description: str
    inputs: tuple[str, ...]
    formula: Callable[..., Array]
    valid_range: tuple[float, float]
    dtype: str = "float32"
    nodata: float | int | None = float("nan")
    scale: float = 1.0
    band_names: tuple[str, ...] = ()
    overview_resampling: str = "average"
    tile_resampling: str = "nearest"
    colormap: str | Mapping[int, RGBA] | None = None
    rescale: tuple[tuple[float, float], ...] | None = None
    legend: Legend = "continuous"
    classes: Mapping[int, str] = field(default_factory=dict)
    gamma: bool = False
    roles: tuple[str, ...] = ("data",)
    #: per-village columns: column name -> statistic (a key of geo.zonal.STATS)
    statistics: Mapping[str, str] = field(default_factory=dict)
    #: short label used in column titles (``NDVI mean``)
    label: str = ""
    #: titles of statistic columns that read better than ``<label> <stat>``
    column_labels: Mapping[str, str] = field(default_factory=dict)
    #: how a column aggregates from villages to regions (a rule of geo.regions.RULES);
    #: default: "clear_mean" for a ``mean`` statistic, left out at region level otherwise
    aggregate: Mapping[str, str] = field(default_factory=dict)

    @property
    def n_bands(self) -> int:
        """Bands of the stored raster."""
        return len(self.band_names) or 1

    @property
    def colormap_name(self) -> str:
        """Name of the default colormap ('' for none or a fixed class colormap)."""
        return self.colormap if isinstance(self.colormap, str) else ""

    @property
    def recipe(self) -> str:
        """What the stored values depend on: formula, inputs, storage (for fingerprints)."""
        f = self.formula
        named = isinstance(f, BuiltUpRule | ImperviousFraction)
        name = str(f) if named else getattr(f, "__qualname__", repr(f))
        module = getattr(f, "__module__", "")
        stored = f"{self.dtype} x{self.scale:g} nodata {self.nodata}"
        return f"{module}.{name}({', '.join(self.inputs)}) -> {stored}"

    def compute(self, values: Mapping[str, Array]) -> Array:
        """The product's float32 values from its inputs (reflectance, count, products)."""
        return self.formula(*(values[i] for i in self.inputs))

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Stored raster of ``values``: scaled, clipped to ``dtype`` (less ``nodata``), cast."""
        dtype = np.dtype(self.dtype)
        if dtype.kind == "f":
            return np.asarray(values, dtype=dtype)
        info = np.iinfo(dtype)
        lo, hi = float(info.min), float(info.max)
        if self.nodata is not None:  # keep the nodata value out of the data range
            lo = lo + 1 if self.nodata == info.min else lo
            hi = hi - 1 if self.nodata == info.max else hi
        scaled = values * np.float32(self.scale) if self.scale != 1 else values
        missing = np.isnan(scaled)
        stored = np.clip(np.nan_to_num(scaled, nan=lo), lo, hi).astype(dtype)
        if self.nodata is not None:
            stored[missing] = self.nodata
        return stored

    def legend_classes(self) -> list[tuple[int, str, RGBA]]:
        """(value, label, colour) of a class product's default legend, in value order."""
        colors = self.colormap if isinstance(self.colormap, Mapping) else {}
        return [(v, label, colors.get(v, (0, 0, 0, 0))) for v, label in self.classes.items()]


class ProductRegistry(Mapping[str, Product]):
    """A frozen, ordered set of products; inputs must be bands, ``count`` or earlier products."""

    def __init__(self, products: Mapping[str, Product] | tuple[Product, ...] = ()) -> None:
        items = tuple(products.values()) if isinstance(products, Mapping) else tuple(products)
        known: set[str] = set(_REFLECTANCE) | {COUNT_INPUT}
        columns: dict[str, str] = {}
        for p in items:
            if not p.name.isidentifier() or p.name != p.name.lower():
                raise ValueError(f"product name {p.name!r}: lower-case letters, digits and _")
            if p.name in known:
                raise ValueError(f"product {p.name!r} is declared twice or shadows an input")
            unknown = [i for i in p.inputs if i not in known]
            if unknown:
                raise ValueError(
                    f"product {p.name!r} needs {', '.join(unknown)}: not a band, "
                    f"{COUNT_INPUT!r} or a product declared before it"
                )
            if p.statistics and p.n_bands > 1:
                raise ValueError(f"product {p.name!r}: statistics need a one-band product")
            for column in p.statistics:
                if column in columns:
                    raise ValueError(f"column {column!r} of {p.name!r} is also {columns[column]}'s")
                columns[column] = p.name
            known.add(p.name)
        self._products: MappingProxyType[str, Product] = MappingProxyType(
            {p.name: p for p in items}
        )

    def __getitem__(self, name: str) -> Product:
        try:
            return self._products[name]
        except KeyError:
            raise KeyError(f"unknown product {name!r}; known: {', '.join(self)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._products)

    def __len__(self) -> int:
        return len(self._products)

    def __repr__(self) -> str:
        return f"ProductRegistry({', '.join(self)})"

    def register(self, *products: Product, replace: bool = False) -> ProductRegistry:
        """A new registry with ``products`` added (or, with ``replace``, swapped in place)."""
        current = dict(self._products)
        for p in products:
            if p.name in current and not replace:
                raise ValueError(f"product {p.name!r} exists; pass replace=True to swap it")
            current[p.name] = p
        return ProductRegistry(tuple(current.values()))

    def select(self, names: tuple[str, ...]) -> ProductRegistry:
        """The products named and everything they need, in registry order."""
        wanted: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in wanted:
                continue
            wanted.add(self[name].name)
            stack.extend(i for i in self[name].inputs if i in self._products)
        return ProductRegistry(tuple(p for n, p in self._products.items() if n in wanted))

    @property
    def bands(self) -> tuple[str, ...]:
        """Reflectance bands the products need, in Sentinel-2 band order."""
        needed = {i for p in self._products.values() for i in p.inputs}
        return tuple(b for b in _REFLECTANCE if b in needed)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every per-village statistic column, in registry order."""
        return tuple(c for p in self._products.values() for c in p.statistics)

    def aggregation(self) -> dict[str, str]:
        """Region aggregation rule of every statistic column that has one, in registry order."""
        rules = {
            c: p.aggregate.get(c, "clear_mean" if stat == "mean" else "none")
            for p in self._products.values()
            for c, stat in p.statistics.items()
        }
        return {c: r for c, r in rules.items() if r != "none"}

    def column_titles(self) -> dict[str, str]:
        """Readable title of each statistic column (``ndvi_p10`` -> ``NDVI p10``)."""
        titles: dict[str, str] = {}
        for p in self._products.values():
            for column, stat in p.statistics.items():
                default = f"{p.label} {stat}" if p.label else p.title
                titles[column] = p.column_labels.get(column, default)
        return titles

    def compute(self, values: Mapping[str, Array]) -> dict[str, Array]:
        """Every product from reflectance bands and ``count``, in dependency order."""
        known: dict[str, Array] = dict(values)
        out: dict[str, Array] = {}
        for name, product in self._products.items():
            out[name] = known[name] = product.compute(known)
        return out


# --------------------------------------------------------------------------- built-up rule


@dataclass(frozen=True)
class BuiltUpRule:
    """Thresholds of the built-up rule over composite indices (see README)."""

    ndbi_min: float = 0.0
    ndvi_max: float = 0.2
    mndwi_max: float = 0.0
    bsi_max: float = 0.2

    def __str__(self) -> str:
        return (
            f"NDBI > {self.ndbi_min} and NDVI < {self.ndvi_max} and "
            f"MNDWI < {self.mndwi_max} and BSI < {self.bsi_max}"
        )

    def __call__(self, ndbi: Array, ndvi: Array, mndwi: Array, bsi: Array) -> Array:
        """1.0 built-up, 0.0 not, NaN where any index is NaN (float32)."""
        built = (
            (ndbi > self.ndbi_min)
            & (ndvi < self.ndvi_max)
            & (mndwi < self.mndwi_max)
            & (bsi < self.bsi_max)
        )
        missing = np.isnan(ndbi) | np.isnan(ndvi) | np.isnan(mndwi) | np.isnan(bsi)
        return np.where(missing, np.float32(np.nan), built.astype(np.float32))


# NDBI > 0 separates built-up and bare soil from vegetation and water; NDVI and MNDWI guard
# against sparse vegetation and wet surfaces; BSI < 0.2 separates roofs/concrete/asphalt
# (flat spectra, BSI ~0.1) from dry bare soil (reflectance rising into the SWIR, BSI ~0.25).
# Tuned on textbook spectra: see docs/built-up.md for its validation on real spectra.
BUILT_UP_RULE = BuiltUpRule()


# --------------------------------------------------------------------------- the products


def _index(
    name: str,
    label: str,
    title: str,
    title_id: str,
    description: str,
    inputs: tuple[str, ...],
    formula: Callable[..., Array],
    *,
    colormap: str,
    rescale: tuple[float, float],
) -> Product:
    return Product(
        name=name,
        title=title,
        title_id=title_id,
        description=description,
        inputs=inputs,
        formula=formula,
        valid_range=(-1.0, 1.0),
        colormap=colormap,
        rescale=(rescale,),
        statistics={f"{name}_{s}": s for s in INDEX_STATISTICS},
        label=label,
    )


def _bsi(swir16: Array, red: Array, nir: Array, blue: Array) -> Array:
    return normalized_difference(swir16 + red, nir + blue)


def _count(count: Array) -> Array:
    return count.astype(np.float32)


def _rgb(red: Array, green: Array, blue: Array) -> Array:
    return np.stack([red, green, blue])


_BUILT_UP_COLORS: dict[int, RGBA] = {0: (240, 240, 240, 90), 1: (215, 48, 39, 255)}
_BANDS6 = ("blue", "green", "red", "nir", "swir16", "swir22")
_BUILT_UP_COLUMNS = {
    "statistics": {"built_up_fraction": "mean"},
    "label": "Built-up",
    "column_labels": {"built_up_fraction": "Built-up fraction"},
}


def _built_up(method: str) -> Product:
    """The ``built_up`` product of one method: the 0/1 rule mask or an impervious fraction."""
    if method == "rule":
        return Product(
            name="built_up",
            title="Built-up pixels",
            title_id="Piksel lahan terbangun",
            description=f"Built-up mask ({BUILT_UP_RULE})",
            inputs=("ndbi", "ndvi", "mndwi", "bsi"),
            formula=BUILT_UP_RULE,
            valid_range=(0, 1),
            dtype="uint8",
            nodata=255,
            overview_resampling="nearest",
            colormap=_BUILT_UP_COLORS,
            legend="classes",
            classes={1: "built-up", 0: "not built-up"},
            **_BUILT_UP_COLUMNS,  # type: ignore[arg-type]
        )
    # Stored as whole percent in one byte: 4x smaller than float32; the 0.5 % rounding is
    # far below the method's error (docs/built-up.md), and village statistics are computed
    # on the float values before encoding.
    return Product(
        name="built_up",
        title="Built-up (impervious) fraction, %",
        title_id="Fraksi lahan terbangun (kedap air), %",
        description=f"Per-pixel {ImperviousFraction(method)}, percent",
        inputs=_BANDS6,
        formula=ImperviousFraction(method),
        valid_range=(0, 100),
        dtype="uint8",
        nodata=255,
        scale=100,
        colormap="ylorrd",
        rescale=((0, 100),),
        **_BUILT_UP_COLUMNS,  # type: ignore[arg-type]
    )


#: ``built_up`` product per method (``--built-up``): ``unmixing`` is ``regression``'s alias.
BUILT_UP_METHODS: MappingProxyType[str, Product] = MappingProxyType(
    {m: _built_up(m) for m in ("regression", "fcls", "rule")}
    | {"unmixing": _built_up("regression")}
)


def with_built_up(method: str, base: ProductRegistry | None = None) -> ProductRegistry:
    """``base`` (default :data:`PRODUCTS`) with its ``built_up`` product computed by ``method``."""
    if method not in BUILT_UP_METHODS:
        raise ValueError(
            f"unknown built-up method {method!r}; choose one of {', '.join(BUILT_UP_METHODS)}"
        )
    return (PRODUCTS if base is None else base).register(BUILT_UP_METHODS[method], replace=True)


PRODUCTS = ProductRegistry(
    (
        _index(
            "ndvi", "NDVI", "NDVI (vegetation)", "NDVI (vegetasi)",
            "Normalized Difference Vegetation Index (Rouse et al. 1974)",
            ("nir", "red"), normalized_difference, colormap="rdylgn", rescale=(-0.2, 0.9),
        ),
        _index(
            "ndbi", "NDBI", "NDBI (built-up index)", "NDBI (indeks lahan terbangun)",
            "Normalized Difference Built-up Index (Zha et al. 2003)",
            ("swir16", "nir"), normalized_difference, colormap="rdylbu_r", rescale=(-0.5, 0.5),
        ),
        _index(
            "mndwi", "MNDWI", "MNDWI (water)", "MNDWI (air)",
            "Modified Normalized Difference Water Index (Xu 2006)",
            ("green", "swir16"), normalized_difference, colormap="blues", rescale=(-0.8, 0.8),
        ),
        _index(
            "bsi", "BSI", "BSI (bare soil)", "BSI (tanah terbuka)",
            "Bare Soil Index (Rikimaru et al. 2002)",
            ("swir16", "red", "nir", "blue"), _bsi, colormap="brbg_r", rescale=(-0.5, 0.5),
        ),
        BUILT_UP_METHODS[DEFAULT_METHOD],
        Product(
            name="clear_count",
            title="Clear observations per pixel",
            title_id="Jumlah pengamatan cerah per piksel",
            description="Clear observations per pixel",
            inputs=(COUNT_INPUT,),
            formula=_count,
            valid_range=(0, 255),
            dtype="uint8",
            nodata=None,
            overview_resampling="nearest",
            colormap="viridis",
            rescale=((0, 40),),
            roles=("metadata",),
            statistics={"n_obs": "median"},
            label="Clear observations",
            column_labels={"n_obs": "Clear observations (median per pixel)"},
        ),
        Product(
            name="rgb",
            title="True colour (red, green, blue)",
            title_id="Warna asli (merah, hijau, biru)",
            description="True colour median composite (reflectance x 10000)",
            inputs=("red", "green", "blue"),
            formula=_rgb,
            valid_range=(0, 10000),
            dtype="uint16",
            nodata=0,
            scale=10000,
            band_names=("red", "green", "blue"),
            tile_resampling="bilinear",
            rescale=((0, 3000),) * 3,
            legend="none",
            gamma=True,
            roles=("visual",),
        ),
    )
)  # fmt: skip
