"""Reference class shares per village: exact, against exactextract's own ``frac``."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pytest
import shapely
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from pyproj import CRS
from rasterio.transform import from_origin

from geo.landcover import (
    ESA_WORLDCOVER,
    GROUPS,
    IO_LULC_ANNUAL_V02,
    ClassScheme,
    LandCoverClass,
    class_shares,
    fraction_column,
)
from geo.zonal import coverage_weights

EPSG = 32749
SHAPE = (40, 50)
TRANSFORM = from_origin(500_000, 9_200_400, 10, 10)  # 50 x 40 cells of 10 m


def _villages() -> gpd.GeoDataFrame:
    x0, y1 = TRANSFORM.c, TRANSFORM.f
    return gpd.GeoDataFrame(
        {"kode": ["a", "b", "c", "d"]},
        geometry=[
            shapely.box(x0 + 3.3, y1 - 217.1, x0 + 233.7, y1 - 8.4),  # partial edge cells
            shapely.Point(x0 + 350, y1 - 250).buffer(97.0),  # a disc: curved edges
            shapely.box(x0 + 120, y1 - 395, x0 + 480, y1 - 230).difference(
                shapely.box(x0 + 200, y1 - 350, x0 + 260, y1 - 300)
            ),  # with a hole
            shapely.box(x0 + 0, y1 - 400, x0 + 40, y1 - 360),  # only nodata cells
        ],
        crs=EPSG,
    )


def _raster(scheme: ClassScheme, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = [c.value for c in scheme.classes] + [scheme.nodata]
    raster = rng.choice(values, size=SHAPE).astype(np.uint8)
    raster[36:, :4] = scheme.nodata  # village d sees no class at all
    return raster


def _exactextract_groups(
    villages: gpd.GeoDataFrame, raster: np.ndarray, scheme: ClassScheme
) -> np.ndarray:
    """Group shares from exactextract's ``frac`` (fraction of valid area per distinct value).

    Classes marked unknown (IO's Clouds) are removed and the rest renormalised by hand.
    """
    height, width = raster.shape
    xmin, ymax = TRANSFORM.c, TRANSFORM.f
    source = NumPyRasterSource(
        raster,
        xmin,
        ymax - height * 10,
        xmin + width * 10,
        ymax,
        nodata=scheme.nodata,
        srs_wkt=CRS.from_epsg(EPSG).to_wkt(),
    )
    result = exact_extract(source, villages, ["unique", "frac"], output="pandas")
    group_of = {c.value: c.group for c in scheme.classes}
    unknown = {c.value for c in scheme.classes if not c.known}
    out = np.full((len(villages), len(GROUPS)), np.nan)
    for row, (values, fracs) in enumerate(zip(result["unique"], result["frac"], strict=True)):
        fracs = np.asarray(fracs, dtype=np.float64)
        values = np.asarray(values)
        if values.size == 0:
            continue
        known = np.array([v not in unknown for v in values])
        if not known.any():
            continue
        total = fracs[known].sum()
        out[row] = 0.0
        for v, f in zip(values[known], fracs[known], strict=True):
            out[row, GROUPS.index(group_of[int(v)])] += f / total
    return out


@pytest.mark.parametrize("scheme", [ESA_WORLDCOVER, IO_LULC_ANNUAL_V02], ids=lambda s: s.name)
def test_shares_equal_exactextract_frac(scheme: ClassScheme) -> None:
    villages = _villages()
    raster = _raster(scheme, seed=len(scheme.classes))
    weights = coverage_weights(villages, shape=SHAPE, transform=TRANSFORM)
    shares = class_shares(weights, raster, scheme)
    expected = _exactextract_groups(villages, raster, scheme)
    got = np.column_stack([shares[fraction_column(g)] for g in GROUPS])
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def test_shares_of_a_village_sum_to_one_and_nan_without_valid_cells() -> None:
    villages = _villages()
    weights = coverage_weights(villages, shape=SHAPE, transform=TRANSFORM)
    shares = class_shares(weights, _raster(ESA_WORLDCOVER, 1), ESA_WORLDCOVER)
    total = sum(shares[c] for c in ESA_WORLDCOVER.columns)
    np.testing.assert_allclose(total[:3], 1.0, atol=1e-12)
    assert all(np.isnan(shares[c][3]) for c in ESA_WORLDCOVER.columns)


def test_partial_cells_weigh_by_coverage_by_hand() -> None:
    # one row of cells: x 5..20 covers half of a built-up cell and all of a tree cell
    raster = np.zeros(SHAPE, dtype=np.uint8)
    raster[0, 0], raster[0, 1] = 50, 10
    x0, y1 = TRANSFORM.c, TRANSFORM.f
    village = gpd.GeoDataFrame(geometry=[shapely.box(x0 + 5, y1 - 10, x0 + 20, y1)], crs=EPSG)
    weights = coverage_weights(village, shape=SHAPE, transform=TRANSFORM)
    shares = class_shares(weights, raster, ESA_WORLDCOVER)
    assert shares["lc_built_fraction"][0] == pytest.approx(0.5 / 1.5)
    assert shares["lc_tree_fraction"][0] == pytest.approx(1.0 / 1.5)
    assert shares["lc_water_fraction"][0] == 0.0


def test_clouds_are_left_out_of_the_denominator() -> None:
    # IO: 2 built cells, 1 crop cell, 1 cloud cell -> built 2/3, crop 1/3
    raster = np.zeros(SHAPE, dtype=np.uint8)
    raster[0, :4] = [7, 7, 5, 10]
    x0, y1 = TRANSFORM.c, TRANSFORM.f
    village = gpd.GeoDataFrame(geometry=[shapely.box(x0, y1 - 10, x0 + 40, y1)], crs=EPSG)
    weights = coverage_weights(village, shape=SHAPE, transform=TRANSFORM)
    shares = class_shares(weights, raster, IO_LULC_ANNUAL_V02)
    assert shares["lc_built_fraction"][0] == pytest.approx(2 / 3)
    assert shares["lc_crop_fraction"][0] == pytest.approx(1 / 3)
    assert shares["lc_other_fraction"][0] == 0.0


def test_undeclared_values_count_as_nodata_with_a_warning(caplog) -> None:
    raster = np.zeros(SHAPE, dtype=np.uint8)
    raster[0, :3] = [50, 255, 10]  # 255 is no WorldCover class
    x0, y1 = TRANSFORM.c, TRANSFORM.f
    village = gpd.GeoDataFrame(geometry=[shapely.box(x0, y1 - 10, x0 + 30, y1)], crs=EPSG)
    weights = coverage_weights(village, shape=SHAPE, transform=TRANSFORM)
    with caplog.at_level(logging.WARNING, logger="geo.landcover"):
        shares = class_shares(weights, raster, ESA_WORLDCOVER)
    assert shares["lc_built_fraction"][0] == pytest.approx(0.5)
    assert "255" in caplog.text


def test_float_rasters_are_refused() -> None:
    weights = coverage_weights(_villages(), shape=SHAPE, transform=TRANSFORM)
    with pytest.raises(ValueError, match="integer"):
        class_shares(weights, np.zeros(SHAPE, dtype=np.float32), ESA_WORLDCOVER)


def test_both_schemes_give_the_common_columns() -> None:
    wanted = {f"lc_{g}_fraction" for g in ("built", "tree", "water", "crop", "bare", "other")}
    assert wanted <= set(ESA_WORLDCOVER.columns)
    assert ESA_WORLDCOVER.columns == IO_LULC_ANNUAL_V02.columns
    assert ESA_WORLDCOVER.code("built") == (50,) and IO_LULC_ANNUAL_V02.code("built") == (7,)


@pytest.mark.parametrize(
    ("classes", "nodata", "message"),
    [
        ((LandCoverClass(1, "a", "tree"), LandCoverClass(1, "b", "crop")), 0, "duplicate"),
        ((LandCoverClass(0, "a", "tree"),), 0, "nodata"),
        ((LandCoverClass(1, "a", "forest"),), 0, "groups"),
        ((LandCoverClass(300, "a", "tree"),), 0, "uint8"),
    ],
)
def test_inconsistent_schemes_are_refused(classes, nodata, message) -> None:
    with pytest.raises(ValueError, match=message):
        ClassScheme("x", classes, nodata)
