"""Reference land-cover class schemes and the coverage-weighted class shares of each village.

Two categorical 10 m maps serve as references for Pantau's own built-up fraction:

* **ESA WorldCover** (v100 for 2020, v200 for 2021), Planetary Computer collection
  ``esa-worldcover``, asset ``map``: uint8, nodata 0, eleven classes 10..100.
* **Impact Observatory 10m Annual Land Use Land Cover (9-class) V2**, collection
  ``io-lulc-annual-v02``, asset ``data``: uint8, nodata 0, classes 1..11 (3 and 6 unused).

The codes, names and nodata are those of the collections' ``classification:classes`` /
``file:values`` and ``raster:bands`` metadata (see docs/reference.md for where they were
read). Both schemes are folded into one set of common groups (:data:`GROUPS`), so either
reference yields the same columns ``lc_<group>_fraction``.

A class marked ``known=False`` (Impact Observatory's *Clouds*: no clear observation that
year) says nothing about the land and is left out of the denominator, like nodata.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import numpy as np

from geo.zonal import CoverageWeights

__all__ = [
    "GROUPS",
    "LandCoverClass",
    "ClassScheme",
    "ESA_WORLDCOVER",
    "IO_LULC_ANNUAL_V02",
    "SCHEMES",
    "fraction_column",
    "class_shares",
]

log = logging.getLogger(__name__)

#: Common groups every scheme maps onto, in column order.
GROUPS: Final = ("built", "tree", "crop", "water", "wetland", "bare", "other")


def fraction_column(group: str) -> str:
    """``built`` -> ``lc_built_fraction``."""
    if group not in GROUPS:
        raise ValueError(f"unknown land-cover group {group!r}; known: {', '.join(GROUPS)}")
    return f"lc_{group}_fraction"


@dataclass(frozen=True)
class LandCoverClass:
    """One class of a categorical map: its pixel value, its name, its common group."""

    value: int
    name: str
    group: str
    known: bool = True  # False: the class says nothing about the land (e.g. clouds)


@dataclass(frozen=True)
class ClassScheme:
    """The classes of one categorical map, its nodata value and pixel type."""

    name: str
    classes: tuple[LandCoverClass, ...]
    nodata: int
    dtype: str = "uint8"

    def __post_init__(self) -> None:
        values = [c.value for c in self.classes]
        if len(set(values)) != len(values):
            raise ValueError(f"scheme {self.name}: duplicate class values {values}")
        if self.nodata in values:
            raise ValueError(f"scheme {self.name}: nodata {self.nodata} is also a class value")
        bad = sorted({c.group for c in self.classes} - set(GROUPS))
        if bad:
            raise ValueError(f"scheme {self.name}: groups {bad} are not in {GROUPS}")
        limit = np.iinfo(np.dtype(self.dtype)).max
        if max([*values, self.nodata]) > limit:
            raise ValueError(f"scheme {self.name}: a value does not fit {self.dtype}")

    @property
    def columns(self) -> tuple[str, ...]:
        """The fraction columns :func:`class_shares` returns (every common group)."""
        return tuple(fraction_column(g) for g in GROUPS)

    def code(self, group: str) -> tuple[int, ...]:
        """Pixel values of the classes of ``group``."""
        return tuple(c.value for c in self.classes if c.group == group)

    def by_value(self) -> dict[int, LandCoverClass]:
        """Class of each pixel value."""
        return {c.value: c for c in self.classes}

    def lookup(self) -> np.ndarray:
        """int8 table pixel value -> group index in :data:`GROUPS`; -1 = not counted."""
        table = np.full(int(np.iinfo(np.dtype(self.dtype)).max) + 1, -1, dtype=np.int8)
        for c in self.classes:
            if c.known:
                table[c.value] = GROUPS.index(c.group)
        return table


ESA_WORLDCOVER: Final = ClassScheme(
    name="esa-worldcover",
    nodata=0,
    classes=(
        LandCoverClass(10, "Tree cover", "tree"),
        LandCoverClass(20, "Shrubland", "other"),
        LandCoverClass(30, "Grassland", "other"),
        LandCoverClass(40, "Cropland", "crop"),
        LandCoverClass(50, "Built-up", "built"),
        LandCoverClass(60, "Bare / sparse vegetation", "bare"),
        LandCoverClass(70, "Snow and ice", "other"),
        LandCoverClass(80, "Permanent water bodies", "water"),
        LandCoverClass(90, "Herbaceous wetland", "wetland"),
        LandCoverClass(95, "Mangroves", "tree"),
        LandCoverClass(100, "Moss and lichen", "other"),
    ),
)

IO_LULC_ANNUAL_V02: Final = ClassScheme(
    name="io-lulc-annual-v02",
    nodata=0,
    classes=(
        LandCoverClass(1, "Water", "water"),
        LandCoverClass(2, "Trees", "tree"),
        # IO's definition names flooded mangroves, emergent vegetation and rice paddies
        LandCoverClass(4, "Flooded vegetation", "wetland"),
        LandCoverClass(5, "Crops", "crop"),
        LandCoverClass(7, "Built area", "built"),
        LandCoverClass(8, "Bare ground", "bare"),
        LandCoverClass(9, "Snow/ice", "other"),
        LandCoverClass(10, "Clouds", "other", known=False),
        LandCoverClass(11, "Rangeland", "other"),
    ),
)

#: Schemes by the name of their reference.
SCHEMES: Final[dict[str, ClassScheme]] = {
    ESA_WORLDCOVER.name: ESA_WORLDCOVER,
    IO_LULC_ANNUAL_V02.name: IO_LULC_ANNUAL_V02,
}


def class_shares(
    weights: CoverageWeights, classes: np.ndarray, scheme: ClassScheme
) -> dict[str, np.ndarray]:
    """Coverage-weighted share of each common group over each village's known area.

    For village v and group g: sum of coverage over cells of v whose class is in g, divided
    by the sum of coverage over cells of v with a known class (not nodata, not a
    ``known=False`` class, not a value the scheme does not declare). The same exact
    partial-pixel weights as :func:`geo.zonal.zonal_stats`.

    Args:
        weights: coverage weights of the villages on the grid of ``classes``.
        classes: 2-D integer class raster on that grid.
        scheme: the raster's class scheme.

    Returns:
        ``lc_<group>_fraction`` -> float64 array of length ``n_villages`` for every group of
        :data:`GROUPS`, NaN where a village has no cell of known class.
    """
    if classes.ndim != 2 or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(
            f"classes must be a 2-D integer raster, got {classes.ndim}-D {classes.dtype}; "
            "load categorical maps with their own integer dtype"
        )
    values = weights.gather(classes).astype(np.int64)
    table = scheme.lookup()
    inside = (values >= 0) & (values < table.size)
    group = np.full(values.shape, -1, dtype=np.int64)
    group[inside] = table[values[inside]]
    declared = np.isin(values, [c.value for c in scheme.classes]) | (values == scheme.nodata)
    if not declared.all():
        odd = np.unique(values[~declared])
        log.warning(
            "%s: %d cells hold values %s the scheme does not declare; counted as no data",
            scheme.name,
            int((~declared).sum()),
            odd[:10].tolist(),
        )
    ok = group >= 0
    n, k = weights.n_villages, len(GROUPS)
    village = weights.village[ok].astype(np.int64)
    coverage = weights.coverage[ok].astype(np.float64)
    area = np.bincount(village * k + group[ok], coverage, minlength=n * k).reshape(n, k)
    total = area.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = area / total[:, None]
    shares[total <= 0] = np.nan
    return {fraction_column(g): shares[:, i].copy() for i, g in enumerate(GROUPS)}
