"""Search a local static STAC catalog in-process: a cached stac-geoparquet index + DuckDB.

The index (``items.parquet`` beside ``catalog.json``, or in a temp folder when the catalog is
read-only) holds only what a search filters on: id, collection, geometry, bbox, datetime,
cloud cover and the path of the item JSON. Matching items are then read from their JSON
files, so the JSON stays the one source of truth (and provider asset keys that differ only
in case, ``SCL``/``scl``, never meet in one parquet schema).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pystac
import rustac
import rustac_duckdb_extensions

from stac.errors import StacSourceError
from stac.source import CATALOG_FILES

__all__ = ["INDEX_NAME", "index_path", "build_index", "ensure_index", "search_local"]

log = logging.getLogger(__name__)

INDEX_NAME = "items.parquet"
_SIGNATURE_SUFFIX = ".sig"
_INDEX_VERSION = "1"
# Item properties the index keeps: the ones a search filters on.
_INDEXED_PROPERTIES = ("datetime", "start_datetime", "end_datetime", "eo:cloud_cover")
_CLIENT_LOCK = threading.Lock()  # a DuckDB connection is not meant for concurrent queries


def index_path(folder: Path) -> Path:
    """Where the index of a catalog folder lives: in it, or in a temp dir if read-only."""
    folder = Path(folder).resolve()
    if _is_writable(folder):
        return folder / INDEX_NAME
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "pantau-stac-index" / digest / INDEX_NAME


def ensure_index(folder: Path) -> Path:
    """The path of an up-to-date index of the catalog, rebuilt when any JSON file changed."""
    folder = Path(folder).resolve()
    index = index_path(folder)
    signature = _signature(folder)
    sig_file = index.with_name(index.name + _SIGNATURE_SUFFIX)
    if index.exists() and sig_file.exists() and sig_file.read_text() == signature:
        return index
    log.info("indexing local STAC catalog %s -> %s", folder, index)
    build_index(folder, index)
    sig_file.write_text(signature)
    return index


def build_index(folder: Path, index: Path) -> int:
    """Write the stac-geoparquet index of every item of the catalog; the number of items."""
    rows = [_index_row(path, _read_json(path)) for path in _item_files(_root_file(folder))]
    if not rows:
        raise StacSourceError(
            f"local STAC catalog {folder} links to no items; add item links to its "
            "catalog.json/collection.json (pystac: catalog.add_item + save)"
        )
    index.parent.mkdir(parents=True, exist_ok=True)
    partial = index.with_name(f".{index.name}.{os.getpid()}.tmp")
    try:
        rustac.write_sync(str(partial), rows, format="geoparquet")
        os.replace(partial, index)
    except rustac.RustacError as exc:
        raise StacSourceError(f"cannot index local STAC catalog {folder}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return len(rows)


def search_local(
    folder: Path,
    *,
    collection: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    intersects: dict[str, Any] | None = None,
    datetime: str | None = None,
    max_cloud: float | None = None,
    max_items: int | None = None,
) -> list[pystac.Item]:
    """Items of a local catalog matching the search, read from their JSON files."""
    index = ensure_index(Path(folder))
    params: dict[str, Any] = {
        "collections": [collection] if collection else None,
        "bbox": list(bbox) if bbox is not None else None,
        "intersects": intersects,
        "datetime": datetime,
        "max_items": max_items,
        "sortby": ["datetime", "id"],
    }
    if max_cloud is not None:
        params["filter"] = {"op": "<=", "args": [{"property": "eo:cloud_cover"}, max_cloud]}
    try:
        with _CLIENT_LOCK:
            rows = _duckdb().search(
                str(index), **{k: v for k, v in params.items() if v is not None}
            )
    except rustac.RustacError as exc:
        raise StacSourceError(f"cannot search local STAC catalog {folder}: {exc}") from exc
    return [_load_item(_self_href(row)) for row in rows]


@functools.cache
def _duckdb() -> rustac.DuckdbClient:
    """One DuckDB client per process: loading its extensions takes about half a second."""
    return rustac.DuckdbClient(
        # The extensions ship in a wheel: no download, works offline.
        extension_directory=rustac_duckdb_extensions.extension_directory(),
        install_extensions=False,
    )


def _is_writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


def _root_file(folder: Path) -> Path:
    for name in CATALOG_FILES:
        if (folder / name).is_file():
            return folder / name
    raise StacSourceError(
        f"folder {folder} holds no {' or '.join(CATALOG_FILES)}; pass the folder of a "
        "static STAC catalog"
    )


def _item_files(root: Path) -> Iterator[Path]:
    """Item JSON files reachable from the root document through child and item links."""
    seen: set[Path] = set()
    pending = [root]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for link in _read_json(path).get("links", []):
            rel, href = link.get("rel"), link.get("href")
            if rel not in ("child", "item") or not href:
                continue
            target = _local_target(path, href)
            if rel == "child":
                pending.append(target)
            elif target not in seen:
                seen.add(target)
                yield target


def _local_target(base: Path, href: str) -> Path:
    parsed = urlparse(href)
    if parsed.scheme == "file":
        return Path(parsed.path).resolve()
    if parsed.scheme and len(parsed.scheme) > 1:
        raise StacSourceError(
            f"local STAC catalog {base} links to remote {href}; a local catalog must hold its "
            "items as files (use --stac URL for a STAC API)"
        )
    return (base.parent / href).resolve()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise StacSourceError(f"cannot read STAC JSON {path}: {exc}") from exc
    return data


def _index_row(path: Path, item: dict[str, Any]) -> dict[str, Any]:
    if item.get("type") != "Feature":
        raise StacSourceError(f"{path} is linked as an item but is not a STAC item (Feature)")
    props = item.get("properties", {})
    return {
        "type": "Feature",
        "stac_version": item.get("stac_version", "1.0.0"),
        "id": item["id"],
        "collection": item.get("collection"),
        "geometry": item.get("geometry"),
        "bbox": item.get("bbox"),
        "properties": {k: props[k] for k in _INDEXED_PROPERTIES if props.get(k) is not None},
        "assets": {},
        "links": [{"rel": "self", "href": str(path)}],
    }


def _self_href(row: dict[str, Any]) -> str:
    for link in row.get("links", []):
        if link.get("rel") == "self":
            return str(link["href"])
    raise StacSourceError(f"index row {row.get('id')!r} has no item path; delete the index")


def _load_item(href: str) -> pystac.Item:
    """The item of a JSON file with absolute asset hrefs (no STAC version migration)."""
    item = pystac.Item.from_dict(
        _read_json(Path(href)), href=href, migrate=False, preserve_dict=False
    )
    item.make_asset_hrefs_absolute()
    return item


def _signature(folder: Path) -> str:
    """A digest of every JSON file's path, size and mtime under the folder."""
    entries = [_INDEX_VERSION]
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            if name.endswith(".json"):
                path = Path(dirpath, name)
                stat = path.stat()
                entries.append(f"{path.relative_to(folder)}\t{stat.st_size}\t{stat.st_mtime_ns}")
    entries.sort()
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()
