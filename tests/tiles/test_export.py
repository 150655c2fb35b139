"""``GET /layers/{id}/{period}/table.csv``: a layer's village values in a box or a region.

Expected rows are computed here from the fixture's villages.parquet with geopandas (lon/lat
polygons against a shapely box) and expected values are read from ``/villages/{kode}``.
``BBOX`` meets seven kelurahan of Kota Yogyakarta, and the bounding box of Caturtunggal
(3404072001) but not its polygon, so a bounds-only filter would give one row too many.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

import tiles.export
from geo.codes import kemendagri_names
from tests.tiles.conftest import DESA, KELURAHAN
from tiles.app import create_app
from tiles.settings import TilesSettings

BBOX = (110.3647, -7.7994, 110.3786, -7.7842)
BBOX_TEXT = ",".join(map(str, BBOX))
CATURTUNGGAL = "3404072001"
NDVI = [f"ndvi_{s}" for s in ("mean", "median", "std", "p10", "p90")]


def table(client: TestClient, layer: str, period: str = "2024", **params: str) -> list[list[str]]:
    """The rows of a CSV answer (header first), after checking the answer's form."""
    response = client.get(f"/layers/{layer}/{period}/table.csv", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode())
    text = response.content.decode("utf-8").removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def error(client: TestClient, url: str, status: int = 400) -> dict:
    response = client.get(url)
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def villages(products_dir: Path) -> gpd.GeoDataFrame:
    frame = gpd.read_parquet(products_dir / "villages.parquet")
    return frame[frame["period"] == "2024"].set_index("kode")


# --------------------------------------------------------------------------- content


def test_bom_header_and_values_match_the_village_card(client: TestClient) -> None:
    rows = table(client, "choropleth.ndvi_mean", region="3404")
    assert rows[0] == ["kode", "nama", "kecamatan", "kabkota", "NDVI rata-rata"]
    assert [r[0] for r in rows[1:]] == sorted(DESA)
    for kode, nama, kecamatan, kabkota, value in rows[1:]:
        card = client.get(f"/villages/{kode}").json()
        assert nama == card["nama"] and kabkota == "Kabupaten Sleman"
        assert kecamatan == kemendagri_names("kecamatan")[kode[:6]]
        assert float(value) == card["periods"]["2024"]["ndvi_mean"]  # exact: round-trip digits
    assert rows[1][:3] == ["3404012005", "Trihanggo", "Gamping"]


def test_raster_layer_gives_its_statistic_columns(client: TestClient) -> None:
    rows = table(client, "raster.ndvi", "2023", region="34.71.03")
    assert rows[0][4:] == [
        "NDVI rata-rata", "NDVI median", "NDVI simpangan baku", "NDVI persentil 10",
        "NDVI persentil 90",
    ]  # fmt: skip
    assert [r[0] for r in rows[1:]] == sorted(k for k in KELURAHAN if k.startswith("347103"))
    card = client.get(f"/villages/{rows[1][0]}").json()["periods"]["2023"]
    assert [float(v) for v in rows[1][4:]] == [card[c] for c in NDVI]


def test_english_titles(client: TestClient) -> None:
    rows = table(client, "raster.ndvi", region="3404072001", lang="en")
    assert rows[0] == ["kode", "nama", "kecamatan", "kabkota", *("NDVI " + c[5:] for c in NDVI)]
    assert len(rows) == 2 and rows[1][:4] == [CATURTUNGGAL, "Caturtunggal", "Depok",
                                              "Kabupaten Sleman"]  # fmt: skip


def test_missing_values_are_empty_cells(client: TestClient) -> None:
    rows = table(client, "choropleth.built_up_fraction", region="347113")  # Semaki: no value
    assert rows[1][0] == "3471131001" and rows[1][4] == ""
    rows = table(client, "choropleth.idm.status_idm_2024", region="3471")  # kelurahan: no IDM
    assert {r[4] for r in rows[1:]} == {""} and len(rows) == 1 + len(KELURAHAN)


def test_categories_and_indicators(client: TestClient) -> None:
    rows = table(client, "choropleth.idm.status_idm_2024", region="3404")
    for kode, *_, status in rows[1:]:
        assert status == client.get(f"/villages/{kode}").json()["indicators"]["idm.status_idm_2024"]


def test_bivariate_layer_gives_both_columns(client: TestClient) -> None:
    layer = "bivariate.built_up_fraction_change__poverty.p0_persen_2021"
    rows = table(client, layer, region="3471031004")
    assert rows[0][4:] == ["Perubahan fraksi lahan terbangun", "Kemiskinan: P0 persen 2021"]
    card = client.get("/villages/3471031004").json()
    assert float(rows[1][4]) == card["periods"]["2024"]["built_up_fraction_change"]
    assert float(rows[1][5]) == card["indicators"]["poverty.p0_persen_2021"]


# --------------------------------------------------------------------------- areas


def test_bbox_selects_villages_whose_polygon_meets_it(
    client: TestClient, villages: gpd.GeoDataFrame
) -> None:
    expected = sorted(villages.index[villages.intersects(shapely.box(*BBOX))])
    assert len(expected) == 7 and CATURTUNGGAL not in expected
    assert shapely.box(*villages.loc[CATURTUNGGAL].geometry.bounds).intersects(shapely.box(*BBOX))
    rows = table(client, "choropleth.ndvi_mean", bbox=BBOX_TEXT)
    assert [r[0] for r in rows[1:]] == expected


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("34", DESA + KELURAHAN),
        ("3471", KELURAHAN),
        ("34.04.07", [k for k in DESA if k.startswith("340407")]),
        ("3404122001", ["3404122001"]),
    ],
)
def test_region_selects_its_villages(client: TestClient, region: str, expected: list) -> None:
    rows = table(client, "choropleth.ndvi_mean", region=region)
    assert [r[0] for r in rows[1:]] == sorted(expected)


def test_file_name_from_ids(client: TestClient) -> None:
    url = "/layers/choropleth.idm.nilai_idm_2024/2024/table.csv"
    response = client.get(url, params={"region": "34.04"})
    assert response.headers["content-disposition"] == (
        'attachment; filename="pantau_choropleth.idm.nilai_idm_2024_2024_3404.csv"'
    )
    response = client.get(url, params={"bbox": BBOX_TEXT})
    assert response.headers["content-disposition"] == (
        'attachment; filename="pantau_choropleth.idm.nilai_idm_2024_2024_'
        'bbox_110.36470_-7.79940_110.37860_-7.78420.csv"'
    )


def test_row_cap(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiles.export, "MAX_ROWS", 3)
    assert len(table(client, "choropleth.ndvi_mean", region="340407")) == 4  # 3 rows: allowed
    body = error(client, "/layers/choropleth.ndvi_mean/2024/table.csv?region=3404")
    assert body["parameter"] == "region" and "more than the 3 rows" in body["detail"]


def test_names_that_look_like_formulas_are_quoted(products_dir: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(products_dir, tmp_path / "p"))
    frame = gpd.read_parquet(root / "villages.parquet")
    frame.loc[frame["kode"] == CATURTUNGGAL, "nama"] = '=HYPERLINK("http://example.com")'
    frame.to_parquet(root / "villages.parquet")
    client = TestClient(create_app(TilesSettings(products_dir=root, rescan_interval=0)))
    rows = table(client, "choropleth.ndvi_mean", region=CATURTUNGGAL)
    assert rows[1][1] == '\'=HYPERLINK("http://example.com")'
    assert float(rows[1][4]) < 0  # a negative number stays a number


# --------------------------------------------------------------------------- validation

LAYER = "/layers/choropleth.ndvi_mean/2024/table.csv"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("", "bbox"),
        (f"?bbox={BBOX_TEXT}&region=3404", "region"),
        ("?bbox=1,2,3", "bbox"),
        ("?bbox=1,2,3,4,5", "bbox"),
        ("?bbox=a,b,c,d", "bbox"),
        ("?bbox=nan,-8,111,-7", "bbox"),
        ("?bbox=110,-8,inf,-7", "bbox"),
        ("?bbox=111,-8,110,-7", "bbox"),  # west > east
        ("?bbox=110,-7,111,-7", "bbox"),  # south == north
        ("?bbox=-181,-8,111,-7", "bbox"),
        ("?bbox=110,-91,111,-7", "bbox"),
        ("?bbox=" + "1," * 3000 + "1", "bbox"),
        ("?region=3", "region"),
        ("?region=34040", "region"),
        ("?region=34.0407", "region"),
        ("?region=abc", "region"),
        ("?region=", "region"),
        ("?region=3404&lang=fr", "lang"),
        ("?region=3404&url=/etc/passwd", "url"),
        ("?region=3404&expression=b1", "expression"),
    ],
)
def test_bad_parameters_are_400(client: TestClient, query: str, parameter: str) -> None:
    assert error(client, LAYER + query)["parameter"] == parameter


@pytest.mark.parametrize("layer", ["raster.rgb", "vector.villages"])
def test_layers_without_a_village_table(client: TestClient, layer: str) -> None:
    body = error(client, f"/layers/{layer}/2024/table.csv?region=34")
    assert body["parameter"] == "layer_id" and "no per-village table" in body["detail"]


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/layers/choropleth.nope/2024/table.csv?region=34", "layer_id"),
        ("/layers/raster.ndvi/2019/table.csv?region=34", "period"),
        ("/layers/choropleth.ndvi_mean_change/2023/table.csv?region=34", "period"),  # NaN in 2023
        ("/layers/choropleth.ndvi_mean/2024/table.csv?region=35", "region"),  # none in products
        ("/layers/choropleth.ndvi_mean/2024/table.csv?region=3404992001", "region"),
    ],
)
def test_not_found(client: TestClient, url: str, parameter: str) -> None:
    assert error(client, url, 404)["parameter"] == parameter


def test_empty_bbox_gives_a_header_only(client: TestClient) -> None:
    assert table(client, "choropleth.ndvi_mean", bbox="0,0,1,1") == [
        ["kode", "nama", "kecamatan", "kabkota", "NDVI rata-rata"]
    ]


@pytest.mark.parametrize(
    "url",
    [
        "/layers/..%2F..%2Fetc%2Fpasswd/2024/table.csv?region=34",
        "/layers/choropleth.ndvi_mean/..%2F..%2Fvillages.parquet/table.csv?region=34",
        "/layers/%2Fvsicurl%2Fhttp%3A%2F%2Fexample.com%2Fa.tif/2024/table.csv?region=34",
        "/layers/choropleth.ndvi_mean/2024/table.csv?region=/etc/passwd",
        "/layers/choropleth.ndvi_mean/2024/table.csv?region=/vsicurl/http://example.com/a",
        "/layers/choropleth.ndvi_mean/2024/table.csv?bbox=/vsicurl/http://example.com/a",
        "/layers/choropleth.ndvi_mean/2024/table.csv?region=" + "3" * 10_000,
        "/layers/choropleth.ndvi_mean/2024/table.csv?bbox=" + "9" * 10_000,
        "/layers/" + "a" * 5000 + "/2024/table.csv?region=34",
        "/layers/choropleth.ndvi_mean/" + "2" * 5000 + "/table.csv?region=34",
        "/layers/choropleth.ndvi_mean/2024/table.csv?region=34%00",
        "/layers/choropleth.ndvi_mean/2024/table.csv?bbox=1e400,-8,111,-7",
    ],
)
def test_hostile_input(client: TestClient, products_dir: Path, url: str) -> None:
    response = client.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code)
    assert str(products_dir) not in response.text and "Traceback" not in response.text


def test_openapi_declares_csv(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    responses = paths["/layers/{layer_id}/{period}/table.csv"]["get"]["responses"]
    assert "text/csv" in responses["200"]["content"]
    assert {"400", "404"} <= set(responses)
    assert "'.'" in responses["200"]["description"]
