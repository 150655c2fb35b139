"""Mapbox Vector Tiles of the villages: layer name, properties, clipping, simplification."""

from __future__ import annotations

from pathlib import Path

import mapbox_vector_tile
import pytest
import shapely
from fastapi.testclient import TestClient

import tiles.villages
from tests.tiles.conftest import DESA, KELURAHAN, tile_of, village_point
from tiles.vector import MVT_EXTENT

BACIRO = "3471031004"


def decode(client: TestClient, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = mapbox_vector_tile.decode(response.content)
    assert set(layers) == {"villages"}
    assert layers["villages"]["extent"] == MVT_EXTENT
    return layers["villages"]["features"]


def test_choropleth_mvt_properties(client: TestClient, products_dir: Path) -> None:
    z, x, y = tile_of(*village_point(products_dir, BACIRO), 13)
    url = f"/layers/choropleth.built_up_fraction/2024/tiles/{z}/{x}/{y}.pbf"
    features = decode(client, url)
    by_kode = {f["properties"]["kode"]: f["properties"] for f in features}
    props = by_kode[BACIRO]
    assert set(props) == {"kode", "nama", "value", "class", "color"}
    assert props["nama"] == "Baciro"
    village = client.get(f"/villages/{BACIRO}").json()
    assert props["value"] == pytest.approx(village["periods"]["2024"]["built_up_fraction"])
    legend = client.get("/layers/choropleth.built_up_fraction/2024/legend.json").json()
    assert props["color"] == legend["legend"][props["class"] - 1]["color"]
    assert all(len(k) == 10 and k.isdigit() for k in by_kode)


def test_missing_value_has_no_value_property(client: TestClient, products_dir: Path) -> None:
    z, x, y = tile_of(*village_point(products_dir, "3471131001"), 13)
    features = decode(client, f"/layers/choropleth.built_up_fraction/2024/tiles/{z}/{x}/{y}.pbf")
    props = next(f["properties"] for f in features if f["properties"]["kode"] == "3471131001")
    assert "value" not in props and props["class"] == 0


def test_categorical_values_are_strings(client: TestClient) -> None:
    z, x, y = tile_of(110.39, -7.75, 11)
    url = f"/layers/choropleth.idm.status_idm_2024/2024/tiles/{z}/{x}/{y}.pbf"
    values = {f["properties"].get("value") for f in decode(client, url)}
    assert values - {None} <= {"MANDIRI", "MAJU"}


def test_vector_villages(client: TestClient) -> None:
    z, x, y = tile_of(110.39, -7.75, 8)
    features = decode(client, f"/layers/vector.villages/2023/tiles/{z}/{x}/{y}.pbf")
    assert {f["properties"]["kode"] for f in features} == set(KELURAHAN + DESA)
    assert all(set(f["properties"]) == {"kode", "nama"} for f in features)
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in features)


def test_vector_villages_with_column(client: TestClient) -> None:
    z, x, y = tile_of(110.39, -7.75, 8)
    url = f"/layers/vector.villages/2023/tiles/{z}/{x}/{y}.pbf?column=poverty.p0_persen_2021"
    values = {f["properties"]["value"] for f in decode(client, url)}
    assert sorted(values) == pytest.approx([7.69, 8.64])
    bad = client.get(f"/layers/vector.villages/2023/tiles/{z}/{x}/{y}.pbf?column=../x")
    assert bad.status_code == 400 and bad.json()["parameter"] == "column"


def test_geometry_is_clipped_to_the_tile(client: TestClient) -> None:
    z, x, y = tile_of(110.39, -7.75, 15)
    features = decode(client, f"/layers/vector.villages/2023/tiles/{z}/{x}/{y}.pbf")
    buffer = MVT_EXTENT / 64
    for feature in features:
        bounds = shapely.geometry.shape(feature["geometry"]).bounds
        assert -buffer - 1 <= bounds[0] and bounds[2] <= MVT_EXTENT + buffer + 1
        assert -buffer - 1 <= bounds[1] and bounds[3] <= MVT_EXTENT + buffer + 1


def _mvt_vertices(client: TestClient, z: int) -> int:
    z, x, y = tile_of(110.39, -7.75, z)
    features = decode(client, f"/layers/vector.villages/2023/tiles/{z}/{x}/{y}.pbf")
    return sum(shapely.get_num_coordinates(shapely.geometry.shape(f["geometry"]))
               for f in features)  # fmt: skip


def test_zoomed_out_tiles_carry_simplified_polygons(
    products_dir: Path, make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    simplified = _mvt_vertices(make_client(products_dir), 8)
    # the same z8 tile from full-resolution polygons (simplification switched off)
    monkeypatch.setattr(tiles.villages, "FULL_RESOLUTION_ZOOM", 0)
    full = _mvt_vertices(make_client(products_dir), 8)
    assert simplified < full / 2


def test_raster_layers_have_no_pbf(client: TestClient) -> None:
    z, x, y = tile_of(110.39, -7.75, 11)
    assert client.get(f"/layers/raster.ndvi/2023/tiles/{z}/{x}/{y}.pbf").status_code == 404
    response = client.get(f"/layers/vector.villages/2023/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 404 and response.json()["parameter"] == "format"
