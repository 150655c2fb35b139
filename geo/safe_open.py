"""Input files open only as the format their extension names.

GDAL picks a driver by a file's content, not its name, so a GDAL VRT (``<OGRVRTDataSource>``,
``<VRTDataset>``) renamed ``villages.gpkg`` would be opened as a VRT and could make Pantau read
other local files or fetch URLs (``/vsicurl/``). :func:`check_input_file` is called before any
reader touches a user's file: the extension must be one the caller accepts, the first bytes
must carry that format's signature (SQLite header for GeoPackage, ``PAR1`` for Parquet, ...),
and text formats read whole into memory have a size cap (:data:`MAX_TEXT_BYTES`). Only the
first :data:`SNIFF_BYTES` bytes are read, so a huge file is refused without being read.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from geo.errors import GeoError

__all__ = [
    "BOUNDARY_FORMATS",
    "MAX_TEXT_BYTES",
    "SNIFF_BYTES",
    "TABLE_FORMATS",
    "FileFormat",
    "check_input_file",
]

#: Bytes read from the start of a file to recognise it.
SNIFF_BYTES: Final = 4096
#: Text formats (GeoJSON, CSV) larger than this are refused: they are parsed whole in memory.
MAX_TEXT_BYTES: Final = 256 * 2**20

_VRT_MARKERS: Final = (b"<ogrvrtdatasource", b"<vrtdataset", b"<vrt")
_BOMS: Final = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _sqlite(head: bytes) -> bool:
    return head.startswith(b"SQLite format 3\x00")


def _parquet(head: bytes) -> bool:
    return head.startswith(b"PAR1")


def _shapefile(head: bytes) -> bool:
    return head.startswith(b"\x00\x00\x27\x0a")  # file code 9994, big-endian


def _flatgeobuf(head: bytes) -> bool:
    return head.startswith(b"fgb\x03")


def _zip(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


def _json_object(head: bytes) -> bool:
    return _text(head).lstrip().startswith(b"{")


def _plain_text(head: bytes) -> bool:
    return b"\x00" not in _text(head)


def _text(head: bytes) -> bytes:
    for bom in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :]
    return head


@dataclass(frozen=True)
class FileFormat:
    """One accepted input format: its name, how its first bytes look, an optional size cap."""

    name: str
    signature: Callable[[bytes], bool]
    expected: str
    max_bytes: int | None = None


GPKG = FileFormat("GeoPackage", _sqlite, "a SQLite database header")
PARQUET = FileFormat("Parquet", _parquet, "the Parquet magic bytes PAR1")
GEOJSON = FileFormat("GeoJSON", _json_object, "a JSON object '{'", MAX_TEXT_BYTES)
SHAPEFILE = FileFormat("Shapefile", _shapefile, "the shapefile header (file code 9994)")
FLATGEOBUF = FileFormat("FlatGeobuf", _flatgeobuf, "the FlatGeobuf magic bytes")
XLSX = FileFormat("Excel workbook", _zip, "a zip (xlsx) header")
CSV = FileFormat("CSV", _plain_text, "text without NUL bytes", MAX_TEXT_BYTES)

#: Boundary files by extension (GDAL driver GPKG, GeoJSON, ESRI Shapefile, FlatGeobuf).
BOUNDARY_FORMATS: Final[Mapping[str, FileFormat]] = {
    ".parquet": PARQUET,
    ".geoparquet": PARQUET,
    ".pq": PARQUET,
    ".gpkg": GPKG,
    ".geojson": GEOJSON,
    ".json": GEOJSON,
    ".shp": SHAPEFILE,
    ".fgb": FLATGEOBUF,
}
#: Indicator tables by extension (read with pandas, never GDAL).
TABLE_FORMATS: Final[Mapping[str, FileFormat]] = {
    ".csv": CSV,
    ".txt": CSV,
    ".tsv": CSV,
    ".parquet": PARQUET,
    ".pq": PARQUET,
    ".xlsx": XLSX,
    ".xlsm": XLSX,
}


def check_input_file(
    path: Path,
    formats: Mapping[str, FileFormat],
    *,
    what: str,
    expected: str,
    error: type[GeoError],
) -> FileFormat:
    """The format ``path`` must be read as; raise ``error`` if it is not plainly that format.

    Args:
        path: the user's file.
        formats: accepted extensions (lower case, with the dot) and their formats.
        what: what the file is, for messages (``boundary file``).
        expected: the accepted formats in words, for messages.
        error: the exception class to raise, with a message saying what to do.
    """
    if not path.is_file():
        raise error(f"{what} not found: {path}; pass an existing {expected}")
    fmt = formats.get(path.suffix.lower())
    cannot = f"cannot read {what} {path}:"
    if fmt is None:
        raise error(f"{cannot} unsupported extension {path.suffix!r}; expected {expected}")
    size = path.stat().st_size
    if size == 0:
        raise error(f"{cannot} the file is empty (0 bytes); export the data again as {fmt.name}")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    lowered = _text(head).lstrip().lower()
    if lowered.startswith(b"<") and any(m in lowered for m in _VRT_MARKERS):
        raise error(
            f"{cannot} it is a GDAL VRT (XML) named like {fmt.name}; Pantau opens "
            f"{path.suffix} files only as {fmt.name} and never follows a VRT's sources; pass "
            "the data file itself"
        )
    if not fmt.signature(head):
        raise error(
            f"{cannot} it does not hold {fmt.name} data (it does not start with {fmt.expected}); "
            f"rename it to its real extension or export it again; expected {expected}"
        )
    if fmt.max_bytes is not None and size > fmt.max_bytes:
        raise error(
            f"{cannot} {size / 2**20:,.0f} MiB is over the {fmt.max_bytes // 2**20} MiB limit "
            f"for {fmt.name}, which is parsed whole in memory; convert it to (Geo)Parquet, "
            f"e.g. `ogr2ogr out.parquet in{path.suffix}`"
        )
    if fmt is GEOJSON:
        _check_geojson_crs(path, cannot=cannot, error=error)
    elif fmt is GPKG:
        _check_gpkg(path, cannot=cannot, error=error)
    return fmt


def _check_geojson_crs(path: Path, *, cannot: str, error: type[GeoError]) -> None:
    """Refuse a legacy ``crs`` member that GDAL would fetch (``"type": "link"`` with a URL)."""
    data = path.read_bytes()
    if b'"crs"' not in data:
        return
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise error(f"{cannot} it is not valid JSON ({exc}); export it again") from exc
    crs = document.get("crs") if isinstance(document, dict) else None
    if crs is None:
        return
    kind = str(crs.get("type", "")).lower() if isinstance(crs, dict) else ""
    name = str((crs.get("properties") or {}).get("name", "")) if kind == "name" else ""
    if kind != "name" or "://" in name or name.lower().startswith("/vsi"):
        raise error(
            f"{cannot} it declares its CRS by a {kind or 'malformed'} reference that would be "
            "fetched; remove the 'crs' member (GeoJSON is EPSG:4326) or name the CRS, e.g. "
            '{"type": "name", "properties": {"name": "EPSG:32749"}}'
        )


def _check_gpkg(path: Path, *, cannot: str, error: type[GeoError]) -> None:
    """Refuse a GeoPackage whose schema opens other data sources (SQLite ``VirtualOGR``)."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    except sqlite3.Error as exc:
        raise error(f"{cannot} not a readable GeoPackage ({exc}); export it again") from exc
    if any("virtualogr" in str(sql).lower() for (sql,) in rows):
        raise error(
            f"{cannot} it holds a VirtualOGR table that opens other data sources; pass a "
            "plain GeoPackage"
        )
