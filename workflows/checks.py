"""Per-scene radiometry plausibility, one small task per scene on the workers.

Each scene is judged once, on a coarse grid over its own footprint, so the verdict does not
depend on which units or regions a run covers (a many-unit run and a one-unit run exclude
the same scenes).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pystac
from odc.geo.geobox import GeoBox
from odc.geo.geom import box
from rasterio.errors import NotGeoreferencedWarning

from geo.plausibility import scene_plausibility
from geo.tiling import utm_epsg
from stac.load import load_stack

__all__ = ["check_scene", "scene_geobox"]


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
) -> dict[str, Any]:
    """Does the radiometry the item's metadata implies fit its pixels? (a JSON-able verdict)"""
    scene = pystac.Item.from_dict(item)
    stack = load_stack(
        [scene],
        bands=("red", "blue", "scl"),
        geobox=scene_geobox(scene, resolution),
        chunk=2048,
        groupby="id",
        patch_url=patch_url,
    )
    # odc-loader reprojects into in-memory arrays that rasterio calls ungeoreferenced.
    # The scheduler is an argument, never ``dask.config.set``: the config is process-global,
    # and concurrent tasks on one worker restore each other's values (the distributed one).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
        ds = stack.data.compute(scheduler="sync")
    s, o = stack.scale[0], stack.offset[0]
    red = ds["red"].values[0].astype(np.float32)
    blue = ds["blue"].values[0].astype(np.float32)
    nodata = (red == 0) | (blue == 0)
    red = np.where(nodata, np.nan, red * s + o)
    blue = np.where(nodata, np.nan, blue * s + o)
    return scene_plausibility(red, blue, ds["scl"].values[0]).to_dict()
