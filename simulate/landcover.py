"""Planted land cover per year at 10 m, its mixtures of real spectra, and the truth.

Each village gets class shares (kelurahan more built-up than desa) and a planted built-up
growth; smooth random fields decide *where* inside the village each class lies, so classes
form coherent patches and built-up land grows outward from existing built-up patches. Growth
converts vegetation and bare soil; water never changes. Each pixel then gets a material
(a mixture of real spectra, ``simulate.spectra``) of its class from its village's window of
the palette; the truth is the mean true impervious share of those mixtures.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from pyproj import CRS
from rasterio.features import rasterize

from simulate.fields import QUANT_LEVELS, SmoothField, quantize
from simulate.grid import Grid
from simulate.spectra import (
    IMPERVIOUS_LEVELS,
    PALETTE_SIZE,
    VILLAGE_MATERIALS,
    LandCover,
    MaterialPalette,
    material_code,
)

__all__ = [
    "Planting",
    "LandCoverStack",
    "plant_shares",
    "build_land_cover",
    "impervious_raster",
    "measure_truth",
]

_CHUNK_ROWS = 128
# correlation lengths of the class patterns, in 10 m pixels
_SCALE_WATER = 12.0
_SCALE_BUILT = 25.0
_SCALE_BARE = 10.0
# shares of the land outside every village (margin, gaps between real polygons)
_BACKGROUND = {"water": 0.02, "bare": 0.04, "built": 0.05}


@dataclass(frozen=True)
class Planting:
    """Planted class shares per village (index 0 = outside every village) and year."""

    years: tuple[int, ...]
    water: np.ndarray  # (n + 1,)
    bare: np.ndarray  # (n + 1,)
    built: np.ndarray  # (n_years, n + 1), non-decreasing over years


@dataclass(frozen=True)
class LandCoverStack:
    """The 10 m land cover and materials of every year, and 2x2 class counts at 20 m."""

    years: tuple[int, ...]
    classes: dict[int, np.ndarray]  # year -> uint8 (H, W), LandCover values
    counts20: dict[int, np.ndarray]  # year -> uint8 (len(LandCover), H/2, W/2), 0..4 each
    materials: dict[int, np.ndarray]  # year -> uint8 (H, W), MaterialPalette codes


def plant_shares(codes: list[str], years: tuple[int, ...], rng: np.random.Generator) -> Planting:
    """Draw class shares and per-year built-up growth for each village code.

    About 35% of villages grow fast (+0.10 to +0.30 built-up per year), 40% slowly (0 to
    +0.05) and 25% not at all.
    """
    n = len(codes)
    digits = ["".join(ch for ch in c if ch.isdigit()) for c in codes]
    kelurahan = np.array([len(d) == 10 and d[6] == "1" for d in digits])
    water = np.where(rng.random(n) < 0.12, rng.uniform(0.03, 0.12, n), rng.uniform(0.0, 0.02, n))
    dense_desa = rng.random(n) < 0.3
    built0 = np.where(
        kelurahan,
        rng.uniform(0.35, 0.80, n),
        np.where(dense_desa, rng.uniform(0.15, 0.40, n), rng.uniform(0.02, 0.20, n)),
    )
    u = rng.random(n)
    fast, slow = u < 0.35, (u >= 0.35) & (u < 0.75)
    steps = len(years) - 1
    growth = np.zeros((steps, n))
    for t in range(steps):
        growth[t] = np.where(
            fast, rng.uniform(0.10, 0.30, n), np.where(slow, rng.uniform(0.0, 0.05, n), 0.0)
        )
    cap = 0.97 - water
    # leave fast growers room to grow as planted
    built0 = np.clip(np.minimum(built0, cap - growth.sum(axis=0)), 0.01, None)
    built = np.minimum(cap, built0 + np.vstack([np.zeros(n), np.cumsum(growth, axis=0)]))
    bare = np.minimum(rng.uniform(0.01, 0.08, n), np.clip(1.0 - water - built[0] - 0.02, 0, None))

    def with_background(values: np.ndarray, key: str) -> np.ndarray:
        return np.concatenate([[_BACKGROUND[key]], values], axis=-1)

    return Planting(
        years=years,
        water=with_background(water, "water"),
        bare=with_background(bare, "bare"),
        built=np.column_stack([np.full(len(years), _BACKGROUND["built"]), built]),
    )


def build_land_cover(
    villages_utm: gpd.GeoDataFrame,
    grid: Grid,
    planting: Planting,
    rng: np.random.Generator,
    executor: Executor,
) -> LandCoverStack:
    """Rasterize the villages and place every class so each village gets its planted shares.

    A pixel belongs to a class when its level in that class's smooth field reaches the
    village's threshold; thresholds come from per-village histograms of the levels, so each
    village gets its planted pixel count (to one level in 1024). Water is placed first, then
    built-up on the rest, then bare soil on what is left; vegetation fills the remainder.
    """
    n_ids = len(villages_utm) + 1
    height, width = grid.shape
    ids = rasterize(
        zip(villages_utm.geometry.values, range(1, n_ids), strict=True),
        out_shape=grid.shape,
        transform=grid.transform(10),
        fill=0,
        dtype="uint16" if n_ids < 2**16 else "uint32",
    )
    fields = {
        name: SmoothField(rng, grid.shape, scale_px=scale)
        for name, scale in (("water", _SCALE_WATER), ("built", _SCALE_BUILT), ("bare", _SCALE_BARE))
    }
    # each village's window of the palette per class, and a per-strip seed for the pixel
    # draws (drawn once for all years: an unchanged pixel keeps its material)
    windows = rng.integers(0, PALETTE_SIZE, size=(n_ids, len(LandCover) + 1)).astype(np.uint8)
    strip_seed = int(rng.integers(2**62))
    q = {name: np.empty(grid.shape, dtype=np.uint16) for name in fields}
    water = np.empty(grid.shape, dtype=bool)
    n_bins = n_ids * QUANT_LEVELS
    # strips big enough that a per-strip histogram costs little next to the pixels
    rows = int(min(height, max(_CHUNK_ROWS, 2 * (-(-4 * n_bins // width) // 2))))
    strips = [slice(r0, min(r0 + rows, height)) for r0 in range(0, height, rows)]

    def histogram(s: slice, level: np.ndarray, excluded: np.ndarray | None) -> np.ndarray:
        key = ids[s].astype(np.intp) * QUANT_LEVELS + level
        if excluded is not None:
            key[excluded] = n_bins  # an overflow bin, dropped below
        return np.bincount(key.ravel(), minlength=n_bins + 1)

    def total(parts: object) -> np.ndarray:
        return sum(parts)[:n_bins].reshape(n_ids, QUANT_LEVELS)  # type: ignore[call-overload]

    def draw_fields(s: slice) -> np.ndarray:
        for name, field in fields.items():
            q[name][s] = quantize(field.rows(s.start, s.stop))
        return histogram(s, q["water"][s], None)

    hist_water = total(executor.map(draw_fields, strips))
    pixels = hist_water.sum(axis=1).astype(np.float64)
    t_water = _thresholds(hist_water, planting.water * pixels)

    def place_water(s: slice) -> np.ndarray:
        water[s] = q["water"][s] >= t_water.take(ids[s])
        return histogram(s, q["built"][s], water[s])

    hist_built = total(executor.map(place_water, strips))
    t_built = [_thresholds(hist_built, share * pixels) for share in planting.built]

    def first_built(s: slice) -> np.ndarray:
        return (q["built"][s] >= t_built[0].take(ids[s])) & ~water[s]

    def place_built(s: slice) -> np.ndarray:
        return histogram(s, q["bare"][s], water[s] | first_built(s))

    t_bare = _thresholds(total(executor.map(place_built, strips)), planting.bare * pixels)

    classes = {year: np.empty(grid.shape, dtype=np.uint8) for year in planting.years}
    materials = {year: np.empty(grid.shape, dtype=np.uint8) for year in planting.years}
    counts20 = {
        year: np.zeros((len(LandCover) + 1, height // 2, width // 2), dtype=np.uint8)
        for year in planting.years
    }

    def classify(s: slice) -> None:
        v, w = ids[s], water[s]
        bare = (q["bare"][s] >= t_bare.take(v)) & ~w & ~first_built(s)
        s20 = slice(s.start // 2, s.stop // 2)
        pick = np.random.default_rng([strip_seed, s.start]).integers(
            0, VILLAGE_MATERIALS, size=v.shape, dtype=np.uint8
        )
        for year, t_b in zip(planting.years, t_built, strict=True):
            lc = classes[year][s]
            lc[...] = LandCover.VEGETATION
            lc[bare] = LandCover.BARE
            lc[w] = LandCover.WATER
            lc[(q["built"][s] >= t_b.take(v)) & ~w] = LandCover.BUILT
            m = windows[v, lc].astype(np.intp) + pick
            materials[year][s] = material_code(lc, m % PALETTE_SIZE)
            for cls in LandCover:  # class counts of each 2x2 block: four strided adds
                e = (lc == cls).view(np.uint8)
                counts20[year][cls, s20] = (
                    e[0::2, 0::2] + e[1::2, 0::2] + e[0::2, 1::2] + e[1::2, 1::2]
                )

    list(executor.map(classify, strips))
    return LandCoverStack(
        years=planting.years, classes=classes, counts20=counts20, materials=materials
    )


def _thresholds(hist: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per row of ``hist``, the level t whose count of levels >= t is closest to ``target``."""
    # above[:, t] = number of pixels with level >= t, for t = 0..QUANT_LEVELS
    above = np.zeros((hist.shape[0], QUANT_LEVELS + 1), dtype=np.int64)
    above[:, :QUANT_LEVELS] = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]
    best = np.argmin(np.abs(above - target[:, None]), axis=1)
    return best.astype(np.int32)


def impervious_raster(
    land_cover: LandCoverStack, palette: MaterialPalette, year: int
) -> np.ndarray:
    """Per-pixel true impervious share of ``year``, uint8 in 1/IMPERVIOUS_LEVELS."""
    return palette.impervious.take(land_cover.materials[year])


def measure_truth(
    villages_utm: gpd.GeoDataFrame,
    codes: list[str],
    land_cover: LandCoverStack,
    grid: Grid,
    palette: MaterialPalette,
) -> pd.DataFrame:
    """Exact coverage-weighted mean true impervious share per village and year (exactextract).

    Returns:
        Columns ``kode``, ``year`` (int), ``built_up_fraction_true``, sorted by code and year.
    """
    west, south, east, north = grid.bounds
    wkt = CRS.from_epsg(grid.epsg).to_wkt()
    vector = gpd.GeoDataFrame({"kode": codes}, geometry=villages_utm.geometry.values, crs=grid.epsg)
    # one call for all years: the polygon coverage fractions, the costly part, are shared
    rasters = [
        NumPyRasterSource(
            impervious_raster(land_cover, palette, year),
            west,
            south,
            east,
            north,
            srs_wkt=wkt,
            name=f"built_{year}",
        )
        for year in land_cover.years
    ]
    result = exact_extract(rasters, vector, ["mean"], include_cols=["kode"], output="pandas")

    def column(year: int) -> str:
        name = f"built_{year}_mean"
        return name if name in result.columns else "mean"

    frames = [
        pd.DataFrame(
            {
                "kode": result["kode"].astype(str),
                "year": np.full(len(result), year, dtype=np.int64),
                "built_up_fraction_true": (
                    result[column(year)].astype(np.float64) / IMPERVIOUS_LEVELS
                ).clip(0.0, 1.0),
            }
        )
        for year in land_cover.years
    ]
    truth = pd.concat(frames, ignore_index=True)
    return truth.sort_values(["kode", "year"], ignore_index=True)
