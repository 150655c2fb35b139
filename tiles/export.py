"""``GET /layers/{id}/{period}/table.csv``: a layer's village values in an area, as CSV.

The area is a lon/lat box (``bbox=w,s,e,n``: the villages whose polygon meets it) or a
region (``region=34``, ``3404``, ``340407`` or a village code: its villages in the products).
The columns are the layer's: a choropleth's column, a bivariate layer's two, a raster
product's per-village statistic columns (``geo.products`` ``statistics``). The file is
UTF-8 with a byte-order mark, so Excel opens names such as ``Ngémplak`` right; numbers use
``.`` as the decimal separator (the CSV convention; a spreadsheet set to Indonesian reads
them through its text import), empty cells are missing values. The file name is built from
validated ids only.

A sensitive layer's table (:mod:`tiles.sensitive`) needs an access token, holds only the
villages inside its scope (a region outside it: 403), adds a column saying which rows are
suppressed, and is answered ``Cache-Control: private, no-store``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Final

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query
from pyproj import Transformer
from starlette.requests import Request
from starlette.responses import Response

from tiles.dependencies import catalogue, check_query
from tiles.errors import (
    InvalidParameter,
    OutOfScope,
    PeriodNotFound,
    VillageNotFound,
    error_responses,
)
from tiles.legend import SUPPRESSED_TITLES
from tiles.places import places
from tiles.sensitive import (
    PRIVATE,
    Access,
    flag_column,
    flag_values,
    layer_grant,
    request_access,
)
from tiles.villages import FULL_RESOLUTION_ZOOM

if TYPE_CHECKING:
    from tiles.catalogue import Catalogue, Layer
    from tiles.villages import Column, VillageData

__all__ = ["CSV_MEDIA_TYPE", "MAX_ROWS", "parse_bbox", "router", "table_columns"]

CSV_MEDIA_TYPE: Final = "text/csv; charset=utf-8"
#: Rows a table holds at most (Indonesia has 83,762 villages).
MAX_ROWS = 100_000
_MAX_TEXT: Final = 200
_REGION_RE: Final = re.compile(r"^(\d{2}|\d{4}|\d{6}|\d{10}|\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?)$")
_FILE_RE: Final = re.compile(r"[^A-Za-z0-9_.-]+")
#: Web mercator stops short of the poles; boxes are clipped to it.
_MAX_LAT: Final = 85.05112878
_TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
_HEADER: Final = ("kode", "nama", "kecamatan", "kabkota")
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``w,s,e,n`` in degrees: four finite numbers, w < e, s < n, within ±180 / ±90."""
    if len(text) > _MAX_TEXT:
        raise InvalidParameter(f"bbox: at most {_MAX_TEXT} characters", parameter="bbox")
    parts = text.split(",")
    try:
        values = [float(p) for p in parts] if len(parts) == 4 else []
    except ValueError:
        values = []
    if not values:
        raise InvalidParameter(
            "bbox: expected four numbers west,south,east,north in degrees", parameter="bbox"
        )
    w, s, e, n = values
    if not all(math.isfinite(v) for v in values):
        raise InvalidParameter("bbox: values must be finite", parameter="bbox")
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InvalidParameter(
            "bbox: need -180 <= west < east <= 180 and -90 <= south < north <= 90",
            parameter="bbox",
        )
    return (w, s, e, n)


def _region_code(text: str) -> str:
    if len(text) > _MAX_TEXT or not _REGION_RE.match(text):
        raise InvalidParameter(
            "region: expected a Kemendagri code of 2, 4, 6 or 10 digits such as 34, 3404, "
            "34.04.07 or 3404072001",
            parameter="region",
        )
    return text.replace(".", "")


def table_columns(cat: Catalogue, layer: Layer) -> list[Column]:
    """The village columns of a layer's table; 400 when it has none."""
    v = cat.villages
    ids: list[str] = []
    if layer.kind == "choropleth" and layer.column:
        ids = [layer.column]
    elif layer.kind == "bivariate":
        ids = [c for c in (layer.x, layer.y) if c]
    elif layer.raster:
        ids = list(cat.products[layer.raster].statistics)
    columns = [v.columns[c] for c in ids if v is not None and c in v.columns]
    if not columns:
        raise InvalidParameter(
            f"layer_id: {layer.id} has no per-village table (no village statistics); choose "
            "a choropleth layer or an index layer",
            parameter="layer_id",
        )
    return columns


def _rows_in_bbox(v: VillageData, bbox: tuple[float, float, float, float]) -> np.ndarray:
    """Indices of the villages whose polygon meets the lon/lat box (exact, in mercator).

    Web mercator maps lon to x and lat to y separately, so the box is a box there too.
    """
    w, s, e, n = bbox
    xs, ys = _TO_MERCATOR.transform([w, e], [max(s, -_MAX_LAT), min(n, _MAX_LAT)], errcheck=True)
    return v.geometry_for_zoom(FULL_RESOLUTION_ZOOM).query((xs[0], ys[0], xs[1], ys[1]))


def _rows_in_region(v: VillageData, code: str) -> np.ndarray:
    """Indices of the villages whose code starts with ``code`` (codes are sorted)."""
    kodes = v.kodes.astype(str)
    lo, hi = kodes.searchsorted(code), kodes.searchsorted(code + ":")  # ":" follows "9"
    return np.arange(lo, hi)


def _text(value: str) -> str:
    """Text a spreadsheet will not run as a formula (``=...`` is shown, not evaluated)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _cell(value: Any) -> str:
    """A CSV cell: '' for missing, shortest round-trip text for numbers ('.' decimals)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value)) if math.isfinite(value) else ""
    return _text(str(value))


def _filename(layer: Layer, period: str, area: str) -> str:
    return _FILE_RE.sub("_", f"pantau_{layer.id}_{period}_{area}") + ".csv"


router = APIRouter()


@router.get(
    "/layers/{layer_id}/{period}/table.csv",
    tags=["layers"],
    operation_id="getLayerTable",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {}},
            "description": "UTF-8 CSV with a byte-order mark; '.' decimal separator",
        },
        **error_responses(400, 401, 403, 404, 422, 503),
    },
)
def layer_table(
    request: Request,
    access: Annotated[Access, Depends(request_access)],
    layer_id: Annotated[str, Path(max_length=250, description="layer id (see GET /layers)")],
    period: Annotated[str, Path(max_length=16, description="period label, e.g. 2024")],
    bbox: Annotated[
        str | None,
        Query(description="west,south,east,north in degrees: villages meeting this box"),
    ] = None,
    region: Annotated[
        str | None,
        Query(description="Kemendagri code (34, 3404, 34.04.07, 3404072001): its villages"),
    ] = None,
    lang: Annotated[
        str | None, Query(description="language of the value columns' titles: id (default), en")
    ] = None,
) -> Response:
    """The layer's values per village in a period, for a box or a region, as CSV.

    Give exactly one of ``bbox`` and ``region``. Columns: ``kode``, ``nama``, ``kecamatan``,
    ``kabkota``, then one per value column of the layer, titled in ``lang`` (a choropleth:
    its column; a raster index: its per-village statistics). The file is UTF-8 with a
    byte-order mark (Excel); numbers are written with ``.`` as the decimal separator and
    shortest round-trip digits; an empty cell is a missing value. Rows are sorted by code,
    at most 100,000. A sensitive layer's table needs an access token, holds the villages
    inside its scope only, and ends with a column saying which rows are suppressed.
    """
    check_query(request, ("bbox", "region", "lang"))
    if (bbox is None) == (region is None):
        name = "bbox" if bbox is None else "region"
        raise InvalidParameter(
            f"{name}: give exactly one of bbox=west,south,east,north or region=<code>",
            parameter=name,
        )
    if lang not in (None, "id", "en"):
        raise InvalidParameter("lang: must be id or en", parameter="lang")
    cat = catalogue(request)
    layer = cat.layer(layer_id)
    grant = layer_grant(access, cat, layer)
    cat.require_period(layer, period)
    columns = table_columns(cat, layer)
    v = cat.villages
    assert v is not None  # table_columns found columns in it
    if period not in v.periods and any(c.source == "villages" for c in columns):
        raise PeriodNotFound(
            "period: the village table has no statistics for this period", parameter="period"
        )
    if bbox is not None:
        box = parse_bbox(bbox)
        rows, parameter = _rows_in_bbox(v, box), "bbox"
        area = "bbox_" + "_".join(f"{x:.5f}" for x in box)
    else:
        code = _region_code(region or "")
        if grant is not None and not grant.overlaps(code):
            raise OutOfScope(
                f"token: this token covers {grant.label} only; region {code} is outside it",
                parameter="token",
            )
        rows, parameter, area = _rows_in_region(v, code), "region", code
        if not len(rows):
            raise VillageNotFound(
                "region: no village of this region in the products", parameter="region"
            )
    if grant is not None and grant.scope:
        rows = rows[v.kodes.astype(str)[rows].str.startswith(grant.scope)]
    if len(rows) > MAX_ROWS:
        raise InvalidParameter(
            f"{parameter}: {len(rows)} villages, more than the {MAX_ROWS} rows of a table; "
            "choose a smaller area",
            parameter=parameter,
        )
    headers = {"Content-Disposition": f'attachment; filename="{_filename(layer, period, area)}"'}
    if grant is not None:
        headers.update({"Cache-Control": PRIVATE, "Vary": "Authorization"})
    flags = sorted({c.source for c in columns if c.source in cat.sensitive})
    return Response(
        _csv(cat, columns, period, rows, english=lang == "en", flags=flags),
        media_type=CSV_MEDIA_TYPE,
        headers=headers,
    )


def _csv(
    cat: Catalogue,
    columns: list[Column],
    period: str,
    rows: np.ndarray,
    *,
    english: bool,
    flags: Sequence[str] = (),
) -> bytes:
    v = cat.villages
    assert v is not None
    villages = places(cat).villages
    values = [v.values(c, period).to_numpy(dtype=object)[rows] for c in columns]
    for table in flags:  # which rows a sensitive table suppresses
        flag = v.indicators.get(flag_column(table))
        values.append(flag_values(flag, len(v.kodes))[rows].astype(object))
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)  # quotes what needs quoting; rows end in CRLF (RFC 4180)
    titles = [c.title if english else (c.title_id or c.title) for c in columns]
    suppressed = SUPPRESSED_TITLES["en" if english else "id"]
    titles += [suppressed if len(flags) == 1 else f"{t}: {suppressed}" for t in flags]
    writer.writerow([*_HEADER, *titles])
    for j, i in enumerate(rows):
        place = villages[i]
        cells = [_cell(col[j]) for col in values]
        names = (place.name, place.kecamatan or "", place.kabkota or "")
        writer.writerow([place.kode, *map(_text, names), *cells])
    return out.getvalue().encode("utf-8")
