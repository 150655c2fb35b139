"""One work unit, wholly on one worker: scenes -> composite -> products -> COGs -> statistics.

A unit is a tile of the fixed grid (:mod:`geo.tiling`) with its home villages. For each
pending period the task loads the unit's scenes (odc-stac, lazily), masks and composites
them block by block with a local thread pool, computes every product of the registry, writes
the COGs while it computes the exact per-village statistics, then writes the period's
statistics table and, last, its STAC item: the commit marker a rerun looks for. Nothing here
talks to the Dask scheduler; the driver only submits units and reads their small tables.

Unreadable scenes are left out by the driver's per-scene checks, the same for every unit
(:mod:`workflows.checks`). A read that fails here anyway (a transient fault after the
checks) is retried (``ReadPolicy``); if it still fails the unit fails with an error naming
the scene, commits nothing for that period, and the run stops: its rerun retries the unit.
The scene is never dropped from this unit alone, which would make it disagree with its
neighbours.
"""

from __future__ import annotations

import resource
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pystac
from odc.geo.geobox import GeoBox
from rasterio.errors import NotGeoreferencedWarning

from geo.atomic import remove_leftovers, write_json, write_parquet
from geo.cog import UNIT_OVERVIEWS, write_cog
from geo.composite import median_composite
from geo.products import COUNT_INPUT, ProductRegistry
from geo.zonal import CoverageWeights, coverage_weights, grid_key, zonal_stats
from stac.assets import ReadPolicy, probe_assets, read_with_retries
from stac.errors import AssetReadError
from stac.load import load_stack
from stac.parse import item_datetime
from stac.publish import ProductAsset, product_asset, write_unit_item
from workflows.errors import WorkflowError
from workflows.malloc import reuse_freed_memory
from workflows.reference import ReferenceJob, reference_columns

__all__ = ["PeriodJob", "UnitJob", "UnitResult", "run_unit", "stat_columns", "unit_paths"]

PARQUET = "application/vnd.apache.parquet"
T = TypeVar("T")


def stat_columns(products: ProductRegistry) -> tuple[str, ...]:
    """Per-village statistic columns of a run with ``products``, in table order."""
    return (*products.columns, "valid_fraction")


@dataclass(frozen=True)
class PeriodJob:
    """One period of a unit: the scenes to use (plausible ones) and the commit fingerprint."""

    period: str
    items: tuple[dict[str, Any], ...]
    fingerprint: str
    excluded: tuple[str, ...] = ()
    reference: ReferenceJob | None = None


@dataclass(frozen=True)
class UnitJob:
    """Everything a worker needs to compute one unit; small and picklable."""

    unit_id: str
    epsg: int
    geobox: GeoBox
    villages: gpd.GeoDataFrame  # home villages: kode + geometry, in the unit's CRS
    periods: tuple[PeriodJob, ...]
    products: ProductRegistry
    out: Path
    chunk: int
    groupby: str
    threads: int
    parameters: dict[str, Any]
    patch_url: Callable[[str], str] | None = None
    reads: ReadPolicy = ReadPolicy()

    @property
    def pixels(self) -> int:
        """Pixels of the unit's grid."""
        ny, nx = self.geobox.shape.yx
        return int(ny * nx)


@dataclass
class UnitResult:
    """What a unit did, per period: seconds, scenes, pixels, peak memory of the process."""

    unit_id: str
    periods: dict[str, dict[str, Any]] = field(default_factory=dict)


def unit_paths(out: Path, unit_id: str, period: str) -> dict[str, Path]:
    """Where one unit x period writes: composites folder, statistics, quality, item."""
    return {
        "composites": out / "composites" / period / unit_id,
        "stats": out / "stats" / period / f"{unit_id}.parquet",
        "quality": out / "stats" / period / f"{unit_id}.quality.json",
        "item": out / "catalog" / "items" / period / f"{unit_id}.json",
    }


def run_unit(job: UnitJob) -> UnitResult:
    """Compute every pending period of one unit and commit each (item last)."""
    result = UnitResult(job.unit_id)
    with reuse_freed_memory():
        weights = _coverage(job)
        for period in job.periods:
            result.periods[period.period] = _run_period(job, period, weights)
    return result


def _coverage(job: UnitJob) -> CoverageWeights:
    """Exact coverage weights of the unit's home villages on its grid (cached per grid)."""
    key = grid_key(job.villages, job.geobox.shape.yx, job.geobox.affine)
    cache = job.out / ".cache" / f"coverage-{job.unit_id}-{key}.npz"
    if cache.exists():
        try:
            return CoverageWeights.load(cache)
        except (OSError, ValueError, KeyError):
            cache.unlink(missing_ok=True)
    weights = coverage_weights(
        job.villages, shape=job.geobox.shape.yx, transform=job.geobox.affine, threads=job.threads
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    weights.save(cache)
    return weights


def _read_composite(job: UnitJob, period: str, items: Sequence[pystac.Item]) -> np.ndarray:
    """The composite, its reads retried; a WorkflowError naming the scene if they all fail."""
    try:
        return read_with_retries(
            partial(_composite, job, items), job.reads, what=f"unit {job.unit_id} {period}"
        )
    except AssetReadError as exc:
        failure = str(exc)
    # raised outside the handler, with no chained causes: rasterio's errors do not pickle
    # (Dask sends the error to the driver) and the message carries GDAL's words
    raise WorkflowError(
        f"unit {job.unit_id}, period {period}: reading its scenes failed: {failure}"
        f"{_unreadable_scene(job, items)}. Nothing of this unit and period was committed; "
        "run the same command again to retry it (committed units are kept)"
    )


def _unreadable_scene(job: UnitJob, items: Sequence[pystac.Item]) -> str:
    """``"; scene X: <asset>: <why>"`` for the first scene whose assets fail a probe now."""
    bands = (*job.products.bands, "scl")
    for item in items:
        try:
            probe_assets(item, bands, patch_url=job.patch_url, gdal=job.reads.gdal_options(1))
        except AssetReadError as exc:
            return f"; scene {item.id}: {exc}"
    return " (each scene's files read again now: the fault did not recur)"


def _composite(job: UnitJob, items: Sequence[pystac.Item], attempt: int = 0) -> np.ndarray:
    """``(band..., count)`` float32 composite of the unit, computed here with local threads."""
    import dask.array as da

    bands = (*job.products.bands, "scl")
    chunk = load_chunk(job.geobox.shape.yx, len(bands), len(items), job.chunk, job.threads)
    stack = load_stack(
        items,
        bands=bands,
        geobox=job.geobox,
        chunk=chunk,
        groupby=job.groupby,
        patch_url=job.patch_url,
        gdal=job.reads.gdal_options(attempt),
    )
    dn = da.stack([stack.data[b].data for b in bands])
    lazy = median_composite(dn, stack.scale, stack.offset, chunk=chunk)
    out = np.empty(lazy.shape, dtype=np.float32)
    # The threaded scheduler, never the distributed one: a unit runs wholly on its worker.
    # odc-loader reprojects into in-memory arrays that rasterio calls ungeoreferenced.
    # (an argument, not dask.config.set: that config is process-global across worker threads)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
        da.store(lazy, out, lock=False, scheduler="threads", num_workers=job.threads)
    return out


#: Memory one spatial block of a unit's load may take: (band, time) uint16 DN, their stacked
#: copy and the float32 working planes, ~32 bytes per pixel and time step with 7 bands.
LOAD_BLOCK_BYTES = 768 * 2**20


def load_chunk(shape: tuple[int, int], n_bands: int, n_steps: int, least: int, threads: int) -> int:
    """Spatial chunk (pixels, a multiple of 256) of a unit's load and composite.

    As large as :data:`LOAD_BLOCK_BYTES` allows, at least ``least`` (the setting), at most
    the unit, and small enough to give each of ``threads`` a block. Whole-unit blocks read
    each scene block once: a 1,024 px chunk cuts the scenes' internal tiles, which are then
    decoded for every chunk that touches them (35 % of the load time of a 5.9 Mpx unit with
    3 scenes, measured).
    """
    per_pixel = (n_bands * 4 + 4) * max(1, n_steps)
    fit = int((LOAD_BLOCK_BYTES / per_pixel) ** 0.5) // 256 * 256
    side = -(-max(shape) // 256) * 256
    chunk = max(least, min(fit, side))
    while threads > 1 and chunk > least and _blocks(shape, chunk) < threads:
        chunk -= 256
    return max(256, chunk)


def _blocks(shape: tuple[int, int], chunk: int) -> int:
    return -(-shape[0] // chunk) * -(-shape[1] // chunk)


def _run_period(job: UnitJob, period: PeriodJob, weights: CoverageWeights) -> dict[str, Any]:
    """One period of the unit; returns its quality record (with the throughput figures)."""
    t0 = time.perf_counter()
    paths = unit_paths(job.out, job.unit_id, period.period)
    remove_leftovers(paths["composites"], paths["stats"], paths["quality"], paths["item"])
    items = [pystac.Item.from_dict(d) for d in period.items]
    products = job.products
    clock = _Stages()
    with clock("load_composite"):
        if items:
            composite = _read_composite(job, period.period, items)
        else:  # no scene over this unit in the period: every product is no data
            ny, nx = job.geobox.shape.yx
            composite = np.full((len(products.bands) + 1, ny, nx), np.nan, dtype=np.float32)
            composite[-1] = 0
    count = composite[-1]
    inputs: dict[str, np.ndarray] = {b: composite[i] for i, b in enumerate(products.bands)}
    inputs[COUNT_INPUT] = count
    with clock("products"):
        values = products.compute(inputs)
    del inputs
    crs, transform = f"EPSG:{job.epsg}", job.geobox.affine
    with clock("cogs_and_statistics"), ThreadPoolExecutor(max_workers=job.threads) as pool:
        # COG encoding and zonal statistics overlap: both release the GIL
        writes = {
            name: pool.submit(
                clock.timed("cog_encode", write_cog),
                product.encode(values[name]),
                paths["composites"] / f"{name}.tif",
                crs=crs,
                transform=transform,
                nodata=product.nodata,
                resampling=product.overview_resampling,
                descriptions=product.band_names or None,
                overviews=UNIT_OVERVIEWS,
            )
            for name, product in products.items()
        }
        stats = _village_stats(weights, products, values, count, pool, clock)
        if period.reference is not None:
            with clock("reference"):
                reference = reference_columns(
                    period.reference, job.geobox, weights, threads=job.threads, chunk=job.chunk
                )
            stats = pd.concat([stats, reference], axis=1)
        assets = {name: product_asset(products[name], f.result()) for name, f in writes.items()}
    del values, composite
    stats.insert(0, "period", period.period)
    stats.insert(0, "kode", job.villages["kode"].to_numpy())
    write_parquet(paths["stats"], stats, index=False)
    assets["statistics"] = ProductAsset(
        paths["stats"],
        media_type=PARQUET,
        title="Per-village statistics of this unit and period",
        roles=["data"],
    )
    quality = {
        "unit": job.unit_id,
        "period": period.period,
        "scenes_used": len(items),
        "scenes_excluded": list(period.excluded),
        "clear_observations": {
            "mean": float(count.mean()) if count.size else float("nan"),
            "median": float(np.median(count)) if count.size else float("nan"),
            "share_never_clear": float((count == 0).mean()) if count.size else float("nan"),
        },
        # throughput figures `pantau plan` reads back
        "pixels": job.pixels,
        "scenes": len(items),
        "bands": len(products.bands) + 1,
        "seconds": round(time.perf_counter() - t0, 3),
        # wall seconds per stage; cog_encode and statistics are thread-seconds (they overlap)
        "stages": clock.rounded(),
        "reference": period.reference.to_dict() if period.reference else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    write_json(paths["quality"], quality)
    dates = [item_datetime(i) for i in items]
    lonlat = job.geobox.extent.to_crs("EPSG:4326")
    write_unit_item(
        paths["item"],
        unit=job.unit_id,
        period=period.period,
        start=min(dates) if dates else _day(job.parameters["start"]),
        end=max(dates) if dates else _day(job.parameters["end"]),
        bbox=[float(b) for b in lonlat.boundingbox],
        geometry=lonlat.json,
        epsg=job.epsg,
        assets=assets,
        sources=[
            {"id": i.id, "href": i.get_self_href(), "collection": i.collection_id} for i in items
        ],
        parameters=job.parameters,
        fingerprint=period.fingerprint,
    )
    return quality


def _village_stats(
    weights: CoverageWeights,
    products: ProductRegistry,
    values: dict[str, np.ndarray],
    count: np.ndarray,
    pool: ThreadPoolExecutor,
    clock: _Stages,
) -> pd.DataFrame:
    """Every statistic column of every product, plus ``valid_fraction`` (threads)."""
    zonal = clock.timed("statistics", zonal_stats)
    futures = {}
    for name, product in products.items():
        if product.statistics:
            stats = tuple(dict.fromkeys(product.statistics.values()))
            futures[name] = pool.submit(zonal, weights, values[name], stats=stats)
    valid = pool.submit(zonal, weights, (count > 0).astype(np.float32), stats=("mean",))
    columns: dict[str, np.ndarray] = {}
    for name, future in futures.items():
        result = future.result()
        for column, stat in products[name].statistics.items():
            columns[column] = result[stat]
    columns["valid_fraction"] = np.nan_to_num(valid.result()["mean"])
    return pd.DataFrame(columns)


class _Stages:
    """Seconds per stage of a unit period: ``with clock("name")`` and ``clock.timed``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def timed(self, name: str, fn: Callable[..., T]) -> Callable[..., T]:
        """``fn`` that adds its own duration to ``name`` (for calls on pool threads)."""

        def wrapper(*args: Any, **kwargs: Any) -> T:
            with self(name):
                return fn(*args, **kwargs)

        return wrapper

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.seconds.items()}


def _day(value: Any) -> datetime:
    """A run's start/end (date or ISO text) as a UTC datetime, for an item with no scene."""
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
