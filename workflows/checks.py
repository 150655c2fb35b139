"""Per-scene checks, one small task per scene on the workers: can it be read, is it plausible?

Each scene is judged once, before any work unit runs, so every unit leaves out the same
scenes (a scene dropped by one unit only would make neighbouring units disagree):

* **readable**: every band the run uses is opened and the last block of its full-resolution
  image read (:func:`stac.assets.probe_assets`), then red, blue and SCL are read on a coarse
  grid. A read that fails is retried (``ReadPolicy.retries``); a scene that still cannot be
  read gets ``readable: false`` and the reason (not found, timed out, truncated, not a TIFF),
  is left out of every unit and listed in quality.json. Such verdicts are not reused by a
  rerun: the next run reads the scene again.
* **plausible**: does the radiometry its metadata implies fit its pixels? It is judged on a
  coarse grid over the scene's own footprint, so the verdict does not depend on which units
  or regions a run covers.

A unit that later fails to read a scene the check could read (a transient fault) retries,
then fails with a clear error; the run's rerun retries the unit (``workflows.unit``).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pystac
from odc.geo.geobox import GeoBox
from odc.geo.geom import box
from rasterio.errors import NotGeoreferencedWarning

from geo.plausibility import scene_plausibility
from geo.tiling import utm_epsg
from stac.assets import ReadPolicy, probe_assets, read_with_retries
from stac.errors import AssetReadError
from stac.load import load_stack
from workflows.errors import WorkflowError
from workflows.settings import WorkflowSettings

__all__ = [
    "check_scene",
    "check_scenes",
    "exclusion",
    "failed_reads",
    "read_policy",
    "scene_geobox",
    "stored_checks",
]

log = logging.getLogger(__name__)

_PLAUSIBILITY_BANDS = ("red", "blue", "scl")


def scene_geobox(item: pystac.Item, resolution: float) -> GeoBox:
    """A ``resolution`` m grid over the item's footprint, in the UTM zone of its centre."""
    if item.bbox is None:
        raise ValueError(f"scene {item.id} has no bbox")
    w, s, e, n = item.bbox
    epsg = utm_epsg((w + e) / 2, (s + n) / 2)
    extent = box(w, s, e, n, "EPSG:4326").to_crs(f"EPSG:{epsg}")
    return GeoBox.from_bbox(extent.boundingbox, crs=f"EPSG:{epsg}", resolution=resolution)


def check_scene(
    item: dict[str, Any],
    *,
    resolution: float,
    patch_url: Callable[[str], str] | None = None,
    bands: Sequence[str] = _PLAUSIBILITY_BANDS,
    reads: ReadPolicy | None = None,
) -> dict[str, Any]:
    """Can the scene's ``bands`` be read, and does its radiometry fit its pixels?

    Returns a JSON-able verdict: ``readable`` and, for a readable scene, the plausibility
    evidence (``plausible``, ``reason``...); for an unreadable one, ``reason`` and
    ``read_error`` (kind, asset).
    """
    scene = pystac.Item.from_dict(item)
    reads = reads or ReadPolicy()
    probed = tuple(dict.fromkeys((*bands, *_PLAUSIBILITY_BANDS)))
    geobox = scene_geobox(scene, resolution)

    def read(attempt: int) -> tuple[Any, Any]:
        gdal = reads.gdal_options(attempt)
        probe_assets(scene, probed, patch_url=patch_url, gdal=gdal)
        stack = load_stack(
            [scene], bands=_PLAUSIBILITY_BANDS, geobox=geobox, chunk=2048, groupby="id",
            patch_url=patch_url, gdal=gdal,
        )  # fmt: skip
        # odc-loader reprojects into in-memory arrays that rasterio calls ungeoreferenced.
        # The scheduler is an argument, never ``dask.config.set``: the config is
        # process-global, and concurrent tasks on one worker restore each other's values
        # (the distributed one).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
            return stack, stack.data.compute(scheduler="sync")

    try:
        stack, ds = read_with_retries(read, reads, what=f"scene {scene.id}")
    except AssetReadError as exc:
        return {
            "readable": False,
            "reason": str(exc),
            "read_error": {"kind": exc.kind, "asset": exc.asset},
        }
    s, o = stack.scale[0], stack.offset[0]
    red = ds["red"].values[0].astype(np.float32)
    blue = ds["blue"].values[0].astype(np.float32)
    nodata = (red == 0) | (blue == 0)
    red = np.where(nodata, np.nan, red * s + o)
    blue = np.where(nodata, np.nan, blue * s + o)
    verdict = scene_plausibility(red, blue, ds["scl"].values[0]).to_dict()
    return {"readable": True, **verdict}


def exclusion(verdict: Mapping[str, Any] | None, *, exclude_implausible: bool) -> str | None:
    """Why a scene with this check verdict is left out of every unit, or None if it is used.

    The one rule for the run's units and its quality report: unreadable scenes always,
    implausible ones when ``exclude_implausible``.
    """
    if verdict is None:
        return None
    if not verdict.get("readable", True):  # verdicts stored before reads were checked
        return f"unreadable: {verdict.get('reason', 'read failed')}"
    if exclude_implausible and not verdict.get("plausible", True):
        return f"implausible radiometry: {verdict.get('reason', '')}"
    return None


def read_policy(settings: WorkflowSettings) -> ReadPolicy:
    """The bounds of scene reads that ``settings`` give (retries, delay, timeout)."""
    return ReadPolicy(
        retries=settings.read_retries,
        retry_delay=settings.read_retry_delay,
        timeout=settings.read_timeout,
    )


def stored_checks(path: Path, resolution: float) -> dict[str, dict[str, Any]]:
    """Verdicts of scenes checked by earlier runs into this folder (at the same resolution).

    Unreadable verdicts are dropped: a read that failed then is tried again now.
    """
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    if stored.get("resolution") != resolution:
        return {}
    scenes = stored.get("scenes", {})
    return {k: v for k, v in scenes.items() if v.get("readable", True)}


def check_scenes(
    client: Any,
    items: dict[str, dict[str, Any]],
    *,
    resolution: float,
    patch_url: Callable[[str], str] | None,
    bands: Sequence[str],
    reads: ReadPolicy,
    progress: bool,
) -> dict[str, dict[str, Any]]:
    """The verdict of every scene (:func:`check_scene`), one task per scene on the cluster."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    ids = sorted(items)
    futures = client.map(
        check_scene,
        [items[i] for i in ids],
        key=[f"check-scene-{i}" for i in ids],
        resolution=resolution,
        patch_url=patch_url,
        bands=tuple(bands),
        reads=reads,
        pure=False,
    )
    position = {f.key: i for f, i in zip(futures, ids, strict=True)}
    verdicts: dict[str, dict[str, Any]] = {}
    with tqdm(total=len(futures), desc="checking scenes", unit="scene",
              disable=not progress) as bar:  # fmt: skip
        for future in as_completed(futures):
            verdicts[position[future.key]] = future.result()
            bar.update()
    return verdicts


def failed_reads(
    scenes: Mapping[str, Mapping[str, Any]],
    checks: Mapping[str, Mapping[str, Any]],
    *,
    max_share: float,
) -> set[str]:
    """The unreadable scenes among ``scenes`` (period -> ids), or a WorkflowError when more
    than ``max_share`` of a period's scenes are unreadable (the run then computes nothing)."""
    unreadable: set[str] = set()
    too_many = []
    for period, ids in sorted(scenes.items()):
        bad = sorted(i for i in ids if not checks[i].get("readable", True))
        unreadable.update(bad)
        for i in bad:
            log.warning("period %s: scene %s left out: %s", period, i, checks[i].get("reason"))
        if bad and len(bad) / len(ids) > max_share:
            listed = "; ".join(f"{i}: {checks[i].get('reason')}" for i in bad[:5])
            more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
            too_many.append(
                f"period {period}: {len(bad)} of {len(ids)} scenes ({len(bad) / len(ids):.0%}) "
                f"could not be read ({listed}{more})"
            )
    if too_many:
        setting = "PANTAU_WORKFLOW_MAX_FAILED_SCENE_SHARE"
        raise WorkflowError(
            f"too many scenes could not be read (more than {setting}={max_share:g} of a "
            f"period): {' | '.join(too_many)}. Nothing was computed. "
            "Rerun when the source is fixed (unreadable scenes are read again), or raise the "
            "setting to leave them out (stats/scene_checks.json lists them)"
        )
    return unreadable
