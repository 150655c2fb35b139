"""Discovery and data endpoints: /layers, TileJSON, WMTS, /villages, /healthz, CORS."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo.products import PRODUCTS
from tests.tiles.conftest import DESA, KELURAHAN, NO_VALUE_KODE, PERIODS, png

NS = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}
YOGYA = (110.2, -7.95, 110.6, -7.55)  # lon/lat box around the fixture


@pytest.fixture(scope="module")
def layers(client: TestClient) -> dict[str, dict]:
    response = client.get("/layers")
    assert response.status_code == 200
    return {layer["id"]: layer for layer in response.json()}


def test_healthz(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["periods"] == list(PERIODS)
    assert len(body["version"]) == 16


@pytest.mark.parametrize(
    "layer_id",
    [
        "raster.rgb",
        "raster.ndvi",
        "raster.ndbi",
        "raster.mndwi",
        "raster.bsi",
        "raster.built_up",
        "raster.clear_count",
        "choropleth.built_up_fraction",
        "choropleth.ndvi_mean",
        "choropleth.built_up_fraction_change",
        "choropleth.idm.status_idm_2024",
        "choropleth.idm.nilai_idm_2024",
        "choropleth.poverty.p0_persen_2021",
        "bivariate.built_up_fraction_change__poverty.p0_persen_2021",
        "bivariate.built_up_fraction_change__idm.nilai_idm_2024",
        "vector.villages",
    ],
)
def test_expected_layers_are_listed(layers: dict[str, dict], layer_id: str) -> None:
    layer = layers[layer_id]
    assert layer["kind"] == layer_id.split(".")[0]
    assert layer["title"]
    assert layer["periods"]
    assert layer["tilejson"].startswith("http://testserver/layers/")
    assert layer["tilejson"].endswith(f"/{layer['periods'][-1]}/tilejson.json")
    assert isinstance(layer["legend"], list | dict)


def test_identifier_columns_are_not_layers(layers: dict[str, dict]) -> None:
    assert "choropleth.idm.nama_desa" not in layers
    assert not any(lid.endswith((".kode", ".nama", ".period")) for lid in layers)


def test_change_columns_skip_the_first_period(layers: dict[str, dict]) -> None:
    assert layers["choropleth.built_up_fraction_change"]["periods"] == ["2024"]
    assert layers["choropleth.built_up_fraction"]["periods"] == list(PERIODS)


def test_numeric_layer_has_range_and_breaks(layers: dict[str, dict]) -> None:
    layer = layers["choropleth.built_up_fraction"]
    lo, hi = layer["range"]
    assert 0 <= lo < hi <= 1
    assert len(layer["breaks"]) == 4  # 5 quantile classes by default
    assert len(layer["legend"]) == 6  # + no data
    assert layer["legend"][-1]["label"] == "no data"
    assert layer["legend"][-1]["counts"] == {"2023": 0, "2024": 1}
    assert sum(e["counts"]["2024"] for e in layer["legend"]) == len(KELURAHAN + DESA)


def test_categorical_layer_keeps_natural_order(layers: dict[str, dict]) -> None:
    layer = layers["choropleth.idm.status_idm_2024"]
    natural = ["MANDIRI", "MAJU", "BERKEMBANG", "TERTINGGAL", "SANGAT TERTINGGAL"]
    assert layer["categories"] == [c for c in natural if c in layer["categories"]]
    assert [e["label"] for e in layer["legend"][:-1]] == layer["categories"]
    # kelurahan have no IDM: counted as no data
    assert layer["legend"][-1]["counts"]["2024"] == len(KELURAHAN)


@pytest.mark.parametrize("name", ["ndvi", "ndbi", "mndwi", "bsi", "built_up", "clear_count"])
def test_raster_layer_range_and_stops_follow_the_registry(
    layers: dict[str, dict], name: str
) -> None:
    (lo, hi), *_ = PRODUCTS[name].rescale
    layer = layers[f"raster.{name}"]
    assert layer["title"] == PRODUCTS[name].title
    assert layer["range"] == [lo, hi]
    assert [e["value"] for e in layer["legend"]] == pytest.approx(np.linspace(lo, hi, 5))


def test_true_colour_has_no_legend(layers: dict[str, dict]) -> None:
    assert layers["raster.rgb"]["legend"] == []


def test_statistic_columns_take_registry_titles(layers: dict[str, dict]) -> None:
    titles = PRODUCTS.column_titles()
    assert layers["choropleth.ndvi_mean"]["title"] == titles["ndvi_mean"] == "NDVI mean"
    change = layers["choropleth.built_up_fraction_change"]["title"]
    assert change == titles["built_up_fraction"] + " change"
    assert layers["choropleth.idm.nilai_idm_2024"]["title"] == "IDM: Nilai IDM 2024"


def test_layers_have_titles_in_both_languages(layers: dict[str, dict]) -> None:
    for layer in layers.values():
        assert layer["titles"]["en"] == layer["title"] and layer["titles"]["id"]
    assert layers["raster.ndvi"]["titles"] == {"id": "NDVI (vegetasi)", "en": "NDVI (vegetation)"}
    assert layers["choropleth.ndvi_mean"]["titles"]["id"] == "NDVI rata-rata"
    assert layers["choropleth.ndvi_p10"]["titles"]["id"] == "NDVI persentil 10"
    built_up = layers["choropleth.built_up_fraction_change"]["titles"]
    assert built_up == {"id": "Perubahan fraksi lahan terbangun", "en": "Built-up fraction change"}
    assert layers["choropleth.valid_fraction"]["titles"]["id"].startswith("Fraksi area")
    assert layers["vector.villages"]["titles"]["id"] == "Batas desa/kelurahan"
    pair = layers["bivariate.built_up_fraction_change__poverty.p0_persen_2021"]["titles"]
    assert pair["id"] == "Perubahan fraksi lahan terbangun × Kemiskinan: P0 persen 2021"


@pytest.mark.parametrize("name", ["ndvi", "ndbi", "mndwi", "bsi", "built_up", "clear_count"])
def test_index_layers_have_descriptions_in_both_languages(
    layers: dict[str, dict], name: str
) -> None:
    product = PRODUCTS[name]
    expected = {"id": product.description_id, "en": product.description}
    assert layers[f"raster.{name}"]["descriptions"] == expected
    column = next(iter(product.statistics))
    assert layers[f"choropleth.{column}"]["descriptions"] == expected


def test_indicator_layers_have_no_description(layers: dict[str, dict]) -> None:
    assert "descriptions" not in layers["choropleth.idm.nilai_idm_2024"]
    assert "descriptions" not in layers["vector.villages"]


def test_bivariate_layer_has_3x3_legend(layers: dict[str, dict]) -> None:
    legend = layers["bivariate.built_up_fraction_change__poverty.p0_persen_2021"]["legend"]
    assert len(legend["cells"]) == 3 and all(len(row) == 3 for row in legend["cells"])
    colors = {cell["color"] for row in legend["cells"] for cell in row}
    assert len(colors) == 9
    assert legend["x"]["column"] == "built_up_fraction_change"
    assert legend["y"]["column"] == "poverty.p0_persen_2021"
    assert len(legend["x"]["breaks"]) == 2


def test_bivariate_pair_by_query(client: TestClient) -> None:
    response = client.get("/bivariate", params={"x": "ndvi_mean", "y": "idm.nilai_idm_2024"})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "bivariate.ndvi_mean__idm.nilai_idm_2024"
    tilejson = client.get(body["tilejson"]).json()
    assert tilejson["tiles"][0].endswith(".png?v=" + tilejson["version"])


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"x": "nope", "y": "idm.nilai_idm_2024"}, "x"),
        ({"x": "ndvi_mean", "y": "idm.status_idm_2024"}, "y"),  # categorical
        ({"x": "ndvi_mean", "y": "ndvi_mean"}, "y"),
        ({"x": "../../etc/passwd", "y": "ndvi_mean"}, "x"),
    ],
)
def test_bivariate_pair_is_validated(client: TestClient, params: dict, bad: str) -> None:
    response = client.get("/bivariate", params=params)
    assert response.status_code == 400
    assert response.json()["parameter"] == bad


def test_tilejson_raster(client: TestClient) -> None:
    body = client.get("/layers/raster.ndvi/2024/tilejson.json?rescale=-0.5,0.5").json()
    assert body["tilejson"] == "3.0.0"
    assert body["minzoom"] == 0 and body["maxzoom"] == 18
    west, south, east, north = body["bounds"]
    assert YOGYA[0] < west < east < YOGYA[2] and YOGYA[1] < south < north < YOGYA[3]
    url = body["tiles"][0]
    assert url.startswith("http://testserver/layers/raster.ndvi/2024/tiles/{z}/{x}/{y}.png?")
    assert "rescale=-0.5%2C0.5" in url and "v=" in url
    assert "vector_layers" not in body


def test_tilejson_tiles_url_works(client: TestClient) -> None:
    body = client.get("/layers/choropleth.built_up_fraction/2024/tilejson.json").json()
    lon, lat, _ = body["center"]
    from tests.tiles.conftest import tile_of

    z, x, y = tile_of(lon, lat, 12)
    url = body["tiles"][0].format(z=z, x=x, y=y)
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=86400"  # v= current
    assert png(response.content).shape == (4, 256, 256)


def test_tilejson_vector(client: TestClient) -> None:
    url = "/layers/choropleth.idm.status_idm_2024/2023/tilejson.json?tile_format=pbf"
    body = client.get(url).json()
    assert body["tiles"][0].split("?")[0].endswith("/tiles/{z}/{x}/{y}.pbf")
    (layer,) = body["vector_layers"]
    assert layer["id"] == "villages"
    assert {"kode", "nama", "value", "class", "color"} <= set(layer["fields"])
    assert layer["fields"]["value"] == "String"


def test_tilejson_of_vector_villages_is_pbf(client: TestClient) -> None:
    body = client.get("/layers/vector.villages/2024/tilejson.json").json()
    assert ".pbf" in body["tiles"][0]
    assert set(body["vector_layers"][0]["fields"]) == {"kode", "nama"}


def test_wmts_capabilities(client: TestClient, layers: dict[str, dict]) -> None:
    response = client.get("/wmts/WMTSCapabilities.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.opengis.net/wmts/1.0}Capabilities"
    assert root.get("version") == "1.0.0"
    found = {e.text for e in root.findall("w:Contents/w:Layer/ows:Identifier", NS)}
    expected = {
        f"{lid}@{p}" for lid, layer in layers.items() if "png" in layer["formats"]
        for p in layer["periods"]
    }  # fmt: skip
    assert found == expected
    assert "raster.ndvi@2023" in found and "choropleth.idm.status_idm_2024@2024" in found
    (tms,) = root.findall("w:Contents/w:TileMatrixSet", NS)
    assert tms.find("ows:Identifier", NS).text == "WebMercatorQuad"
    assert len(tms.findall("w:TileMatrix", NS)) == 19
    assert tms.find("ows:SupportedCRS", NS).text == "urn:ogc:def:crs:EPSG::3857"


def test_wmts_resource_url_serves_tiles(client: TestClient) -> None:
    root = ET.fromstring(client.get("/wmts/WMTSCapabilities.xml").content)
    for layer in root.findall("w:Contents/w:Layer", NS):
        if layer.find("ows:Identifier", NS).text == "raster.ndvi@2024":
            break
    template = layer.find("w:ResourceURL", NS).get("template")
    limits = layer.findall("w:TileMatrixSetLink/w:TileMatrixSetLimits/w:TileMatrixLimits", NS)
    z13 = next(lim for lim in limits if lim.find("w:TileMatrix", NS).text == "13")
    col = int(z13.find("w:MinTileCol", NS).text) + 1
    row = int(z13.find("w:MinTileRow", NS).text) + 1
    url = template.format(TileMatrix=13, TileCol=col, TileRow=row)
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert png(response.content).shape == (4, 256, 256)


def test_village(client: TestClient) -> None:
    body = client.get(f"/villages/{NO_VALUE_KODE}").json()
    assert body["kode"] == NO_VALUE_KODE
    assert body["nama"] == "Semaki"
    assert set(body["periods"]) == set(PERIODS)
    assert body["periods"]["2024"]["built_up_fraction"] is None
    assert body["periods"]["2023"]["built_up_fraction_change"] is None
    assert 0 <= body["periods"]["2023"]["built_up_fraction"] <= 1
    # a kab-level table applies to every village of the kab; kelurahan have no IDM
    assert body["indicators"]["poverty.p0_persen_2021"] == pytest.approx(7.69)
    assert body["indicators"]["idm.status_idm_2024"] is None


def test_village_desa_has_idm_and_its_kab_poverty(client: TestClient) -> None:
    body = client.get("/villages/34.04.07.2001").json()  # dotted form accepted
    assert body["nama"] == "Caturtunggal"
    assert body["indicators"]["poverty.p0_persen_2021"] == pytest.approx(8.64)
    assert body["indicators"]["idm.status_idm_2024"] in ("MANDIRI", "MAJU")
    assert 0 < body["indicators"]["idm.nilai_idm_2024"] <= 1


def test_unknown_village_is_404(client: TestClient) -> None:
    response = client.get("/villages/3471999999")
    assert response.status_code == 404
    assert response.json()["parameter"] == "kode"


@pytest.mark.parametrize("kode", ["12345", "347101100x", "34710110011", "34-71-01-1001"])
def test_malformed_village_code_is_400(client: TestClient, kode: str) -> None:
    response = client.get(f"/villages/{kode}")
    assert response.status_code == 400
    assert response.json()["parameter"] == "kode"


def test_no_cors_by_default(client: TestClient) -> None:
    response = client.get("/layers", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_from_settings(products_dir: Path, make_client) -> None:
    app_client = make_client(products_dir, cors_origins=["https://maps.example.org"])
    ok = app_client.get("/healthz", headers={"Origin": "https://maps.example.org"})
    assert ok.headers["access-control-allow-origin"] == "https://maps.example.org"
    other = app_client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_openapi_lists_the_tile_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert any(p.endswith("/tiles/{z}/{x}/{y}.{format}") for p in paths)
    assert "/wmts/WMTSCapabilities.xml" in paths
