"""Cloud-optimised GeoTIFF writing: atomic, tiled, compressed, with overviews.

This is the one COG writer of the project: the pipeline's products and the simulator's
scenes both go through :func:`write_cog`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.enums import Resampling
from rasterio.io import MemoryFile

from geo.atomic import atomic_target

__all__ = ["UNIT_OVERVIEWS", "cog_options", "write_cog"]

# tile (block) size in pixels, as docs/products.md promises
_BLOCK = 512
#: Overview factors of every work-unit COG, whatever its size (and no others): the tile server
#: reads the same level of every unit under a web tile, so the tile has one pixel lattice (no
#: seam). Unit grids lie on blocks of the largest factor of their zone grid
#: (``geo.tiling.ALIGN``), so every level aligns across units.
UNIT_OVERVIEWS: Final = (2, 4, 8, 16)


def write_cog(
    array: np.ndarray,
    path: Path,
    *,
    crs: Any,
    transform: Affine,
    nodata: float | int | None,
    resampling: str = "average",
    descriptions: tuple[str, ...] | None = None,
    tags: dict[str, str] | None = None,
    overviews: Sequence[int] | None = None,
) -> Path:
    """Write a 2-D or (band, y, x) array as a COG at ``path``, atomically.

    Args:
        array: the pixels; a 2-D array is written as one band.
        path: the file to (re)place; its folder is created. A failure leaves no file and no
            temporary file behind.
        crs: anything rasterio accepts as a CRS (``"EPSG:32749"``, a ``CRS``).
        transform: the affine transform of the full-resolution grid.
        nodata: the no-data value (``None`` for none; ``nan`` for floats).
        resampling: a ``rasterio.enums.Resampling`` name for the internal overviews:
            ``average`` for continuous values; ``nearest`` for classes, counts and digital
            numbers, whose values must survive and whose no-data edges must not blend into
            the data (nearest is also ~10x faster than GDAL's nodata-aware average on a
            70-megapixel band).
        descriptions: one description per band.
        tags: dataset-level metadata tags.
        overviews: exactly these overview factors whatever the size (e.g.
            :data:`UNIT_OVERVIEWS`); by default power-of-two levels down to about one
            512-pixel tile.

    Returns:
        ``path``.

    Tiles of 512 pixels, zstd level 1; floats use the floating-point predictor, integers
    horizontal differencing.
    """
    data = array[None] if array.ndim == 2 else array
    count, height, width = data.shape
    floating = np.issubdtype(data.dtype, np.floating)
    profile = dict(
        driver="GTiff",
        height=height,
        width=width,
        count=count,
        dtype=data.dtype.name,
        crs=crs,
        transform=transform,
        nodata=nodata,
        tiled=True,
        blockxsize=_BLOCK,
        blockysize=_BLOCK,
    )
    factors = sorted(set(overviews)) if overviews is not None else _overview_factors(height, width)
    # Overviews are built in memory and reused by the COG driver: 2-3x faster than
    # letting it build them through a temporary file.
    with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"), MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(data)
            for i, d in enumerate(descriptions or (), start=1):
                ds.set_band_description(i, d)
            if tags:
                ds.update_tags(**tags)
            if factors:
                ds.build_overviews(factors, Resampling[resampling])
        with mem.open() as src, atomic_target(path) as tmp:
            rasterio.shutil.copy(
                src, tmp, **cog_options(floating=floating, overviews=bool(factors))
            )
    return path


def cog_options(*, floating: bool, overviews: bool | str) -> dict[str, str]:
    """GDAL COG driver options of every COG Pantau writes (one place for all writers).

    zstd level 1: ~2x faster to write than deflate on noisy bands for a few percent more
    bytes, and ~25% faster to decode. ``overviews``: True to keep the overviews built in
    memory, False for none, or a resampling name to let the driver build them.
    """
    options = {
        "driver": "COG",
        "COMPRESS": "ZSTD",
        "LEVEL": "1",
        "PREDICTOR": "3" if floating else "2",
        "BLOCKSIZE": str(_BLOCK),
        "NUM_THREADS": "ALL_CPUS",
        "BIGTIFF": "IF_SAFER",
    }
    if isinstance(overviews, str):
        options.update(OVERVIEWS="AUTO", RESAMPLING=overviews.upper())
    else:
        options["OVERVIEWS"] = "FORCE_USE_EXISTING" if overviews else "NONE"
    return options


def _overview_factors(height: int, width: int) -> list[int]:
    """Power-of-two decimations down to about one tile: the smallest level is 256-511 px.

    ``[]`` when the raster is under 512 px on its longer side.
    """
    factors, f = [], 2
    while max(height, width) / f >= _BLOCK // 2:
        factors.append(f)
        f *= 2
    return factors
