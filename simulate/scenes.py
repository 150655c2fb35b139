"""Simulated Sentinel-2 L2A scenes: surface spectra, atmosphere and noise to uint16 DN COGs.

Every 10 m pixel is the spectrum of its material (a mixture of real spectra, see
``simulate.spectra``); 20 m bands are the 2x2 average of the 10 m spectra, so mixed pixels
at class edges are as in the real product. Per-pixel noise comes from a shared pool (see
``fields.noise_pool``), per-scene gains jitter, vegetation and soil follow the season.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import shapely

from geo.cog import write_cog
from simulate.atmosphere import Atmosphere, draw_atmosphere
from simulate.grid import Grid
from simulate.landcover import LandCoverStack
from simulate.plan import ScenePlan
from simulate.spectra import (
    BAND_GAIN_JITTER,
    CIRRUS_BAND_FACTOR,
    CLOUD_BAND_FACTOR,
    GAIN_JITTER,
    MaterialPalette,
)
from simulate.writer import BackgroundWriter

__all__ = ["SceneStats", "render_scene", "BANDS_10M", "BANDS_20M", "ASSET_KEYS"]

BANDS_10M = ("blue", "green", "red", "nir")
BANDS_20M = ("swir16", "swir22")
ASSET_KEYS = (*BANDS_10M, *BANDS_20M, "scl")

_STRIP_ROWS = 64


@dataclass(frozen=True)
class SceneStats:
    """What rendering measured: SCL class counts, the data footprint, sun angles."""

    scl_counts: tuple[int, ...]  # pixels per SCL value 0..11 on the 20 m grid
    footprint: shapely.Polygon  # data footprint in the grid's UTM CRS
    sun_azimuth: float
    sun_elevation: float

    def percentage(self, *values: int) -> float:
        """Percent of data pixels (SCL != 0) in the given SCL classes."""
        data = sum(self.scl_counts) - self.scl_counts[0]
        return 100.0 * sum(self.scl_counts[v] for v in values) / data if data else 0.0

    @property
    def cloud_cover(self) -> float:
        """``eo:cloud_cover``: percent of data pixels classed cloud (8, 9) or cirrus (10)."""
        return self.percentage(8, 9, 10)

    @property
    def nodata_percentage(self) -> float:
        """``s2:nodata_pixel_percentage``: percent of all pixels without data (SCL 0)."""
        total = sum(self.scl_counts)
        return 100.0 * self.scl_counts[0] / total if total else 100.0


def render_scene(
    plan: ScenePlan,
    grid: Grid,
    land_cover: LandCoverStack,
    palette: MaterialPalette,
    pool: np.ndarray,
    executor: Executor,
    folder: Path,
    writer: BackgroundWriter,
    *,
    seed: int,
    on_file: Callable[[], None] = lambda: None,
) -> SceneStats:
    """Draw one scene and queue its seven COGs (``folder/<asset key>.tif``) on ``writer``."""
    rng = np.random.default_rng([seed, 0x7363656E65, plan.index])
    year = plan.date.year
    material = land_cover.materials[year]
    counts = land_cover.counts20[year]
    atm = draw_atmosphere(plan, grid, counts, rng)
    gain = rng.uniform(1.0 - GAIN_JITTER, 1.0 + GAIN_JITTER)
    folder.mkdir(parents=True, exist_ok=True)

    def write(key: str, array: np.ndarray, res: int) -> None:
        path = folder / f"{key}.tif"
        transform = grid.transform(res)
        # Nearest overviews are exact for SCL classes and for no-data edges (averaging would
        # blend DN 0 into the data), and ~10x faster than GDAL's nodata-aware average.
        cog = partial(
            write_cog,
            array,
            path,
            crs=f"EPSG:{grid.epsg}",
            transform=transform,
            nodata=0,
            resampling="nearest",
        )
        writer.submit(cog, done=on_file)

    for band in (*BANDS_10M, *BANDS_20M):
        band_gain = gain * rng.uniform(1.0 - BAND_GAIN_JITTER, 1.0 + BAND_GAIN_JITTER)
        lut = palette.lut(plan.date, band, band_gain)
        add = (
            np.float32(1e4 * band_gain * CLOUD_BAND_FACTOR[band]),
            np.float32(1e4 * band_gain * CIRRUS_BAND_FACTOR[band]),
            np.float32(plan.dn_offset + 0.5),  # + 0.5: the truncating cast then rounds
        )
        if band in BANDS_10M:
            write(band, _render_10m(lut, material, atm, add, pool, rng, executor), 10)
        else:
            write(band, _render_20m(lut, material, atm, add, pool, rng, executor), 20)
    write("scl", atm.scl, 20)
    return SceneStats(
        scl_counts=tuple(int(v) for v in np.bincount(atm.scl.ravel(), minlength=12)[:12]),
        footprint=atm.footprint,
        sun_azimuth=atm.sun_azimuth,
        sun_elevation=atm.sun_elevation,
    )


def _strips(
    height: int, width: int, pool: np.ndarray, rng: np.random.Generator
) -> list[tuple[int, int, int]]:
    """(r0, r1, noise offset) per strip of rows; strips are even so they nest in 20 m rows."""
    rows = max(2, min(_STRIP_ROWS, (pool.size // (2 * width)) // 2 * 2))
    starts = list(range(0, height, rows))
    offsets = rng.integers(0, pool.size - rows * width, size=len(starts))
    return [(r0, min(r0 + rows, height), int(o)) for r0, o in zip(starts, offsets, strict=True)]


def _sky(
    atm: Atmosphere, s: slice, add: tuple[np.float32, np.float32, np.float32]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``s`` (20 m) of the transmission and of the additive DN (clouds, haze, offset)."""
    extra = atm.cloud[s] * add[0]
    if atm.haze is not None:
        extra += atm.haze[s] * add[1]
    extra += add[2]
    return atm.transmission[s], extra


def _to_dn(v: np.ndarray, out: np.ndarray) -> None:
    np.minimum(v, np.float32(65535), out=v)
    np.maximum(v, np.float32(1), out=v)
    np.copyto(out, v, casting="unsafe")  # truncation; the +0.5 in the offset rounds


def _render_10m(
    lut: np.ndarray,
    material: np.ndarray,
    atm: Atmosphere,
    add: tuple[np.float32, np.float32, np.float32],
    pool: np.ndarray,
    rng: np.random.Generator,
    executor: Executor,
) -> np.ndarray:
    height, width = material.shape
    out = np.empty(material.shape, dtype=np.uint16)

    def strip(job: tuple[int, int, int]) -> None:
        r0, r1, off = job
        h = r1 - r0
        v = lut.take(material[r0:r1])
        v *= pool[off : off + h * width].reshape(h, width)
        s = slice(r0 // 2, r1 // 2)
        # 20 m fields widened to 10 m columns; rows pair up through a (h/2, 2, W) view
        transmission, extra = (np.repeat(a, 2, axis=1)[:, None, :] for a in _sky(atm, s, add))
        pairs = v.reshape(h // 2, 2, width)
        pairs *= transmission
        pairs += extra
        o = out[r0:r1]
        _to_dn(v, o)
        if atm.valid is not None:
            o2 = o.reshape(h // 2, 2, width)
            np.multiply(o2, np.repeat(atm.valid[s], 2, axis=1)[:, None, :], out=o2)

    list(executor.map(strip, _strips(height, width, pool, rng)))
    rows, cols = atm.saturated
    for dr in (0, 1):
        for dc in (0, 1):
            out[2 * rows + dr, 2 * cols + dc] = 65535
    return out


def _render_20m(
    lut: np.ndarray,
    material: np.ndarray,
    atm: Atmosphere,
    add: tuple[np.float32, np.float32, np.float32],
    pool: np.ndarray,
    rng: np.random.Generator,
    executor: Executor,
) -> np.ndarray:
    height, width = material.shape[0] // 2, material.shape[1] // 2
    out = np.empty((height, width), dtype=np.uint16)
    quarter = lut / np.float32(4.0)

    def strip(job: tuple[int, int, int]) -> None:
        r0, r1, off = job
        h = r1 - r0
        m = material[2 * r0 : 2 * r1, : 2 * width]
        v = quarter.take(m[0::2, 0::2])  # the 2x2 mean of the 10 m spectra
        v += quarter.take(m[1::2, 0::2])
        v += quarter.take(m[0::2, 1::2])
        v += quarter.take(m[1::2, 1::2])
        v *= pool[off : off + h * width].reshape(h, width)
        transmission, extra = _sky(atm, slice(r0, r1), add)
        v *= transmission
        v += extra
        o = out[r0:r1]
        _to_dn(v, o)
        if atm.valid is not None:
            np.multiply(o, atm.valid[r0:r1], out=o)

    list(executor.map(strip, _strips(height, width, pool, rng)))
    out[atm.saturated] = 65535
    return out
