"""Search Sentinel-2 L2A scenes: STAC APIs through pystac-client, local catalogs in-process."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pystac
import requests
from pystac_client import Client
from pystac_client.conformance import ConformanceClasses
from pystac_client.exceptions import APIError

from stac.api_io import RETRY_STATUSES, open_api, unique_items
from stac.errors import StacError, StacPagingError, StacSourceError
from stac.local import search_local
from stac.parse import item_datetime
from stac.settings import StacSettings
from stac.source import StacSource

__all__ = ["BBox", "search_scenes", "open_client", "datetime_range", "normalize_bbox"]

log = logging.getLogger(__name__)

BBox = tuple[float, float, float, float]


def search_scenes(
    source: StacSource,
    *,
    bbox: Sequence[float] | None = None,
    intersects: dict[str, Any] | None = None,
    start: str | date,
    end: str | date,
    max_cloud: float = 30.0,
    max_items: int | None = None,
    client: Client | None = None,
    settings: StacSettings | None = None,
) -> list[pystac.Item]:
    """Items of ``source`` over an area (bbox or GeoJSON geometry, EPSG:4326) and a date range.

    The range includes the whole ``end`` day; items with ``eo:cloud_cover`` above
    ``max_cloud`` are left out; results are sorted by datetime, then id.

    Args:
        source: from ``resolve_source``.
        client: an already opened pystac-client Client (API sources only).
        max_items: cap on the number of items; default ``settings.max_items``.
    """
    settings = settings or StacSettings()
    area_bbox, area_geom = _area(bbox, intersects)
    when = datetime_range(start, end)
    if not 0 <= max_cloud <= 100:
        raise StacError(f"max_cloud must be a percentage in [0, 100], got {max_cloud}")
    cap = settings.max_items if max_items is None else max_items
    if cap <= 0:
        raise StacError(f"max_items must be positive, got {cap}")

    if source.is_local:
        items = search_local(
            Path(source.url_or_path),
            collection=source.collection,
            bbox=area_bbox,
            intersects=area_geom,
            datetime=when,
            max_cloud=max_cloud,
            max_items=cap,
        )
    else:
        items = _search_api(
            source,
            client=client or open_client(source, settings=settings),
            params={"bbox": area_bbox, "intersects": area_geom, "datetime": when},
            max_cloud=max_cloud,
            max_items=cap,
            settings=settings,
        )
    if len(items) >= cap:
        log.warning(
            "search of %s stopped at max_items=%d; narrow the area or dates, or raise it "
            "(--max-items / PANTAU_STAC_MAX_ITEMS)",
            source,
            cap,
        )
    return sorted(items, key=lambda item: (item_datetime(item), item.id))


def open_client(source: StacSource, *, settings: StacSettings | None = None) -> Client:
    """Open the STAC API of an API source (retrying, see stac.api_io); StacSourceError
    naming the URL and what failed if it cannot be opened."""
    if source.is_local:
        raise StacSourceError(f"{source} is a local catalog, not a STAC API")
    settings = settings or StacSettings()
    try:
        return open_api(source.url_or_path, settings=settings)
    except (APIError, requests.RequestException, pystac.STACError) as exc:
        raise _unreachable(source, exc, settings) from exc


def datetime_range(start: str | date, end: str | date) -> str:
    """The STAC datetime interval from the start of ``start`` to the end of ``end`` (UTC)."""
    first, last = _as_date(start, "start"), _as_date(end, "end")
    if first > last:
        raise StacError(f"start {first} is after end {last}; swap them")
    return f"{first.isoformat()}T00:00:00Z/{last.isoformat()}T23:59:59.999999Z"


def normalize_bbox(bbox: Sequence[float]) -> BBox:
    """A checked ``(west, south, east, north)`` tuple in EPSG:4326 degrees."""
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise StacError(f"bbox must be 4 numbers west south east north, got {bbox!r}") from exc
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise StacError(
            f"bbox {bbox!r} is not west < east, south < north in EPSG:4326 degrees; "
            "pass longitude/latitude, e.g. 110.0 -8.2 110.8 -7.5"
        )
    return west, south, east, north


def _area(
    bbox: Sequence[float] | None, intersects: dict[str, Any] | None
) -> tuple[BBox | None, dict[str, Any] | None]:
    if (bbox is None) == (intersects is None):
        raise StacError("pass exactly one of bbox or intersects (a GeoJSON geometry)")
    if intersects is not None:
        if not isinstance(intersects, dict) or "type" not in intersects:
            raise StacError("intersects must be a GeoJSON geometry dict with a 'type'")
        return None, intersects
    assert bbox is not None
    return normalize_bbox(bbox), None


def _as_date(value: str | date, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise StacError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from exc


def _search_api(
    source: StacSource,
    *,
    client: Client,
    params: dict[str, Any],
    max_cloud: float,
    max_items: int,
    settings: StacSettings,
) -> list[pystac.Item]:
    search: dict[str, Any] = {k: v for k, v in params.items() if v is not None}
    if source.collection:
        search["collections"] = [source.collection]
    cloud_filter_on_server = True
    if client.conforms_to(ConformanceClasses.FILTER):
        search["filter"] = {"op": "<=", "args": [{"property": "eo:cloud_cover"}, max_cloud]}
        search["filter_lang"] = "cql2-json"
    elif client.conforms_to(ConformanceClasses.QUERY):
        search["query"] = {"eo:cloud_cover": {"lte": max_cloud}}
    else:
        cloud_filter_on_server = False
        log.warning("%s supports neither CQL2 filter nor query; cloud cover filtered here", source)
    try:
        # max_items is applied to unique items here, not by pystac-client to raw features
        found = client.search(limit=settings.page_size, **search)
        # migrate=False: these are current STAC items; pystac's storage-extension migration
        # only warns about Earth Search hrefs it cannot parse.
        items = [
            pystac.Item.from_dict(d, migrate=False, preserve_dict=False)
            for d in unique_items(found.items_as_dicts(), max_items=max_items)
        ]
    except (APIError, requests.RequestException, pystac.STACError, StacPagingError) as exc:
        raise _unreachable(source, exc, settings) from exc
    if not cloud_filter_on_server:
        items = [i for i in items if _cloud_cover(i) <= max_cloud]
    return items


def _cloud_cover(item: pystac.Item) -> float:
    value = item.properties.get("eo:cloud_cover")
    return 100.0 if value is None else float(value)


def _unreachable(source: StacSource, exc: Exception, settings: StacSettings) -> StacSourceError:
    return StacSourceError(
        f"STAC API {source.url_or_path} failed: {_what_failed(exc, settings)}. Check the URL "
        "and your connection, or work offline with --stac PATH (a local static STAC catalog "
        "folder)"
    )


def _what_failed(exc: Exception, settings: StacSettings) -> str:
    """One line saying what went wrong, after how many retries."""
    text = str(exc).strip()
    detail = text.splitlines()[0][:300].rstrip(".") if text else type(exc).__name__
    retries = f"after {settings.max_retries} retries"
    status = getattr(exc, "status_code", None)
    if isinstance(exc, StacPagingError):
        return detail
    if status is not None:
        tried = f" {retries}" if status in RETRY_STATUSES else ""
        return f"it answered HTTP {status}{tried}: {detail}"
    cause = exc.__context__
    if isinstance(cause, requests.Timeout) or "timed out" in text.lower():
        return f"no answer within the {settings.timeout:g} s timeout, {retries}"
    if isinstance(cause, requests.ConnectionError):
        return f"cannot connect, {retries}: {detail}"
    return detail
