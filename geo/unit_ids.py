"""Work-unit ids: ``<epsg>_x<ix>_y<iy>`` names a tile of the fixed grid (see geo.tiling).

Indices are zero-padded to four digits and signed only when negative (``32749_x0021_y-0003``):
the characters are ``[0-9_xy-]``, safe in file names, URLs, query strings and STAC ids
(stac-fastapi-pgstac refuses ``+`` in ids).

Kept apart from :mod:`geo.tiling` so readers of products (the tile server) can recognise
unit folders without importing the grid machinery (odc-geo).
"""

from __future__ import annotations

import re
from typing import Final

from geo.errors import GeoError

__all__ = ["UNIT_ID_RE", "unit_id", "parse_unit_id"]

#: A unit id: UTM EPSG code (326zz north, 327zz south), signed tile column and row.
UNIT_ID_RE: Final = re.compile(r"^(?P<epsg>32[67]\d\d)_x(?P<ix>-?\d{4,})_y(?P<iy>-?\d{4,})$")


def unit_id(epsg: int, ix: int, iy: int) -> str:
    """File-name- and URL-safe id of a tile, e.g. ``32749_x0021_y0446``."""
    return f"{epsg}_x{_signed(ix)}_y{_signed(iy)}"


def _signed(index: int) -> str:
    return f"-{-index:04d}" if index < 0 else f"{index:04d}"


def parse_unit_id(uid: str) -> tuple[int, int, int]:
    """``(epsg, ix, iy)`` of a unit id made by :func:`unit_id`."""
    match = UNIT_ID_RE.match(uid)
    if match is None:
        raise GeoError(f"{uid!r} is not a unit id like '32749_x0021_y0446'")
    return int(match["epsg"]), int(match["ix"]), int(match["iy"])
