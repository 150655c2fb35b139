"""Overviews at the end of a run: one web-mercator COG per product and period, for low zooms.

For every product and period with unit COGs (``composites/<period>/<unit>/<name>.tif``)
this builds ``overviews/<period>/<name>.tif`` (:func:`geo.overview.build_overview`), one
task each on the cluster. An overview records the units it was built from in its
``PANTAU_UNITS`` tag; it is rebuilt only when that list changed or a unit COG is newer, so
a rerun that computed nothing rewrites nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
from tqdm.auto import tqdm

from geo.atomic import remove_leftovers
from geo.overview import UNITS_TAG, ZOOM_TAG, build_overview
from geo.products import Product, ProductRegistry
from geo.unit_ids import UNIT_ID_RE

__all__ = ["OverviewJob", "build_overviews", "overview_path", "plan_overviews"]

log = logging.getLogger(__name__)


def overview_path(out: Path, period: str, product: str) -> Path:
    """Where the overview of a product in a period is written."""
    return Path(out) / "overviews" / period / f"{product}.tif"


@dataclass(frozen=True)
class OverviewJob:
    """One overview to build: its unit COGs (by unit id), destination and product."""

    period: str
    product: Product
    sources: tuple[Path, ...]
    dst: Path
    zoom: int

    @property
    def units(self) -> list[str]:
        """Unit ids of the sources, in source order."""
        return [p.parent.name for p in self.sources]


def _unit_cogs(out: Path, period: str, name: str) -> tuple[Path, ...]:
    folder = Path(out) / "composites" / period
    if not folder.is_dir():
        return ()
    return tuple(
        unit / f"{name}.tif"
        for unit in sorted(folder.iterdir())
        if UNIT_ID_RE.match(unit.name) and (unit / f"{name}.tif").is_file()
    )


def _current(job: OverviewJob) -> bool:
    """Is the overview there, newer than every unit COG, and built from the same units?"""
    try:
        built = job.dst.stat().st_mtime_ns
        if any(p.stat().st_mtime_ns > built for p in job.sources):
            return False
        with rasterio.open(job.dst, driver="GTiff") as src:
            units = json.loads(src.tags().get(UNITS_TAG, "null"))
            zoom = src.tags().get(ZOOM_TAG)
    except (OSError, ValueError, rasterio.errors.RasterioError):
        return False
    return units == job.units and zoom == str(job.zoom)


def plan_overviews(
    out: Path, periods: Iterable[str], products: ProductRegistry, *, zoom: int = 9
) -> list[OverviewJob]:
    """The overviews missing or out of date, for every product and period with unit COGs."""
    jobs = []
    for period in periods:
        for name, product in products.items():
            sources = _unit_cogs(out, period, name)
            if sources:
                job = OverviewJob(period, product, sources, overview_path(out, period, name), zoom)
                if not _current(job):
                    jobs.append(job)
    return jobs


def _build(job: OverviewJob) -> Path:
    """Build one overview (runs on a worker)."""
    tags = {UNITS_TAG: json.dumps(job.units)}
    return build_overview(job.sources, job.dst, job.product, zoom=job.zoom, tags=tags)


def build_overviews(
    client: Any,
    out: Path,
    periods: Sequence[str],
    products: ProductRegistry,
    *,
    progress: bool = True,
    zoom: int = 9,
) -> list[Path]:
    """Build the missing or out-of-date overviews of ``out``; one task each on ``client``.

    Args:
        client: a ``distributed.Client``; ``None`` builds them here, one after the other.
        out: the products directory of the run.
        periods: period labels whose composites to cover.
        products: the registry of the run (one overview per product).
        progress: show a progress bar.
        zoom: web-mercator zoom of the overviews' pixel size (setting ``overview_zoom``).

    Returns:
        The overviews written by this call (none when all were current).
    """
    # temporary files of a run killed while building them (the driver owns these folders)
    remove_leftovers(*(overview_path(out, p, name) for p in periods for name in products))
    jobs = plan_overviews(out, periods, products, zoom=zoom)
    if not jobs:
        return []
    written: list[Path] = []
    with tqdm(total=len(jobs), desc="overviews", unit="cog", disable=not progress) as bar:
        if client is None:
            for job in jobs:
                written.append(_build(job))
                bar.update()
            return sorted(written)
        from distributed import as_completed

        futures = [
            client.submit(
                _build, job, key=f"overview-{job.period}-{job.product.name}-{uuid.uuid4().hex[:8]}",
                pure=False,
            )
            for job in jobs
        ]  # fmt: skip
        try:
            for future in as_completed(futures):
                written.append(future.result())
                future.release()
                bar.update()
        except Exception:
            log.error("building an overview failed; the others are cancelled")
            for future in futures:
                future.cancel()
            raise
    return sorted(written)
