"""Find items in a STAC API by collection, place, time and Pantau period (pystac-client)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests

from stac.api_io import open_api, unique_items
from stac.errors import StacPagingError
from stac.settings import StacSettings
from stac.transactions import StacPublishError

__all__ = ["search_items"]


def search_items(
    api: str,
    *,
    collection: str,
    period: str | None = None,
    bbox: Sequence[float] | None = None,
    datetime: str | None = None,
    max_items: int | None = None,
    settings: StacSettings | None = None,
) -> list[dict[str, Any]]:
    """Items of ``collection`` in the STAC API (pystac-client), optionally by Pantau period.

    ``period`` filters on ``pantau:period`` with a CQL2 filter (the API must support the
    Filter extension, as stac-fastapi-pgstac does). Requests are retried and repeated
    items dropped as in :mod:`stac.api_io`.
    """
    from pystac_client.exceptions import APIError

    settings = settings or StacSettings()
    params: dict[str, Any] = {"collections": [collection]}
    if bbox is not None:
        params["bbox"] = list(bbox)
    if datetime is not None:
        params["datetime"] = datetime
    if period is not None:
        params["filter"] = {"op": "=", "args": [{"property": "pantau:period"}, str(period)]}
        params["filter_lang"] = "cql2-json"
    try:
        client = open_api(api, settings=settings)
        found = client.search(limit=settings.page_size, **params)
        return unique_items(found.items_as_dicts(), max_items=max_items)
    except (APIError, requests.RequestException, StacPagingError) as exc:
        raise StacPublishError(f"search of {collection} at {api} failed: {exc}") from exc
