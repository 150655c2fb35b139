"""Reference collections: class codes as published, year choice, nearest loading with nodata."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pystac
import pytest
import shapely
import yaml
from odc.geo.geobox import GeoBox
from rasterio.transform import from_origin

from geo.cog import write_cog
from stac.reference import (
    REFERENCES,
    ReferenceDataError,
    closest_year,
    get_reference,
    item_year,
    load_reference,
    reference_source,
)

# ESA WorldCover: `item_assets.map` of Planetary Computer's collection template
# (github.com/microsoft/planetary-computer-tasks, datasets/esa-worldcover/collection/
# template.json): classification:classes value -> description, raster:bands nodata 0 uint8.
ESA_PUBLISHED = {
    10: "Tree cover",
    20: "Shrubland",
    30: "Grassland",
    40: "Cropland",
    50: "Built-up",
    60: "Bare / sparse vegetation",
    70: "Snow and ice",
    80: "Permanent water bodies",
    90: "Herbaceous wetland",
    95: "Mangroves",
    100: "Moss and lichen",
}
# Impact Observatory 9-class: `item_assets.data.file:values` of the Planetary Computer
# collection (values 0 "No Data", 1..11 as below; summaries raster:bands nodata 0).
IO_PUBLISHED = {
    1: "Water",
    2: "Trees",
    4: "Flooded vegetation",
    5: "Crops",
    7: "Built area",
    8: "Bare ground",
    9: "Snow/ice",
    10: "Clouds",
    11: "Rangeland",
}
PC_LANDING = "stac/pystac-client_cassettes/test_client/TestSigning.test_sign_with_return_warns.yaml"


@pytest.mark.parametrize(
    ("name", "published", "asset"),
    [("esa-worldcover", ESA_PUBLISHED, "map"), ("io-lulc-annual-v02", IO_PUBLISHED, "data")],
)
def test_class_codes_names_and_nodata_are_the_published_ones(name, published, asset) -> None:
    ref = get_reference(name)
    assert {c.value: c.name for c in ref.scheme.classes} == published
    assert ref.nodata == 0 and ref.scheme.dtype == "uint8"
    assert ref.asset == asset and ref.collection == name
    assert ref.license == "CC-BY-4.0"


def test_collections_are_listed_by_the_recorded_planetary_computer_landing_page(
    shared_data: Path,
) -> None:
    cassette = yaml.safe_load((shared_data / PC_LANDING).read_text())
    landing = json.loads(cassette["interactions"][0]["response"]["body"]["string"])
    children = {
        link["href"].rsplit("/", 1)[-1]: link.get("title")
        for link in landing["links"]
        if link["rel"] == "child"
    }
    assert children["esa-worldcover"] == "ESA WorldCover"
    assert "(9-class) V2" in children["io-lulc-annual-v02"]
    assert {r.collection for r in REFERENCES.values()} <= set(children)


def _item(year_start: str | None, dt: datetime | None = None) -> pystac.Item:
    props = {} if year_start is None else {"start_datetime": year_start, "end_datetime": None}
    return pystac.Item("x", None, None, dt, props)


def test_item_year_reads_start_datetime_then_datetime() -> None:
    assert item_year(_item("2020-01-01T00:00:00Z")) == 2020
    assert item_year(_item(None, datetime(2019, 6, 30, tzinfo=UTC))) == 2019


@pytest.mark.parametrize(
    ("available", "year", "expected"),
    [
        ((2020, 2021), 2023, 2021),  # after the last map: the last one
        ((2020, 2021), 2015, 2020),
        ((2017, 2018, 2019), 2018, 2018),
        ((2018, 2020), 2019, 2020),  # a tie: the newer map
    ],
)
def test_closest_year(available, year, expected) -> None:
    assert closest_year(available, year) == expected


def test_unknown_reference_names_the_known_ones() -> None:
    with pytest.raises(ReferenceDataError, match="esa-worldcover"):
        get_reference("worldcover")


def test_planetary_computer_is_the_default_source_and_signs() -> None:
    source = reference_source("io-lulc-annual-v02")
    assert source.kind == "planetary-computer"
    assert source.collection == "io-lulc-annual-v02"
    assert source.patch_url is not None


# --- loading ------------------------------------------------------------------------------

EPSG = 32749
TRANSFORM = from_origin(400_000, 9_100_200, 10, 10)


@pytest.fixture(scope="module")
def categorical_item(tmp_path_factory: pytest.TempPathFactory) -> tuple[pystac.Item, np.ndarray]:
    """A 20 x 30 WorldCover-coded COG (stripes of classes, a nodata block) and its item."""
    folder = tmp_path_factory.mktemp("ref")
    classes = np.array([10, 40, 50, 80, 60], dtype=np.uint8)[np.arange(30) // 6]
    raster = np.tile(classes, (20, 1))
    raster[:5, :5] = 0
    path = write_cog(
        raster,
        folder / "map.tif",
        crs=f"EPSG:{EPSG}",
        transform=TRANSFORM,
        nodata=0,
        resampling="nearest",
    )
    box = shapely.box(400_000, 9_100_000, 400_300, 9_100_200)
    import geopandas as gpd

    lonlat = gpd.GeoSeries([box], crs=EPSG).to_crs(4326).iloc[0]
    item = pystac.Item(
        "ESA_WorldCover_10m_2021_v200_S09E108",
        shapely.geometry.mapping(lonlat),
        list(lonlat.bounds),
        None,
        {"start_datetime": "2021-01-01T00:00:00Z", "end_datetime": "2021-12-31T23:59:59Z"},
        collection="esa-worldcover",
    )
    item.add_asset("map", pystac.Asset(str(path), media_type=pystac.MediaType.COG))
    return item, raster


def test_load_on_its_own_grid_returns_the_classes_unchanged(categorical_item) -> None:
    item, raster = categorical_item
    geobox = GeoBox((20, 30), TRANSFORM, f"EPSG:{EPSG}")
    layer = load_reference([item], geobox, reference=REFERENCES["esa-worldcover"], chunk=16)
    assert layer.dims == ("y", "x") and layer.dtype == np.uint8
    np.testing.assert_array_equal(layer.compute().values, raster)


def test_coarser_grid_takes_nearest_classes_never_blends(categorical_item) -> None:
    item, raster = categorical_item
    # 20 m pixels offset by 5 m, extending 100 m east beyond the map
    geobox = GeoBox((10, 20), from_origin(400_005, 9_100_195, 20, 20), f"EPSG:{EPSG}")
    got = load_reference([item], geobox, reference=REFERENCES["esa-worldcover"]).compute().values
    assert set(np.unique(got)) <= set(np.unique(raster))  # no averaged class like 45
    assert (got[:, 15:] == 0).all()  # outside the map: nodata
    # pixel (row 5, col 7): centre x 400005+150=400155, y 9100195-110=9100085 -> map col 15
    assert got[5, 7] == raster[11, 15] == 50


def test_loading_no_items_is_an_error() -> None:
    geobox = GeoBox((2, 2), TRANSFORM, f"EPSG:{EPSG}")
    with pytest.raises(ReferenceDataError, match="no esa-worldcover items"):
        load_reference([], geobox, reference=REFERENCES["esa-worldcover"])
