"""Raster layers over many work units: seamless mosaics, overviews at low zoom (issue 8).

The fixture runs the real engine twice over the same simulated scenes (12 villages over
~3 km, one year x 4 dates) centred on a corner of the 256-pixel work-unit grid: once with
256-pixel tiles (four units meeting at the centre) and once with 512-pixel tiles (one unit
holding everything), then builds the overviews as the end of a run does. A tile of the
multi-unit product must equal the same tile of the one-unit product.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.warp import transform_bounds

import tiles.mosaic
from geo.overview import UNITS_TAG
from geo.products import PRODUCTS
from geo.unit_ids import UNIT_ID_RE
from tests.tiles import browser_support as bs
from tests.tiles import test_browser as tb
from tests.tiles.conftest import png
from tiles.app import create_app
from tiles.reader import ProductReader
from tiles.settings import TilesSettings
from workflows.overview import build_overviews

START, END = "2022-01-01", "2022-12-31"
PERIOD = "2022"
#: lon/lat of a corner of the 256-px (2560 m) unit grid of EPSG:32749 that is also the
#: centre of a 512-px tile: x = 432640, y = 9141760.
CORNER = (110.38910083889586, -7.763852138649117)
TMS = morecantile.tms.get("WebMercatorQuad")
# the browser test's fixtures, over this module's products_dir (the multi-unit products)
base_url, browser, driver, shots = tb.base_url, tb.browser, tb.driver, tb.shots
NEAREST = [n for n, p in PRODUCTS.items() if p.tile_resampling == "nearest"]
SMOOTH = [n for n, p in PRODUCTS.items() if p.tile_resampling != "nearest"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Products of the same scenes with 256-px (several units) and 512-px (one unit) tiles."""
    import geopandas as gpd
    from distributed import Client, LocalCluster

    from simulate import simulate_scenes, simulate_villages
    from workflows.run import RunConfig, run

    root = tmp_path_factory.mktemp("mosaic")
    boundaries = root / "boundaries.parquet"
    simulate_villages(n=12, seed=3, size_km=3.0, center=CORNER).to_parquet(boundaries)
    scenes = simulate_scenes(
        gpd.read_parquet(boundaries), root / "sim", start=START, end=END,
        scenes_per_year=4, seed=3, progress=False,
    )  # fmt: skip
    out = {}
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        for tile_size in (256, 512):
            out[tile_size] = root / f"products-{tile_size}"
            config = RunConfig(
                stac=str(scenes.catalog_dir), boundaries=boundaries, out=out[tile_size],
                start=START, end=END, max_cloud=80, progress=False, tile_size=tile_size,
            )  # fmt: skip
            result = run(config, client=client)
            build_overviews(client, out[tile_size], result.periods, PRODUCTS, progress=False)
    return out


@pytest.fixture(scope="module")
def products_dir(runs: dict[int, Path]) -> Path:
    """The multi-unit products (also what the browser test's server serves)."""
    return runs[256]


@pytest.fixture(scope="module")
def multi(runs: dict[int, Path]) -> TestClient:
    return TestClient(create_app(TilesSettings(products_dir=runs[256], rescan_interval=0)))


@pytest.fixture(scope="module")
def single(runs: dict[int, Path]) -> TestClient:
    return TestClient(create_app(TilesSettings(products_dir=runs[512], rescan_interval=0)))


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Path, Any]]]:
    """Every file rasterio opens (path, driver) while the test runs."""
    calls: list[tuple[Path, Any]] = []
    real = rasterio.open

    def spy(path: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((Path(str(path)), kwargs.get("driver")))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", spy)
    yield calls


def _units(root: Path) -> list[Path]:
    return sorted(p for p in (root / "composites" / PERIOD).iterdir() if UNIT_ID_RE.match(p.name))


def _tiles_around(lon: float, lat: float, z: int) -> list[tuple[int, int, int]]:
    """The tile holding a point and its 8 neighbours."""
    t = TMS.tile(lon, lat, z)
    return [(z, t.x + dx, t.y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]


def _get(client: TestClient, name: str, z: int, x: int, y: int) -> Any:
    return client.get(f"/layers/raster.{name}/{PERIOD}/tiles/{z}/{x}/{y}.png")


def test_the_runs_have_several_units_and_one(runs: dict[int, Path]) -> None:
    assert len(_units(runs[256])) >= 4
    assert len(_units(runs[512])) == 1


def test_overviews_are_web_mercator_and_list_their_units(runs: dict[int, Path]) -> None:
    units = [u.name for u in _units(runs[256])]
    for name in PRODUCTS:
        with rasterio.open(runs[256] / "overviews" / PERIOD / f"{name}.tif") as src:
            assert src.crs.to_epsg() == 3857
            assert src.res[0] == pytest.approx(2 * 20037508.342789244 / (256 * 2**9))
            assert json.loads(src.tags()[UNITS_TAG]) == units


def test_layers_bounds_are_the_union_of_the_units(multi: TestClient, runs) -> None:
    boxes = []
    for unit in _units(runs[256]):
        with rasterio.open(unit / "ndvi.tif") as src:
            boxes.append(transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21))
    b = np.array(boxes)
    expected = [*b[:, :2].min(axis=0), *b[:, 2:].max(axis=0)]
    layers = {layer["id"]: layer for layer in multi.get("/layers").json()}
    assert {f"raster.{n}" for n in PRODUCTS} <= set(layers)
    assert layers["raster.ndvi"]["bounds"] == pytest.approx(expected)
    tilejson = multi.get(f"/layers/raster.ndvi/{PERIOD}/tilejson.json").json()
    assert tilejson["bounds"] == pytest.approx(expected)
    assert (tilejson["minzoom"], tilejson["maxzoom"]) == (0, 18)
    wmts = multi.get("/wmts/WMTSCapabilities.xml")
    assert f"raster.ndvi@{PERIOD}" in wmts.text


@pytest.mark.parametrize("z", [14, 15, 16])
@pytest.mark.parametrize("name", NEAREST)
def test_tiles_across_unit_edges_equal_the_one_unit_tiles(
    multi: TestClient, single: TestClient, name: str, z: int
) -> None:
    drawn = 0
    for z_, x, y in _tiles_around(*CORNER, z):
        a, b = _get(multi, name, z_, x, y), _get(single, name, z_, x, y)
        assert a.status_code == b.status_code, (z_, x, y)
        if b.status_code == 200:
            drawn += 1
            np.testing.assert_array_equal(png(a.content), png(b.content), err_msg=f"{z_}/{x}/{y}")
    assert drawn >= 4  # the four tiles at the corner where the units meet, at least


@pytest.mark.parametrize("name", SMOOTH)
def test_smoothly_resampled_tiles_match_within_one_step(
    multi: TestClient, single: TestClient, name: str
) -> None:
    # Bilinear resampling reads one pixel beyond a unit's edge, which only the neighbour
    # holds: along the edge lines (a few dozen pixels of a tile) values may differ more.
    for z, x, y in _tiles_around(*CORNER, 15):
        a, b = _get(multi, name, z, x, y), _get(single, name, z, x, y)
        assert a.status_code == b.status_code == 200, (z, x, y)
        diff = np.abs(png(a.content).astype(int) - png(b.content).astype(int)).max(axis=0)
        assert (diff <= 1).mean() > 0.99, f"{z}/{x}/{y}"


def test_corner_tile_reads_the_units_it_meets(
    multi: TestClient, runs, opened: list[tuple[Path, Any]]
) -> None:
    # a 4.9 km tile: wider than any unit, so no one unit fills it
    z, x, y = 13, TMS.tile(*CORNER, 13).x, TMS.tile(*CORNER, 13).y
    response = multi.get(f"/layers/raster.clear_count/{PERIOD}/tiles/{z}/{x}/{y}.png?tilesize=64")
    assert response.status_code == 200
    read = {p for p, _ in opened if p.suffix == ".tif"}
    assert len(read) >= 2  # the tile spans units
    assert read <= {u / "clear_count.tif" for u in _units(runs[256])}


@pytest.mark.parametrize("z", [7, 9])  # (at z5 the 5 km of data is one pixel)
def test_low_zoom_tile_reads_only_the_overview(
    multi: TestClient, runs, opened: list[tuple[Path, Any]], z: int
) -> None:
    z, x, y = z, TMS.tile(*CORNER, z).x, TMS.tile(*CORNER, z).y
    response = multi.get(f"/layers/raster.ndvi/{PERIOD}/tiles/{z}/{x}/{y}.png?tilesize=128")
    assert response.status_code == 200
    image = png(response.content)
    assert (image[3] > 0).any()
    overview = runs[256] / "overviews" / PERIOD / "ndvi.tif"
    assert {p for p, _ in opened if p.suffix == ".tif"} == {overview}


def test_a_zoom_above_the_threshold_reads_units(
    multi: TestClient, runs, opened: list[tuple[Path, Any]]
) -> None:
    t = TMS.tile(*CORNER, 10)
    assert multi.get(f"/layers/raster.ndvi/{PERIOD}/tiles/10/{t.x}/{t.y}.png").status_code == 200
    read = {p for p, _ in opened if p.suffix == ".tif"}
    assert read == {u / "ndvi.tif" for u in _units(runs[256])}


def test_nothing_outside_the_products_is_opened(
    runs, opened: list[tuple[Path, Any]], tmp_path: Path
) -> None:
    client = TestClient(create_app(TilesSettings(products_dir=runs[256], rescan_interval=0)))
    for z in (6, 9, 12, 14, 16):
        t = TMS.tile(*CORNER, z)
        for name in PRODUCTS:
            assert _get(client, name, z, t.x, t.y).status_code in (200, 204)
    root = runs[256].resolve()
    assert opened
    assert [p for p, _ in opened if not p.resolve().is_relative_to(root)] == []
    assert {driver for _, driver in opened} == {"GTiff"}


def test_tile_outside_every_unit_is_204_without_reading(
    multi: TestClient, opened: list[tuple[Path, Any]]
) -> None:
    t = TMS.tile(106.8, -6.2, 14)  # Jakarta
    assert _get(multi, "ndvi", 14, t.x, t.y).status_code == 204
    assert [p for p, _ in opened if p.suffix == ".tif"] == []


def test_a_removed_unit_leaves_the_others_served(runs, single: TestClient, tmp_path: Path) -> None:
    root = Path(shutil.copytree(runs[256], tmp_path / "products"))
    settings = TilesSettings(products_dir=root, rescan_interval=3600, cache_size=0)
    client = TestClient(create_app(settings))
    # a point of the south-west unit alone, 400 m west and 760 m south of the corner
    lon, lat = Transformer.from_crs(32749, 4326, always_xy=True).transform(432240, 9141000)
    z, x, y = 14, TMS.tile(lon, lat, 14).x, TMS.tile(lon, lat, 14).y
    before = png(_get(client, "clear_count", z, x, y).content)
    gone = root / "composites" / PERIOD / "32749_x0168_y3570" / "clear_count.tif"
    gone.unlink()  # after the scan: the catalogue still lists it
    after = _get(client, "clear_count", z, x, y)
    assert after.status_code == 200
    image = png(after.content)
    lost = (before[3] > 0) & (image[3] == 0)
    assert lost.any() and (image[3] > 0).any()
    kept = image[3] > 0
    np.testing.assert_array_equal(image[:, kept], before[:, kept])
    # a new scan drops the unit, and the overview that still lists it
    fresh = TestClient(create_app(TilesSettings(products_dir=root, rescan_interval=0)))
    assert _get(fresh, "clear_count", z, x, y).status_code == 200
    t9 = TMS.tile(*CORNER, 9)
    assert _get(fresh, "clear_count", 9, t9.x, t9.y).status_code == 200


def test_a_tile_over_too_many_units_asks_to_zoom_in(runs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiles.mosaic, "MAX_MOSAIC_UNITS", 1)
    client = TestClient(
        create_app(TilesSettings(products_dir=runs[256], rescan_interval=0, overview_max_zoom=0))
    )
    t = TMS.tile(*CORNER, 10)
    response = _get(client, "ndvi", 10, t.x, t.y)
    assert response.status_code == 404
    assert response.json()["parameter"] == "z"
    assert "zoom in" in response.json()["detail"]


def test_rebuilding_overviews_skips_current_ones(runs) -> None:
    root = runs[512]
    assert build_overviews(None, root, [PERIOD], PRODUCTS, progress=False) == []
    unit = _units(root)[0] / "ndvi.tif"
    unit.touch()
    rebuilt = build_overviews(None, root, [PERIOD], PRODUCTS, progress=False)
    assert rebuilt == [root / "overviews" / PERIOD / "ndvi.tif"]


def test_reader_is_the_geotiff_only_reader() -> None:
    from tiles.raster import RasterTilerFactory

    assert RasterTilerFactory(router_prefix="/x").reader is ProductReader


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_web_map_draws_the_multi_unit_raster(driver: Any, shots: Path) -> None:
    bs.select_layer(driver, "raster.ndvi")
    bs.set_slider(driver, "opacity-slider", "HOME")
    bs.wait_idle(driver)
    hidden = bs.map_pixels(driver, shots / "mosaic-hidden.png")
    bs.set_slider(driver, "opacity-slider", "END")
    bs.wait_idle(driver)
    shown = bs.map_pixels(driver, shots / "mosaic.png")
    assert bs.changed_share(hidden, shown) > 0.05, "the multi-unit raster layer drew nothing"
    assert bs.console_errors(driver) == []
