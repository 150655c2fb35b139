"""Raster layers: PNG tiles of the period COGs through the composed titiler factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rio_cogeo.cogeo import cog_validate

from geo.products import PRODUCTS
from tests.tiles.conftest import UNIT, png, tile_of
from tiles.reader import ProductReader

CENTER = (110.385, -7.76)


def url(layer: str, z: int = 13, period: str = "2024", query: str = "") -> str:
    z, x, y = tile_of(*CENTER, z)
    return f"/layers/{layer}/{period}/tiles/{z}/{x}/{y}.png{query}"


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_fixture_cogs_are_valid_with_overviews(products_dir: Path, name: str) -> None:
    path = products_dir / "composites" / "2023" / UNIT / f"{name}.tif"
    valid, errors, _ = cog_validate(str(path), quiet=True)
    assert valid, errors
    with rasterio.open(path) as src:
        assert src.overviews(1)
        assert src.crs.to_epsg() == 32749


@pytest.mark.parametrize("name", sorted(PRODUCTS))
@pytest.mark.parametrize("period", ["2023", "2024"])
def test_raster_tile(client: TestClient, name: str, period: str) -> None:
    response = client.get(url(f"raster.{name}", period=period))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = png(response.content)
    assert image.shape == (4, 256, 256)
    assert image.dtype == np.uint8
    assert (image[3] > 0).mean() > 0.9  # the tile is inside the data
    assert image[:3].std() > 0  # not a flat colour


def test_zoomed_out_tile_reads_overviews(client: TestClient) -> None:
    response = client.get(url("raster.ndvi", z=9))
    assert response.status_code == 200
    image = png(response.content)
    assert 0 < (image[3] > 0).mean() < 0.2  # a small patch of a z9 tile


def test_tilesize(client: TestClient) -> None:
    image = png(client.get(url("raster.ndbi", query="?tilesize=512")).content)
    assert image.shape == (4, 512, 512)


def test_nodata_is_transparent(client: TestClient) -> None:
    # the fixtures' top-left 40x40 pixels (800 m) have no data
    z, x, y = tile_of(110.3330, -7.7020, 14)
    image = png(client.get(f"/layers/raster.ndvi/2024/tiles/{z}/{x}/{y}.png").content)
    assert (image[3] == 0).any() and (image[3] == 255).any()


def test_tile_outside_the_data_is_204(client: TestClient) -> None:
    z, x, y = tile_of(106.8, -6.2, 12)  # Jakarta
    response = client.get(f"/layers/raster.ndvi/2024/tiles/{z}/{x}/{y}.png")
    assert response.status_code == 204
    assert response.content == b""


def test_colormap_override_changes_colours(client: TestClient) -> None:
    default = png(client.get(url("raster.ndvi")).content)
    viridis = png(client.get(url("raster.ndvi", query="?colormap_name=viridis")).content)
    assert default.shape == viridis.shape
    assert not np.array_equal(default, viridis)


def test_rescale_override_changes_colours(client: TestClient) -> None:
    default = png(client.get(url("raster.ndvi")).content)
    narrow = png(client.get(url("raster.ndvi", query="?rescale=0,0.3")).content)
    assert not np.array_equal(default, narrow)


def test_rgb_gamma_and_per_band_rescale(client: TestClient) -> None:
    base = png(client.get(url("raster.rgb")).content)
    gamma = png(client.get(url("raster.rgb", query="?gamma=2")).content)
    assert gamma[:3].mean() > base[:3].mean()  # gamma > 1 brightens
    query = "?rescale=0,4000&rescale=0,4000&rescale=0,2000"
    assert client.get(url("raster.rgb", query=query)).status_code == 200


def test_built_up_fraction_draws_a_ramp(client: TestClient) -> None:
    # the fixture's built_up.tif holds percent 0-100 (the fraction product's storage)
    image = png(client.get(url("raster.built_up")).content)
    colours = {tuple(int(v) for v in c) for c in image.reshape(4, -1).T if c[3] > 0}
    assert PRODUCTS["built_up"].legend == "continuous" and len(colours) > 10


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?colormap_name=nope", "colormap_name"),
        ("?rescale=-5,5", "rescale"),
        ("?rescale=0.5,0.1", "rescale"),
        ("?rescale=0", "rescale"),
        ("?rescale=a,b", "rescale"),
        ("?rescale=0,0.1&rescale=0,0.2", "rescale"),  # one band
        ("?gamma=2", "gamma"),  # only rgb
        ("?tilesize=4096", "tilesize"),
        ("?tilesize=8", "tilesize"),
    ],
)
def test_bad_raster_options_are_400(client: TestClient, query: str, parameter: str) -> None:
    response = client.get(url("raster.ndvi", query=query))
    assert response.status_code == 400, response.text
    assert response.json()["parameter"] == parameter


def test_rgb_refuses_colormap(client: TestClient) -> None:
    response = client.get(url("raster.rgb", query="?colormap_name=viridis"))
    assert response.status_code == 400
    assert response.json()["parameter"] == "colormap_name"


def test_unknown_period_is_404(client: TestClient) -> None:
    response = client.get(url("raster.ndvi", period="2019"))
    assert response.status_code == 404
    assert response.json()["parameter"] == "period"


def test_legend(client: TestClient) -> None:
    body = client.get("/layers/raster.ndvi/2023/legend.json?colormap_name=viridis").json()
    assert body["id"] == "raster.ndvi"
    assert [e["value"] for e in body["legend"]][::4] == list(PRODUCTS["ndvi"].rescale[0])
    assert body["legend"][0]["color"] == "#440154"  # viridis starts dark purple


def test_reader_opens_geotiff_only(tmp_path: Path, products_dir: Path) -> None:
    vrt = tmp_path / "ndvi.tif"
    source = products_dir / "composites" / "2023" / UNIT / "ndvi.tif"
    vrt.write_text(
        f'<VRTDataset rasterXSize="8" rasterYSize="8"><VRTRasterBand dataType="Float32" band="1">'
        f"<SimpleSource><SourceFilename>{source}</SourceFilename></SimpleSource>"
        "</VRTRasterBand></VRTDataset>"
    )
    with pytest.raises(rasterio.errors.RasterioIOError):
        ProductReader(str(vrt))
