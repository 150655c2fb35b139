"""The one place that reads pixels: odc-stac loads scenes lazily into dask-backed xarray.

Items are normalised to canonical band names first, so the same call loads Earth Search,
Planetary Computer and local catalogs. Each item's radiometry (scale, offset) comes from
:func:`stac.parse.radiometry`; items are grouped by it and loaded per group, so every time
step of the result has exactly one (scale, offset), carried as coordinates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

from stac.parse import normalize_item, radiometry

__all__ = ["LoadedStack", "load_stack"]


@dataclass(frozen=True)
class LoadedStack:
    """Lazy DN bands ``(time, y, x)`` with per-time scale/offset and the item ids of each."""

    data: xr.Dataset
    scale: np.ndarray
    offset: np.ndarray
    item_ids: tuple[tuple[str, ...], ...]

    @property
    def times(self) -> np.ndarray:
        """Time stamps of the steps."""
        return self.data["time"].values


def load_stack(
    items: Sequence[pystac.Item],
    *,
    bands: Sequence[str],
    geobox: GeoBox,
    chunk: int = 1024,
    groupby: str = "solar_day",
    patch_url: Callable[[str], str] | None = None,
    resampling: str = "nearest",
) -> LoadedStack:
    """Load ``bands`` (canonical names, SCL included if wanted) of ``items`` onto ``geobox``.

    Nothing is read here: the dataset is dask-backed with ``chunk``-sized spatial chunks.
    ``groupby`` is odc-stac's (``solar_day`` mosaics same-day items of one orbit; ``id``
    keeps every item apart).
    """
    if not items:
        raise ValueError("no items to load")
    groups: dict[tuple[float, float], list[pystac.Item]] = defaultdict(list)
    for item in items:
        scale, offset, _ = radiometry(item)
        groups[(scale, offset)].append(normalize_item(item, required=bands))
    parts = []
    for (scale, offset), group in groups.items():
        ds = _odc_load(group, bands, geobox, chunk, groupby, patch_url, resampling)
        n = ds.sizes["time"]
        ids = _ids_per_time(ds, group, groupby)
        ds = ds.assign_coords(
            scale=("time", np.full(n, scale)),
            offset=("time", np.full(n, offset)),
            item_ids=("time", np.array([",".join(i) for i in ids], dtype=object)),
        )
        parts.append(ds)
    data = xr.concat(parts, dim="time") if len(parts) > 1 else parts[0]
    data = data.sortby("time")
    return LoadedStack(
        data=data,
        scale=data["scale"].values.astype(np.float64),
        offset=data["offset"].values.astype(np.float64),
        item_ids=tuple(tuple(s.split(",")) for s in data["item_ids"].values),
    )


def _odc_load(
    items: list[pystac.Item],
    bands: Sequence[str],
    geobox: GeoBox,
    chunk: int,
    groupby: str,
    patch_url: Callable[[str], str] | None,
    resampling: str,
) -> xr.Dataset:
    import odc.stac

    return odc.stac.load(
        items,
        bands=list(bands),
        geobox=geobox,
        chunks={"x": chunk, "y": chunk},
        groupby=_solar_day if groupby == "solar_day" else groupby,
        resampling=resampling,
        dtype="uint16",
        patch_url=patch_url,
        fail_on_error=True,
    )


def _solar_day(item: pystac.Item, parsed: object, idx: int) -> object:
    """odc-stac grouping key: the item's local solar day (as odc-stac's ``solar_day``)."""
    return parsed.solar_date.date()  # type: ignore[attr-defined]


def _ids_per_time(ds: xr.Dataset, items: list[pystac.Item], groupby: str) -> list[list[str]]:
    """Which items make up each time step, matched on the time stamp odc-stac gives a group."""
    import odc.stac

    parsed = list(odc.stac.parse_items(items))
    groups: dict[object, list[tuple[np.datetime64, str]]] = defaultdict(list)
    for idx, (item, p) in enumerate(zip(items, parsed, strict=True)):
        key = idx if groupby == "id" else _solar_day(item, p, idx)
        if groupby == "time":
            key = p.nominal_datetime
        ts = np.datetime64(p.nominal_datetime.replace(tzinfo=None), "ns")
        groups[key].append((ts, item.id))
    by_time = {min(m)[0]: sorted(i for _, i in m) for m in groups.values()}
    try:
        return [by_time[np.datetime64(t, "ns")] for t in ds["time"].values]
    except KeyError as exc:
        raise RuntimeError(f"cannot match odc-stac time step {exc} to its items") from None
