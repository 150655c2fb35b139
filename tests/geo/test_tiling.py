"""The fixed work-unit grid: zones, ids, tile edges, home villages, pixel alignment."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from geo.errors import GeoError
from geo.tiling import (
    ALIGN,
    DEFAULT_TILE_SIZE,
    parse_unit_id,
    plan_units,
    tile_geobox,
    tile_grid,
    unit_id,
    unit_memory_bytes,
    utm_epsg,
)


def _villages(*rows: tuple[str, object], crs: str | int = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kode": [k for k, _ in rows]}, geometry=[g for _, g in rows], crs=crs)


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (110.4, -7.8, 32749),  # Yogyakarta
        (109.3, 0.02, 32649),  # Pontianak, just north of the equator
        (109.3, -0.02, 32749),  # just south of it
        (95.3, 5.55, 32646),  # Banda Aceh, zone 46
        (140.7, -2.55, 32754),  # Jayapura, zone 54
        (0.0, 0.0, 32631),
        (-180.0, 10.0, 32601),
        (180.0, -10.0, 32760),
    ],
)
def test_utm_epsg(lon: float, lat: float, epsg: int) -> None:
    assert utm_epsg(lon, lat) == epsg


def test_utm_epsg_rejects_projected_coordinates() -> None:
    with pytest.raises(GeoError):
        utm_epsg(430000.0, 9137000.0)


@pytest.mark.parametrize(
    ("epsg", "ix", "iy", "uid"),
    [
        (32749, 21, 446, "32749_x0021_y0446"),
        (32646, -3, 0, "32646_x-0003_y0000"),
        (32754, 12345, -7, "32754_x12345_y-0007"),
    ],
)
def test_unit_id_round_trip(epsg: int, ix: int, iy: int, uid: str) -> None:
    assert unit_id(epsg, ix, iy) == uid
    assert parse_unit_id(uid) == (epsg, ix, iy)


@pytest.mark.parametrize(
    "bad", ["", "32749_x21_y446", "4326_x0001_y0001", "32749/x0001/y0001", "32749_x+0001_y0001"]
)
def test_parse_unit_id_rejects(bad: str) -> None:
    with pytest.raises(GeoError):
        parse_unit_id(bad)


def test_tile_edges_are_multiples_of_the_tile_size() -> None:
    g = tile_geobox(32749, 21, 892, tile_size=1024, resolution=10)
    b = g.extent.boundingbox
    assert (b.left, b.bottom, b.right, b.top) == (215040.0, 9134080.0, 225280.0, 9144320.0)
    assert g.shape.yx == (1024, 1024)
    assert tile_grid(32749, tile_size=1024, resolution=10).pt2idx(215040.0, 9134080.0).xy == (
        21,
        892,
    )


def test_village_crossing_a_tile_edge_is_in_one_unit_covering_it() -> None:
    # a 3 km square straddling the x = 225,280 m edge of 1024 px tiles, mostly west of it
    utm = box(223000, 9135000, 226000, 9138000)
    village = _villages(("3404012001", utm), crs=32749).to_crs(4326)
    units = plan_units(village, tile_size=1024, resolution=10)
    assert len(units) == 1
    (unit,) = units
    assert unit.id == "32749_x0021_y0892"
    assert unit.kodes == ("3404012001",)
    extent = unit.geobox.extent.boundingbox
    projected = village.to_crs(32749).total_bounds
    assert extent.left <= projected[0] and extent.right >= projected[2] > 225280
    assert extent.bottom <= projected[1] and extent.top >= projected[3]
    # edges on multiples of ALIGN pixels of the zone grid, no more than one block beyond
    step = ALIGN * 10
    for edge in (extent.left, extent.right, extent.bottom, extent.top):
        assert edge % step == 0
    assert projected[0] - extent.left < step and extent.right - projected[2] < step
    assert projected[1] - extent.bottom < step and extent.top - projected[3] < step


def test_plan_units_rejects_missing_crs() -> None:
    with pytest.raises(GeoError):
        plan_units(
            _villages(("3404012001", box(0, 0, 1, 1)), crs=None), tile_size=256, resolution=10
        )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def diy(shared_data) -> gpd.GeoDataFrame:  # type: ignore[no-untyped-def]
    frame = gpd.read_parquet(shared_data / "boundaries" / "desa_kel_34_diy.parquet")
    return frame[["kode_10", "geometry"]].rename(columns={"kode_10": "kode"})


@pytest.mark.parametrize(("tile_size", "minimum"), [(512, 6), (1024, 6), (16384, 1)])
def test_diy_every_village_in_exactly_one_unit(
    diy: gpd.GeoDataFrame, tile_size: int, minimum: int
) -> None:
    units = plan_units(diy, tile_size=tile_size, resolution=10)
    assert len(units) >= minimum
    if tile_size == 16384:
        assert len(units) == 1
    codes = [k for u in units for k in u.kodes]
    assert sorted(codes) == sorted(diy["kode"])
    assert [u.id for u in units] == sorted(u.id for u in units)
    for unit in units:
        assert {unit.epsg} == {32749}
        assert list(unit.kodes) == sorted(unit.kodes)
        homes = diy[diy["kode"].isin(unit.kodes)].to_crs(unit.epsg).total_bounds
        b = unit.geobox.extent.boundingbox
        assert b.left <= homes[0] and b.bottom <= homes[1]
        assert b.right >= homes[2] and b.top >= homes[3]


def test_unit_grids_share_pixel_alignment_across_tile_sizes(diy: gpd.GeoDataFrame) -> None:
    small = plan_units(diy, tile_size=256, resolution=10)
    large = plan_units(diy, tile_size=4096, resolution=10)
    ref = large[0].geobox.affine
    for unit in small + large:
        a = unit.geobox.affine
        assert (a.a, a.e) == (10.0, -10.0)
        dx, dy = (a.c - ref.c) / 10.0, (a.f - ref.f) / 10.0
        assert dx == np.round(dx) and dy == np.round(dy)


def test_memory_model_fits_the_default_tile_in_4_gb() -> None:
    pixels = int(DEFAULT_TILE_SIZE**2 * 1.5)  # with home villages crossing its edges
    assert unit_memory_bytes(pixels, 40) < 3e9
    assert unit_memory_bytes(pixels, 73) < 4e9
    assert unit_memory_bytes(int(4096**2 * 1.5), 40) > 4e9
    assert unit_memory_bytes(2 * pixels, 40) > unit_memory_bytes(pixels, 40)
    assert unit_memory_bytes(pixels, 80) > unit_memory_bytes(pixels, 40)
