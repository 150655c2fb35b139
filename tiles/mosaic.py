"""One raster layer in one period as a mosaic of work-unit COGs, plus its low-zoom overview.

A run writes one COG per work unit (``composites/<period>/<unit>/<name>.tif``, units of
several UTM zones) and, at its end, one web-mercator overview per product and period
(``overviews/<period>/<name>.tif``, :mod:`geo.overview`). The scan builds a :class:`Mosaic`
per (product, period): the unit COGs with their EPSG:3857 bounds in an STRtree. A tile at
a zoom up to ``overview_max_zoom`` reads the overview alone; a deeper tile reads only the
units whose bounds meet it (rio-tiler's ``mosaic_reader``, first unit with a value wins:
overlapping unit pixels hold the same values, so there is no seam). Files are opened by
the caller's reader (GeoTIFF driver only); nothing a client sends reaches a path.

Without an overview, a tile far coarser than a unit's coarsest overview level is refused
(:class:`TooCoarse`): rio-tiler would warp the unit through a virtual raster as wide as the
tile at the unit's resolution (a z5 tile over 20 m UTM units: 18 s and 2 GB; z0: hours).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import rasterio
import shapely
from rasterio.errors import RasterioIOError
from rasterio.transform import from_bounds
from rio_tiler.errors import EmptyMosaicError, TileOutsideBounds
from rio_tiler.models import ImageData
from rio_tiler.mosaic import mosaic_reader
from rio_tiler.mosaic.methods import FirstMethod

from geo.overview import ground_resolution, overview_level
from tiles.errors import TileNotFound
from tiles.reader import ALLOWED_DRIVER

__all__ = [
    "MAX_MOSAIC_UNITS",
    "MAX_WARP_WIDTH",
    "Mosaic",
    "TooCoarse",
    "TooManyUnits",
    "read_mosaic_tile",
    "unit_dataset",
]

logger = logging.getLogger(__name__)

#: Most unit COGs one tile may open; a tile over more needs the overview (or a deeper zoom).
MAX_MOSAIC_UNITS = 64
#: Widest tile, in pixels of a unit's coarsest overview level, read from the units: rio-tiler
#: warps a virtual raster that wide. Measured on 20 m units with overviews 2 and 4 (2 cores,
#: busy): 3,900 px (z7) 1.2 s, 7,800 px (z6) 2.7 s, 15,600 px (z5) 18 s, z0 hours.
MAX_WARP_WIDTH = 8192
#: Units are read one after the other: the first method stops at the first unit that fills
#: the tile, and on a 2-core server a thread pool per tile measured slower (0.34 s vs 0.22 s
#: median for a tile over 4 units), the server already renders tiles in parallel.
_THREADS = 0


class TooManyUnits(TileNotFound):
    """A tile would open more than :data:`MAX_MOSAIC_UNITS` unit COGs (no overview)."""


class TooCoarse(TileNotFound):
    """A tile far coarser than the unit COGs it meets, and the layer has no overview."""


class _Removed(Exception):
    """A unit COG listed by the scan is gone (the next scan drops it)."""


@dataclass(frozen=True)
class Mosaic:
    """The COGs of one raster layer in one period: units (indexed) and an optional overview."""

    units: tuple[Path, ...]
    mercator: np.ndarray  # (n, 4) EPSG:3857 bounds of each unit
    bounds: tuple[float, ...]  # lon/lat union of the units
    overview: Path | None = None
    #: (n,) EPSG:3857 pixel size of each unit's coarsest overview level (0: unknown)
    coarsest: np.ndarray | None = None
    tree: shapely.STRtree = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        boxes = shapely.box(*np.asarray(self.mercator, dtype=float).reshape(-1, 4).T)
        object.__setattr__(self, "tree", shapely.STRtree(boxes))

    @classmethod
    def from_units(
        cls,
        units: Mapping[Path, tuple[Any, ...]],
        overview: Path | None = None,
    ) -> Mosaic:
        """A mosaic from ``{unit COG: (lon/lat bounds, EPSG:3857 bounds[, coarsest pixel])}``
        (ordered by path)."""
        paths = tuple(sorted(units))
        lonlat = np.array([units[p][0] for p in paths], dtype=float)
        mercator = np.array([units[p][1] for p in paths], dtype=float)
        coarsest = np.array([(*units[p], 0.0)[2] for p in paths], dtype=float)
        bounds = (*lonlat[:, :2].min(axis=0), *lonlat[:, 2:].max(axis=0))
        return cls(paths, mercator, tuple(float(b) for b in bounds), overview, coarsest)

    def units_over(self, bounds: Sequence[float]) -> list[Path]:
        """Unit COGs whose EPSG:3857 bounds meet ``bounds`` (west, south, east, north), in order."""
        hits = self.tree.query(shapely.box(*bounds), predicate="intersects")
        return [self.units[i] for i in sorted(int(i) for i in hits)]

    def sources(
        self,
        x: int,
        y: int,
        z: int,
        *,
        tms: morecantile.TileMatrixSet,
        overview_max_zoom: int,
    ) -> list[Path]:
        """The files tile z/x/y reads: the overview at low zoom, else the units it meets."""
        if self.overview is not None and z <= overview_max_zoom:
            return [self.overview]
        b = tms.xy_bounds(x, y, z)
        hits = self.tree.query(shapely.box(b.left, b.bottom, b.right, b.top), "intersects")
        hits = sorted(int(i) for i in hits)
        if len(hits) > MAX_MOSAIC_UNITS:
            raise TooManyUnits(
                f"z: this tile covers {len(hits)} work units and the layer has no overview "
                "for low zooms; zoom in, or rerun `pantau run` to build overviews/",
                parameter="z",
            )
        finest = min((p for p in self._coarsest(hits) if p > 0), default=0.0)
        width = b.right - b.left
        if finest and width > MAX_WARP_WIDTH * finest:
            zoom_in = z + math.ceil(math.log2(width / (MAX_WARP_WIDTH * finest)))
            raise TooCoarse(
                f"z: this tile is too coarse for the layer's work-unit rasters and the layer "
                f"has no overview for low zooms; zoom in to {zoom_in} or more, or rerun "
                "`pantau run` to build overviews/",
                parameter="z",
            )
        return [self.units[i] for i in hits]

    def _coarsest(self, hits: list[int]) -> list[float]:
        return [] if self.coarsest is None else [float(self.coarsest[i]) for i in hits]


def read_mosaic_tile(
    paths: Sequence[Path],
    read: Callable[..., ImageData],
    x: int,
    y: int,
    z: int,
    **options: Any,
) -> ImageData | None:
    """Tile z/x/y merged over ``paths`` (first with a value wins); None where none has data.

    ``read(path, x, y, z, **options)`` reads one file's tile. A file outside the tile, or
    removed since the scan, is skipped.
    """
    if not paths:
        return None

    def read_present(path: Path, *args: Any, **kwargs: Any) -> ImageData:
        try:
            return read(path, *args, **kwargs)
        except RasterioIOError:
            if Path(path).exists():
                raise  # unreadable: an error, not a gap
            logger.warning("%s was removed since the last scan; skipped", Path(path).name)
            raise _Removed() from None

    try:
        image, _ = mosaic_reader(
            list(paths),
            read_present,
            x,
            y,
            z,
            pixel_selection=FirstMethod(),
            threads=_THREADS,
            allowed_exceptions=(TileOutsideBounds, _Removed),
            **options,
        )
    except EmptyMosaicError:
        return None
    return image


@contextmanager
def unit_dataset(
    path: Any, tms: morecantile.TileMatrixSet, x: int, y: int, z: int, size: int
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A product COG opened for tile z/x/y, and the virtual-raster options to read it with.

    rio-tiler warps a file through a virtual raster at the file's own resolution in the
    tile's CRS, which rasterio's ``calculate_default_transform`` derives from the file's
    extent: two units holding the same pixels got slightly different virtual grids, so
    between the overview zooms and full resolution a tile drew different pixels from each
    (seams; 1-255 DN on the DI Yogyakarta demo at z10-13). Here a unit is warped straight
    onto the tile's own pixel grid from its overview level chosen by the tile's pixel size
    alone (every unit carries the same levels, ``geo.cog.UNIT_OVERVIEWS``), with an exact
    transformer (tolerance 1e-6 px; GDAL's approximate 0.125 px anchors on each unit's own
    window). A file already in the tile's CRS (the low-zoom overview) is read as it is.
    """
    grid: dict[str, Any] = {"tolerance": 1e-6}
    with rasterio.open(path, driver=ALLOWED_DRIVER) as src:
        if src.crs == tms.rasterio_crs:
            yield src, grid
            return
        b = tms.xy_bounds(x, y, z)
        grid.update(
            transform=from_bounds(b.left, b.bottom, b.right, b.top, size, size),
            width=size,
            height=size,
        )
        res, y_mid = (b.right - b.left) / size, (b.bottom + b.top) / 2
        level = overview_level(src, res, y_mid)
        if level is None:
            yield src, _with_scale(grid, src.res[0], res, y_mid)
            return
    with rasterio.open(path, driver=ALLOWED_DRIVER, overview_level=level) as src:
        yield src, _with_scale(grid, src.res[0], res, y_mid)


def _with_scale(grid: dict[str, Any], src_res: float, res: float, y: float) -> dict[str, Any]:
    """``grid`` with the warper's resampling scale fixed by the tile and the level alone.

    GDAL widens bilinear and cubic kernels when it downsamples, by a ratio it derives from
    the source window it reads, which is smaller for a unit that covers part of the tile:
    two units holding the same pixels drew them differently (up to ~900 of 10,000 DN for
    ``rgb``). Set from destination and source pixel sizes on the ground, the ratio is one
    for every unit under the tile.
    """
    scale = f"{src_res / ground_resolution(res, y):.12g}"
    return {**grid, "XSCALE": scale, "YSCALE": scale}
