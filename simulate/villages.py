"""Simulated village polygons with well-formed, clearly fictitious Kemendagri-shaped codes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from simulate.errors import SimulationError
from simulate.grid import utm_epsg

__all__ = ["simulate_villages", "SIMULATED_PROVINCE"]

# No Indonesian province has code 99, so a simulated code can never be mistaken for a real one.
SIMULATED_PROVINCE = "99"


def simulate_villages(
    *,
    n: int = 150,
    seed: int = 0,
    center: tuple[float, float] = (110.40, -7.75),
    size_km: float = 20.0,
) -> gpd.GeoDataFrame:
    """Voronoi-like village polygons (EPSG:4326) tiling a ``size_km`` square around ``center``.

    Villages near the centre form a simulated kota of kelurahan (village part ``1xxx``); the
    rest are desa (``2xxx``) in four kabupaten, a few kecamatan capitals being kelurahan.

    Returns:
        Columns ``kode`` (10 digits, ``99`` province), ``nama``, ``simulated`` (True), geometry,
        sorted by ``kode``.
    """
    if n < 1:
        raise SimulationError(f"n must be at least 1, got {n}")
    if not size_km > 0:
        raise SimulationError(f"size_km must be positive, got {size_km}")
    rng = np.random.default_rng([seed, 0x76696C])
    lon, lat = center
    epsg = utm_epsg(lon, lat)
    cx, cy = (
        gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs=4326).to_crs(epsg).iloc[0].coords[0]
    )
    half = size_km * 500.0
    square = shapely.box(cx - half, cy - half, cx + half, cy + half)

    points = rng.uniform(-half, half, size=(n, 2)) + (cx, cy)
    cells = _voronoi(points, square)
    for _ in range(2):  # Lloyd relaxation: evener, more village-like cells
        points = shapely.get_coordinates(shapely.centroid(cells))
        cells = _voronoi(points, square)

    codes = _codes(points - (cx, cy), half, rng)
    order = np.argsort(codes)
    frame = gpd.GeoDataFrame(
        {
            "kode": np.asarray(codes)[order],
            "nama": [f"Simulasi {i + 1:03d} (simulated)" for i in range(n)],
            "simulated": np.ones(n, dtype=bool),
        },
        geometry=gpd.GeoSeries(cells[order], crs=epsg).to_crs(4326).values,
        crs=4326,
    )
    return frame


def _voronoi(points: np.ndarray, square: shapely.Polygon) -> np.ndarray:
    if len(points) == 1:
        return np.array([square], dtype=object)
    regions = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=square, ordered=True)
    cells = shapely.intersection(shapely.get_parts(regions), square)
    return shapely.make_valid(cells)


def _codes(offsets: np.ndarray, half: float, rng: np.random.Generator) -> list[str]:
    """Codes 99-KK-CC-VVVV: a central kota (71), kabupaten 01-04 by quadrant."""
    n = len(offsets)
    radius = np.hypot(offsets[:, 0], offsets[:, 1])
    in_kota = radius < 0.4 * half
    quadrant = (offsets[:, 0] >= 0).astype(int) + 2 * (offsets[:, 1] < 0).astype(int)
    kab = np.where(in_kota, 71, quadrant + 1)
    codes = [""] * n
    for k in np.unique(kab):
        members = np.flatnonzero(kab == k)
        kec = _kmeans(offsets[members], max(1, round(len(members) / 10)), rng)
        for c in np.unique(kec):
            villages = members[kec == c]
            # number villages north to south, then west to east, like a gazetteer
            villages = villages[np.lexsort((offsets[villages, 0], -offsets[villages, 1]))]
            kelurahan = np.full(len(villages), k == 71)
            if k != 71 and rng.random() < 0.35:  # kecamatan capital that is a kelurahan
                centre = offsets[villages].mean(axis=0)
                kelurahan[np.argmin(np.hypot(*(offsets[villages] - centre).T))] = True
            numbers = {True: 1000, False: 2000}
            for v, is_kel in zip(villages, kelurahan, strict=True):
                numbers[bool(is_kel)] += 1
                codes[v] = f"{SIMULATED_PROVINCE}{k:02d}{c + 1:02d}{numbers[bool(is_kel)]:04d}"
    return codes


def _kmeans(xy: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 20) -> np.ndarray:
    """Cluster labels 0..m-1 (m <= k, no empty cluster) of a few points; tiny Lloyd k-means."""
    k = min(k, len(xy))
    centres = xy[rng.choice(len(xy), size=k, replace=False)]
    labels = np.zeros(len(xy), dtype=int)
    for _ in range(iterations):
        labels = np.argmin(((xy[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        centres = np.array(
            [xy[labels == j].mean(axis=0) if np.any(labels == j) else centres[j] for j in range(k)]
        )
    _, labels = np.unique(labels, return_inverse=True)
    return labels
