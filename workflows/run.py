"""``pantau run``: plan work units, run each wholly on a worker, gather per-village tables.

The driver searches the scenes once, splits the villages into work units (tiles of the fixed
grid of :mod:`geo.tiling`, each with its home villages), checks once that every scene over a
unit can be read and that its radiometry is plausible (one small task per scene,
:mod:`workflows.checks`; unreadable scenes are left out of every unit, and a period with too
many of them stops the run before any unit is submitted), and submits one task per unit
(:func:`workflows.unit.run_unit`) with a bounded number in flight. A unit loads, composites,
writes its COGs, statistics and STAC item (last) itself; the driver never holds a raster. A
unit x period whose item carries the same fingerprint is skipped, so a rerun computes only
what was not committed. Finally villages.parquet/csv, quality.json and the catalog's
collection are assembled from the committed tables.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence, Set
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import pystac
import shapely

from geo.atomic import remove_leftovers, write_json
from geo.composite import Period, period_labels
from geo.products import PRODUCTS, BuiltUpRule, ProductRegistry, with_built_up
from geo.tiling import Unit, plan_units
from geo.villages import VillageSet, load_villages
from stac.publish import collection_document, read_item
from stac.search import search_scenes
from stac.source import resolve_source
from stac.transactions import load_catalog, publish_items
from workflows.assemble import assemble
from workflows.checks import check_scenes, exclusion, failed_reads, read_policy, stored_checks
from workflows.errors import WorkflowError
from workflows.overview import build_overviews
from workflows.reference import REFERENCE_COLUMNS, ReferenceJob, plan_reference
from workflows.settings import WorkflowSettings
from workflows.submit import run_units
from workflows.unit import PeriodJob, UnitJob, UnitResult, stat_columns, unit_paths

__all__ = ["RunConfig", "RunResult", "run", "STAT_COLUMNS", "stat_columns"]

log = logging.getLogger(__name__)

#: Statistic columns of a run with the default registry.
STAT_COLUMNS = stat_columns(PRODUCTS)


@dataclass(frozen=True)
class RunConfig:
    """What one ``pantau run`` computes and where it writes."""

    stac: str
    out: Path
    start: str | date
    end: str | date
    boundaries: Path | None = None
    code_column: str | None = None
    name_column: str | None = None
    region: str | None = None
    period: Period = "year"
    max_cloud: float | None = None
    collection: str | None = None
    scheduler: str | None = None
    workers: int | None = None
    progress: bool = True
    tile_size: int | None = None
    reference: str | None = None
    reference_stac: str | None = None
    publish: bool = False
    #: built-up method of geo.products.BUILT_UP_METHODS; None: the registry's own
    built_up: str | None = None


@dataclass
class RunResult:
    """What a run did: periods and units computed and reused, outputs, timings."""

    out: Path
    periods: list[str]
    units: list[str] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    computed_units: list[tuple[str, str]] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def villages_path(self) -> Path:
        """The GeoParquet of per-village statistics."""
        return self.out / "villages.parquet"


def run(
    config: RunConfig,
    *,
    villages: VillageSet | None = None,
    settings: WorkflowSettings | None = None,
    client: Any = None,
    products: ProductRegistry = PRODUCTS,
) -> RunResult:
    """Run the whole pipeline for ``config``; resumable per unit and period, atomic."""
    t0 = time.perf_counter()
    settings = settings or WorkflowSettings()
    products = with_built_up(config.built_up, products) if config.built_up else products
    out = Path(config.out)
    if villages is None:
        if config.boundaries is None:
            raise WorkflowError("give the village boundaries with --boundaries FILE")
        villages = load_villages(
            config.boundaries,
            code_column=config.code_column,
            name_column=config.name_column,
            region=config.region,
        )
    source = resolve_source(config.stac, collection=config.collection)
    if config.publish and source.is_local:
        raise WorkflowError(
            f"--publish needs --stac URL, a STAC API with the Transactions extension; "
            f"{config.stac} is a local catalog"
        )
    max_cloud = float(settings.max_cloud if config.max_cloud is None else config.max_cloud)
    area = villages.villages
    items = search_scenes(
        source,
        bbox=tuple(area.total_bounds),
        start=config.start,
        end=config.end,
        max_cloud=max_cloud,
    )
    if not items:
        raise WorkflowError(
            f"no Sentinel-2 scenes in {source} between {config.start} and {config.end} with "
            f"cloud cover <= {max_cloud}%: widen the dates or raise --max-cloud"
        )
    tile_size = config.tile_size or settings.tile_size
    units = plan_units(area, tile_size=tile_size, resolution=settings.resolution)
    labels = period_labels([i.datetime for i in items], config.period)
    by_period: dict[str, list[pystac.Item]] = {}
    for label, item in zip(labels, items, strict=True):
        by_period.setdefault(label, []).append(item)
    periods = sorted(by_period)
    result = RunResult(out=out, periods=periods, units=[u.id for u in units])
    out.mkdir(parents=True, exist_ok=True)
    parameters = {
        "stac": str(source),
        "period": config.period,
        "start": str(config.start),
        "end": str(config.end),
        "max_cloud": max_cloud,
        "resolution": settings.resolution,
        "tile_size": tile_size,
        "region": villages.report.region,
        "products": {name: p.recipe for name, p in products.items()},
        "exclude_implausible": settings.exclude_implausible,
        "groupby": settings.groupby,
    }
    references = (
        plan_reference(config.reference, config.reference_stac, tuple(area.total_bounds), periods)
        if config.reference
        else {}
    )
    parameters["reference"] = {p: j.to_dict() for p, j in references.items()} or None
    footprints = {i.id: shapely.geometry.shape(i.geometry) for i in items if i.geometry}
    checks_path = out / "stats" / "scene_checks.json"
    remove_leftovers(checks_path)  # of a driver killed while writing it
    checks = stored_checks(checks_path, settings.plausibility_resolution)
    # the scenes over at least one unit, per period: the ones to check and count
    relevant = {
        period: {i.id: i for u in units for i in _over(u, scenes, footprints)}
        for period, scenes in by_period.items()
    }
    needed = {k: i.to_dict() for s in relevant.values() for k, i in s.items() if k not in checks}
    with ExitStack() as stack:
        dask = client
        if needed:  # a cluster only when there is work: a finished rerun starts none
            dask = dask or stack.enter_context(_cluster(config, settings, len(units)))
            checks.update(
                check_scenes(
                    dask, needed, resolution=settings.plausibility_resolution,
                    patch_url=source.patch_url, bands=(*products.bands, "scl"),
                    reads=read_policy(settings), progress=config.progress,
                )
            )  # fmt: skip
            write_json(
                checks_path, {"resolution": settings.plausibility_resolution, "scenes": checks}
            )
        unreadable = failed_reads(relevant, checks, max_share=settings.max_failed_scene_share)
        plan = _plan(units, area, by_period, footprints, parameters, references, unreadable)
        pending = [(u, p) for u, p in plan if not _committed(out, u.id, p)]
        done = {(u.id, p.period) for u, p in plan} - {(u.id, p.period) for u, p in pending}
        result.skipped = sorted({p for p in periods if all((u.id, p) in done for u in units)})
        result.computed = sorted({p.period for _, p in pending})
        if pending:
            units_pending = len({u.id for u, _ in pending})
            dask = dask or stack.enter_context(_cluster(config, settings, units_pending))
            jobs = _jobs(pending, area, checks, products, settings, parameters, out, source)
            publish = (
                partial(_publish_unit, source.url_or_path, out, result) if config.publish else None
            )
            run_units(
                dask,
                jobs,
                progress=config.progress,
                max_in_flight=settings.max_in_flight,
                on_result=publish,
            )
            result.computed_units = [(u.id, p.period) for u, p in pending]
        # with nothing computed, overviews of older products are built (or found current)
        build_overviews(
            dask if pending else None, out, periods, products, progress=config.progress,
            zoom=settings.overview_zoom,
        )  # fmt: skip
    assemble(
        out,
        periods=periods,
        units=units,
        area=area,
        villages=villages,
        items=by_period,
        checks=checks,
        settings=settings,
        columns=(*stat_columns(products), *(REFERENCE_COLUMNS if references else ())),
        references=references,
        products=products,
        rule=_built_up_rule(products),
    )
    if config.publish:  # the final collection, and any committed item not yet in the API
        for report in load_catalog(source.url_or_path, out / "catalog"):
            result.published += [*report.created, *report.updated]
    result.seconds = time.perf_counter() - t0
    return result


def _publish_unit(api: str, out: Path, result: RunResult, unit: UnitResult) -> None:
    """Upsert a completed unit's items (the last step of its commit) into the STAC API."""
    files = [unit_paths(out, unit.unit_id, p)["item"] for p in unit.periods]
    items = [i for i in (read_item(f) for f in files) if i is not None]
    if items:
        report = publish_items(api, collection_document(items), items, item_files=files)
        result.published += [*report.created, *report.updated]


def _built_up_rule(products: ProductRegistry) -> str | None:
    """The built-up rule of the registry's ``built_up`` product, if it is the rule."""
    product = products.get("built_up")
    return str(product.formula) if product and isinstance(product.formula, BuiltUpRule) else None


def _cluster(
    config: RunConfig, settings: WorkflowSettings, units: int
) -> AbstractContextManager[Any]:
    """The run's Dask client: the given scheduler, or a LocalCluster on loopback sized for
    ``units`` work units (``workflows.cluster.dask_client``)."""
    from workflows.cluster import dask_client

    return dask_client(
        config.scheduler,
        workers=config.workers,
        memory_limit=settings.memory_limit,
        units=units,
    )


def _over(unit: Unit, items: Sequence[pystac.Item], footprints: dict[str, Any]) -> list[Any]:
    """The items whose footprint meets the unit (all items without a footprint)."""
    extent = shapely.box(*unit.bbox)
    return [i for i in items if i.id not in footprints or footprints[i.id].intersects(extent)]


def _plan(
    units: Sequence[Unit],
    area: gpd.GeoDataFrame,
    by_period: dict[str, list[pystac.Item]],
    footprints: dict[str, Any],
    parameters: dict[str, Any],
    references: dict[str, ReferenceJob],
    unreadable: Set[str],
) -> list[tuple[Unit, PeriodJob]]:
    """Every unit x period with the scenes over the unit and the commit fingerprint.

    The fingerprint names the unreadable scenes left out, so a unit committed without a
    scene is computed again once the scene can be read.
    """
    geometry = area.set_index("kode").geometry
    plan = []
    for unit in units:
        village_hash = hashlib.sha256(
            b"".join(shapely.to_wkb(geometry.loc[list(unit.kodes)].values))
        ).hexdigest()[:16]
        for period, items in sorted(by_period.items()):
            over = _over(unit, items, footprints)
            fingerprint = _fingerprint(
                {
                    **parameters,
                    "unit": unit.id,
                    "geobox": str(unit.geobox),
                    "villages": village_hash,
                },
                over,
                unreadable,
            )
            job = PeriodJob(
                period,
                tuple(i.to_dict() for i in over),
                fingerprint,
                reference=references.get(period),
            )
            plan.append((unit, job))
    return plan


def _committed(out: Path, unit_id: str, job: PeriodJob) -> bool:
    """Is this unit x period's item written with the same fingerprint (and its table)?"""
    paths = unit_paths(out, unit_id, job.period)
    if not paths["stats"].exists():
        return False
    try:
        item = json.loads(paths["item"].read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return item.get("properties", {}).get("pantau:fingerprint") == job.fingerprint


def _fingerprint(
    params: dict[str, Any], items: Sequence[pystac.Item], unreadable: Set[str] = frozenset()
) -> str:
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for i in sorted(items, key=lambda i: i.id):
        h.update(i.id.encode())
        if i.id in unreadable:  # unchanged fingerprints when every scene can be read
            h.update(b"\x00unreadable")
    return h.hexdigest()[:20]


def _jobs(
    pending: list[tuple[Unit, PeriodJob]],
    area: gpd.GeoDataFrame,
    checks: dict[str, dict[str, Any]],
    products: ProductRegistry,
    settings: WorkflowSettings,
    parameters: dict[str, Any],
    out: Path,
    source: Any,
) -> list[UnitJob]:
    """One job per unit with its pending periods, excluded scenes (checks.exclusion) left out."""
    by_unit: dict[str, tuple[Unit, list[PeriodJob]]] = {}
    implausible = settings.exclude_implausible
    for unit, job in pending:
        flagged = tuple(
            i["id"] for i in job.items
            if exclusion(checks.get(i["id"]), exclude_implausible=implausible)
        )  # fmt: skip
        if flagged:
            used = tuple(i for i in job.items if i["id"] not in flagged)
            if not used:
                raise WorkflowError(
                    f"period {job.period}, unit {unit.id}: every scene is unreadable or failed "
                    "the radiometry plausibility check (see stats/scene_checks.json); set "
                    "PANTAU_WORKFLOW_EXCLUDE_IMPLAUSIBLE=false to use implausible ones anyway"
                )
            job = replace(job, items=used, excluded=flagged)
        by_unit.setdefault(unit.id, (unit, []))[1].append(job)
    geometry = area.set_index("kode")
    jobs = []
    for unit, periods in by_unit.values():
        home = geometry.loc[list(unit.kodes)].reset_index()[["kode", "geometry"]]
        jobs.append(
            UnitJob(
                unit_id=unit.id,
                epsg=unit.epsg,
                geobox=unit.geobox,
                villages=home.to_crs(f"EPSG:{unit.epsg}"),
                periods=tuple(periods),
                products=products,
                out=out,
                chunk=settings.chunk,
                groupby=settings.groupby,
                threads=1,
                parameters=parameters,
                patch_url=source.patch_url,
                reads=read_policy(settings),
            )
        )
    return jobs
