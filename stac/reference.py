"""Reference land-cover maps: which collection, which asset, which year; search and load them.

A reference is a categorical STAC collection with one map per year (ESA WorldCover,
Impact Observatory's annual LULC). :func:`search_reference` finds the items over an area and
keeps those of the year closest to the wanted one; :func:`load_reference` reads the class
asset onto a unit's grid with odc-stac, nearest resampling and the collection's own dtype and
nodata (classes are never averaged, scaled or offset like reflectances).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import pystac
import requests
import xarray as xr
from odc.geo.geobox import GeoBox
from pystac_client.exceptions import APIError

from geo.landcover import ESA_WORLDCOVER, IO_LULC_ANNUAL_V02, ClassScheme
from stac.errors import StacError
from stac.local import search_local
from stac.search import normalize_bbox, open_client
from stac.settings import StacSettings
from stac.source import StacSource, resolve_source

__all__ = [
    "Reference",
    "REFERENCES",
    "DEFAULT_REFERENCE_SOURCE",
    "ReferenceDataError",
    "get_reference",
    "reference_source",
    "item_year",
    "closest_year",
    "search_reference",
    "load_reference",
]

DEFAULT_REFERENCE_SOURCE: Final = "planetary-computer"


class ReferenceDataError(StacError):
    """A reference land-cover collection cannot be found, searched or read."""


@dataclass(frozen=True)
class Reference:
    """A categorical land-cover collection: where its classes are and what they mean."""

    name: str
    collection: str
    asset: str
    scheme: ClassScheme
    title: str
    license: str
    years: tuple[int, ...]  # years Planetary Computer holds (for messages, not a filter)

    @property
    def nodata(self) -> int:
        """The class raster's nodata value."""
        return self.scheme.nodata


REFERENCES: Final[dict[str, Reference]] = {
    "esa-worldcover": Reference(
        name="esa-worldcover",
        collection="esa-worldcover",
        asset="map",
        scheme=ESA_WORLDCOVER,
        title="ESA WorldCover 10 m (v100 2020, v200 2021)",
        license="CC-BY-4.0",
        years=(2020, 2021),
    ),
    "io-lulc-annual-v02": Reference(
        name="io-lulc-annual-v02",
        collection="io-lulc-annual-v02",
        asset="data",
        scheme=IO_LULC_ANNUAL_V02,
        title="Impact Observatory 10m Annual Land Use Land Cover (9-class) V2",
        license="CC-BY-4.0",
        years=tuple(range(2017, 2024)),
    ),
}


def get_reference(name: str) -> Reference:
    """The reference called ``name``; a ReferenceDataError listing the known ones otherwise."""
    try:
        return REFERENCES[name]
    except KeyError:
        raise ReferenceDataError(
            f"unknown reference {name!r}; use one of {', '.join(REFERENCES)}"
        ) from None


def reference_source(
    name: str, spec: str | None = None, *, settings: StacSettings | None = None
) -> StacSource:
    """The STAC source of a reference: ``spec`` (default Planetary Computer, signed hrefs)."""
    reference = get_reference(name)
    return resolve_source(
        spec or DEFAULT_REFERENCE_SOURCE, collection=reference.collection, settings=settings
    )


def item_year(item: pystac.Item) -> int:
    """The year an annual map describes: of ``start_datetime``, else of ``datetime``."""
    start = item.properties.get("start_datetime")
    if start:
        return datetime.fromisoformat(str(start).replace("Z", "+00:00")).year
    if item.datetime is not None:
        return item.datetime.year
    raise ReferenceDataError(f"item {item.id} has neither start_datetime nor datetime")


def closest_year(available: Sequence[int], year: int) -> int:
    """The available year nearest ``year``; on a tie the later one (the newer map)."""
    if not available:
        raise ReferenceDataError("no reference year available")
    return min(available, key=lambda y: (abs(y - year), -y))


def search_reference(
    name: str,
    source: StacSource,
    bbox: Sequence[float],
    year: int,
    *,
    max_items: int = 1000,
    settings: StacSettings | None = None,
) -> list[pystac.Item]:
    """Items of reference ``name`` over ``bbox`` (EPSG:4326) of the year closest to ``year``.

    Every year's items over the area are searched once and the nearest year kept, so a
    period after the last map (WorldCover ends in 2021) still gets one. Sorted by id.
    """
    by_year = search_reference_years(name, source, bbox, max_items=max_items, settings=settings)
    return by_year[closest_year(sorted(by_year), year)]


def search_reference_years(
    name: str,
    source: StacSource,
    bbox: Sequence[float],
    *,
    max_items: int = 1000,
    settings: StacSettings | None = None,
) -> dict[int, list[pystac.Item]]:
    """Items of reference ``name`` over ``bbox`` grouped by year (each sorted by id)."""
    reference = get_reference(name)
    area = normalize_bbox(bbox)
    if source.is_local:
        items = search_local(
            Path(source.url_or_path),
            collection=reference.collection,
            bbox=area,
            max_items=max_items,
        )
    else:
        client = open_client(source, settings=settings)
        try:
            found = client.search(
                collections=[reference.collection], bbox=area, max_items=max_items
            )
            items = [
                pystac.Item.from_dict(d, migrate=False, preserve_dict=False)
                for d in found.items_as_dicts()
            ]
        except (APIError, requests.RequestException, pystac.STACError) as exc:
            raise ReferenceDataError(
                f"search of {reference.collection} on {source.url_or_path} failed: {exc}"
            ) from exc
    items = [i for i in items if i.collection_id in (None, reference.collection)]
    if not items:
        raise ReferenceDataError(
            f"no {reference.collection} items over {area} in {source}; the collection holds "
            f"years {reference.years[0]}-{reference.years[-1]}: check the area, or pass "
            "--reference-stac with a catalog that covers it"
        )
    missing = [i.id for i in items if reference.asset not in i.assets]
    if missing:
        raise ReferenceDataError(
            f"{len(missing)} {reference.collection} items lack the asset "
            f"{reference.asset!r} (e.g. {missing[0]}); is this the right collection?"
        )
    by_year: dict[int, list[pystac.Item]] = {}
    for item in items:
        by_year.setdefault(item_year(item), []).append(item)
    return {y: sorted(v, key=lambda i: i.id) for y, v in sorted(by_year.items())}


def load_reference(
    items: Sequence[pystac.Item],
    geobox: GeoBox,
    *,
    reference: Reference,
    patch_url: Callable[[str], str] | None = None,
    chunk: int = 1024,
) -> xr.DataArray:
    """The class raster of ``items`` (one year's tiles, mosaicked) on ``geobox``; lazy.

    Nearest resampling, the scheme's dtype and nodata; pixels no item covers are nodata.
    Returns a dask-backed ``(y, x)`` DataArray; nothing is read here.
    """
    if not items:
        raise ReferenceDataError(f"no {reference.collection} items to load")
    import odc.stac

    data = odc.stac.load(
        list(items),
        bands=[reference.asset],
        geobox=geobox,
        chunks={"x": chunk, "y": chunk},
        groupby=_one_group,
        resampling="nearest",
        dtype=reference.scheme.dtype,
        nodata=reference.nodata,
        patch_url=patch_url,
        fail_on_error=True,
    )
    layer = data[reference.asset]
    if layer.sizes.get("time", 1) != 1:  # pragma: no cover - guarded by _one_group
        raise ReferenceDataError("reference items did not mosaic into one layer")
    return layer.isel(time=0, drop=True) if "time" in layer.dims else layer


def _one_group(item: pystac.Item, parsed: object, idx: int) -> int:
    """odc-stac grouping key: every item of one year in one mosaic (first valid pixel wins)."""
    return 0
