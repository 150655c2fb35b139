"""The simulation grid: UTM zone, extent snapped to 20 m, and the MGRS tile name of a point."""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from affine import Affine

__all__ = ["Grid", "utm_epsg", "grid_for", "mgrs_tile"]

MARGIN_M = 200.0
SNAP_M = 20  # the 20 m bands' pixel: both grids then nest in odc-stac's 10 m default grid


@dataclass(frozen=True)
class Grid:
    """A north-up UTM grid with 10 m and nested 20 m pixels."""

    epsg: int
    west: float
    north: float
    height: int  # 10 m rows (even)
    width: int  # 10 m columns (even)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) at 10 m."""
        return self.height, self.width

    @property
    def shape20(self) -> tuple[int, int]:
        """(rows, columns) at 20 m."""
        return self.height // 2, self.width // 2

    def transform(self, res: int = 10) -> Affine:
        """The affine transform at ``res`` metres."""
        return Affine(float(res), 0.0, self.west, 0.0, -float(res), self.north)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in metres."""
        return (
            self.west,
            self.north - 10.0 * self.height,
            self.west + 10.0 * self.width,
            self.north,
        )


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 / UTM zone containing (lon, lat)."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return (32700 if lat < 0 else 32600) + zone


def grid_for(villages: gpd.GeoDataFrame) -> Grid:
    """The grid covering ``villages`` (any CRS) in the UTM zone of their centroid."""
    lonlat = villages.to_crs(4326)
    lon0, lat0, lon1, lat1 = lonlat.total_bounds
    epsg = utm_epsg((lon0 + lon1) / 2.0, (lat0 + lat1) / 2.0)
    x0, y0, x1, y1 = villages.to_crs(epsg).total_bounds
    west = math.floor((x0 - MARGIN_M) / SNAP_M) * SNAP_M
    south = math.floor((y0 - MARGIN_M) / SNAP_M) * SNAP_M
    east = math.ceil((x1 + MARGIN_M) / SNAP_M) * SNAP_M
    north = math.ceil((y1 + MARGIN_M) / SNAP_M) * SNAP_M
    return Grid(
        epsg=epsg,
        west=float(west),
        north=float(north),
        height=int(round((north - south) / 10)),
        width=int(round((east - west) / 10)),
    )


_LAT_BANDS = "CDEFGHJKLMNPQRSTUVWX"
_COLUMN_SETS = ("STUVWXYZ", "ABCDEFGH", "JKLMNPQR")  # indexed by zone % 3
_ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUV"


def mgrs_tile(lon: float, lat: float) -> tuple[int, str, str]:
    """(UTM zone, latitude band, 100 km grid square) of a point, e.g. (49, "M", "DM").

    Sentinel-2 tiles overlap by 9.8 km, so near a square's edge the real product may file
    the scene under the neighbouring tile; for a simulation the containing square will do.
    """
    from pyproj import Transformer

    epsg = utm_epsg(lon, lat)
    zone = epsg % 100
    band = _LAT_BANDS[min(int(np.floor((lat + 80.0) / 8.0)), len(_LAT_BANDS) - 1)]
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    column = _COLUMN_SETS[zone % 3][int(x // 100_000) - 1]
    # even zones start their row letters at F (AA scheme)
    row = _ROW_LETTERS[(int(y // 100_000) + (5 if zone % 2 == 0 else 0)) % 20]
    return zone, band, column + row
