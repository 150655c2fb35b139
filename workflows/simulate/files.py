"""Atomic file writes: a temporary name in the same folder, then ``os.replace``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.enums import Resampling

from geo.atomic import atomic_target as atomic_path
from geo.atomic import write_json, write_parquet

__all__ = ["atomic_path", "write_json", "write_parquet", "write_cog", "BackgroundWriter"]

# ZSTD level 1 with horizontal differencing: on noisy uint16 bands it writes ~2x faster than
# DEFLATE for a few percent more bytes. Blocks of 512 as in docs/products.md.
_COG_OPTIONS = {
    "BLOCKSIZE": 512,
    "COMPRESS": "ZSTD",
    "LEVEL": 1,
    "PREDICTOR": "YES",
    "NUM_THREADS": "ALL_CPUS",
    "OVERVIEWS": "FORCE_USE_EXISTING",
    "BIGTIFF": "IF_SAFER",
}


def overview_factors(height: int, width: int, *, min_size: int = 256) -> list[int]:
    """Power-of-two decimation factors down to about ``min_size`` pixels."""
    factors = []
    f = 2
    while max(height, width) / f >= min_size:
        factors.append(f)
        f *= 2
    return factors


def write_cog(
    path: Path,
    array: np.ndarray,
    *,
    transform: Affine,
    epsg: int,
    nodata: float | None = 0,
) -> None:
    """Write a single-band array as a Cloud-Optimized GeoTIFF, atomically.

    Overviews are decimated with nearest neighbour: exact for class rasters and no-data
    edges (averaging would blend DN 0 into the data), and ~10x faster than GDAL's nodata-aware
    average on a 70-megapixel band.
    """
    height, width = array.shape
    profile = {
        "driver": "MEM",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": array.dtype.name,
        "crs": f"EPSG:{epsg}",
        "transform": transform,
        "nodata": nodata,
    }
    with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"), rasterio.open("", "w", **profile) as mem:
        mem.write(array, 1)
        factors = overview_factors(height, width)
        if factors:
            mem.build_overviews(factors, Resampling.nearest)
        with atomic_path(path) as tmp:
            rasterio.shutil.copy(mem, tmp, driver="COG", **_COG_OPTIONS)


class BackgroundWriter:
    """Runs file writes in one background thread, in order, while the caller computes on.

    At most ``max_pending`` writes wait at a time, bounding the memory held by queued
    arrays. Writes run first-in first-out, so a job submitted after a scene's COGs (its
    item JSON) lands after them. The first error is raised on the next ``submit`` or on
    ``wait``.
    """

    def __init__(self, max_pending: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simulate-writer")
        self._slots = threading.BoundedSemaphore(max_pending)
        self._futures: list[Future[None]] = []

    def submit(self, job: Callable[[], None], *, done: Callable[[], None] = lambda: None) -> None:
        """Queue ``job``; call ``done`` (in the writer thread) once it has run."""
        self._raise_failed()
        self._slots.acquire()

        def run() -> None:
            try:
                job()
                done()
            finally:
                self._slots.release()

        self._futures.append(self._executor.submit(run))

    def _raise_failed(self) -> None:
        pending = []
        for future in self._futures:
            if future.done():
                future.result()
            else:
                pending.append(future)
        self._futures = pending

    def wait(self) -> None:
        """Block until every queued write has finished; raise the first error."""
        futures, self._futures = self._futures, []
        for future in futures:
            future.result()

    def close(self) -> None:
        """Finish the queued writes (at most ``max_pending``) and stop the thread."""
        self._executor.shutdown(wait=True)

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        # also on an error or Ctrl-C: finished scenes still land, so a rerun resumes after them
        self.close()
