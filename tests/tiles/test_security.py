"""Hostile input: ids only, capped sizes, no paths or internals in answers, no stray files.

Every request in :data:`HOSTILE` must get a 4xx (never a 5xx), its body must not contain the
products directory or a traceback, and no file outside the products directory may be opened
while they are served.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rasterio
from fastapi.testclient import TestClient

import tiles.catalogue
from tests.tiles.conftest import UNIT, tile_of
from tiles.reader import gdal_environment

Z, X, Y = tile_of(110.385, -7.76, 13)
RASTER = f"/layers/raster.ndvi/2024/tiles/{Z}/{X}/{Y}.png"
CHORO = f"/layers/choropleth.built_up_fraction/2024/tiles/{Z}/{X}/{Y}.png"
VRT = '<VRTDataset rasterXSize="1" rasterYSize="1"><VRTRasterBand band="1"/></VRTDataset>'

#: (request path with query, the parameter the 4xx should name or None)
HOSTILE: list[tuple[str, str | None]] = [
    # bad ids and paths instead of ids
    ("/layers/raster.nope/2024/tiles/13/1/1.png", "layer_id"),
    ("/layers/raster.NDVI/2024/tilejson.json", "layer_id"),
    ("/layers/choropleth.nope/2024/tiles/13/1/1.png", "layer_id"),
    ("/layers/bivariate.ndvi_mean__nope/2024/tiles/13/1/1.png", "layer_id"),
    ("/layers/bivariate.ndvi_mean/2024/tilejson.json", "layer_id"),
    ("/layers/raster.ndvi/../../../etc/passwd", None),
    ("/layers/..%2F..%2F..%2Fetc%2Fpasswd/2024/tilejson.json", None),
    ("/layers/raster.ndvi/..%2F2024/tilejson.json", None),
    ("/layers/raster.ndvi/2024%2F..%2F..%2Fvillages.parquet/tilejson.json", None),
    ("/layers/%2Fetc%2Fpasswd/2024/tilejson.json", None),
    ("/layers//etc/passwd/2024/tiles/1/1/1.png", None),
    ("/layers/raster.%2Fetc%2Fpasswd/2024/tiles/1/1/1.png", None),
    ("/layers/%2Fvsicurl%2Fhttp%3A%2F%2Fexample.com%2Fa.tif/2024/tilejson.json", None),
    ("/layers/raster.ndvi/2024/tiles/%2Fvsicurl%2Fhttp%3A%2F%2Fexample.com/1/1.png", None),
    ("/layers/" + VRT + "/2024/tilejson.json", None),
    ("/layers/raster.ndvi/2024/tiles/WebMercatorQuad/13/1/1.png", None),
    ("/layers/raster.ndvi/2024/info", None),
    ("/layers/raster.ndvi/2024/statistics?url=/etc/passwd", None),
    ("/cog/tiles/WebMercatorQuad/1/1/1.png?url=/etc/passwd", None),
    ("/layers/" + "a" * 5000 + "/2024/tilejson.json", None),
    # url= and other GDAL/titiler options are never accepted
    (RASTER + "?url=/etc/passwd", "url"),
    (RASTER + "?url=/vsicurl/http://example.com/x.tif", "url"),
    (CHORO + "?url=https://example.com/x.tif", "url"),
    ("/layers/raster.ndvi/2024/tilejson.json?url=/etc/passwd", "url"),
    (RASTER + "?expression=b1*1000", "expression"),
    (RASTER + "?bidx=2", "bidx"),
    (RASTER + "?colormap=" + '{"0":"#ff0000"}', "colormap"),
    (RASTER + "?color_formula=gamma+rgb+2", "color_formula"),
    (RASTER + "?dst_crs=/etc/passwd", "dst_crs"),
    (RASTER + "?coord_crs=EPSG:4326", "coord_crs"),
    (RASTER + "?algorithm=hillshade", "algorithm"),
    (RASTER + "?nodata=0", "nodata"),
    (RASTER + "?buffer=1000", "buffer"),
    (RASTER + "?file=/etc/passwd", "file"),
    (RASTER + "?" + VRT, "query"),
    (RASTER + "?colormap_name=" + VRT, "colormap_name"),
    ("/villages/3471011001?url=/etc/passwd", "url"),
    # tile coordinates out of range
    ("/layers/raster.ndvi/2024/tiles/-1/0/0.png", "z"),
    ("/layers/raster.ndvi/2024/tiles/19/0/0.png", "z"),
    ("/layers/raster.ndvi/2024/tiles/99999999999999999999/0/0.png", "z"),
    ("/layers/raster.ndvi/2024/tiles/3/8/0.png", "x"),
    ("/layers/raster.ndvi/2024/tiles/3/0/8.png", "y"),
    ("/layers/raster.ndvi/2024/tiles/13/-5/3.png", "x"),
    ("/layers/raster.ndvi/2024/tiles/13/5/-3.png", "y"),
    ("/layers/choropleth.ndvi_mean/2024/tiles/30/1/1.png", "z"),
    ("/layers/choropleth.ndvi_mean/2024/tiles/1/1/2.pbf", "y"),
    ("/layers/raster.ndvi/2024/tiles/a/b/c.png", "z"),
    ("/layers/raster.ndvi/2024/tiles/1.5/0/0.png", "z"),
    (RASTER.replace(".png", ".tif"), "format"),
    (RASTER.replace(".png", ".vrt"), "format"),
    # sizes
    (RASTER + "?tilesize=100000", "tilesize"),
    (RASTER + "?tilesize=-1", "tilesize"),
    (RASTER + "?tilesize=1e9", "tilesize"),
    (CHORO + "?tilesize=4096", "tilesize"),
    (CHORO + "?n_classes=100000", "n_classes"),
    (CHORO + "?n_classes=-3", "n_classes"),
    (CHORO + "?breaks=" + ",".join(["0.1"] * 2000), "breaks"),
    (CHORO + "?breaks=" + ",".join(str(i) for i in range(50)), "breaks"),
    ("/layers/choropleth.ndvi_mean/2024/legend.json?n_classes=500", "n_classes"),
    ("/layers/choropleth.ndvi_mean/2024/tilejson.json?n_classes=500", "n_classes"),
    ("/layers/raster.ndvi/2024/tilejson.json?tilesize=100000", "tilesize"),
    # unknown names and out-of-bounds values
    (RASTER + "?colormap_name=does_not_exist", "colormap_name"),
    (RASTER + "?colormap_name=../../etc/passwd", "colormap_name"),
    (RASTER + "?rescale=-1000,1000", "rescale"),
    (RASTER + "?rescale=1e308,1e309", "rescale"),
    (RASTER + "?rescale=nan,1", "rescale"),
    (RASTER + "?rescale=0,1&rescale=0,1&rescale=0,1&rescale=0,1", "rescale"),
    ("/layers/raster.rgb/2024/tiles/13/1/1.png?gamma=1e308", "gamma"),
    (CHORO + "?classification=../../x", "classification"),
    ("/layers/raster.ndvi/2024/tilejson.json?tile_format=../../x", "tile_format"),
    ("/layers/raster.ndvi/2024/tilejson.json?tile_format=pbf", "tile_format"),
    # unknown or malformed periods
    ("/layers/raster.ndvi/1999/tiles/13/1/1.png", "period"),
    ("/layers/raster.ndvi/2024-13/tilejson.json", "period"),
    ("/layers/raster.ndvi/2024%00/tilejson.json", "period"),
    ("/layers/choropleth.ndvi_mean/..%2F..%2F/tiles/13/1/1.png", None),
    ("/layers/choropleth.ndvi_mean/2023-Q5/legend.json", "period"),
    # unicode junk
    ("/layers/raster.ndv%C3%AD/2024/tilejson.json", "layer_id"),
    ("/layers/%F0%9F%92%A9/2024/tilejson.json", "layer_id"),
    ("/layers/raster.ndvi/%E2%80%AE2024/tilejson.json", "period"),
    (RASTER + "?colormap_name=%00%FF%FE", "colormap_name"),
    (RASTER + "?%F0%9F%92%A9=1", "query"),
    ("/villages/%E2%80%AE3471011001", "kode"),
    ("/villages/../../etc/passwd", None),
    ("/villages/%2Fetc%2Fpasswd", None),
    ("/villages/3471999999", "kode"),
    ("/bivariate?x=%00&y=ndvi_mean", "x"),
    ("/bivariate?x=ndvi_mean", "y"),
]


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths passed to rasterio.open while the test runs."""
    paths: list[str] = []
    real_open = rasterio.open

    def spy(fp, *args, **kwargs):
        paths.append(str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", spy)
    return paths


@pytest.mark.parametrize(("path", "parameter"), HOSTILE, ids=[p[:60] for p, _ in HOSTILE])
def test_hostile_request_is_refused(
    client: TestClient, products_dir: Path, opened: list[str], path: str, parameter: str | None
) -> None:
    response = client.get(path)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.text
    assert str(products_dir) not in body
    assert str(products_dir.resolve()) not in body
    for leak in ("Traceback", 'File "', "rasterio", "GDAL", "site-packages", ".tif", ".parquet"):
        assert leak not in body
    detail = response.json()
    assert isinstance(detail["detail"], str)
    if parameter is not None:
        assert detail.get("parameter") == parameter, detail
    root = products_dir.resolve()
    assert all(Path(p).resolve().is_relative_to(root) for p in opened), opened


@pytest.mark.parametrize(
    "path",
    [
        "/layers",
        "/healthz",
        "/wmts/WMTSCapabilities.xml",
        "/villages/3471011002",
        "/layers/raster.ndvi/2024/tilejson.json",
        "/layers/raster.ndvi/2024/legend.json",
        "/layers/choropleth.idm.status_idm_2024/2024/legend.json",
        "/openapi.json",
        RASTER,
        CHORO,
    ],
)
def test_normal_answers_hold_no_paths(
    client: TestClient, products_dir: Path, opened: list[str], path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    text = response.content.decode("utf-8", "replace")
    assert str(products_dir) not in text and str(products_dir.resolve()) not in text
    root = products_dir.resolve()
    assert all(Path(p).resolve().is_relative_to(root) for p in opened), opened


def test_unexpected_error_is_a_generic_500(
    products_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiles.app import create_app
    from tiles.settings import TilesSettings

    client = TestClient(
        create_app(TilesSettings(products_dir=products_dir, rescan_interval=0)),
        raise_server_exceptions=False,
    )

    def boom(self, layer_id):
        raise RuntimeError(f"cannot read {products_dir}/villages.parquet")

    monkeypatch.setattr(tiles.catalogue.Catalogue, "layer", boom)
    response = client.get("/layers/raster.ndvi/2024/tilejson.json")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}


def test_library_error_is_a_generic_500(
    mutable_products: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiles.app import create_app
    from tiles.settings import TilesSettings

    client = TestClient(
        create_app(TilesSettings(products_dir=mutable_products, rescan_interval=3600)),
        raise_server_exceptions=False,
    )
    # the file disappears after the scan: GDAL fails to open it
    (mutable_products / "composites" / "2024" / UNIT / "ndvi.tif").write_bytes(b"not a tiff")
    response = client.get(RASTER)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert str(mutable_products) not in response.text


def test_vrt_and_outside_links_are_never_opened(
    mutable_products: Path, tmp_path: Path, make_client, opened: list[str]
) -> None:
    secret = tmp_path / "secret.tif"
    outside = mutable_products / "composites" / "2023" / UNIT / "ndvi.tif"
    secret.write_bytes(outside.read_bytes())
    folder = mutable_products / "composites" / "2024" / UNIT
    # an inline VRT disguised as a product, pointing outside the products directory
    (folder / "ndvi.tif").write_text(
        f'<VRTDataset rasterXSize="8" rasterYSize="8"><VRTRasterBand dataType="Float32" '
        f'band="1"><SimpleSource><SourceFilename>{secret}</SourceFilename></SimpleSource>'
        "</VRTRasterBand></VRTDataset>"
    )
    # a symlink from inside to a file outside
    (folder / "bsi.tif").unlink()
    (folder / "bsi.tif").symlink_to(secret)
    client = make_client(mutable_products)
    layers = {layer["id"]: layer for layer in client.get("/layers").json()}
    assert layers["raster.ndvi"]["periods"] == ["2023"]
    assert layers["raster.bsi"]["periods"] == ["2023"]
    for name in ("ndvi", "bsi"):
        response = client.get(RASTER.replace("ndvi", name))
        assert response.status_code == 404
        assert response.json()["parameter"] == "period"
    assert not any("secret" in p for p in opened)


def test_gdal_runs_without_network() -> None:
    env = gdal_environment()
    # VRT is refused by the GTiff-only open (test_reader_opens_geotiff_only); skipping the
    # driver would break rio-tiler's reprojection (see test_settings_cli.test_fresh_process).
    assert "GDAL_SKIP" not in env
    assert env["GDAL_VRT_ENABLE_PYTHON"] == "NO"
    assert env["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"
    assert env["CPL_VSIL_CURL_ALLOWED_EXTENSIONS"].startswith(".pantau")


def test_the_app_uses_the_gdal_environment(client: TestClient) -> None:
    assert client.app.state.pantau.gdal_env == gdal_environment()
