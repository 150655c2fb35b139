"""Per-scene atmosphere and sensor conditions on the 20 m grid, and the SCL that labels them.

Clouds (opaque cores, translucent fringes), their displaced shadows, thin cirrus, a swath
edge without data and a few saturated pixels. Everything lives on the 20 m grid of SCL and
is broadcast to the 10 m bands, so a 10 m pixel is masked exactly when its SCL pixel is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from simulate.fields import SmoothField
from simulate.grid import Grid
from simulate.plan import ScenePlan
from simulate.spectra import SHADOW_FACTOR, LandCover

__all__ = ["Atmosphere", "draw_atmosphere"]

_SATURATED_SHARE = 2e-6
_UNCLASSIFIED_SHARE = 1e-3


@dataclass(frozen=True)
class Atmosphere:
    """One scene's conditions on the 20 m grid."""

    transmission: np.ndarray  # (H2, W2) float32, multiplies the surface signal
    cloud: np.ndarray  # (H2, W2) float32, cloud opacity x cloud-top reflectance
    haze: np.ndarray | None  # (H2, W2) float32, cirrus reflectance
    valid: np.ndarray | None  # (H2, W2) bool, None when the whole grid has data
    saturated: tuple[np.ndarray, np.ndarray]  # 20 m rows, cols
    scl: np.ndarray  # (H2, W2) uint8
    footprint: shapely.Polygon
    sun_azimuth: float
    sun_elevation: float


def _shift(a: np.ndarray, drow: int, dcol: int) -> np.ndarray:
    """``a`` moved by (drow, dcol) pixels, zero-filled."""
    out = np.zeros_like(a)
    h, w = a.shape
    if abs(drow) >= h or abs(dcol) >= w:
        return out
    out[max(drow, 0) : h + min(drow, 0), max(dcol, 0) : w + min(dcol, 0)] = a[
        max(-drow, 0) : h + min(-drow, 0), max(-dcol, 0) : w + min(-dcol, 0)
    ]
    return out


def draw_atmosphere(
    plan: ScenePlan, grid: Grid, counts: np.ndarray, rng: np.random.Generator
) -> Atmosphere:
    """Draw the scene's clouds, shadows, cirrus, swath edge and saturated pixels, and its SCL.

    ``counts`` are the 10 m land-cover class counts per 20 m pixel (clear-sky SCL 4/5/6).
    """
    shape = grid.shape20
    h2, w2 = shape
    # clouds: ~1.2 km cells with ~300 m texture; an opaque core and a translucent fringe
    c = SmoothField(rng, shape, scale_px=60, octaves=((15, 0.55),)).full()
    sample = c[::3, ::3]
    t_cloud, t_core = (
        float(v)
        for v in np.quantile(sample, [1.0 - plan.cloud_target, 1.0 - 0.7 * plan.cloud_target])
    )
    span = max(t_core - t_cloud, 1e-6)
    cloud_core = c > t_core
    cloud_fringe = (c > t_cloud) & ~cloud_core
    alpha = (c - t_cloud) * np.float32(0.65 / span) + np.float32(0.35)
    np.clip(alpha, 0.0, 1.0, out=alpha)
    alpha *= c > t_cloud
    top = (c - t_core) * np.float32(0.25) + np.float32(0.38)  # thicker is brighter
    np.clip(top, 0.38, 0.58, out=top)
    cloud = alpha * top
    clear_sky = alpha == 0
    del c, top

    # shadows: the opaque cores displaced away from the sun (clouds 1-3 km high)
    season = math.cos(2.0 * math.pi * (plan.date.timetuple().tm_yday - 172) / 365.25)
    sun_az = 80.0 - 40.0 * season + rng.uniform(-3, 3)
    sun_el = 62.0 - 6.0 * season + rng.uniform(-2, 2)
    reach = rng.uniform(1000.0, 3000.0) / math.tan(math.radians(sun_el)) / 20.0
    drow = int(round(math.cos(math.radians(sun_az)) * reach))
    dcol = int(round(-math.sin(math.radians(sun_az)) * reach))
    shadow = _shift(cloud_core, drow, dcol)
    transmission = 1.0 - alpha
    transmission *= np.where(shadow, np.float32(SHADOW_FACTOR), np.float32(1.0))
    in_shadow = shadow & clear_sky
    del alpha, shadow

    haze = None
    in_cirrus = None
    if plan.cirrus:
        ci = SmoothField(rng, shape, scale_px=100).full()
        t_ci = float(np.quantile(ci[::3, ::3], 1.0 - rng.uniform(0.07, 0.13)))
        ci -= np.float32(t_ci)
        np.clip(ci, 0.0, 1.0, out=ci)
        in_cirrus = (ci > 0) & clear_sky
        haze = (ci * np.float32(0.04) + np.float32(0.02)) * (ci > 0)

    west, south, east, north = grid.bounds
    footprint = shapely.box(west, south, east, north)
    valid = None
    if plan.swath_edge:
        # a swath edge leaning ~10 degrees east of north, cutting off 10-35% of the width
        share = rng.uniform(0.10, 0.35)
        slope = math.tan(math.radians(rng.uniform(8.0, 14.0)))
        east_side = bool(rng.random() < 0.5)
        edge0 = w2 * (1.0 - share) if east_side else w2 * share
        rows = np.arange(h2, dtype=np.float32)[:, None] - np.float32(h2 / 2)
        edge = edge0 - slope * rows  # rows grow southward: the edge leans east going north
        cols = np.arange(w2, dtype=np.float32)[None, :]
        valid = cols < edge if east_side else cols >= edge
        # the same half-plane as a polygon, in map coordinates (20 m col/row -> x/y)
        far = 10.0 * max(h2, w2)
        side = -far if east_side else far
        top_col, bottom_col = edge0 + slope * (far + h2 / 2), edge0 - slope * (far - h2 / 2)
        corners = [(top_col, -far), (bottom_col, far), (side, far), (side, -far)]
        half_plane = shapely.Polygon([(west + 20.0 * c, north - 20.0 * r) for c, r in corners])
        footprint = shapely.intersection(footprint, half_plane)

    scl = np.where(
        counts[LandCover.WATER] >= 2,
        np.uint8(6),
        np.where(counts[LandCover.VEGETATION] >= 2, np.uint8(4), np.uint8(5)),
    ).astype(np.uint8)
    k = int(_UNCLASSIFIED_SHARE * h2 * w2)
    scl.ravel()[rng.integers(0, h2 * w2, size=k)] = 7
    scl[in_shadow] = 3
    if in_cirrus is not None:
        scl[in_cirrus] = 10
    scl[cloud_fringe] = 8
    scl[cloud_core] = 9
    # saturated pixels: a few bright targets on clear, valid ground
    k = max(3, int(_SATURATED_SHARE * h2 * w2))
    cand_r = rng.integers(0, h2, size=20 * k)
    cand_c = rng.integers(0, w2, size=20 * k)
    ok = clear_sky[cand_r, cand_c]
    if valid is not None:
        ok &= valid[cand_r, cand_c]
    saturated = (cand_r[ok][:k], cand_c[ok][:k])
    scl[saturated] = 1
    if valid is not None:
        scl[~valid] = 0
    return Atmosphere(
        transmission=transmission,
        cloud=cloud,
        haze=haze,
        valid=valid,
        saturated=saturated,
        scl=scl,
        footprint=footprint,
        sun_azimuth=float(sun_az),
        sun_elevation=float(sun_el),
    )
