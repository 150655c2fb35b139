"""Choropleth and bivariate PNG tiles: colours match the legend, no-data villages hatched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from tests.tiles.conftest import DESA, NO_VALUE_KODE, pixel_of, png, tile_of, village_point
from tiles.legend import HATCH_COLOR, NO_DATA_COLOR, hex_to_rgba
from tiles.villages import VillageData

BACIRO = "3471031004"
CATURTUNGGAL = "3404072001"


def village_pixel(
    client: TestClient, products: Path, layer: str, kode: str, period: str, z: int = 14,
    query: str = "",
) -> tuple[int, ...]:  # fmt: skip
    lon, lat = village_point(products, kode)
    z, x, y = tile_of(lon, lat, z)
    response = client.get(f"/layers/{layer}/{period}/tiles/{z}/{x}/{y}.png{query}")
    assert response.status_code == 200, response.text
    image = png(response.content)
    assert image.shape == (4, 256, 256) and image.dtype == np.uint8
    row, col = pixel_of(lon, lat, z, x, y)
    return tuple(int(v) for v in image[:, row, col])


def expected_color(client: TestClient, layer: str, kode: str, period: str, query: str = "") -> str:
    legend = client.get(f"/layers/{layer}/{period}/legend.json{query}").json()
    value = client.get(f"/villages/{kode}").json()["periods"][period][layer.split(".", 1)[1]]
    index = int(np.digitize(value, legend["breaks"], right=True))
    return legend["legend"][index]["color"]


@pytest.mark.parametrize("period", ["2023", "2024"])
@pytest.mark.parametrize("kode", [BACIRO, CATURTUNGGAL])
def test_village_colour_matches_legend(
    client: TestClient, products_dir: Path, kode: str, period: str
) -> None:
    layer = "choropleth.built_up_fraction"
    color = expected_color(client, layer, kode, period)
    assert village_pixel(client, products_dir, layer, kode, period) == hex_to_rgba(color)


@pytest.mark.parametrize(
    "query", ["?n_classes=3", "?classification=equal_interval&n_classes=7", "?breaks=0.3,0.6"]
)
def test_classification_options(client: TestClient, products_dir: Path, query: str) -> None:
    layer = "choropleth.ndvi_mean"
    legend = client.get(f"/layers/{layer}/2024/legend.json{query}").json()
    n = len(legend["breaks"]) + 1
    if "n_classes=" in query:
        assert n == int(query.rsplit("=", 1)[1])
    else:
        assert legend["breaks"] == [0.3, 0.6]
    assert len(legend["legend"]) == n + 1
    color = expected_color(client, layer, BACIRO, "2024", query)
    pixel = village_pixel(client, products_dir, layer, BACIRO, "2024", query=query)
    assert pixel == hex_to_rgba(color)


def test_village_without_value_is_hatched_grey(client: TestClient, products_dir: Path) -> None:
    lon, lat = village_point(products_dir, NO_VALUE_KODE)
    z, x, y = tile_of(lon, lat, 15)
    url = f"/layers/choropleth.built_up_fraction/2024/tiles/{z}/{x}/{y}.png"
    image = png(client.get(url).content)
    row, col = pixel_of(lon, lat, z, x, y)
    patch = image[:, row - 6 : row + 6, col - 6 : col + 6].reshape(4, -1).T
    colours = {tuple(int(v) for v in c) for c in patch}
    assert colours == {hex_to_rgba(NO_DATA_COLOR), hex_to_rgba(HATCH_COLOR)}
    legend = client.get("/layers/choropleth.built_up_fraction/2024/legend.json").json()
    assert legend["legend"][-1] == {
        "label": "no data", "color": NO_DATA_COLOR, "pattern": "hatch", "count": 1,
    }  # fmt: skip


def test_categorical_colour(client: TestClient, products_dir: Path) -> None:
    layer = "choropleth.idm.status_idm_2024"
    status = client.get(f"/villages/{CATURTUNGGAL}").json()["indicators"]["idm.status_idm_2024"]
    legend = client.get(f"/layers/{layer}/2024/legend.json").json()
    assert legend["kind"] == "categorical"
    color = next(e["color"] for e in legend["legend"] if e["label"] == status)
    assert village_pixel(client, products_dir, layer, CATURTUNGGAL, "2024") == hex_to_rgba(color)
    # a kelurahan has no IDM: grey
    assert village_pixel(client, products_dir, layer, BACIRO, "2024")[:3] in {
        hex_to_rgba(NO_DATA_COLOR)[:3], hex_to_rgba(HATCH_COLOR)[:3]
    }  # fmt: skip
    assert legend["legend"][-1]["count"] == 20 - len(DESA)


def test_bivariate_colour(client: TestClient, products_dir: Path) -> None:
    layer = "bivariate.built_up_fraction_change__idm.nilai_idm_2024"
    legend = client.get(f"/layers/{layer}/2024/legend.json").json()["legend"]
    village = client.get(f"/villages/{CATURTUNGGAL}").json()
    xv = village["periods"]["2024"]["built_up_fraction_change"]
    yv = village["indicators"]["idm.nilai_idm_2024"]
    xc = int(np.digitize(xv, legend["x"]["breaks"], right=True))
    yc = int(np.digitize(yv, legend["y"]["breaks"], right=True))
    cell = legend["cells"][yc][xc]
    assert (cell["x_class"], cell["y_class"]) == (xc, yc)
    pixel = village_pixel(client, products_dir, layer, CATURTUNGGAL, "2024")
    assert pixel == hex_to_rgba(cell["color"])
    assert sum(c["count"] for row in legend["cells"] for c in row) == len(DESA)


def _vertices(geoms: np.ndarray) -> int:
    return int(shapely.get_num_coordinates(geoms).sum())


def test_low_zoom_png_is_drawn_from_simplified_polygons(
    products_dir: Path, make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[tuple[int, np.ndarray]] = []
    original = VillageData.geometry_for_zoom

    def spy(self: VillageData, z: int):
        result = original(self, z)
        used.append((z, result.geoms))
        return result

    monkeypatch.setattr(VillageData, "geometry_for_zoom", spy)
    client = make_client(products_dir)  # its own tile cache: the tile is drawn
    z, x, y = tile_of(110.39, -7.75, 7)
    response = client.get(f"/layers/choropleth.built_up_fraction/2024/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 200
    assert (png(response.content)[3] > 0).any()

    (drawn_zoom, drawn), *_ = used
    full = client.app.state.pantau.store.current().villages.geometry
    assert drawn_zoom == 7
    assert _vertices(drawn) < _vertices(full) / 3
    # no outline moves by more than one pixel of a z7 tile (40075 km / (256 * 2**7)); the
    # tolerance is half a pixel per dropped vertex, tiny parts may go altogether
    pixel = 40_075_016.686 / (256 * 2**7)
    assert max(shapely.hausdorff_distance(drawn, full)) <= pixel


def test_high_zoom_uses_full_resolution_polygons(products_dir: Path, make_client) -> None:
    client = make_client(products_dir)
    villages = client.app.state.pantau.store.current().villages
    full = villages.geometry
    for z in (15, 18):
        assert _vertices(villages.geometry_for_zoom(z).geoms) == _vertices(full)
    assert _vertices(villages.geometry_for_zoom(10).geoms) < _vertices(full)


def test_tile_without_villages_is_204(client: TestClient) -> None:
    z, x, y = tile_of(106.8, -6.2, 12)
    response = client.get(f"/layers/choropleth.built_up_fraction/2024/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 204


def test_change_layer_has_no_first_period(client: TestClient) -> None:
    z, x, y = tile_of(110.39, -7.75, 12)
    response = client.get(f"/layers/choropleth.built_up_fraction_change/2023/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 404
    assert response.json()["parameter"] == "period"


@pytest.mark.parametrize(
    ("query", "parameter", "status"),
    [
        ("?n_classes=100000", "n_classes", 400),
        ("?n_classes=1", "n_classes", 400),
        ("?classification=jenks", "classification", 400),
        # longer than the 400 characters the query parameter declares: FastAPI's validation
        ("?breaks=" + ",".join(str(i) for i in range(1000)), "breaks", 422),
        ("?breaks=1,2,3,4,5,6,7,8,9", "breaks", 400),
        ("?breaks=0.5,0.2", "breaks", 400),
        ("?breaks=nan,1", "breaks", 400),
        ("?breaks=0.1,x", "breaks", 400),
        ("?breaks=0.1&n_classes=3", "breaks", 400),
        ("?tilesize=99999", "tilesize", 400),
    ],
)
def test_bad_class_options_are_refused(
    client: TestClient, query: str, parameter: str, status: int
) -> None:
    z, x, y = tile_of(110.39, -7.75, 12)
    response = client.get(f"/layers/choropleth.ndvi_mean/2024/tiles/{z}/{x}/{y}.png{query}")
    assert response.status_code == status, response.text
    assert response.json()["parameter"] == parameter


def test_bivariate_takes_no_class_options(client: TestClient) -> None:
    z, x, y = tile_of(110.39, -7.75, 12)
    layer = "bivariate.built_up_fraction_change__idm.nilai_idm_2024"
    response = client.get(f"/layers/{layer}/2024/tiles/{z}/{x}/{y}.png?n_classes=3")
    assert response.status_code == 400
    assert response.json()["parameter"] == "n_classes"
