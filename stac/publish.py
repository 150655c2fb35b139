"""Publish derived products as a static STAC collection with their lineage.

One item per period product. Each item links ``derived_from`` to the source scenes, and
carries the processing metadata (software version, parameters, time). Each raster asset is
described by its :class:`geo.products.Product` (title, roles, ``raster:bands``). Items are the
commit marker of a period: they are written last, atomically, and read back on a rerun.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pystac

from geo.atomic import write_json
from geo.products import Product

__all__ = [
    "ProductAsset",
    "product_asset",
    "raster_band",
    "read_item",
    "write_unit_item",
    "write_collection",
    "collection_document",
    "pantau_version",
    "COG_MEDIA_TYPE",
    "STAC_EXTENSIONS",
]

COLLECTION_ID = "pantau-village-indicators"
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
PROCESSING_EXTENSION = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
PROJECTION_EXTENSION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER_EXTENSION = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
#: Extensions whose fields every period item uses (processing:*, proj:code, raster:bands).
STAC_EXTENSIONS = (PROCESSING_EXTENSION, PROJECTION_EXTENSION, RASTER_EXTENSION)


def pantau_version() -> str:
    """The installed Pantau version."""
    try:
        return version("pantau")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


class ProductAsset:
    """A file of a period product and how to describe it in STAC."""

    def __init__(
        self,
        path: Path,
        *,
        media_type: str,
        title: str,
        roles: Sequence[str],
        description: str | None = None,
        raster_bands: Sequence[Mapping[str, Any]] = (),
    ):
        self.path = path
        self.media_type = media_type
        self.title = title
        self.roles = list(roles)
        self.description = description
        self.raster_bands = [dict(b) for b in raster_bands]


def product_asset(product: Product, path: Path) -> ProductAsset:
    """The COG of a registry product: title, roles and ``raster:bands`` from its entry."""
    return ProductAsset(
        path,
        media_type=COG_MEDIA_TYPE,
        title=product.title,
        description=product.description,
        roles=product.roles,
        raster_bands=[raster_band(product)] * product.n_bands,
    )


def raster_band(product: Product) -> dict[str, Any]:
    """The ``raster:bands`` entry of one band of ``product`` (raster extension v1.1).

    The extension's ``scale`` maps stored values back to values (``value = stored * scale``),
    the inverse of the product's; a NaN nodata is written as the string ``"nan"``.
    """
    band: dict[str, Any] = {"data_type": product.dtype}
    if product.nodata is not None:
        nodata = product.nodata
        band["nodata"] = "nan" if isinstance(nodata, float) and math.isnan(nodata) else nodata
    if product.scale != 1:
        band["scale"] = 1 / product.scale
    return band


def read_item(path: Path) -> dict[str, Any] | None:
    """A committed item as a dict, or None if it is not there (or unreadable)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_unit_item(
    item_file: Path,
    *,
    unit: str,
    period: str,
    start: datetime,
    end: datetime,
    bbox: Sequence[float],
    geometry: Mapping[str, Any],
    epsg: int,
    assets: Mapping[str, ProductAsset],
    sources: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any],
    fingerprint: str,
) -> Path:
    """Write the item of one work unit x period at ``item_file`` (last, atomically).

    ``item_file`` is ``<catalog>/items/<period>/<unit>.json``; the collection is written
    once by the driver (:func:`write_collection`), never by concurrent unit tasks.
    ``sources`` are the scenes used: dicts with ``id`` and optionally ``href`` (their STAC
    item) and ``collection``; each becomes a ``derived_from`` link.
    """
    uses_raster = any(a.raster_bands for a in assets.values())
    item = pystac.Item(
        id=f"pantau-{unit}-{period}",
        geometry=dict(geometry),
        bbox=list(bbox),
        datetime=None,
        start_datetime=start,
        end_datetime=end,
        properties={
            "pantau:unit": unit,
            "pantau:period": period,
            "pantau:fingerprint": fingerprint,
            "proj:code": f"EPSG:{epsg}",
            "processing:software": {"pantau": pantau_version()},
            "processing:datetime": datetime.now(UTC).isoformat(),
            "processing:lineage": (
                "Sentinel-2 L2A scenes masked with SCL (no data, defective, cloud shadow, "
                "cloud, cirrus, snow), converted to surface reflectance with each scene's "
                "offset, median-composited per period over one work unit of the fixed grid; "
                "registry products and per-village exact zonal statistics"
            ),
            "pantau:parameters": dict(parameters),
            "pantau:source_count": len(sources),
        },
        collection=COLLECTION_ID,
        stac_extensions=[
            PROCESSING_EXTENSION,
            PROJECTION_EXTENSION,
            *([RASTER_EXTENSION] if uses_raster else []),
        ],
    )
    for key, asset in assets.items():
        rel = os.path.relpath(asset.path, item_file.parent)
        extra = {"raster:bands": asset.raster_bands} if asset.raster_bands else None
        item.add_asset(
            key,
            pystac.Asset(
                href=rel,
                media_type=asset.media_type,
                title=asset.title,
                description=asset.description,
                roles=asset.roles,
                extra_fields=extra,
            ),
        )
    for src in sources:
        link = pystac.Link(
            "derived_from", src.get("href") or src["id"], media_type="application/json"
        )
        link.extra_fields["pantau:item_id"] = src["id"]
        if src.get("collection"):
            link.extra_fields["pantau:collection"] = src["collection"]
        item.add_link(link)
    data = item.to_dict(include_self_link=False, transform_hrefs=False)
    collection = "../../collection.json"
    data["links"] = [
        {"rel": "root", "href": collection, "type": "application/json"},
        {"rel": "parent", "href": collection, "type": "application/json"},
        {"rel": "collection", "href": collection, "type": "application/json"},
        *[ln for ln in data["links"] if ln["rel"] == "derived_from"],
    ]
    write_json(item_file, data)
    return item_file


def write_collection(catalog_dir: Path, item_files: Sequence[Path]) -> Path | None:
    """Write ``collection.json`` listing ``item_files`` (extent = union of theirs).

    The collection's ``summaries`` list the work units and periods it holds.
    """
    items, hrefs = [], []
    for path in item_files:
        data = read_item(path)
        if data is not None:
            items.append(data)
            hrefs.append("./" + Path(os.path.relpath(path, catalog_dir)).as_posix())
    if not items:
        return None
    return write_json(catalog_dir / "collection.json", collection_document(items, hrefs))


def collection_document(
    items: Sequence[Mapping[str, Any]], hrefs: Sequence[str] = ()
) -> dict[str, Any]:
    """The product collection of ``items`` (extent = union of theirs), linking ``hrefs``."""
    west = min(i["bbox"][0] for i in items)
    south = min(i["bbox"][1] for i in items)
    east = max(i["bbox"][2] for i in items)
    north = max(i["bbox"][3] for i in items)
    starts = sorted(i["properties"]["start_datetime"] for i in items)
    ends = sorted(i["properties"]["end_datetime"] for i in items)
    return {
        "type": "Collection",
        "stac_version": pystac.get_stac_version(),
        "id": COLLECTION_ID,
        "title": "Pantau village development indicators",
        "description": (
            "Per-period Sentinel-2 L2A median composites over the work units of a fixed grid, "
            "the raster products derived from them (one asset each) and per-village "
            "statistics, derived by Pantau."
        ),
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [[west, south, east, north]]},
            "temporal": {"interval": [[starts[0], ends[-1]]]},
        },
        "summaries": {
            "pantau:unit": sorted({i["properties"]["pantau:unit"] for i in items}),
            "pantau:period": sorted({i["properties"]["pantau:period"] for i in items}),
        },
        "links": [
            {"rel": "root", "href": "./collection.json", "type": "application/json"},
            {"rel": "self", "href": "./collection.json", "type": "application/json"},
            *[{"rel": "item", "href": h, "type": "application/geo+json"} for h in hrefs],
        ],
    }
