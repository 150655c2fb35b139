"""Talking to STAC APIs through faults: bounded retries, whole answers, pages that end.

pystac-client's :class:`~pystac_client.stac_api_io.StacApiIO` takes a ``timeout`` and an
urllib3 ``Retry``; Pantau gives it one that retries 429 and 5xx answers, timeouts and lost
connections for POST searches too (they only read), with exponential backoff, honouring the
server's ``Retry-After`` up to a cap. What pystac-client lacks is added here:

* an answer whose body is cut (the connection closes early) or is not whole JSON is
  fetched again, with the same bound and backoff;
* a ``next`` link that repeats one already followed in this search stops the search with
  :class:`~stac.errors.StacPagingError`. We stop rather than return what we have: a loop
  means the server's paging is broken, and whether items were skipped cannot be told.
* :func:`unique_items` drops items a page repeats (same collection and id), keeping the
  first, so no item is counted twice whatever the server's paging does.

Every bound comes from :class:`~stac.settings.StacSettings`: at most ``max_retries``
retries of each request; the first retry at once, the n-th after ``backoff_base x 2^(n-1)``
seconds capped at ``backoff_max`` (urllib3's schedule: 0, 1, 2, 4 s with the defaults), or
after the server's ``Retry-After`` capped at ``retry_after_max``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import requests
from pystac.link import Link
from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from urllib3 import Retry

from stac.errors import StacPagingError
from stac.settings import StacSettings

__all__ = ["RETRY_STATUSES", "RetryingStacIO", "api_retry", "open_api", "unique_items"]

log = logging.getLogger(__name__)

#: Answers worth asking again: too many requests, and the server's own failures.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Searches only read, so POST is retried like GET.
_RETRY_METHODS = frozenset({"GET", "HEAD", "POST"})
# The body did not arrive whole: the connection closed early or the encoding broke.
_BROKEN_BODY = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)


class _CappedRetry(Retry):
    """urllib3's Retry whose honoured ``Retry-After`` is capped (older urllib3 has no cap)."""

    def __init__(self, *args: Any, retry_after_cap: float = 60.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap

    def new(self, **kw: Any) -> _CappedRetry:
        retry = super().new(**kw)
        retry.retry_after_cap = self.retry_after_cap
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), self.retry_after_cap)


def api_retry(settings: StacSettings) -> Retry:
    """The urllib3 Retry of API requests: 429/5xx, timeouts, lost connections; bounded."""
    return _CappedRetry(
        total=settings.max_retries,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=_RETRY_METHODS,
        backoff_factor=settings.backoff_base,
        backoff_max=settings.backoff_max,
        respect_retry_after_header=True,
        retry_after_cap=settings.retry_after_max,
        # the last error answer is returned, so the error names its status and body
        raise_on_status=False,
    )


class RetryingStacIO(StacApiIO):
    """StacApiIO that also re-fetches cut or invalid JSON answers and refuses looping pages."""

    def __init__(self, settings: StacSettings, **kwargs: Any) -> None:
        super().__init__(timeout=settings.timeout, max_retries=api_retry(settings), **kwargs)
        self.settings = settings

    def read_json(self, source: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The JSON at ``source``; a cut or unparsable answer is fetched again (bounded)."""
        retries = self.settings.max_retries
        for attempt in range(retries + 1):
            try:
                return super().read_json(source, *args, **kwargs)
            except json.JSONDecodeError as exc:  # orjson's error is a subclass
                problem = f"it answered with JSON that is not whole ({exc})"
            except APIError as exc:
                if not isinstance(exc.__context__, _BROKEN_BODY):
                    raise
                problem = "the connection closed before the whole answer arrived"
            if attempt < retries:
                # urllib3's schedule: the first retry at once, the n-th after base x 2^(n-1)
                wait = min(self.settings.backoff_max, self.settings.backoff_base * 2**attempt)
                wait = wait if attempt else 0.0
                log.warning("%s: %s; retrying in %.2f s", _href(source), problem, wait)
                time.sleep(wait)
        raise APIError(f"{problem}, after {retries} retries")

    def get_pages(
        self, url: str, method: str | None = None, parameters: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """pystac-client's paging, stopping with StacPagingError when a next link repeats."""
        page = self.read_json(url, method=method, parameters=parameters)
        followed: dict[str, int] = {}
        number = 1
        while page.get("features") or page.get("collections"):
            yield page
            link = next((ln for ln in page.get("links", []) if ln.get("rel") == "next"), None)
            if link is None:
                return
            key = json.dumps(
                [link.get("href"), link.get("method", "GET"), link.get("body")], sort_keys=True
            )
            if key in followed:
                raise StacPagingError(
                    f"its search pages loop: the next link of page {number} repeats the one of "
                    f"page {followed[key]}, so the pages would never end and items may be "
                    "missing; report it to the API's operators"
                )
            followed[key] = number
            page = self.read_json(Link.from_dict(link), parameters=parameters)
            number += 1


def open_api(url: str, *, settings: StacSettings | None = None, **kwargs: Any) -> Client:
    """pystac-client's ``Client.open`` with Pantau's retrying IO (errors as pystac-client's)."""
    settings = settings or StacSettings()
    return Client.open(url, stac_io=RetryingStacIO(settings), timeout=settings.timeout, **kwargs)


def unique_items(
    features: Iterable[dict[str, Any]], *, max_items: int | None = None
) -> list[dict[str, Any]]:
    """Item dicts once each (by collection and id, the first kept), up to ``max_items``."""
    seen: set[tuple[Any, Any]] = set()
    items: list[dict[str, Any]] = []
    repeated = 0
    for feature in features:
        key = (feature.get("collection"), feature.get("id"))
        if key in seen:
            repeated += 1
            continue
        seen.add(key)
        items.append(feature)
        if max_items is not None and len(items) >= max_items:
            break
    if repeated:
        log.warning("the API repeated %d item(s) across its pages; each is kept once", repeated)
    return items


def _href(source: Any) -> str:
    return str(source.href if isinstance(source, Link) else source)
