"""Spectral indices in a frozen registry, and the built-up rule.

Each index declares the bands it needs (canonical names from :mod:`geo.sentinel2`), its
formula over surface reflectance and its valid range. Functions work on numpy or dask
arrays alike and never compute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = [
    "SpectralIndex",
    "INDICES",
    "BUILT_UP_RULE",
    "compute_index",
    "compute_indices",
    "built_up_mask",
    "required_bands",
]

Array = Any  # numpy or dask array


def _normalized_difference(a: Array, b: Array) -> Array:
    # float32 keeps memory at half of float64; a zero denominator (both bands 0) gives NaN
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a - b) / (a + b)


@dataclass(frozen=True)
class SpectralIndex:
    """A spectral index: name, bands it needs, formula, valid range and reference."""

    name: str
    bands: tuple[str, ...]
    formula: Callable[..., Array]
    valid_range: tuple[float, float]
    description: str

    def __call__(self, bands: Mapping[str, Array]) -> Array:
        return self.formula(*(bands[b] for b in self.bands))


INDICES: MappingProxyType[str, SpectralIndex] = MappingProxyType(
    {
        i.name: i
        for i in (
            SpectralIndex(
                "ndvi",
                ("nir", "red"),
                _normalized_difference,
                (-1.0, 1.0),
                "Normalized Difference Vegetation Index (Rouse et al. 1974)",
            ),
            SpectralIndex(
                "ndbi",
                ("swir16", "nir"),
                _normalized_difference,
                (-1.0, 1.0),
                "Normalized Difference Built-up Index (Zha et al. 2003)",
            ),
            SpectralIndex(
                "mndwi",
                ("green", "swir16"),
                _normalized_difference,
                (-1.0, 1.0),
                "Modified Normalized Difference Water Index (Xu 2006)",
            ),
            SpectralIndex(
                "bsi",
                ("swir16", "red", "nir", "blue"),
                lambda swir, red, nir, blue: _normalized_difference(swir + red, nir + blue),
                (-1.0, 1.0),
                "Bare Soil Index (Rikimaru et al. 2002)",
            ),
        )
    }
)


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


# NDBI > 0 separates built-up and bare soil from vegetation and water; NDVI and MNDWI guard
# against sparse vegetation and wet surfaces; BSI < 0.2 separates roofs/concrete/asphalt
# (flat spectra, BSI ~0.1) from dry bare soil (reflectance rising into the SWIR, BSI ~0.25).
BUILT_UP_RULE = BuiltUpRule()


def compute_index(name: str, bands: Mapping[str, Array]) -> Array:
    """One index from a mapping of canonical band name -> reflectance array."""
    try:
        index = INDICES[name]
    except KeyError:
        raise KeyError(f"unknown index {name!r}; known: {', '.join(INDICES)}") from None
    return index(bands)


def compute_indices(
    bands: Mapping[str, Array], *, names: tuple[str, ...] | None = None
) -> dict[str, Array]:
    """Every registered index (or ``names``) from reflectance bands, lazily if they are."""
    return {n: compute_index(n, bands) for n in (names or tuple(INDICES))}


def built_up_mask(indices: Mapping[str, Array], *, rule: BuiltUpRule = BUILT_UP_RULE) -> Array:
    """Boolean built-up mask from NDBI/NDVI/MNDWI/BSI; False where any index is NaN."""
    return (
        (indices["ndbi"] > rule.ndbi_min)
        & (indices["ndvi"] < rule.ndvi_max)
        & (indices["mndwi"] < rule.mndwi_max)
        & (indices["bsi"] < rule.bsi_max)
    )


def required_bands(names: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The bands the given indices need, in registry band order."""
    needed = {b for n in (names or tuple(INDICES)) for b in INDICES[n].bands}
    order = ("blue", "green", "red", "nir", "swir16", "swir22")
    return tuple(b for b in order if b in needed)
