"""The run's tables from its committed units: villages.parquet/csv, quality.json/.html, catalog."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from resource import RUSAGE_SELF, getrusage
from typing import Any

import geopandas as gpd
import pandas as pd
import pystac

from geo.atomic import atomic_target, remove_leftovers, write_json, write_parquet
from geo.products import BUILT_UP_METHODS, PRODUCTS, ProductRegistry
from geo.tiling import Unit
from geo.villages import VillageSet
from stac.parse import parse_item
from stac.publish import write_collection
from workflows.quality_report import write_quality_html
from workflows.reference import ReferenceJob, agreement
from workflows.regions import write_regions
from workflows.settings import WorkflowSettings
from workflows.unit import unit_paths

__all__ = ["assemble", "change_columns"]


def change_columns(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``<col>_change``: this period minus the village's previous one (NaN in its first)."""
    table = table.sort_values(["kode", "period"], kind="stable").reset_index(drop=True)
    previous = table.groupby("kode", sort=False)[list(columns)].shift(1)
    change = table[list(columns)] - previous
    change.columns = [f"{c}_change" for c in columns]
    return pd.concat([table, change], axis=1)


def assemble(
    out: Path,
    *,
    periods: Sequence[str],
    units: Sequence[Unit],
    area: gpd.GeoDataFrame,
    villages: VillageSet,
    items: Mapping[str, Sequence[pystac.Item]],
    checks: Mapping[str, Mapping[str, Any]],
    settings: WorkflowSettings,
    columns: Sequence[str],
    rule: str | None,
    references: Mapping[str, ReferenceJob] | None = None,
    products: ProductRegistry = PRODUCTS,
) -> gpd.GeoDataFrame:
    """Write villages.parquet/csv, quality.json/.html and the collection; return the table."""
    remove_leftovers(
        *(out / n for n in ("villages.parquet", "villages.csv", "quality.json", "regions.parquet")),
        out / "quality.html",
        out / "catalog" / "collection.json",
    )
    frames = [pd.read_parquet(unit_paths(out, u.id, p)["stats"]) for p in periods for u in units]
    table = change_columns(pd.concat(frames, ignore_index=True), columns)
    meta_cols = ["kode"] + (["nama"] if "nama" in area.columns else [])
    merged = area[meta_cols + ["geometry"]].merge(table, on="kode", how="right")
    ordered = meta_cols + ["period", *columns, *(f"{c}_change" for c in columns), "geometry"]
    gdf = gpd.GeoDataFrame(merged[ordered], geometry="geometry", crs=area.crs)
    gdf = gdf.sort_values(["period", "kode"], kind="stable").reset_index(drop=True)
    write_parquet(out / "villages.parquet", gdf, index=False)
    write_regions(out, gdf, products)
    with atomic_target(out / "villages.csv") as tmp:
        pd.DataFrame(gdf.drop(columns="geometry")).to_csv(tmp, index=False)

    unit_quality = [
        json.loads(unit_paths(out, u.id, p)["quality"].read_text()) for p in periods for u in units
    ]
    per_period = [_period_quality(p, items[p], checks, unit_quality) for p in periods]
    low = gdf[gdf["valid_fraction"] < settings.low_coverage]
    quality = {
        "periods": per_period,
        "units": unit_quality,
        "throughput": _throughput(unit_quality),
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
        "built_up_rule": rule,
        # which built-up method made built_up.tif (the tile server draws it accordingly)
        "built_up_method": next(
            (
                m
                for m, p in BUILT_UP_METHODS.items()
                if "built_up" in products and p.recipe == products["built_up"].recipe
            ),
            None,
        ),
        # the driver's own peak memory (worker processes are not counted): it plans, submits
        # and gathers small tables, so it should not grow with the area
        "driver": {"peak_rss_mb": round(getrusage(RUSAGE_SELF).ru_maxrss / 1024, 1)},
    }
    if references:
        quality["reference_agreement"] = agreement(gdf, reference=dict(references))
    write_json(out / "quality.json", quality)
    write_quality_html(out, quality, villages=gdf)  # the same facts, for people
    write_collection(
        out / "catalog",
        [unit_paths(out, u.id, p)["item"] for p in periods for u in units],
    )
    return gdf


def _period_quality(
    period: str,
    items: Sequence[pystac.Item],
    checks: Mapping[str, Mapping[str, Any]],
    units: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Scenes of a period with their verdicts, and clear observations over all its units."""
    mine = [q for q in units if q["period"] == period]
    pixels = sum(q["pixels"] for q in mine) or 1
    excluded = sorted({s for q in mine for s in q["scenes_excluded"]})

    def weighted(key: str) -> float:
        return sum(q["clear_observations"][key] * q["pixels"] for q in mine) / pixels

    return {
        "period": period,
        "scenes": [_scene_record(i, checks) for i in items],
        "scenes_used": len({i.id for i in items} - set(excluded)),
        "scenes_excluded": excluded,
        "clear_observations": {
            "mean": weighted("mean"),
            "share_never_clear": weighted("share_never_clear"),
        },
        "seconds": round(sum(q["seconds"] for q in mine), 2),
    }


def _throughput(units: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Pixel-scenes per second per unit task, over the units of this run that did work."""
    work = [q for q in units if q["scenes"] and q["seconds"] > 0]
    if not work:
        return {}
    volume = sum(q["pixels"] * q["scenes"] for q in work)
    seconds = sum(q["seconds"] for q in work)
    return {"pixel_scenes_per_second": volume / seconds, "unit_seconds": seconds}


def _scene_record(item: pystac.Item, checks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
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
