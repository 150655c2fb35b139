"""The one place that reads pixels: odc-stac loads scenes lazily into dask-backed xarray.

Items are normalised to canonical band names first, so the same call loads Earth Search,
Planetary Computer and local catalogs. Each item's radiometry (scale, offset) comes from
:func:`stac.parse.radiometry`; items are grouped by it and loaded per group, so every time
step of the result has exactly one (scale, offset), carried as coordinates.

Coarser bands (Sentinel-2's 20 m SCL and SWIR on a 10 m grid) are read at their own
resolution and repeated k x k when that is exactly what nearest resampling gives: the band's
pixels are k whole target pixels wide and both grids share their edges (the items' metadata
says so). This skips GDAL's warper, which odc-stac uses for any change of resolution, and
reads k^2 fewer pixels; any other case takes the warped path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
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
    gdal: Mapping[str, str] | None = None,
) -> LoadedStack:
    """Load ``bands`` (canonical names, SCL included if wanted) of ``items`` onto ``geobox``.

    Nothing is read here: the dataset is dask-backed with ``chunk``-sized spatial chunks.
    ``groupby`` is odc-stac's (``solar_day`` mosaics same-day items of one orbit; ``id``
    keeps every item apart). ``gdal``: GDAL config the reads run with (odc-stac captures
    it here and sets it in the threads that read; e.g. ``ReadPolicy.gdal_options()``).
    A read that fails raises (odc-stac's ``fail_on_error``): a scene never becomes zeros.
    """
    if not items:
        raise ValueError("no items to load")
    groups: dict[tuple[float, float], list[pystac.Item]] = defaultdict(list)
    for item in items:
        scale, offset, _ = radiometry(item)
        groups[(scale, offset)].append(normalize_item(item, required=bands))
    parts = []
    for (scale, offset), group in groups.items():
        ds = _load_group(group, bands, geobox, chunk, groupby, patch_url, resampling, gdal)
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


def _load_group(
    items: list[pystac.Item],
    bands: Sequence[str],
    geobox: GeoBox,
    chunk: int,
    groupby: str,
    patch_url: Callable[[str], str] | None,
    resampling: str,
    gdal: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """odc-stac's load, with exact-nearest coarse bands read natively and repeated."""
    factors = _native_factors(items, bands, geobox, chunk) if resampling == "nearest" else {}
    by_factor: dict[int, list[str]] = defaultdict(list)
    for band in bands:
        by_factor[factors.get(band, 1)].append(band)
    if len(by_factor) == 1 and 1 in by_factor:
        return _odc_load(items, bands, geobox, chunk, groupby, patch_url, resampling, gdal)
    import dask.array as da
    from odc.geo.xr import xr_coords

    coords = xr_coords(geobox)
    parts: dict[str, xr.DataArray] = {}
    time = None
    for k, names in sorted(by_factor.items()):
        grid = geobox if k == 1 else geobox.zoom_out(k)
        ds = _odc_load(items, names, grid, chunk // k, groupby, patch_url, resampling, gdal)
        time = ds["time"]
        for name in names:
            data = ds[name].data
            if k > 1:
                data = da.repeat(da.repeat(data, k, axis=1), k, axis=2)
            parts[name] = xr.DataArray(
                data, dims=("time", "y", "x"), coords={"time": time, **coords},
                attrs=ds[name].attrs,
            )  # fmt: skip
    out = xr.Dataset({b: parts[b] for b in bands})
    return out


def _native_factors(
    items: list[pystac.Item], bands: Sequence[str], geobox: GeoBox, chunk: int
) -> dict[str, int]:
    """Bands whose every item's pixels are exactly k x k pixels of ``geobox`` (k > 1)."""
    import odc.stac

    res = geobox.resolution.x
    if not (res > 0 and geobox.resolution.y == -res and geobox.affine.b == geobox.affine.d == 0):
        return {}
    found: dict[str, int] = {}
    parsed = list(odc.stac.parse_items(items))
    for band in bands:
        ks = set()
        for p in parsed:
            grid = getattr(p.bands.get((band, 1)), "geobox", None)
            if not isinstance(grid, GeoBox) or grid.crs != geobox.crs:
                break
            a = grid.affine
            k = a.a / res
            if not (a.b == a.d == 0 and a.e == -a.a and k == round(k) and k > 1):
                break
            ks.add(int(round(k)))
            step = a.a
            origin = geobox.affine
            # both grids' edges on the coarse pixel grid
            if any((v - w) % step for v, w in ((origin.c, a.c), (origin.f, a.f))):
                break
        else:
            if len(ks) == 1:
                k = ks.pop()
                ny, nx = geobox.shape.yx
                if ny % k == 0 and nx % k == 0 and chunk % k == 0:
                    found[band] = k
    return found


def _odc_load(
    items: list[pystac.Item],
    bands: Sequence[str],
    geobox: GeoBox,
    chunk: int,
    groupby: str,
    patch_url: Callable[[str], str] | None,
    resampling: str,
    gdal: Mapping[str, str] | None = None,
) -> xr.Dataset:
    import odc.stac
    import rasterio

    # odc-stac captures the calling thread's GDAL config and restores it where it reads
    with rasterio.Env(**(gdal or {})) if gdal else nullcontext():
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
