"""Write collections and items into a STAC API through its Transactions extension.

Idempotent upserts: each item is compared with what the API already holds (content, with
the links the server writes itself left out and timestamps compared as instants), so loading
the same catalog twice sends nothing, and an item whose content changed is replaced (PUT),
never duplicated. Works with any STAC API that implements the Transactions extension;
the reference server is stac-fastapi-pgstac (``ENABLE_TRANSACTIONS_EXTENSIONS=true``).

Local catalogs are read as plain JSON (no migration), local asset hrefs become absolute
``file://`` URIs the API's clients can open on the same file system, and ``derived_from``
links to items of a known collection become URLs of those items in the same API.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import requests

from stac.errors import StacError
from stac.settings import StacSettings

__all__ = [
    "StacPublishError",
    "PublishReport",
    "LocalCatalog",
    "publish_items",
    "load_catalog",
    "read_catalog",
    "item_for_api",
    "content_hash",
]

TRANSACTION_CONFORMANCE = "/ogcapi-features/extensions/transaction"
# Links a STAC API writes itself: never stored, never compared.
_SERVER_RELS = frozenset(
    {
        *("self", "root", "parent", "collection", "items", "child", "item"),
        "http://www.opengis.net/def/rel/ogc/1.0/queryables",
    }
)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_CHUNK = 100

Status = Literal["created", "updated", "unchanged"]


class StacPublishError(StacError):
    """A STAC API refused or could not take the collections and items sent to it."""


@dataclass
class PublishReport:
    """What one upsert did in the API: ids created, updated and left as they were."""

    api: str
    collection: str
    collection_status: Status
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True if anything was written."""
        return bool(self.created or self.updated) or self.collection_status != "unchanged"

    def summary(self) -> str:
        """One line: collection status and item counts."""
        return (
            f"{self.collection}: collection {self.collection_status}; items "
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )


@dataclass(frozen=True)
class LocalCatalog:
    """A local static catalog read as JSON: collections and their items, hrefs resolved."""

    collections: list[tuple[dict[str, Any], Path]]
    items: dict[str, list[tuple[dict[str, Any], Path]]]


def publish_items(
    api: str,
    collection: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    *,
    item_files: Sequence[Path] | None = None,
    collection_file: Path | None = None,
    session: requests.Session | None = None,
    settings: StacSettings | None = None,
) -> PublishReport:
    """Upsert ``collection`` and ``items`` into the STAC API at ``api``; unchanged ones are skipped.

    Args:
        api: root URL of a STAC API with the Transactions extension.
        collection: the collection document (its links are the server's business).
        items: item documents of that collection; each becomes what :func:`item_for_api`
            makes of it.
        item_files: where each item was read from, to resolve relative asset hrefs
            (``None``: hrefs must already be absolute).
        collection_file: where the collection was read from (same purpose).
    """
    if item_files is not None and len(item_files) != len(items):
        raise StacPublishError(f"{len(items)} items but {len(item_files)} item_files")
    settings = settings or StacSettings()
    client = _Api(api, session=session, timeout=settings.timeout)
    client.require_transactions()
    coll = _strip_links(dict(collection), base=collection_file, api=client.root)
    cid = str(coll.get("id") or "")
    if not cid:
        raise StacPublishError("the collection has no 'id'; give it one before publishing")
    report = PublishReport(client.root, cid, client.upsert_collection(coll))
    prepared = []
    for i, item in enumerate(items):
        base = None if item_files is None else item_files[i]
        prepared.append(item_for_api(item, collection=cid, base=base, api=client.root))
    existing = client.existing_items(cid, [it["id"] for it in prepared])
    new, changed = [], []
    for item in prepared:
        stored = existing.get(item["id"])
        if stored is None:
            new.append(item)
        elif content_hash(stored) != content_hash(item):
            changed.append(item)
        else:
            report.unchanged.append(item["id"])
    client.create_items(cid, new)
    report.created.extend(it["id"] for it in new)
    for item in changed:
        client.put(f"collections/{_q(cid)}/items/{_q(item['id'])}", item)
        report.updated.append(item["id"])
    return report


def load_catalog(
    api: str,
    source: str | Path,
    *,
    session: requests.Session | None = None,
    settings: StacSettings | None = None,
) -> list[PublishReport]:
    """Load every collection of the local catalog ``source`` (and their items) into ``api``."""
    catalog = read_catalog(source)
    reports = []
    for coll, coll_file in catalog.collections:
        pairs = catalog.items.get(coll["id"], [])
        reports.append(
            publish_items(
                api,
                coll,
                [data for data, _ in pairs],
                item_files=[path for _, path in pairs],
                collection_file=coll_file,
                session=session,
                settings=settings,
            )
        )
    return reports


def read_catalog(source: str | Path) -> LocalCatalog:
    """The collections and items of a local static catalog (folder, catalog or collection file).

    Follows ``child`` and ``item`` links; an item without ``collection`` belongs to the
    collection that links it.
    """
    root = Path(source).expanduser()
    if root.is_dir():
        for name in ("catalog.json", "collection.json"):
            if (root / name).is_file():
                root = root / name
                break
        else:
            raise StacPublishError(
                f"{source} holds no catalog.json or collection.json; pass a static STAC "
                "catalog folder (e.g. DIR/scenes or DIR/catalog)"
            )
    if not root.is_file():
        raise StacPublishError(f"no such catalog: {source}")
    collections: list[tuple[dict[str, Any], Path]] = []
    items: dict[str, list[tuple[dict[str, Any], Path]]] = {}
    seen: set[Path] = set()
    todo: list[tuple[Path, str | None]] = [(root.resolve(), None)]
    while todo:
        path, parent = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        data = _read_json(path)
        kind = data.get("type")
        if kind == "Feature":
            cid = data.get("collection") or parent
            if cid is None:
                raise StacPublishError(f"item {path} has no collection and no parent collection")
            data["collection"] = cid
            items.setdefault(cid, []).append((data, path))
            continue
        if kind == "Collection":
            collections.append((data, path))
            parent = data["id"]
        for link in data.get("links", []):
            if link.get("rel") in ("child", "item") and not _is_url(link.get("href", "")):
                todo.append(((path.parent / link["href"]).resolve(), parent))
    if not collections:
        raise StacPublishError(f"{source} holds no STAC collection; only collections load")
    return LocalCatalog(collections, items)


def item_for_api(
    item: Mapping[str, Any], *, collection: str, base: Path | None = None, api: str | None = None
) -> dict[str, Any]:
    """The item as it is sent: absolute asset hrefs, no server links, lineage URLs in ``api``.

    Relative asset hrefs are resolved against ``base`` (the item's file) and local paths
    become ``file://`` URIs. A ``derived_from`` link carrying ``pantau:item_id`` and
    ``pantau:collection`` and no URL becomes ``{api}/collections/{collection}/items/{id}``.
    """
    data: dict[str, Any] = json.loads(json.dumps(item))
    if data.get("type") != "Feature" or not data.get("id"):
        raise StacPublishError(f"not a STAC item (type Feature with an id): {str(item)[:80]}")
    data["collection"] = collection
    for key, asset in data.get("assets", {}).items():
        href = asset.get("href")
        if not href:
            raise StacPublishError(f"item {data['id']!r} asset {key!r} has no href")
        asset["href"] = _absolute(href, base, what=f"item {data['id']!r} asset {key!r}")
    return _strip_links(data, base=base, api=api)


def content_hash(doc: Mapping[str, Any]) -> str:
    """SHA-256 of a document's content as an API stores it (server links left out).

    Timestamps in ``properties`` are compared as instants (pgSTAC rewrites
    ``2021-11-18T06:10:28.276Z`` as ``2021-11-18T06:10:28.276000Z``), whole numbers as numbers
    (``0.0`` comes back as ``0``) and members that are null as absent (pgSTAC drops them).
    """
    data = dict(doc)
    data["links"] = sorted(
        (ln for ln in doc.get("links", []) if ln.get("rel") not in _SERVER_RELS),
        key=lambda ln: (str(ln.get("rel")), str(ln.get("href"))),
    )
    if isinstance(doc.get("properties"), Mapping):
        data["properties"] = {k: _instant(v) for k, v in doc["properties"].items()}
    text = json.dumps(_numbers(data), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --- helpers ------------------------------------------------------------------------------


class _Api:
    """The few Transactions-extension requests Pantau makes, with errors that say what to fix."""

    def __init__(self, root: str, *, session: requests.Session | None, timeout: float):
        if not _is_url(root):
            raise StacPublishError(f"--stac must be the http(s) URL of a STAC API, got {root!r}")
        self.root = root.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def url(self, path: str) -> str:
        return f"{self.root}/{path}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, self.url(path), timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise StacPublishError(
                f"STAC API {self.root} is unreachable ({type(exc).__name__}); check the URL "
                "and that the server runs"
            ) from exc

    def check(self, response: requests.Response, what: str) -> requests.Response:
        if response.status_code >= 400:
            detail = response.text.strip().replace("\n", " ")[:300]
            raise StacPublishError(
                f"STAC API {self.root} refused to {what}: HTTP {response.status_code} {detail}"
            )
        return response

    def require_transactions(self) -> None:
        landing = self.check(self.request("GET", ""), "show its landing page").json()
        if not any(TRANSACTION_CONFORMANCE in c for c in landing.get("conformsTo", [])):
            raise StacPublishError(
                f"STAC API {self.root} does not implement the Transactions extension, so it "
                "cannot store items; start stac-fastapi-pgstac with "
                "ENABLE_TRANSACTIONS_EXTENSIONS=true (see docs/stac-server.md)"
            )

    def upsert_collection(self, coll: dict[str, Any]) -> Status:
        path = f"collections/{_q(coll['id'])}"
        got = self.request("GET", path)
        if got.status_code == 404:
            self.check(self.request("POST", "collections", json=coll), f"create {path}")
            return "created"
        stored = self.check(got, f"read {path}").json()
        if content_hash(stored) == content_hash(coll):
            return "unchanged"
        self.put(path, coll)
        return "updated"

    def existing_items(self, cid: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids, _CHUNK):
            body = {"ids": list(chunk), "collections": [cid], "limit": len(chunk)}
            page = self.check(self.request("POST", "search", json=body), "search items").json()
            found.update({f["id"]: f for f in page.get("features", [])})
        return found

    def create_items(self, cid: str, items: Sequence[dict[str, Any]]) -> None:
        path = f"collections/{_q(cid)}/items"
        for chunk in _chunks(items, _CHUNK):
            if len(chunk) == 1:
                body: dict[str, Any] = chunk[0]
            else:
                body = {"type": "FeatureCollection", "features": list(chunk)}
            response = self.request("POST", path, json=body)
            if response.status_code == 409:  # created meanwhile by another writer: replace
                for item in chunk:
                    self.put(f"{path}/{_q(item['id'])}", item)
                continue
            self.check(response, f"add {len(chunk)} item(s) to {path}")

    def put(self, path: str, doc: dict[str, Any]) -> None:
        self.check(self.request("PUT", path, json=doc), f"update {path}")


def _strip_links(doc: dict[str, Any], *, base: Path | None, api: str | None) -> dict[str, Any]:
    links = []
    for link in doc.get("links", []):
        if link.get("rel") in _SERVER_RELS:
            continue
        link = dict(link)
        href = str(link.get("href", ""))
        item_id, coll = link.get("pantau:item_id"), link.get("pantau:collection")
        if link.get("rel") == "derived_from" and api and item_id and coll and not _is_url(href):
            link["href"] = f"{api.rstrip('/')}/collections/{_q(coll)}/items/{_q(item_id)}"
            link["type"] = "application/geo+json"
        elif href and not _is_url(href):
            link["href"] = _absolute(href, base, what=f"link {link.get('rel')!r}")
        links.append(link)
    doc["links"] = links
    return doc


def _absolute(href: str, base: Path | None, *, what: str) -> str:
    # file:// URIs, not bare paths: a client resolves a bare "/tmp/x.tif" against the item's
    # API URL (http://host/tmp/x.tif); GDAL, rasterio and odc-stac read file:// directly.
    # Not percent-encoded (Path.as_uri() would): rasterio does not decode, and unit folders
    # are named with "+".
    if _is_url(href):
        return href
    if not os.path.isabs(href):
        if base is None:
            raise StacPublishError(f"{what} has the relative href {href!r} and no file to read it")
        href = str((Path(base).parent / href).resolve())
    return "file://" + Path(href).as_posix()


def _instant(value: Any) -> Any:
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    return value


def _numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):  # jsonb in pgSTAC drops null members
        return {k: _numbers(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _is_url(href: str) -> bool:
    return urlsplit(href).scheme in ("http", "https", "s3", "gs", "az", "file")


def _q(text: str) -> str:
    return quote(str(text), safe="")


def _chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise StacPublishError(f"cannot read STAC document {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise StacPublishError(f"{path} is not a STAC JSON object")
    return data
