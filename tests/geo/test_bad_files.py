"""Bad input files (issue 12, item 6) and disguised VRTs (item 2), generated small in tmp_path.

Every refused file raises one error whose message says what is wrong and what to do; every
repairable one is read and its repair reported. A loopback canary HTTP server proves that no
disguised VRT or GeoJSON CRS link makes Pantau fetch anything.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import GeometryCollection, LineString, Point, Polygon

from geo.errors import BoundaryFileError, IndicatorTableError
from geo.indicators import add_indicator_table
from geo.indicators.read import read_raw
from geo.safe_open import MAX_TEXT_BYTES
from geo.villages import load_villages

CODES = ["3404012001", "3404012002", "3404012003"]


@dataclass
class Canary:
    """A loopback HTTP server that counts every request it receives."""

    port: int
    hits: list[str] = field(default_factory=list)

    def url(self, name: str = "x.geojson") -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


@contextmanager
def serve_canary() -> Iterator[Canary]:
    """A canary on 127.0.0.1:<free port>, stopped on leaving the block."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield Canary(port=server.server_address[1], hits=hits)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    """A loopback canary for one test."""
    with serve_canary() as server:
        yield server


def ogr_vrt(url: str) -> str:
    """An OGR VRT whose layer reads ``url`` through /vsicurl/."""
    return (
        f'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/vsicurl/{url}'
        "</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>"
    )


def raster_vrt(url: str) -> str:
    """A raster VRT whose band reads ``url`` through /vsicurl/."""
    return (
        '<VRTDataset rasterXSize="1" rasterYSize="1"><VRTRasterBand dataType="Byte" band="1">'
        f"<SimpleSource><SourceFilename>/vsicurl/{url}</SourceFilename></SimpleSource>"
        "</VRTRasterBand></VRTDataset>"
    )


def test_canary_counts_requests(canary: Canary) -> None:
    """The canary can fail: GDAL opening a VRT by hand does hit it."""
    import pyogrio

    with pytest.raises(Exception):  # noqa: B017 - only the request matters here
        pyogrio.read_dataframe(f"/vsicurl/{canary.url('direct.geojson')}")
    assert canary.hits


# -- disguised files ---------------------------------------------------------------------------

BOUNDARY_DISGUISES = [".gpkg", ".geojson", ".json", ".shp", ".fgb", ".parquet", ".tif", ".csv"]


@pytest.mark.parametrize("make", [ogr_vrt, raster_vrt], ids=["ogr-vrt", "raster-vrt"])
@pytest.mark.parametrize("suffix", BOUNDARY_DISGUISES)
def test_disguised_vrt_boundaries_are_refused(
    tmp_path: Path, canary: Canary, make: Callable[[str], str], suffix: str
) -> None:
    path = tmp_path / f"villages{suffix}"
    path.write_text(make(canary.url()))
    expected = "unsupported extension" if suffix in (".tif", ".csv") else "is a GDAL VRT"
    with pytest.raises(BoundaryFileError, match=expected):
        load_villages(path)
    assert canary.hits == []


@pytest.mark.parametrize("make", [ogr_vrt, raster_vrt], ids=["ogr-vrt", "raster-vrt"])
@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet", ".tif", ".gpkg"])
def test_disguised_vrt_tables_are_refused(
    tmp_path: Path, canary: Canary, make: Callable[[str], str], suffix: str
) -> None:
    path = tmp_path / f"table{suffix}"
    path.write_text(make(canary.url()))
    expected = "unsupported extension" if suffix in (".tif", ".gpkg") else "is a GDAL VRT"
    with pytest.raises(IndicatorTableError, match=expected):
        read_raw(path, None)
    assert canary.hits == []


def test_geojson_crs_link_is_not_fetched(tmp_path: Path, canary: Canary) -> None:
    document = {
        "type": "FeatureCollection",
        "crs": {"type": "link", "properties": {"href": canary.url("crs.wkt"), "type": "ogcwkt"}},
        "features": [],
    }
    (tmp_path / "v.geojson").write_text(json.dumps(document))
    with pytest.raises(BoundaryFileError, match="reference that would be fetched"):
        load_villages(tmp_path / "v.geojson")
    assert canary.hits == []


def test_gpkg_with_virtual_ogr_is_refused(tmp_path: Path, canary: Canary) -> None:
    import sqlite3

    path = tmp_path / "v.gpkg"
    gpd.GeoDataFrame({"kode": CODES[:1]}, geometry=[square()], crs=4326).to_file(path)
    with sqlite3.connect(path) as db:  # as a VirtualOGR table would appear in the schema
        db.execute(f"CREATE VIEW evil AS SELECT 'VirtualOGR(/vsicurl/{canary.url()})' AS x")
    with pytest.raises(BoundaryFileError, match="VirtualOGR"):
        load_villages(path)
    assert canary.hits == []


# -- boundaries ----------------------------------------------------------------------------------


def square(lon: float = 110.40, lat: float = -7.75, size: float = 0.01) -> Polygon:
    """A square in degrees near Yogyakarta."""
    return Polygon([(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size)])


def frame(geometries: list, crs: object = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kode": CODES[: len(geometries)]}, geometry=geometries, crs=crs)


def sparse(path: Path, head: bytes, size: int = 500 * 2**20) -> Path:
    """A ``size``-byte file starting with ``head``, the rest a hole (nothing written)."""
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def write(data: gpd.GeoDataFrame, path: Path) -> Path:
    data.to_parquet(path) if path.suffix == ".parquet" else data.to_file(path)
    return path


def corrupt_parquet(path: Path) -> Path:
    write(frame([square()]), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


REFUSED_BOUNDARIES = {
    "empty": (lambda d: (d / "e.gpkg").touch() or d / "e.gpkg", r"empty \(0 bytes\)"),
    "no-crs": (
        lambda d: write(frame([square()]).set_crs(None, allow_override=True), d / "n.parquet"),
        "has no CRS",
    ),
    "wrong-crs": (
        lambda d: write(
            frame([Polygon([(430_000, 9_120_000), (431_000, 9_120_000), (431_000, 9_121_000)])]),
            d / "w.gpkg",
        ),
        r"not longitude/latitude.*CRS EPSG:4326.*metres declared as EPSG:4326",
    ),
    "swapped": (
        lambda d: write(
            frame([Polygon([(-7.75, 110.4), (-7.74, 110.4), (-7.74, 110.41)])]), d / "s.geojson"
        ),  # fmt: skip
        "longitude and latitude are swapped",
    ),
    "huge": (lambda d: write(frame([square(1e30, 1e30, 1e29)]), d / "h.gpkg"), "not longitude"),
    "huge-utm": (
        lambda d: write(frame([square(1e30, 1e30, 1e29)], crs=32749), d / "h.gpkg"),
        "not longitude",
    ),
    "outside-indonesia": (lambda d: write(frame([square(10.0, 50.0)]), d / "o.gpkg"), "outside"),
    "zero-area-only": (
        lambda d: write(
            frame([Polygon([(110.4, -7.7), (110.5, -7.7), (110.6, -7.7)])]), d / "z.gpkg"
        ),  # fmt: skip
        "no usable villages.*Polygon/MultiPolygon",
    ),
    "points": (
        lambda d: write(frame([Point(110.4, -7.7), Point(110.5, -7.7)]), d / "p.gpkg"),
        "no usable villages.*Polygon/MultiPolygon",
    ),
    "corrupt-parquet": (lambda d: corrupt_parquet(d / "c.parquet"), "cannot read boundary file"),
    "zero-features": (
        lambda d: (
            (d / "z.geojson").write_text('{"type": "FeatureCollection", "features": []}')
            and d / "z.geojson"
        ),
        r"has no features \(0 rows\)",
    ),
    "500MB-text": (
        lambda d: sparse(d / "big.geojson", b"kode,nama\n3404012001,Balecatur\n"),
        r"does not hold GeoJSON data \(it does not start with a JSON object",
    ),
    "500MB-geojson": (
        lambda d: sparse(d / "big.geojson", b'{"type": "FeatureCollection", "features": ['),
        r"500 MiB is over the 256 MiB limit for GeoJSON",
    ),
    "500MB-gpkg": (lambda d: sparse(d / "big.gpkg", b"x" * 100), "does not hold GeoPackage data"),
}


@pytest.mark.parametrize("case", REFUSED_BOUNDARIES)
def test_bad_boundaries_are_refused(tmp_path: Path, case: str) -> None:
    make, message = REFUSED_BOUNDARIES[case]
    path = make(tmp_path)
    with pytest.raises(BoundaryFileError, match=message):
        load_villages(path)


def test_sparse_file_is_not_read(tmp_path: Path) -> None:
    """The 500 MB corpus files take no disk: they are refused by size or first bytes."""
    path = sparse(tmp_path / "big.geojson", b"{")
    assert path.stat().st_size > MAX_TEXT_BYTES
    assert path.stat().st_blocks * 512 < 2**20


def test_self_intersecting_and_zero_area_are_repaired_or_dropped(tmp_path: Path) -> None:
    bow = Polygon([(110.40, -7.75), (110.41, -7.74), (110.41, -7.75), (110.40, -7.74)])
    flat = Polygon([(110.5, -7.7), (110.6, -7.7), (110.7, -7.7)])
    report = load_villages(write(frame([bow, flat, square()]), tmp_path / "v.gpkg")).report
    assert report.repaired_geometries == ("3404012001",)
    assert report.dropped_geometries == ("3404012002",)
    assert report.n_villages == 2


def test_geometry_collections_keep_their_polygons(tmp_path: Path) -> None:
    mixed = GeometryCollection([square(), Point(110.5, -7.7), LineString([(110, -7), (111, -7)])])
    result = load_villages(write(frame([mixed, square(110.5)]), tmp_path / "v.geojson"))
    assert result.report.repaired_geometries == ("3404012001",)
    geometry = result.villages.geometry.iloc[0]
    assert geometry.geom_type == "MultiPolygon" and geometry.area == pytest.approx(1e-4)


def test_flatgeobuf_is_read(tmp_path: Path) -> None:
    result = load_villages(write(frame([square(), square(110.5)]), tmp_path / "v.fgb"))
    assert result.villages["kode"].tolist() == CODES[:2]


# -- indicator tables ---------------------------------------------------------------------------


def add(path: Path, out: Path, **options: object):
    """Add ``path`` as table ``t`` keyed by ``kode`` against a custom master list."""
    return add_indicator_table(
        path, products_dir=out, name="t", key="kode", master=CODES, **options
    )


def stored(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "indicators" / "t.parquet")


def workbook(path: Path, rows: list[list[object]], merge: str | None = None) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "data"
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    book.save(path)
    return path


@pytest.mark.parametrize(
    ("encoding", "repair"),
    [("latin-1", "read as Latin-1"), ("utf-8-sig", "read as UTF-8 with BOM")],
)
def test_encodings_are_repaired_and_reported(
    tmp_path: Path, encoding: str, repair: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("kode;nama;nilai\n3404012001;Balécatur;1,5\n".encode(encoding))
    add(path, tmp_path / "out")
    assert stored(tmp_path / "out")["nama"].tolist() == ["Balécatur"]
    assert repair in caplog.text


def test_float_codes_lose_their_point_zero(tmp_path: Path, caplog) -> None:
    path = tmp_path / "t.csv"
    path.write_text("kode,kode_kec,nilai\n3404012001.0,340401.0,1\n3404012002.0,340401.0,2\n")
    add(path, tmp_path / "out")
    table = stored(tmp_path / "out")
    assert table["kode"].tolist() == CODES[:2] and table["kode_kec"].tolist() == ["340401"] * 2
    assert "codes in 'kode_kec' lost a '.0'" in caplog.text


def test_scientific_codes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("kode,nilai\n3.404E+09,1\n3.404E+09,2\n")
    with pytest.raises(IndicatorTableError, match=r"scientific notation \(e.g. 3.404E\+09.*Text"):
        add(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_thousands_separators(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = ["3404012001;1.234;12,345", "3404012002;1.234.567;1,234,567"]
    path.write_text("kode;penduduk;luas\n" + "\n".join(rows) + "\n")
    add(path, tmp_path / "out")
    table = stored(tmp_path / "out")
    assert table["penduduk"].tolist() == [1234.0, 1234567.0]
    assert table["luas"].tolist() == [12345.0, 1234567.0]


def test_excel_title_rows_and_merged_cells(tmp_path: Path, caplog) -> None:
    rows = [
        ["Indeks Desa Membangun 2024", None, None],
        ["Sumber: Kemendesa", None, None],
        [None, None, None],
        ["Kode", "Kecamatan", "Skor"],
        [3404012001, "Gamping", 0.5],
        [3404012002, None, 0.7],
    ]
    path = workbook(tmp_path / "t.xlsx", rows, merge="B5:B6")
    add(path, tmp_path / "out")
    table = stored(tmp_path / "out")
    assert table["kecamatan"].tolist() == ["Gamping", "Gamping"]
    assert table["skor"].tolist() == [0.5, 0.7]
    assert "3 title row(s) above the header skipped" in caplog.text
    assert "1 merged cell range(s) filled" in caplog.text


def test_excel_formulas_without_results_are_refused(tmp_path: Path) -> None:
    rows = [["kode", "a", "b"], [3404012001, 1, "=B2*2"]]
    with pytest.raises(IndicatorTableError, match=r"formula cells .*no saved result.*C2 =B2\*2"):
        add(workbook(tmp_path / "t.xlsx", rows), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_excel_header_that_cannot_be_found(tmp_path: Path) -> None:
    rows = [["Kode", "Skor", None], [3404012001, 0.5, 1], [3404012002, 0.7, 2]]
    with pytest.raises(IndicatorTableError, match="cannot find the header row"):
        add(workbook(tmp_path / "t.xlsx", rows), tmp_path / "out")


def test_excel_empty_sheet(tmp_path: Path) -> None:
    with pytest.raises(IndicatorTableError, match="sheet 'data' of t.xlsx is empty"):
        add(workbook(tmp_path / "t.xlsx", []), tmp_path / "out")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("t.csv", b"", r"empty \(0 bytes\)"),
        ("t.csv", b"\x00\x01binary", "does not hold CSV data"),
        ("t.xlsx", b"kode,nilai\n", "does not hold Excel workbook data"),
        ("t.parquet", b"PAR1 truncated", "cannot read .*t.parquet"),
        ("t.xls", b"\xd0\xcf\x11\xe0", "unsupported extension '.xls'"),
    ],
)
def test_unreadable_tables(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(IndicatorTableError, match=message):
        add(tmp_path / name, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_huge_csv_is_refused_by_size(tmp_path: Path) -> None:
    path = sparse(tmp_path / "t.csv", b"kode,nilai\n" + b"3404012001,1\n" * 400)
    with pytest.raises(IndicatorTableError, match="over the 256 MiB limit for CSV"):
        add(path, tmp_path / "out")
