"""``pantau run``: scenes -> masked median composites -> indices -> per-village statistics.

Stages: search (stac.search) -> plausibility check per scene (coarse load) -> per period:
load (stac.load, lazy) -> composite (geo.composite, on the Dask cluster) -> indices, COGs,
zonal statistics (numpy, coverage weights computed once per grid) -> STAC item (the commit
marker, written last). Finally villages.parquet/csv and quality.json are assembled from the
committed periods. Every file is written under a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pystac
from odc.geo.geobox import GeoBox

from geo.atomic import atomic_target, write_json, write_parquet
from geo.cog import write_cog
from geo.composite import Period, median_composite, period_labels
from geo.indices import BUILT_UP_RULE, INDICES, built_up_mask, compute_indices, required_bands
from geo.plausibility import scene_plausibility
from geo.villages import VillageSet, load_villages
from geo.zonal import STATS, CoverageWeights, coverage_weights, grid_key, zonal_stats
from stac.load import load_stack
from stac.parse import item_datetime, parse_item
from stac.publish import ProductAsset, read_period_item, write_period_item
from stac.search import search_scenes
from stac.source import StacSource, resolve_source
from workflows.errors import WorkflowError
from workflows.progress import compute_array, compute_with_progress
from workflows.settings import WorkflowSettings

__all__ = ["RunConfig", "RunResult", "run", "STAT_COLUMNS"]

log = logging.getLogger(__name__)

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
INDEX_NAMES = tuple(INDICES)
REFLECTANCE_BANDS = required_bands(INDEX_NAMES)
STAT_COLUMNS = tuple(f"{i}_{s}" for i in INDEX_NAMES for s in STATS) + (
    "built_up_fraction",
    "valid_fraction",
    "n_obs",
)


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


@dataclass
class RunResult:
    """What a run did: periods computed and reused, outputs, timings."""

    out: Path
    periods: list[str]
    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
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
) -> RunResult:
    """Run the whole pipeline for ``config``; resumable, atomic, idempotent."""
    t0 = time.perf_counter()
    settings = settings or WorkflowSettings()
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
    max_cloud = settings.max_cloud if config.max_cloud is None else config.max_cloud
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
    geobox = analysis_geobox(area, settings.resolution)
    labels = period_labels([i.datetime for i in items], config.period)
    by_period: dict[str, list[pystac.Item]] = {}
    for label, item in zip(labels, items, strict=True):
        by_period.setdefault(label, []).append(item)
    periods = sorted(by_period)
    result = RunResult(out=out, periods=periods)
    out.mkdir(parents=True, exist_ok=True)
    catalog_dir = out / "catalog"
    utm_villages = area.to_crs(f"EPSG:{_epsg(geobox)}")
    key = grid_key(utm_villages, geobox.shape.yx, geobox.affine)
    base_params = {
        "stac": str(source),
        "period": config.period,
        "start": str(config.start),
        "end": str(config.end),
        "max_cloud": max_cloud,
        "resolution": settings.resolution,
        "region": villages.report.region,
        "built_up_rule": str(BUILT_UP_RULE),
        "exclude_implausible": settings.exclude_implausible,
        "grid": key,
        "groupby": settings.groupby,
    }
    fingerprints = {p: _fingerprint(base_params, by_period[p]) for p in periods}
    pending = [
        p
        for p in periods
        if (read_period_item(catalog_dir, p) or {}).get("properties", {}).get("pantau:fingerprint")
        != fingerprints[p]
        or not (out / "stats" / f"{p}.parquet").exists()
    ]
    result.skipped = [p for p in periods if p not in pending]
    if pending:
        from workflows.cluster import dask_client

        weights = _coverage(utm_villages, geobox, out / ".cache" / f"coverage-{key}.npz")
        ctx = (
            _nullcontext(client)
            if client is not None
            else dask_client(
                config.scheduler, workers=config.workers, memory_limit=settings.memory_limit
            )
        )
        with ctx as dask:
            checks = _plausibility(
                [i for p in pending for i in by_period[p]],
                area,
                source,
                settings,
                dask,
                progress=config.progress,
            )
            for p in pending:
                _run_period(
                    p,
                    by_period[p],
                    checks,
                    geobox=geobox,
                    villages=area,
                    weights=weights,
                    source=source,
                    settings=settings,
                    out=out,
                    params=base_params,
                    fingerprint=fingerprints[p],
                    progress=config.progress,
                )
                result.computed.append(p)
    _assemble(out, periods, area, villages, settings)
    result.seconds = time.perf_counter() - t0
    return result


class _nullcontext:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __enter__(self) -> Any:
        return self.value

    def __exit__(self, *exc: object) -> None:
        return None


def analysis_geobox(villages: gpd.GeoDataFrame, resolution: float) -> GeoBox:
    """The 10 m (``resolution``) UTM grid over the villages, edges on multiples of the size."""
    crs = villages.estimate_utm_crs()
    bounds = villages.to_crs(crs).total_bounds
    return GeoBox.from_bbox(tuple(bounds), crs=f"EPSG:{crs.to_epsg()}", resolution=resolution)


def _epsg(geobox: GeoBox) -> int:
    """EPSG code of the analysis grid (always a UTM zone)."""
    epsg = geobox.crs.epsg if geobox.crs is not None else None
    if epsg is None:  # pragma: no cover - analysis_geobox always builds an EPSG grid
        raise WorkflowError("the analysis grid has no EPSG code")
    return int(epsg)


def _fingerprint(params: dict[str, Any], items: Sequence[pystac.Item]) -> str:
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for i in sorted(items, key=lambda i: i.id):
        h.update(i.id.encode())
    return h.hexdigest()[:20]


def _coverage(villages: gpd.GeoDataFrame, geobox: GeoBox, cache: Path) -> CoverageWeights:
    if cache.exists():
        try:
            return CoverageWeights.load(cache)
        except (OSError, ValueError, KeyError):
            log.warning("ignoring unreadable coverage cache %s", cache.name)
    weights = coverage_weights(
        villages, shape=geobox.shape.yx, transform=geobox.affine, threads=os.cpu_count() or 1
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    weights.save(cache)
    return weights


def _plausibility(
    items: list[pystac.Item],
    villages: gpd.GeoDataFrame,
    source: StacSource,
    settings: WorkflowSettings,
    client: Any,
    *,
    progress: bool,
) -> dict[str, dict[str, Any]]:
    """Per item: does the radiometry its metadata implies fit its pixels? (coarse grid)"""
    coarse = analysis_geobox(villages, settings.plausibility_resolution)
    stack = load_stack(
        items,
        bands=("red", "blue", "scl"),
        geobox=coarse,
        chunk=2048,
        groupby="id",
        patch_url=source.patch_url,
    )
    ds = compute_with_progress(client, stack.data, "checking scene radiometry", progress)
    out: dict[str, dict[str, Any]] = {}
    for t, ids in enumerate(stack.item_ids):
        s, o = stack.scale[t], stack.offset[t]
        red = ds["red"].values[t].astype(np.float32)
        blue = ds["blue"].values[t].astype(np.float32)
        nodata = (red == 0) | (blue == 0)
        red = np.where(nodata, np.nan, red * s + o)
        blue = np.where(nodata, np.nan, blue * s + o)
        verdict = scene_plausibility(red, blue, ds["scl"].values[t])
        for item_id in ids:
            out[item_id] = verdict.to_dict()
    return out


def _run_period(
    period: str,
    items: list[pystac.Item],
    checks: dict[str, dict[str, Any]],
    *,
    geobox: GeoBox,
    villages: gpd.GeoDataFrame,
    weights: CoverageWeights,
    source: StacSource,
    settings: WorkflowSettings,
    out: Path,
    params: dict[str, Any],
    fingerprint: str,
    progress: bool,
) -> None:
    t0 = time.perf_counter()
    flagged = [i for i in items if not checks.get(i.id, {}).get("plausible", True)]
    used = [i for i in items if i not in flagged] if settings.exclude_implausible else items
    if not used:
        raise WorkflowError(
            f"period {period}: every scene failed the radiometry plausibility check "
            "(see quality.json); set PANTAU_WORKFLOW_EXCLUDE_IMPLAUSIBLE=false to use them anyway"
        )
    bands = (*REFLECTANCE_BANDS, "scl")
    stack = load_stack(
        used,
        bands=bands,
        geobox=geobox,
        chunk=settings.chunk,
        groupby=settings.groupby,
        patch_url=source.patch_url,
    )
    import dask.array as da

    dn = da.stack([stack.data[b].data for b in bands])
    lazy = median_composite(dn, stack.scale, stack.offset, chunk=settings.chunk)
    composite = compute_array(None, lazy, f"compositing {period} ({len(used)} scenes)", progress)
    count = composite[-1]
    refl = {b: composite[i] for i, b in enumerate(REFLECTANCE_BANDS)}
    del composite
    indices = compute_indices(refl, names=INDEX_NAMES)
    never_clear = count == 0
    built = built_up_mask(indices).astype(np.float32)
    built[never_clear] = np.nan

    folder = out / "composites" / period
    crs, transform = f"EPSG:{_epsg(geobox)}", geobox.affine
    layers: dict[str, tuple[np.ndarray, dict[str, Any], str, list[str]]] = {
        name: (arr, {"nodata": np.nan}, INDICES[name].description, ["data"])
        for name, arr in indices.items()
    }
    layers["built_up"] = (
        np.where(never_clear, 255, built).astype(np.uint8),
        {"nodata": 255, "resampling": "nearest"},
        f"Built-up mask ({BUILT_UP_RULE})",
        ["data"],
    )
    layers["clear_count"] = (
        np.minimum(count, 254).astype(np.uint8),
        {"nodata": None, "resampling": "nearest"},
        "Clear observations per pixel",
        ["metadata"],
    )
    layers["rgb"] = (
        np.stack([_reflectance_u16(refl[b]) for b in ("red", "green", "blue")]),
        {"nodata": 0, "descriptions": ("red", "green", "blue")},
        "True colour median composite (reflectance x 10000)",
        ["visual"],
    )
    del refl
    # COG encoding and zonal statistics overlap: both release the GIL
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        writes = {
            name: pool.submit(
                write_cog, arr, folder / f"{name}.tif", crs=crs, transform=transform, **opts
            )
            for name, (arr, opts, _, _) in layers.items()
        }
        stats = _village_stats(weights, dict(indices), built, count, pool=pool)
        assets = {
            name: ProductAsset(writes[name].result(), media_type=COG, title=title, roles=roles)
            for name, (_, _, title, roles) in layers.items()
        }
    del layers
    stats.insert(0, "period", period)
    stats.insert(0, "kode", villages["kode"].to_numpy())
    stats_path = out / "stats" / f"{period}.parquet"
    write_parquet(stats_path, stats, index=False)

    quality = {
        "period": period,
        "scenes": [_scene_record(i, checks) for i in items],
        "scenes_used": len(used),
        "scenes_excluded": [i.id for i in flagged] if settings.exclude_implausible else [],
        "clear_observations": {
            "mean": float(count.mean()),
            "median": float(np.median(count)),
            "share_never_clear": float(never_clear.mean()),
        },
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_json(out / "stats" / f"{period}.quality.json", quality)
    assets["statistics"] = ProductAsset(
        stats_path,
        media_type="application/vnd.apache.parquet",
        title="Per-village statistics of this period",
        roles=["data"],
    )
    dates = [item_datetime(i) for i in items]
    bounds = villages.total_bounds
    write_period_item(
        out / "catalog",
        period=period,
        start=min(dates),
        end=max(dates),
        bbox=[float(b) for b in bounds],
        geometry=_bbox_geometry(bounds),
        epsg=_epsg(geobox),
        assets=assets,
        sources=[
            {"id": i.id, "href": i.get_self_href(), "collection": i.collection_id} for i in used
        ],
        parameters=params,
        fingerprint=fingerprint,
    )


def _reflectance_u16(band: np.ndarray) -> np.ndarray:
    """Reflectance x 10000 as uint16, 0 (nodata) where NaN, at least 1 where data."""
    scaled = np.clip(band * np.float32(10000), 1, 65535)
    return np.where(np.isnan(band), 0, scaled).astype(np.uint16)


def _village_stats(
    weights: CoverageWeights,
    indices: dict[str, np.ndarray],
    built: np.ndarray,
    count: np.ndarray,
    *,
    pool: ThreadPoolExecutor,
) -> pd.DataFrame:
    """All per-village statistics of one period (threads: numpy sorts release the GIL)."""
    jobs: dict[str, Callable[[], dict[str, np.ndarray]]] = {
        name: partial(zonal_stats, weights, arr) for name, arr in indices.items()
    }
    jobs["built_up_fraction"] = lambda: zonal_stats(weights, built, stats=("mean",))
    jobs["valid_fraction"] = lambda: zonal_stats(
        weights, (count > 0).astype(np.float32), stats=("mean",)
    )
    jobs["n_obs"] = lambda: zonal_stats(weights, count.astype(np.float32), stats=("median",))
    futures = {name: pool.submit(fn) for name, fn in jobs.items()}
    results = {name: f.result() for name, f in futures.items()}
    columns: dict[str, np.ndarray] = {}
    for name in indices:
        for stat, values in results[name].items():
            columns[f"{name}_{stat}"] = values
    columns["built_up_fraction"] = results["built_up_fraction"]["mean"]
    columns["valid_fraction"] = np.nan_to_num(results["valid_fraction"]["mean"])
    columns["n_obs"] = results["n_obs"]["median"]
    return pd.DataFrame(columns)


def _scene_record(item: pystac.Item, checks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    scene = parse_item(item)
    return {
        "id": scene.id,
        "datetime": scene.datetime.isoformat(),
        "cloud_cover": scene.cloud_cover,
        "processing_baseline": scene.processing_baseline,
        "scale": scene.scale,
        "offset": scene.offset,
        "radiometry_rule": scene.radiometry_rule,
        "plausibility": checks.get(item.id),
    }


def _bbox_geometry(b: Sequence[float]) -> dict[str, Any]:
    w, s, e, n = (float(x) for x in b)
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _assemble(
    out: Path,
    periods: list[str],
    area: gpd.GeoDataFrame,
    villages: VillageSet,
    settings: WorkflowSettings,
) -> None:
    """villages.parquet/csv and quality.json from the committed periods."""
    frames = [pd.read_parquet(out / "stats" / f"{p}.parquet") for p in periods]
    table = pd.concat(frames, ignore_index=True)
    table = table.sort_values(["kode", "period"], kind="stable").reset_index(drop=True)
    previous = table.groupby("kode", sort=False)[list(STAT_COLUMNS)].shift(1)
    change = table[list(STAT_COLUMNS)] - previous
    change.columns = [f"{c}_change" for c in STAT_COLUMNS]
    table = pd.concat([table, change], axis=1)
    meta_cols = ["kode"] + (["nama"] if "nama" in area.columns else [])
    meta = area[meta_cols + ["geometry"]]
    merged = meta.merge(table, on="kode", how="right")
    ordered = meta_cols + ["period", *STAT_COLUMNS, *change.columns, "geometry"]
    gdf = gpd.GeoDataFrame(merged[ordered], geometry="geometry", crs=area.crs)
    gdf = gdf.sort_values(["period", "kode"], kind="stable").reset_index(drop=True)

    write_parquet(out / "villages.parquet", gdf, index=False)
    table_csv = pd.DataFrame(gdf.drop(columns="geometry"))
    with atomic_target(out / "villages.csv") as tmp:
        table_csv.to_csv(tmp, index=False)

    per_period = [json.loads((out / "stats" / f"{p}.quality.json").read_text()) for p in periods]
    low = gdf[gdf["valid_fraction"] < settings.low_coverage]
    quality = {
        "periods": per_period,
        "scenes_excluded": sorted({s for q in per_period for s in q["scenes_excluded"]}),
        "low_coverage_villages": {
            "threshold": settings.low_coverage,
            "count": int(len(low)),
            "villages": [
                {"kode": k, "period": p, "valid_fraction": round(float(v), 4)}
                for k, p, v in low[["kode", "period", "valid_fraction"]].itertuples(index=False)
            ],
        },
        "boundaries": villages.report.to_dict(),
        "built_up_rule": str(BUILT_UP_RULE),
    }
    write_json(out / "quality.json", quality)


def committed_periods(out: Path) -> list[str]:
    """Periods whose STAC item exists under ``out/catalog``."""
    return sorted(p.stem for p in (out / "catalog" / "items").glob("*.json"))
