"""parse: canonical bands, radiometry rule and scene table, on real recorded items."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pystac
import pytest

from stac.errors import RadiometryError, StacError
from stac.parse import (
    band_assets,
    normalize_item,
    parse_item,
    parse_items,
    radiometry,
    scenes_table,
)
from tests.stac.conftest import ES_FIELDS, ES_FILTER, ES_MULTI, PC_DATETIME

Item = Callable[[str, str], pystac.Item]

ES_L2A_2023 = (ES_MULTI, "S2A_13TDE_20231008_0_L2A")
ES_L2A_2025 = (ES_FILTER, "S2B_20EPT_20250731_0_L2A")
ES_C1 = (ES_FILTER, "S2B_T20EPT_20250731T131905_L2A")
PC_2019 = (PC_DATETIME, "S2A_MSIL2A_20190101T000001_R116_T60VUK_20201007T214652")
LANDSAT = (ES_MULTI, "LC08_L2SP_033032_20231008_02_T1")


# --- what the real items carry (the facts docs/radiometry.md relies on) ---------------------


def test_earth_search_l2a_items_say_offset_applied_but_list_offset(recorded_item: Item) -> None:
    item = recorded_item(*ES_L2A_2025)
    assert item.properties["earthsearch:boa_offset_applied"] is True
    assert item.properties["s2:processing_baseline"] == "05.11"
    assert item.assets["red"].extra_fields["raster:bands"][0]["offset"] == -0.1


def test_earth_search_c1_items_carry_raster_offset_and_no_flag(recorded_item: Item) -> None:
    item = recorded_item(*ES_C1)
    assert "earthsearch:boa_offset_applied" not in item.properties
    raster = item.assets["red"].extra_fields["raster:bands"][0]
    assert (raster["scale"], raster["offset"]) == (0.0001, -0.1)


def test_planetary_computer_items_carry_only_the_baseline(recorded_item: Item) -> None:
    item = recorded_item(*PC_2019)
    assert item.properties["s2:processing_baseline"] == "02.12"
    assert not any("raster:bands" in a.extra_fields for a in item.assets.values())


# --- band mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "band", "href_end"),
    [
        (ES_C1, "red", "/B04.tif"),
        (ES_C1, "nir", "/B08.tif"),
        (ES_C1, "swir16", "/B11.tif"),
        (ES_C1, "scl", "/SCL.tif"),
        (ES_L2A_2023, "red", "/B04.tif"),
        (PC_2019, "red", "_B04_10m.tif"),
        (PC_2019, "nir", "_B08_10m.tif"),
        (PC_2019, "swir16", "_B11_20m.tif"),
        (PC_2019, "nir08", "_B8A_20m.tif"),
        (PC_2019, "scl", "_SCL_20m.tif"),
    ],
)
def test_provider_keys_map_to_canonical_bands(
    recorded_item: Item, which: tuple[str, str], band: str, href_end: str
) -> None:
    assert parse_item(recorded_item(*which)).hrefs[band].endswith(href_end)


@pytest.mark.parametrize("which", [ES_L2A_2023, ES_C1, PC_2019])
def test_only_bands_are_kept(recorded_item: Item, which: tuple[str, str]) -> None:
    assets = band_assets(recorded_item(*which))
    assert set(assets) == {
        "coastal", "blue", "green", "red", "rededge1", "rededge2", "rededge3",
        "nir", "nir08", "nir09", "swir16", "swir22", "scl",
    }  # fmt: skip
    assert not any(a.href.endswith(".jp2") for a in assets.values())


def test_missing_band_names_the_item_and_the_band(recorded_item: Item) -> None:
    with pytest.raises(
        StacError, match=r"'LC08_L2SP_033032_20231008_02_T1' has no asset .*nir, scl"
    ):
        parse_item(recorded_item(*LANDSAT))


def test_item_without_assets_is_refused(recorded_features: Callable[[str], list[dict]]) -> None:
    item = pystac.Item.from_dict(recorded_features(ES_FIELDS)[0], migrate=False)
    with pytest.raises(StacError, match="has no asset for band"):
        parse_item(item)


# --- radiometry on real items ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "offset", "rule"),
    [
        (ES_L2A_2023, 0.0, "earthsearch:boa_offset_applied=true"),
        (ES_L2A_2025, 0.0, "earthsearch:boa_offset_applied=true"),
        (ES_C1, -0.1, "raster:bands of the reflectance assets"),
        (PC_2019, 0.0, "s2:processing_baseline 02.12 < 04.00"),
    ],
)
def test_radiometry_of_real_items(
    recorded_item: Item, which: tuple[str, str], offset: float, rule: str
) -> None:
    scale, got, text = radiometry(recorded_item(*which))
    assert (scale, got) == (pytest.approx(1e-4), pytest.approx(offset))
    assert text.startswith(rule)


# --- radiometry on edited copies: the other branches -----------------------------------------


@pytest.mark.parametrize(
    ("baseline", "offset"), [("02.14", 0.0), ("03.01", 0.0), ("04.00", -0.1), ("05.11", -0.1)]
)
def test_baseline_decides_when_only_the_baseline_is_known(
    recorded_item: Item, baseline: str, offset: float
) -> None:
    item = recorded_item(*PC_2019)
    item.properties["s2:processing_baseline"] = baseline
    assert radiometry(item)[1] == pytest.approx(offset)


@pytest.mark.parametrize(("baseline", "offset"), [("04.00", -0.1), ("02.14", 0.0)])
def test_flag_false_means_raw_pixels_and_the_baseline_decides(
    recorded_item: Item, baseline: str, offset: float
) -> None:
    item = recorded_item(*ES_L2A_2023)
    item.properties |= {"earthsearch:boa_offset_applied": False, "s2:processing_baseline": baseline}
    _, got, rule = radiometry(item)
    assert got == pytest.approx(offset)
    assert rule.startswith("earthsearch:boa_offset_applied=false")


def test_earth_search_l2a_raster_offset_is_not_trusted(recorded_item: Item) -> None:
    item = recorded_item(*ES_L2A_2023)
    del item.properties["earthsearch:boa_offset_applied"]
    item.properties["s2:processing_baseline"] = "02.14"
    assert radiometry(item)[1] == 0.0  # raster:bands still say -0.1


@pytest.mark.parametrize(("day", "offset"), [("2023-10-08", -0.1), ("2021-06-01", 0.0)])
def test_no_metadata_falls_back_on_the_date_and_says_so(
    recorded_item: Item, day: str, offset: float
) -> None:
    item = recorded_item(*ES_L2A_2023)
    for key in ("earthsearch:boa_offset_applied", "s2:processing_baseline"):
        del item.properties[key]
    item.datetime = datetime.fromisoformat(day).replace(tzinfo=UTC)
    _, got, rule = radiometry(item)
    assert got == pytest.approx(offset)
    assert rule.startswith("no radiometric metadata; assumed")


def test_trusted_raster_bands_outrank_the_baseline(recorded_item: Item) -> None:
    item = recorded_item(*ES_C1)
    item.properties["s2:processing_baseline"] = "02.14"
    assert radiometry(item)[1] == pytest.approx(-0.1)


def test_disagreeing_raster_bands_are_an_error(recorded_item: Item) -> None:
    item = recorded_item(*ES_C1)
    item.assets["nir"].extra_fields["raster:bands"][0]["offset"] = 0.0
    with pytest.raises(RadiometryError, match="declare different raster:bands"):
        radiometry(item)


@pytest.mark.parametrize(
    ("key", "value"),
    [("s2:processing_baseline", "abc"), ("earthsearch:boa_offset_applied", "yes")],
)
def test_unreadable_metadata_is_an_error_naming_the_item(
    recorded_item: Item, key: str, value: str
) -> None:
    item = recorded_item(*PC_2019)
    item.properties[key] = value
    with pytest.raises(RadiometryError, match=f"item '{item.id}'"):
        radiometry(item)


# --- scenes ---------------------------------------------------------------------------------


def test_scene_fields(recorded_item: Item) -> None:
    scene = parse_item(recorded_item(*PC_2019))
    assert scene.datetime == datetime(2019, 1, 1, 0, 0, 1, 24000, tzinfo=UTC)
    assert scene.datetime.tzinfo is UTC
    assert (scene.collection, scene.epsg, scene.processing_baseline) == (
        "sentinel-2-l2a",
        32660,
        "02.12",
    )
    assert scene.cloud_cover == pytest.approx(56.297088)
    assert len(scene.bbox) == 4


def test_epsg_from_proj_code(recorded_item: Item) -> None:
    item = recorded_item(*ES_C1)
    del item.properties["proj:epsg"]
    item.properties["proj:code"] = "EPSG:32720"
    assert parse_item(item).epsg == 32720


def test_scenes_table_has_one_row_per_scene(recorded_features: Callable[[str], list[dict]]) -> None:
    items = [pystac.Item.from_dict(f, migrate=False) for f in recorded_features(PC_DATETIME)[:33]]
    table = scenes_table(parse_items(items))
    assert len(table) == 33
    assert str(table["datetime"].dt.tz) == "UTC"
    assert set(table["offset"]) == {0.0}
    assert table["radiometry_rule"].str.contains("02.12").all()


def test_scenes_table_of_nothing_keeps_its_columns() -> None:
    table = scenes_table([])
    assert table.empty
    assert {"id", "datetime", "cloud_cover", "radiometry_rule"} <= set(table.columns)


# --- normalize_item: loadable by canonical name from any provider ----------------------------


def test_normalize_keeps_band_metadata(recorded_item: Item) -> None:
    item = recorded_item(*ES_L2A_2023)
    normalized = normalize_item(item)
    assert set(normalized.assets) == set(band_assets(item))
    red = normalized.assets["red"]
    assert red.href == item.assets["red"].href
    assert red.extra_fields["raster:bands"] == item.assets["red"].extra_fields["raster:bands"]
    assert red.extra_fields["eo:bands"] == item.assets["red"].extra_fields["eo:bands"]
    assert "red-jp2" in item.assets  # the original is left alone


def test_normalize_gives_planetary_computer_bands_their_pixel_type(recorded_item: Item) -> None:
    normalized = normalize_item(recorded_item(*PC_2019))
    assert normalized.assets["red"].extra_fields["raster:bands"] == [
        {"nodata": 0, "data_type": "uint16"}
    ]
    assert normalized.assets["scl"].extra_fields["raster:bands"][0]["data_type"] == "uint8"
    assert radiometry(normalized) == radiometry(recorded_item(*PC_2019))


# odc-geo 0.5 calls deprecated affine/shapely operators while it builds a geobox.
@pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")
@pytest.mark.filterwarnings("ignore:The 'shapely.ops.transform:DeprecationWarning")
@pytest.mark.parametrize("which", [ES_C1, ES_L2A_2023, PC_2019])
def test_odc_stac_loads_normalized_items_lazily(
    recorded_item: Item, which: tuple[str, str]
) -> None:
    import odc.stac

    item = normalize_item(recorded_item(*which))
    data = odc.stac.load([item], bands=["red", "nir", "scl"], chunks={}, resolution=60)
    assert list(data.data_vars) == ["red", "nir", "scl"]
    assert (data.red.dtype, data.scl.dtype) == (np.dtype("uint16"), np.dtype("uint8"))
    assert data.red.chunks is not None  # dask-backed: nothing was read


# --- STAC 1.1 items in the shape of the Copernicus Data Space Ecosystem catalogue ------------
# CDSE publishes STAC 1.1: asset keys carry the resolution (B04_10m, SCL_20m), ``proj:code``
# sits on each asset only, and radiometry is a ``bands`` array plus asset-level
# ``raster:scale``/``raster:offset`` (no ``raster:bands``). Written here by hand in that shape.

_CDSE_BANDS = {
    "B02": ("blue", (10, 20, 60)),
    "B03": ("green", (10, 20, 60)),
    "B04": ("red", (10, 20, 60)),
    "B08": ("nir", (10,)),
    "B11": ("swir16", (20, 60)),
    "B12": ("swir22", (20, 60)),
    "SCL": (None, (20, 60)),
    "AOT": (None, (10, 20)),
}


def cdse_item(*, epsg: int = 32749, offset: float | None = -0.1) -> pystac.Item:
    """A Sentinel-2 L2A item as stac.dataspace.copernicus.eu/v1 writes it (STAC 1.1)."""
    assets: dict[str, dict] = {}
    for esa, (common, resolutions) in _CDSE_BANDS.items():
        for res in resolutions:
            band: dict = {"name": esa}
            if common:
                band["eo:common_name"] = common
            asset: dict = {
                "href": f"s3://eodata/T49MDN/IMG_DATA/R{res}m/T49MDN_{esa}_{res}m.jp2",
                "type": "image/jp2",
                "roles": ["data"],
                "proj:code": f"EPSG:{epsg}",
                "proj:shape": [109800 // res, 109800 // res],
                "gsd": res,
                "bands": [band],
                "data_type": "uint8" if esa == "SCL" else "uint16",
                "nodata": 0,
            }
            if common and offset is not None:
                asset["raster:scale"] = 0.0001
                asset["raster:offset"] = offset
            assets[f"{esa}_{res}m"] = asset
    data = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
            "https://stac-extensions.github.io/raster/v2.0.0/schema.json",
            "https://stac-extensions.github.io/eo/v2.0.0/schema.json",
        ],
        "id": "S2B_MSIL2A_20240814T022319_N0511_R103_T49MDN_20240814T051320",
        "collection": "sentinel-2-l2a",
        "bbox": [110.09, -8.14, 111.08, -7.23],
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[110.09, -8.14], [111.08, -8.14], [111.08, -7.23], [110.09, -8.14]]],
        },
        "properties": {
            "datetime": "2024-08-14T02:23:19.024000Z",
            "eo:cloud_cover": 3.2,
            "processing:version": "05.11",
            "s2:processing_baseline": "05.11",
        },
        "links": [],
        "assets": assets,
    }
    return pystac.Item.from_dict(data, migrate=False)


def test_cdse_epsg_comes_from_the_assets() -> None:
    scene = parse_item(cdse_item(epsg=32749))
    assert scene.epsg == 32749
    assert scenes_table([scene])["epsg"].tolist() == [32749]


def test_item_level_projection_outranks_the_assets() -> None:
    item = cdse_item(epsg=32749)
    item.properties["proj:code"] = "EPSG:32750"
    assert parse_item(item).epsg == 32750


def test_cdse_assets_in_different_projections_are_an_error() -> None:
    item = cdse_item(epsg=32749)
    item.assets["B08_10m"].extra_fields["proj:code"] = "EPSG:32750"
    with pytest.raises(StacError, match="different projections"):
        parse_item(item)


@pytest.mark.parametrize(
    ("band", "href_end"),
    [
        ("red", "/R10m/T49MDN_B04_10m.jp2"),
        ("blue", "/R10m/T49MDN_B02_10m.jp2"),
        ("swir16", "/R20m/T49MDN_B11_20m.jp2"),
        ("scl", "/R20m/T49MDN_SCL_20m.jp2"),
    ],
)
def test_cdse_keys_map_to_the_finest_resolution(band: str, href_end: str) -> None:
    assert parse_item(cdse_item()).hrefs[band].endswith(href_end)


def test_cdse_non_band_assets_are_not_bands() -> None:
    expected = {"blue", "green", "red", "nir", "swir16", "swir22", "scl"}
    assert set(band_assets(cdse_item())) == expected


def test_cdse_asset_scale_offset_is_the_radiometry() -> None:
    scale, offset, rule = radiometry(cdse_item(offset=-0.1))
    assert (scale, offset) == (pytest.approx(1e-4), pytest.approx(-0.1))
    assert "STAC 1.1" in rule


def test_stac_11_declared_offset_outranks_the_baseline() -> None:
    # Baseline 05.11 alone would mean -0.1; the catalogue says the shift is already removed.
    item = cdse_item(offset=0.0)
    assert radiometry(item)[1] == 0.0


def test_stac_11_band_entry_overrides_its_asset() -> None:
    item = cdse_item(offset=-0.1)
    for asset in item.assets.values():
        if "raster:scale" in asset.extra_fields:
            asset.extra_fields["bands"][0].update({"scale": 0.0001, "offset": 0.0})
    assert radiometry(item)[1] == 0.0


def test_stac_11_disagreeing_bands_are_an_error() -> None:
    item = cdse_item(offset=-0.1)
    item.assets["B08_10m"].extra_fields["raster:offset"] = 0.0
    with pytest.raises(RadiometryError, match="different STAC 1.1"):
        radiometry(item)


def test_cdse_item_without_declared_radiometry_falls_back_on_the_baseline() -> None:
    scale, offset, rule = radiometry(cdse_item(offset=None))
    assert offset == pytest.approx(-0.1)
    assert "05.11" in rule
