"""One product registry: an index added to it is listed, drawn and legended with no other change.

``NDMI`` (moisture, NIR vs SWIR 1.6) is not one of Pantau's products; the test registers it,
writes its COG where ``pantau run`` would (``composites/<period>/ndmi.tif``) and serves the
folder with ``create_app(products=...)``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rio_tiler.colormap import cmap

from geo.products import (
    BUILT_UP_METHODS,
    PRODUCTS,
    Product,
    ProductRegistry,
    normalized_difference,
)
from tests.tiles.conftest import UNIT, png, tile_of, write_cog
from tiles.app import create_app
from tiles.settings import TilesSettings

NDMI = Product(
    name="ndmi",
    title="NDMI (moisture)",
    title_id="NDMI (kelembapan)",
    description="Normalized Difference Moisture Index (Gao 1996)",
    inputs=("nir", "swir16"),
    formula=normalized_difference,
    valid_range=(-1.0, 1.0),
    colormap="rdbu",
    rescale=((-0.6, 0.6),),
    statistics={"ndmi_mean": "mean"},
    label="NDMI",
)
LOW, HIGH = NDMI.rescale[0]  # type: ignore[index]
CENTER = (110.385, -7.76)


@pytest.fixture
def with_ndmi(mutable_products: Path) -> Path:
    """The fixture products plus a 2024 NDMI COG: blocks of LOW and HIGH, NaN in a corner."""
    with rasterio.open(mutable_products / "composites" / "2024" / UNIT / "ndvi.tif") as src:
        transform, height, width = src.transform, src.height, src.width
    rows, cols = np.indices((height, width))
    values = np.where((rows // 64 + cols // 64) % 2 == 0, LOW, HIGH).astype("float32")[None]
    values[:, :40, :40] = np.nan
    write_cog(
        mutable_products / "composites" / "2024" / UNIT / "ndmi.tif", values,
        transform=transform, nodata=np.nan,
    )  # fmt: skip
    return mutable_products


@pytest.fixture
def registry() -> ProductRegistry:
    return PRODUCTS.register(NDMI)


def _client(products: Path, registry: ProductRegistry = PRODUCTS) -> TestClient:
    settings = TilesSettings(products_dir=products, rescan_interval=0)
    return TestClient(create_app(settings, products=registry))


def _layers(client: TestClient) -> dict[str, dict]:
    return {layer["id"]: layer for layer in client.get("/layers").json()}


def _hex(rgba: tuple[int, ...]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgba[:3])


def test_registered_index_is_listed(with_ndmi: Path, registry: ProductRegistry) -> None:
    layer = _layers(_client(with_ndmi, registry))["raster.ndmi"]
    assert layer["kind"] == "raster"
    assert layer["title"] == NDMI.title
    assert layer["periods"] == ["2024"]
    assert layer["range"] == [LOW, HIGH]


def test_registered_index_tile_uses_its_colormap(
    with_ndmi: Path, registry: ProductRegistry
) -> None:
    z, x, y = tile_of(*CENTER, 13)
    response = _client(with_ndmi, registry).get(f"/layers/raster.ndmi/2024/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = png(response.content)
    assert image.shape == (4, 256, 256) and image.dtype == np.uint8
    opaque = image[:, image[3] == 255].T
    colours = {tuple(int(v) for v in c) for c in opaque}
    # LOW maps to the first entry of the colormap, HIGH to the last (nearest resampling)
    rdbu = cmap.get("rdbu")
    assert colours == {tuple(rdbu[0]), tuple(rdbu[255])}


def test_registered_index_legend_follows_its_rescale(
    with_ndmi: Path, registry: ProductRegistry
) -> None:
    body = _client(with_ndmi, registry).get("/layers/raster.ndmi/2024/legend.json").json()
    values = [e["value"] for e in body["legend"]]
    assert values == pytest.approx(np.linspace(LOW, HIGH, 5))
    rdbu = cmap.get("rdbu")
    assert body["legend"][0]["color"] == _hex(rdbu[0])
    assert body["legend"][-1]["color"] == _hex(rdbu[255])


def test_default_registry_does_not_serve_it(with_ndmi: Path, products_dir: Path) -> None:
    client = _client(with_ndmi)
    assert "raster.ndmi" not in _layers(client)
    z, x, y = tile_of(*CENTER, 13)
    response = client.get(f"/layers/raster.ndmi/2024/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 404
    assert response.json()["parameter"] == "layer_id"
    # the scanner only looks for registry products: the extra file leaves the version alone
    original = _client(products_dir).get("/healthz").json()["version"]
    assert client.get("/healthz").json()["version"] == original


def test_class_legend_comes_from_the_registry(products_dir: Path) -> None:
    relabelled = PRODUCTS.register(
        replace(BUILT_UP_METHODS["rule"], classes={1: "terbangun", 0: "lainnya"}),
        replace=True,
    )
    legend = _client(products_dir, relabelled).get("/layers/raster.built_up/2024/legend.json")
    labels = [(e["value"], e["label"]) for e in legend.json()["legend"]]
    assert labels == [(1, "terbangun"), (0, "lainnya")]
