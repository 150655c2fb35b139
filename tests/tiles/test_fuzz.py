"""The tile API under 1,000 generated requests, and the OpenAPI document they are drawn from.

:mod:`tests.tiles.fuzz_support` runs schemathesis over the app's ``/openapi.json`` (served
in-process) on the session products plus a ``regions.parquet``, splicing real ids into the
generated cases so they reach tiles, legends and tables. ``bench/fuzz.py`` runs 5,000.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient

from tests.tiles.conftest import tile_of
from tests.tiles.fuzz_support import Fuzzer, body_problems
from tiles.app import create_app
from tiles.settings import TilesSettings
from workflows.regions import write_regions

#: Requests in CI (measured: about 35 s on the 2-core machine under a load of 10).
REQUESTS = 1000
SEED = 20250812


@pytest.fixture(scope="module")
def region_products(products_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session products with a regions.parquet (every level of the village layers)."""
    root = Path(shutil.copytree(products_dir, tmp_path_factory.mktemp("fuzz") / "products"))
    write_regions(root, gpd.read_parquet(root / "villages.parquet"))
    return root


@pytest.fixture(scope="module")
def app(region_products: Path):
    return create_app(TilesSettings(products_dir=region_products, rescan_interval=3600))


def test_generated_requests_find_no_fault(app, region_products: Path) -> None:
    report = Fuzzer(app, region_products).run(REQUESTS, seed_value=SEED)
    print(report.summary())
    assert report.requests >= REQUESTS
    assert report.problems == 0, report.summary()
    assert report.statuses[200] > REQUESTS // 10  # real layers were drawn, not only refusals
    assert len(report.operations) >= 13  # every operation of the document


def test_the_fuzzer_reports_a_planted_fault(
    region_products: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Positive control: a fault planted where real layer ids lead is found and reported."""
    import tiles.catalogue

    def broken(self, layer, period: str) -> None:
        raise RuntimeError(f"cannot read {region_products}/villages.parquet")

    app = create_app(TilesSettings(products_dir=region_products, rescan_interval=3600))
    fuzzer = Fuzzer(app, region_products)
    monkeypatch.setattr(tiles.catalogue.Catalogue, "require_period", broken)
    report = fuzzer.run(150, seed_value=SEED)
    assert report.statuses[500] > 0
    assert any("/layers/" in request for request in report.server_errors)


@pytest.fixture(scope="module")
def doc(app) -> dict:
    return TestClient(app).get("/openapi.json").json()


def _operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield f"{method.upper()} {path}", op


def test_every_operation_declares_its_errors(doc: dict) -> None:
    for label, op in _operations(doc):
        responses = op["responses"]
        assert "503" in responses, label
        assert responses["503"]["headers"]["Retry-After"]["required"], label
        for code, response in responses.items():
            if code[0] in "45":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (label, code)
        if op.get("parameters"):
            assert {"400", "422"} <= set(responses), label
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            assert "404" in responses, label
    assert "HTTPValidationError" not in doc["components"]["schemas"]


@pytest.mark.parametrize(
    ("path", "codes", "media"),
    [
        ("/layers/{layer_id}/{period}/tiles/{z}/{x}/{y}.{format}", {"200", "204"},
         {"image/png", "application/vnd.mapbox-vector-tile"}),
        ("/layers/{layer_id}/{period}/table.csv", {"200"}, {"text/csv"}),
        ("/wmts/WMTSCapabilities.xml", {"200"}, {"application/xml"}),
        ("/layers/{layer_id}/{period}/tilejson.json", {"200"}, {"application/json"}),
    ],
)  # fmt: skip
def test_success_media_types_are_declared(doc: dict, path: str, codes: set, media: set) -> None:
    responses = doc["paths"][path]["get"]["responses"]
    assert codes <= set(responses)
    assert set(responses["200"]["content"]) == media


def test_raster_and_village_routes_are_one_operation(doc: dict) -> None:
    tile = doc["paths"]["/layers/{layer_id}/{period}/tiles/{z}/{x}/{y}.{format}"]["get"]
    names = {p["name"] for p in tile["parameters"]}
    assert {"colormap_name", "rescale", "gamma"} <= names  # raster options
    assert {"breaks", "level", "column"} <= names  # village options
    legend = doc["paths"]["/layers/{layer_id}/{period}/legend.json"]["get"]
    assert {"rescale", "breaks"} <= {p["name"] for p in legend["parameters"]}


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/layers/NDVI/2024/tiles/3/1/1.png", "layer_id"),  # an id of no family
        ("/layers/ndvi/2024/legend.json", "layer_id"),
        ("/layers/raster.ndvi%2F..%2Fx/2024/tilejson.json", "layer_id"),  # encoded slash
        ("/layers/raster.ndvi/2024%2Fx/tilejson.json", "period"),
        ("/villages/34%2F71", "kode"),
        ("/no/such/endpoint", "path"),
    ],
)
def test_a_path_that_matches_no_route_names_the_parameter(
    client: TestClient, path: str, parameter: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["parameter"] == parameter


def test_a_low_zoom_tile_without_overview_is_refused_at_once(client: TestClient) -> None:
    # found by the fuzzer: z0 over 20 m UTM units warped a 2-million-pixel-wide raster
    # (minutes, 2 GB); the products of the fixture have no overviews/
    start = time.perf_counter()
    z, x, y = tile_of(110.385, -7.76, 0)
    response = client.get(f"/layers/raster.rgb/2024/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 404
    assert response.json()["parameter"] == "z"
    assert "zoom in to 6" in response.json()["detail"]
    assert time.perf_counter() - start < 5
    z, x, y = tile_of(110.385, -7.76, 6)
    assert client.get(f"/layers/raster.rgb/2024/tiles/{z}/{x}/{y}.png").status_code == 200


def _fake(status: int, content: bytes, media: str = "application/json") -> tuple:
    case = SimpleNamespace(
        operation=SimpleNamespace(iter_parameters=lambda: [SimpleNamespace(name="layer_id")])
    )
    response = SimpleNamespace(
        status_code=status,
        content=content,
        headers={"content-type": [media]},
        request=SimpleNamespace(url="http://testserver/layers/x?url=y"),
    )
    return case, response


@pytest.mark.parametrize(
    ("status", "content", "found"),
    [
        (400, b'{"detail": "x", "parameter": "layer_id"}', None),
        (400, b'{"detail": "x", "parameter": "url"}', None),  # the unknown parameter sent
        (400, b'{"detail": "x", "parameter": "zoom"}', "naming 'zoom'"),
        (404, b'{"detail": "x"}', "naming None"),
        (422, b"not json", "not a JSON object"),
        (200, b'{"a": "Traceback (most recent call last)"}', "Traceback"),
        (200, b'{"a": "/usr/lib/python3/x.py"}', "/usr/"),
        (200, b'{"a": "CPLE_OpenFailedError"}', "CPLE_"),
    ],
)
def test_the_body_checks_catch_leaks(
    status: int, content: bytes, found: str | None, products_dir: Path
) -> None:
    problems = body_problems(*_fake(status, content), products_dir)
    if found is None:
        assert problems == []
    else:
        assert any(found in p for p in problems), problems


def test_the_body_checks_catch_the_products_path(products_dir: Path) -> None:
    content = f'{{"detail": "cannot read {products_dir}/x.tif"}}'.encode()
    problems = body_problems(*_fake(200, content), products_dir)
    assert any("products path" in p for p in problems)
