"""``GET /search``: find a village or region of the products by name or code.

The query is only ever compared with an in-memory index (:class:`~tiles.search_index.NameIndex`
over :mod:`tiles.places`), built once per products version; it never reaches GDAL, a file
path or a database. It is capped at :data:`MAX_QUERY` characters, its control and format
characters are dropped, and at most :data:`MAX_LIMIT` results are returned.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Annotated, Any, Final

from fastapi import APIRouter, Query
from starlette.requests import Request

from tiles.dependencies import catalogue, check_query
from tiles.errors import InvalidParameter, error_responses
from tiles.places import places
from tiles.search_index import NameIndex

if TYPE_CHECKING:
    from tiles.catalogue import Catalogue

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MAX_QUERY", "clean_query", "router", "search_index"]

#: Longest query accepted, in characters (the longest village name has 50 or so).
MAX_QUERY: Final = 64
DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 20


def clean_query(q: str | None) -> str:
    """The query without control/format characters and outer spaces; 400 when unusable."""
    if q is None:
        raise InvalidParameter("q: required, a name or a code such as 3404", parameter="q")
    if len(q) > MAX_QUERY:
        raise InvalidParameter(f"q: at most {MAX_QUERY} characters", parameter="q")
    # categories C*: control, format (bidi overrides, zero-width), surrogate, private, unassigned
    text = "".join(c for c in q if not unicodedata.category(c).startswith("C")).strip()
    if not text:
        raise InvalidParameter(f"q: 1 to {MAX_QUERY} characters of a name or a code", parameter="q")
    return text


def _build(cat: Catalogue) -> NameIndex:
    return NameIndex(places(cat).all())


def search_index(cat: Catalogue) -> NameIndex:
    """The search index of a catalogue, built on first use and kept for its version."""
    return cat.derived("search", _build)


router = APIRouter()


@router.get(
    "/search",
    tags=["villages"],
    operation_id="searchPlaces",
    responses=error_responses(400, 422, 503),
)
def search(
    request: Request,
    q: Annotated[
        str | None,
        Query(
            description=f"a name (prefix of the name or of a word of it; accents and case "
            f"ignored) or a code prefix (digits, dots allowed: 34.04.07); 1 to {MAX_QUERY} "
            "characters"
        ),
    ] = None,
    limit: Annotated[
        int | None, Query(description=f"results, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})")
    ] = None,
) -> dict[str, Any]:
    """Villages and regions of the products whose name or code starts with ``q``.

    Ranked: exact name, then name prefix, then word prefix (a code query: the code, then
    finer levels); on ties provinces, kab/kota and kecamatan before villages, then by name.
    ``kecamatan``, ``kabkota`` and ``province`` name the regions containing the result
    (null at and above its own level), which tells same-named villages apart. ``bounds``
    (west, south, east, north) and ``center`` (lon, lat, a point inside) are in degrees.
    """
    check_query(request, ("q", "limit"))
    n = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= n <= MAX_LIMIT:
        raise InvalidParameter(f"limit: must be between 1 and {MAX_LIMIT}", parameter="limit")
    text = clean_query(q)
    found = search_index(catalogue(request)).search(text, n)
    return {"query": text, "results": [p.to_json() for p in found]}
