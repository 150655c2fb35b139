"""Publish derived products as a static STAC collection with their lineage.

One item per period product. Each item links ``derived_from`` to the source scenes, and
carries the processing metadata (software version, parameters, time). Items are the
commit marker of a period: they are written last, atomically, and read back on a rerun.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pystac

from geo.atomic import write_json

__all__ = ["ProductAsset", "item_path", "read_period_item", "write_period_item", "pantau_version"]

COLLECTION_ID = "pantau-village-indicators"


def pantau_version() -> str:
    """The installed Pantau version."""
    try:
        return version("pantau")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


class ProductAsset:
    """A file of a period product and how to describe it in STAC."""

    def __init__(self, path: Path, *, media_type: str, title: str, roles: Sequence[str]):
        self.path = path
        self.media_type = media_type
        self.title = title
        self.roles = list(roles)


def item_path(catalog_dir: Path, period: str) -> Path:
    """Where the STAC item of ``period`` lives."""
    return catalog_dir / "items" / f"{period}.json"


def read_period_item(catalog_dir: Path, period: str) -> dict[str, Any] | None:
    """The committed item of ``period`` as a dict, or None if the period is not done."""
    path = item_path(catalog_dir, period)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_period_item(
    catalog_dir: Path,
    *,
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
    """Write the item of one period product (last, atomically) and refresh the collection.

    ``sources`` are the scenes used: dicts with ``id`` and optionally ``href`` (their STAC
    item) and ``collection``; each becomes a ``derived_from`` link.
    """
    item = pystac.Item(
        id=f"pantau-{period}",
        geometry=dict(geometry),
        bbox=list(bbox),
        datetime=None,
        start_datetime=start,
        end_datetime=end,
        properties={
            "pantau:period": period,
            "pantau:fingerprint": fingerprint,
            "proj:code": f"EPSG:{epsg}",
            "processing:software": {"pantau": pantau_version()},
            "processing:datetime": datetime.now(UTC).isoformat(),
            "processing:lineage": (
                "Sentinel-2 L2A scenes masked with SCL (no data, defective, cloud shadow, "
                "cloud, cirrus, snow), converted to surface reflectance with each scene's "
                "offset, median-composited per period; indices and per-village exact "
                "zonal statistics"
            ),
            "pantau:parameters": dict(parameters),
            "pantau:source_count": len(sources),
        },
        collection=COLLECTION_ID,
    )
    item_file = item_path(catalog_dir, period)
    for key, asset in assets.items():
        rel = os.path.relpath(asset.path, item_file.parent)
        item.add_asset(
            key,
            pystac.Asset(
                href=rel, media_type=asset.media_type, title=asset.title, roles=asset.roles
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
    data["links"] = [
        {"rel": "root", "href": "../collection.json", "type": "application/json"},
        {"rel": "parent", "href": "../collection.json", "type": "application/json"},
        {"rel": "collection", "href": "../collection.json", "type": "application/json"},
        *[ln for ln in data["links"] if ln["rel"] == "derived_from"],
    ]
    write_json(item_file, data)
    _write_collection(catalog_dir)
    return item_file


def _write_collection(catalog_dir: Path) -> None:
    """Rewrite collection.json from the committed items (extent = union of theirs)."""
    items = []
    for path in sorted((catalog_dir / "items").glob("*.json")):
        try:
            items.append(json.loads(path.read_text()))
        except json.JSONDecodeError:  # pragma: no cover - items are written atomically
            continue
    if not items:
        return
    west = min(i["bbox"][0] for i in items)
    south = min(i["bbox"][1] for i in items)
    east = max(i["bbox"][2] for i in items)
    north = max(i["bbox"][3] for i in items)
    starts = sorted(i["properties"]["start_datetime"] for i in items)
    ends = sorted(i["properties"]["end_datetime"] for i in items)
    collection = {
        "type": "Collection",
        "stac_version": pystac.get_stac_version(),
        "id": COLLECTION_ID,
        "title": "Pantau village development indicators",
        "description": (
            "Per-period Sentinel-2 L2A median composites, spectral indices (NDVI, NDBI, "
            "MNDWI, BSI), built-up mask and per-village statistics, derived by Pantau."
        ),
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [[west, south, east, north]]},
            "temporal": {"interval": [[starts[0], ends[-1]]]},
        },
        "links": [
            {"rel": "root", "href": "./collection.json", "type": "application/json"},
            {"rel": "self", "href": "./collection.json", "type": "application/json"},
            *[
                {
                    "rel": "item",
                    "href": f"./items/{i['properties']['pantau:period']}.json",
                    "type": "application/geo+json",
                }
                for i in items
            ],
        ],
    }
    write_json(catalog_dir / "collection.json", collection)
