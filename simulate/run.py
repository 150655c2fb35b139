"""``simulate_scenes``: land cover, truth, scenes and catalog, resumable and reusable."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pystac
import shapely
from tqdm import tqdm

from geo.atomic import write_json, write_parquet
from geo.cog import write_cog
from simulate.catalog import AtomicStacIO, item_id, make_item, new_catalog
from simulate.errors import SimulationError
from simulate.fields import noise_pool
from simulate.grid import grid_for, mgrs_tile
from simulate.landcover import build_land_cover, impervious_raster, measure_truth, plant_shares
from simulate.plan import CONTRADICTING, RAW, plan_scenes
from simulate.scenes import ASSET_KEYS, render_scene
from simulate.spectra import IMPERVIOUS_LEVELS, NOISE_REL, draw_palette
from simulate.writer import BackgroundWriter

__all__ = ["SimulationResult", "simulate_scenes", "SIMULATION_VERSION", "MANIFEST_NAME"]

log = logging.getLogger(__name__)

# Bump when the simulated pixels change, so older simulations on disk are not reused.
SIMULATION_VERSION = "2"  # 2: pixels are mixtures of real held-out spectra
MANIFEST_NAME = "simulation.json"
_PARTIAL_NAME = ".simulation.partial.json"
TRUTH_NAME = "truth.parquet"
PALETTE_NAME = "palette.json"
# ~25 bytes of working memory per 10 m pixel: 150 Mpx stays under ~4 GB
MAX_PIXELS = 150_000_000


@dataclass(frozen=True)
class SimulationResult:
    """Where the simulated scenes are and what truth was planted."""

    catalog_dir: Path  # DIR/scenes, holding catalog.json
    item_ids: tuple[str, ...]
    truth: pd.DataFrame  # kode, year (int), built_up_fraction_true
    epsg: int
    reused: bool  # True when an identical earlier simulation was reused


def simulate_scenes(
    villages: gpd.GeoDataFrame,
    out_dir: Path,
    *,
    code_column: str = "kode",
    start: str = "2021-01-01",
    end: str = "2022-12-31",
    scenes_per_year: int = 5,
    seed: int = 0,
    progress: bool = True,
) -> SimulationResult:
    """Simulate Sentinel-2 L2A scenes over ``villages`` as a static STAC catalog.

    Writes ``out_dir/scenes/``: ``catalog.json``, ``sentinel-2-l2a/collection.json``, one
    folder per item (``<id>.json`` and one COG per asset), ``land_cover_<year>.tif`` (the
    planted 10 m classes, see ``LandCover``), ``materials_<year>.tif`` (each pixel's mixture
    of real spectra, codes of ``palette.json``), ``impervious_<year>.tif`` (its true impervious
    share in 1/200), ``truth.parquet`` and, last,
    ``simulation.json``. A second call with the same villages and parameters reuses it all;
    an interrupted run resumes with the items already written; other parameters regenerate
    the folder from scratch.

    Args:
        villages: polygons with a CRS and a unique code column.
        out_dir: the demo's output directory.
        code_column: column holding the village codes; the truth calls it ``kode``.
        start, end: ISO dates; every calendar year they touch gets ``scenes_per_year`` scenes.
        scenes_per_year: scenes per year, spread over the year.
        seed: everything is deterministic given the seed.
        progress: show a progress bar.
    """
    started = time.perf_counter()
    frame, codes = _check_villages(villages, code_column)
    first, last = _parse_dates(start, end)
    if scenes_per_year < 1:
        raise SimulationError(f"scenes_per_year must be at least 1, got {scenes_per_year}")
    parameters = {
        "start": first.isoformat(),
        "end": last.isoformat(),
        "scenes_per_year": int(scenes_per_year),
        "seed": int(seed),
    }
    fingerprint = _fingerprint(frame, codes, parameters)
    scenes_dir = Path(out_dir) / "scenes"
    grid = grid_for(frame)
    if grid.height * grid.width > MAX_PIXELS:
        raise SimulationError(
            f"the villages span {grid.width * grid.height / 1e6:.0f} million 10 m pixels; the "
            f"demo simulates at most {MAX_PIXELS / 1e6:.0f} million (about a province like "
            "DI Yogyakarta): pass fewer villages"
        )

    reused = _reuse(scenes_dir, fingerprint)
    if reused is not None:
        log.info("reusing the simulation in %s", scenes_dir)
        return reused
    resuming = _read_json(scenes_dir / _PARTIAL_NAME).get("fingerprint") == fingerprint
    if not resuming:
        _clear(scenes_dir)
        scenes_dir.mkdir(parents=True, exist_ok=True)
        write_json(scenes_dir / _PARTIAL_NAME, {"fingerprint": fingerprint})

    lon, lat = shapely.centroid(shapely.box(*frame.to_crs(4326).total_bounds)).coords[0]
    tile = mgrs_tile(lon, lat)
    plans = plan_scenes(first, last, scenes_per_year, seed)
    years = tuple(sorted({p.date.year for p in plans}))
    if not years:
        raise SimulationError(f"no scene dates between {first} and {last}")
    catalog, collection = new_catalog(scenes_dir, grid, plans)
    stac_io = AtomicStacIO()
    villages_utm = frame.to_crs(grid.epsg)

    bar = tqdm(
        total=len(plans) * len(ASSET_KEYS) + 4 * len(years),
        desc="simulating scenes",
        unit="file",
        disable=not progress,
    )
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with (
        ThreadPoolExecutor(max_workers=workers or 1) as executor,
        BackgroundWriter() as writer,
        bar,
    ):
        rng = np.random.default_rng([seed, 0x6C616E64])
        planting = plant_shares(codes, years, rng)
        palette = draw_palette(np.random.default_rng([seed, 0x70616C]))
        land_cover = build_land_cover(villages_utm, grid, planting, rng, executor)
        bar.update(len(years))
        for year in years:
            rasters = (
                # classes: nearest overviews keep class values
                (f"land_cover_{year}.tif", land_cover.classes[year], 0, "nearest"),
                (f"materials_{year}.tif", land_cover.materials[year], 0, "nearest"),
                # true impervious share in 1/IMPERVIOUS_LEVELS (no nodata: 0 is a value)
                (
                    f"impervious_{year}.tif",
                    impervious_raster(land_cover, palette, year),
                    None,
                    "average",
                ),
            )
            for name, array, nodata, resampling in rasters:
                cog = partial(
                    write_cog,
                    array,
                    scenes_dir / name,
                    crs=f"EPSG:{grid.epsg}",
                    transform=grid.transform(10),
                    nodata=nodata,
                    resampling=resampling,
                )
                writer.submit(cog, done=lambda: bar.update(1))
        truth = measure_truth(villages_utm, codes, land_cover, grid, palette)

        pool = noise_pool(seed, size=max(2**23, 4 * 64 * grid.width), rel=NOISE_REL)
        ids = []
        for plan in plans:
            name = item_id(plan, tile)
            folder = scenes_dir / name
            item = _finished_item(folder) if resuming else None
            if item is None:
                bar.set_postfix_str(name)
                stats = render_scene(
                    plan,
                    grid,
                    land_cover,
                    palette,
                    pool,
                    executor,
                    folder,
                    writer,
                    seed=seed,
                    on_file=lambda: bar.update(1),
                )
                item = make_item(plan, stats, grid, tile, folder, version=SIMULATION_VERSION)
                collection.add_item(item)
                item.set_self_href(str(folder / f"{name}.json"))
                # queued after the COGs: an item whose JSON exists is complete
                document = item.to_dict(include_self_link=False)
                writer.submit(partial(stac_io.save_json, str(folder / f"{name}.json"), document))
            else:
                collection.add_item(item)
                item.set_self_href(str(folder / f"{name}.json"))
                bar.update(len(ASSET_KEYS))
            ids.append(name)
        del land_cover
        writer.wait()

    write_parquet(scenes_dir / TRUTH_NAME, truth, index=False)
    write_json(scenes_dir / PALETTE_NAME, palette.to_dict())
    collection.save_object(include_self_link=False, stac_io=stac_io)
    catalog.save_object(include_self_link=False, stac_io=stac_io)
    manifest = {
        "pantau_simulation_version": SIMULATION_VERSION,
        "fingerprint": fingerprint,
        "parameters": {**parameters, "code_column": code_column, "n_villages": len(codes)},
        "epsg": grid.epsg,
        "grid": {
            "transform_10m": list(grid.transform(10))[:6],
            "shape_10m": list(grid.shape),
        },
        "mgrs_tile": "".join(str(p) for p in tile),
        "catalog": "catalog.json",
        "item_ids": ids,
        "contradicting_items": [
            i for i, p in zip(ids, plans, strict=True) if p.radiometry == CONTRADICTING
        ],
        "raw_offset_items": [i for i, p in zip(ids, plans, strict=True) if p.radiometry == RAW],
        "heavily_clouded_items": [
            i for i, p in zip(ids, plans, strict=True) if p.cloud_target > 0.7
        ],
        "truth": TRUTH_NAME,
        "land_cover": {str(y): f"land_cover_{y}.tif" for y in years},
        "land_cover_classes": {"1": "water", "2": "vegetation", "3": "bare", "4": "built_up"},
        "materials": {str(y): f"materials_{y}.tif" for y in years},
        "palette": PALETTE_NAME,
        "impervious": {str(y): f"impervious_{y}.tif" for y in years},
        "impervious_scale": 1 / IMPERVIOUS_LEVELS,
        "spectra": "geo.spectra.validation_spectra() (held out from calibration)",
    }
    write_json(scenes_dir / MANIFEST_NAME, manifest)
    (scenes_dir / _PARTIAL_NAME).unlink(missing_ok=True)
    log.info("simulated %d scenes in %.1f s", len(ids), time.perf_counter() - started)
    return SimulationResult(
        catalog_dir=scenes_dir, item_ids=tuple(ids), truth=truth, epsg=grid.epsg, reused=False
    )


def _check_villages(
    villages: gpd.GeoDataFrame, code_column: str
) -> tuple[gpd.GeoDataFrame, list[str]]:
    if code_column not in villages.columns:
        raise SimulationError(f"villages have no column {code_column!r}")
    if villages.crs is None:
        raise SimulationError("villages have no CRS")
    if len(villages) == 0:
        raise SimulationError("no villages to simulate over")
    frame = villages[[code_column, villages.geometry.name]].reset_index(drop=True)
    if frame.geometry.isna().any() or frame.geometry.is_empty.any():
        raise SimulationError("some villages have no geometry")
    codes = [str(c) for c in frame[code_column]]
    if len(set(codes)) != len(codes):
        raise SimulationError(f"village codes in {code_column!r} are not unique")
    return frame, codes


def _parse_dates(start: str, end: str) -> tuple[date, date]:
    try:
        first, last = date.fromisoformat(str(start)[:10]), date.fromisoformat(str(end)[:10])
    except ValueError as exc:
        raise SimulationError(f"start/end must be ISO dates: {exc}") from None
    if last < first:
        raise SimulationError(f"end {last} is before start {first}")
    return first, last


def _fingerprint(frame: gpd.GeoDataFrame, codes: list[str], parameters: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"version": SIMULATION_VERSION, **parameters}, sort_keys=True).encode())
    h.update(json.dumps(codes).encode())
    h.update(str(frame.crs.to_epsg() or frame.crs.to_wkt()).encode())
    for wkb in shapely.to_wkb(frame.geometry.values, output_dimension=2):
        h.update(wkb)
    return h.hexdigest()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _reuse(scenes_dir: Path, fingerprint: str) -> SimulationResult | None:
    """The finished simulation in ``scenes_dir`` if it has this fingerprint and all its files."""
    manifest = _read_json(scenes_dir / MANIFEST_NAME)
    if manifest.get("fingerprint") != fingerprint:
        return None
    ids = manifest.get("item_ids", [])
    needed = [scenes_dir / "catalog.json", scenes_dir / str(manifest.get("truth", TRUTH_NAME))]
    for i in ids:
        needed.append(scenes_dir / i / f"{i}.json")
        needed.extend(scenes_dir / i / f"{key}.tif" for key in ASSET_KEYS)
    if not all(p.is_file() for p in needed):
        return None
    truth = pd.read_parquet(scenes_dir / str(manifest.get("truth", TRUTH_NAME)))
    return SimulationResult(
        catalog_dir=scenes_dir,
        item_ids=tuple(ids),
        truth=truth,
        epsg=int(manifest["epsg"]),
        reused=True,
    )


def _finished_item(folder: Path) -> pystac.Item | None:
    """The item an interrupted run already wrote into ``folder``, if it is complete."""
    path = folder / f"{folder.name}.json"
    if not path.is_file() or not all((folder / f"{k}.tif").is_file() for k in ASSET_KEYS):
        return None
    return pystac.Item.from_file(str(path))


def _clear(scenes_dir: Path) -> None:
    """Empty a previous simulation's folder; refuse to touch a folder that is not one."""
    if not scenes_dir.exists():
        return
    if not any(scenes_dir.iterdir()):
        return
    if not ((scenes_dir / MANIFEST_NAME).is_file() or (scenes_dir / _PARTIAL_NAME).is_file()):
        raise SimulationError(
            f"{scenes_dir} is not empty and holds no earlier simulation; "
            "choose another output directory"
        )
    # the manifest goes first, so a crash while clearing never leaves a "finished" folder
    (scenes_dir / MANIFEST_NAME).unlink(missing_ok=True)
    for entry in scenes_dir.iterdir():
        if entry.name == _PARTIAL_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    (scenes_dir / _PARTIAL_NAME).unlink(missing_ok=True)
