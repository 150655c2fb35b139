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

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from geo.product_model import (
    COUNT_INPUT,
    INDEX_STATISTICS,
    RGBA,
    STATISTIC_NAMES_ID,
    Array,
    Product,
    ProductRegistry,
)
from geo.unmixing import DEFAULT_METHOD, ImperviousFraction

__all__ = [
    "Product",
    "ProductRegistry",
    "PRODUCTS",
    "COUNT_INPUT",
    "INDEX_STATISTICS",
    "STATISTIC_NAMES_ID",
    "BuiltUpRule",
    "BUILT_UP_RULE",
    "BUILT_UP_METHODS",
    "with_built_up",
    "normalized_difference",
]


def normalized_difference(a: Array, b: Array) -> Array:
    """(a - b) / (a + b); NaN where both are 0 (float32 in, float32 out)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a - b) / (a + b)


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
    description_id: str,
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
        description_id=description_id,
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
    "column_labels_id": {"built_up_fraction": "Fraksi lahan terbangun"},
}


def _built_up(method: str) -> Product:
    """The ``built_up`` product of one method: the 0/1 rule mask or an impervious fraction."""
    if method == "rule":
        return Product(
            name="built_up",
            title="Built-up pixels",
            title_id="Piksel lahan terbangun",
            description=f"Built-up mask ({BUILT_UP_RULE})",
            description_id=f"Masker lahan terbangun ({BUILT_UP_RULE})",
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
        description_id=f"Fraksi kedap air per piksel ({ImperviousFraction(method)}), persen",
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
            "Indeks vegetasi beda ternormalisasi (Rouse dkk. 1974)",
            ("nir", "red"), normalized_difference, colormap="rdylgn", rescale=(-0.2, 0.9),
        ),
        _index(
            "ndbi", "NDBI", "NDBI (built-up index)", "NDBI (indeks lahan terbangun)",
            "Normalized Difference Built-up Index (Zha et al. 2003)",
            "Indeks lahan terbangun beda ternormalisasi (Zha dkk. 2003)",
            ("swir16", "nir"), normalized_difference, colormap="rdylbu_r", rescale=(-0.5, 0.5),
        ),
        _index(
            "mndwi", "MNDWI", "MNDWI (water)", "MNDWI (air)",
            "Modified Normalized Difference Water Index (Xu 2006)",
            "Indeks air beda ternormalisasi termodifikasi (Xu 2006)",
            ("green", "swir16"), normalized_difference, colormap="blues", rescale=(-0.8, 0.8),
        ),
        _index(
            "bsi", "BSI", "BSI (bare soil)", "BSI (tanah terbuka)",
            "Bare Soil Index (Rikimaru et al. 2002)",
            "Indeks tanah terbuka (Rikimaru dkk. 2002)",
            ("swir16", "red", "nir", "blue"), _bsi, colormap="brbg_r", rescale=(-0.5, 0.5),
        ),
        BUILT_UP_METHODS[DEFAULT_METHOD],
        Product(
            name="clear_count",
            title="Clear observations per pixel",
            title_id="Jumlah pengamatan cerah per piksel",
            description="Clear observations per pixel",
            description_id="Jumlah pengamatan cerah (tanpa awan) per piksel",
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
            column_labels_id={"n_obs": "Pengamatan cerah (median per piksel)"},
        ),
        Product(
            name="rgb",
            title="True colour (red, green, blue)",
            title_id="Warna asli (merah, hijau, biru)",
            description="True colour median composite (reflectance x 10000)",
            description_id="Komposit median warna asli (reflektansi x 10000)",
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
