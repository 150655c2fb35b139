"""One raster layer in one period as a mosaic of work-unit COGs, plus its low-zoom overview.

A run writes one COG per work unit (``composites/<period>/<unit>/<name>.tif``, units of
several UTM zones) and, at its end, one web-mercator overview per product and period
(``overviews/<period>/<name>.tif``, :mod:`geo.overview`). The scan builds a :class:`Mosaic`
per (product, period): the unit COGs with their EPSG:3857 bounds in an STRtree. A tile at
a zoom up to ``overview_max_zoom`` reads the overview alone; a deeper tile reads only the
units whose bounds meet it (rio-tiler's ``mosaic_reader``, first unit with a value wins:
overlapping unit pixels hold the same values, so there is no seam). Files are opened by
the caller's reader (GeoTIFF driver only); nothing a client sends reaches a path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import shapely
from rasterio.errors import RasterioIOError
from rio_tiler.errors import EmptyMosaicError, TileOutsideBounds
from rio_tiler.models import ImageData
from rio_tiler.mosaic import mosaic_reader
from rio_tiler.mosaic.methods import FirstMethod

from tiles.errors import TileNotFound

__all__ = ["MAX_MOSAIC_UNITS", "Mosaic", "TooManyUnits", "read_mosaic_tile"]

logger = logging.getLogger(__name__)

#: Most unit COGs one tile may open; a tile over more needs the overview (or a deeper zoom).
MAX_MOSAIC_UNITS = 64
#: Units are read one after the other: the first method stops at the first unit that fills
#: the tile, and on a 2-core server a thread pool per tile measured slower (0.34 s vs 0.22 s
#: median for a tile over 4 units), the server already renders tiles in parallel.
_THREADS = 0


class TooManyUnits(TileNotFound):
    """A tile would open more than :data:`MAX_MOSAIC_UNITS` unit COGs (no overview)."""


class _Removed(Exception):
    """A unit COG listed by the scan is gone (the next scan drops it)."""


@dataclass(frozen=True)
class Mosaic:
    """The COGs of one raster layer in one period: units (indexed) and an optional overview."""

    units: tuple[Path, ...]
    mercator: np.ndarray  # (n, 4) EPSG:3857 bounds of each unit
    bounds: tuple[float, ...]  # lon/lat union of the units
    overview: Path | None = None
    tree: shapely.STRtree = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        boxes = shapely.box(*np.asarray(self.mercator, dtype=float).reshape(-1, 4).T)
        object.__setattr__(self, "tree", shapely.STRtree(boxes))

    @classmethod
    def from_units(
        cls,
        units: Mapping[Path, tuple[tuple[float, ...], tuple[float, ...]]],
        overview: Path | None = None,
    ) -> Mosaic:
        """A mosaic from ``{unit COG: (lon/lat bounds, EPSG:3857 bounds)}`` (ordered by path)."""
        paths = tuple(sorted(units))
        lonlat = np.array([units[p][0] for p in paths], dtype=float)
        mercator = np.array([units[p][1] for p in paths], dtype=float)
        bounds = (*lonlat[:, :2].min(axis=0), *lonlat[:, 2:].max(axis=0))
        return cls(paths, mercator, tuple(float(b) for b in bounds), overview)

    def units_over(self, bounds: Sequence[float]) -> list[Path]:
        """Unit COGs whose EPSG:3857 bounds meet ``bounds`` (west, south, east, north), in order."""
        hits = self.tree.query(shapely.box(*bounds), predicate="intersects")
        return [self.units[i] for i in sorted(int(i) for i in hits)]

    def sources(
        self, x: int, y: int, z: int, *, tms: morecantile.TileMatrixSet, overview_max_zoom: int
    ) -> list[Path]:
        """The files tile z/x/y reads: the overview at low zoom, else the units it meets."""
        if self.overview is not None and z <= overview_max_zoom:
            return [self.overview]
        b = tms.xy_bounds(x, y, z)
        found = self.units_over((b.left, b.bottom, b.right, b.top))
        if len(found) > MAX_MOSAIC_UNITS:
            raise TooManyUnits(
                f"z: this tile covers {len(found)} work units and the layer has no overview "
                "for low zooms; zoom in, or rerun `pantau run` to build overviews/",
                parameter="z",
            )
        return found


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
