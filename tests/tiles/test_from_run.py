"""The tile server over a products folder written by ``pantau run`` (not the hand-built one).

The fixture runs the pipeline on the smallest simulated stack (12 villages over ~3 km, two
years x 4 dates, the tests/workflows fixture's parameters), so the products contract
(docs/products.md) is tested from both ends: what the pipeline writes is what tiles serves.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo.products import PRODUCTS
from tests.tiles.conftest import png, tile_of

START, END = "2021-01-01", "2022-12-31"


@pytest.fixture(scope="module")
def run_products(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pantau run`` output over a tiny simulated scene stack."""
    from simulate import simulate_scenes, simulate_villages
    from workflows.run import RunConfig, run

    root = tmp_path_factory.mktemp("from_run")
    boundaries = root / "boundaries.parquet"
    simulate_villages(n=12, seed=3, size_km=3.0).to_parquet(boundaries)
    scenes = simulate_scenes(
        gpd.read_parquet(boundaries), root / "sim", start=START, end=END,
        scenes_per_year=4, seed=3, progress=False,
    )  # fmt: skip
    out = root / "products"
    run(
        RunConfig(
            stac=str(scenes.catalog_dir), boundaries=boundaries, out=out,
            start=START, end=END, max_cloud=80, progress=False,
        )
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def run_client(run_products: Path) -> TestClient:
    from tiles.app import create_app
    from tiles.settings import TilesSettings

    return TestClient(create_app(TilesSettings(products_dir=run_products, rescan_interval=0)))


@pytest.fixture(scope="module")
def villages(run_products: Path) -> gpd.GeoDataFrame:
    return gpd.read_parquet(run_products / "villages.parquet")


@pytest.fixture(scope="module")
def layers(run_client: TestClient) -> dict[str, dict]:
    response = run_client.get("/layers")
    assert response.status_code == 200
    return {layer["id"]: layer for layer in response.json()}


def test_every_registry_raster_is_listed(layers: dict[str, dict], villages) -> None:
    periods = sorted(villages["period"].astype(str).unique())
    for name, product in PRODUCTS.items():
        layer = layers[f"raster.{name}"]
        assert layer["title"] == product.title
        assert layer["periods"] == periods


def test_built_up_fraction_choropleth_is_listed(layers: dict[str, dict]) -> None:
    layer = layers["choropleth.built_up_fraction"]
    assert layer["kind"] == "choropleth"
    assert layer["title"] == PRODUCTS.column_titles()["built_up_fraction"]


def _centre(villages: gpd.GeoDataFrame) -> tuple[float, float]:
    point = villages.geometry.iloc[0].representative_point()
    return point.x, point.y


@pytest.mark.parametrize("layer", [f"raster.{name}" for name in PRODUCTS])
def test_raster_tile_over_the_data(run_client: TestClient, villages, layer: str) -> None:
    period = str(villages["period"].iloc[-1])
    z, x, y = tile_of(*_centre(villages), 14)
    response = run_client.get(f"/layers/{layer}/{period}/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 200, response.text
    image = png(response.content)
    assert image.shape == (4, 256, 256) and image.dtype == np.uint8
    assert (image[3] > 0).any()


@pytest.mark.parametrize("fmt", ["png", "pbf"])
def test_choropleth_tile_over_the_data(run_client: TestClient, villages, fmt: str) -> None:
    period = str(villages["period"].iloc[-1])
    z, x, y = tile_of(*_centre(villages), 14)
    url = f"/layers/choropleth.built_up_fraction/{period}/tiles/{z}/{x}/{y}.{fmt}"
    response = run_client.get(url)
    assert response.status_code == 200, response.text
    if fmt == "png":
        assert (png(response.content)[3] > 0).any()


def _same(served: object, written: object) -> bool:
    if written is None or (isinstance(written, float) and math.isnan(written)):
        return served is None
    if isinstance(written, float | np.floating):
        return served == pytest.approx(float(written))
    return served == (written.item() if isinstance(written, np.generic) else written)


def test_village_returns_the_written_row(run_client: TestClient, villages) -> None:
    kode = str(villages["kode"].iloc[0])
    body = run_client.get(f"/villages/{kode}").json()
    assert body["kode"] == kode
    rows = villages[villages["kode"].astype(str) == kode]
    assert set(body["periods"]) == set(rows["period"].astype(str))
    for _, row in rows.iterrows():
        served = body["periods"][str(row["period"])]
        written = row.drop(labels=["kode", "nama", "period", "geometry"], errors="ignore")
        assert set(served) == set(written.index)
        mismatched = [c for c, v in written.items() if not _same(served[c], v)]
        assert not mismatched, mismatched


def test_an_index_added_in_the_registry_only_is_computed_written_and_served(
    tmp_path_factory: pytest.TempPathFactory, run_products: Path
) -> None:
    """Issue 6: one registration; the run computes and writes it, tiles lists and draws it."""
    from geo.products import INDEX_STATISTICS, Product, normalized_difference
    from tiles.app import create_app
    from tiles.settings import TilesSettings
    from workflows.run import RunConfig, run

    ndmi = Product(
        name="ndmi", title="NDMI (moisture)", title_id="NDMI (kelembapan)",
        description="Normalized Difference Moisture Index (Gao 1996)",
        inputs=("nir", "swir16"), formula=normalized_difference, valid_range=(-1.0, 1.0),
        colormap="viridis", rescale=((-0.5, 0.5),),
        statistics={f"ndmi_{s}": s for s in INDEX_STATISTICS}, label="NDMI",
    )  # fmt: skip
    registry = PRODUCTS.register(ndmi)
    root = run_products.parent
    out = tmp_path_factory.mktemp("ndmi") / "products"
    run(
        RunConfig(
            stac=str(root / "sim" / "scenes"), boundaries=root / "boundaries.parquet", out=out,
            start=START, end=END, max_cloud=80, progress=False,
        ),
        products=registry,
    )  # fmt: skip
    table = gpd.read_parquet(out / "villages.parquet")
    assert table["ndmi_mean"].notna().all()
    client = TestClient(create_app(TilesSettings(products_dir=out), products=registry))
    layers = {layer["id"]: layer for layer in client.get("/layers").json()}
    assert layers["raster.ndmi"]["title"] == "NDMI (moisture)"
    assert "choropleth.ndmi_mean" in layers
    west, south, east, north = table.total_bounds
    z, x, y = tile_of((west + east) / 2, (south + north) / 2, 14)
    response = client.get(f"/layers/raster.ndmi/2022/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 200
    rgba = png(response.content)
    assert rgba[3].any()  # drawn where the unit has data
