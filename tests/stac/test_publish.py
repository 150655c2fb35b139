"""Period items: assets described from the product registry, extensions, lineage, collection."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from geo.products import PRODUCTS
from stac.publish import (
    ProductAsset,
    product_asset,
    raster_band,
    read_item,
    write_collection,
    write_unit_item,
)

UNIT = "32749_x0021_y0446"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
PROCESSING = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"


def _item_file(catalog: Path, period: str, unit: str = UNIT) -> Path:
    return catalog / "items" / period / f"{unit}.json"


def _write(catalog: Path, period: str, assets: dict[str, ProductAsset], unit: str = UNIT) -> dict:
    write_unit_item(
        _item_file(catalog, period, unit),
        unit=unit,
        period=period,
        start=datetime(int(period), 1, 5, tzinfo=UTC),
        end=datetime(int(period), 12, 20, tzinfo=UTC),
        bbox=[110.0, -8.0, 110.1, -7.9],
        geometry={
            "type": "Polygon",
            "coordinates": [[[110.0, -8.0], [110.1, -8.0], [110.1, -7.9], [110.0, -7.9]]],
        },
        epsg=32749,
        assets=assets,
        sources=[{"id": "S2A_49MDN_2023", "href": "https://example.test/S2A.json"}],
        parameters={"period": "year"},
        fingerprint="abc",
    )
    item = read_item(_item_file(catalog, period, unit))
    assert item is not None
    return item


@pytest.fixture
def item(tmp_path: Path) -> dict:
    folder = tmp_path / "composites" / "2023" / UNIT
    assets = {name: product_asset(p, folder / f"{name}.tif") for name, p in PRODUCTS.items()}
    assets["statistics"] = ProductAsset(
        tmp_path / "stats" / "2023.parquet",
        media_type="application/vnd.apache.parquet",
        title="statistics",
        roles=["data"],
    )
    return _write(tmp_path / "catalog", "2023", assets)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # float index: NaN nodata is spelled "nan" in JSON; stored values are the values
        ("ndvi", [{"data_type": "float32", "nodata": "nan"}]),
        # built-up percent in uint8: value (a fraction) = stored x 1/100
        ("built_up", [{"data_type": "uint8", "nodata": 255, "scale": 0.01}]),
        ("clear_count", [{"data_type": "uint8"}]),  # every count is a value, no nodata
        # reflectance x 10000 in uint16: value = stored x 1/10000
        ("rgb", [{"data_type": "uint16", "nodata": 0, "scale": 0.0001}] * 3),
    ],
)
def test_raster_bands_say_how_values_are_stored(item: dict, name: str, expected: list) -> None:
    assert item["assets"][name]["raster:bands"] == expected


def test_assets_are_titled_from_the_registry(item: dict) -> None:
    for name, product in PRODUCTS.items():
        asset = item["assets"][name]
        assert asset["title"] == product.title
        assert asset["description"] == product.description
        assert asset["roles"] == list(product.roles)
        assert asset["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
        assert asset["href"] == f"../../../composites/2023/{UNIT}/{name}.tif"
    assert item["assets"]["rgb"]["roles"] == ["visual"]
    assert "raster:bands" not in item["assets"]["statistics"]


def test_extensions_of_the_fields_used_are_declared(item: dict) -> None:
    assert set(item["stac_extensions"]) == {RASTER, PROJECTION, PROCESSING}
    assert item["properties"]["proj:code"] == "EPSG:32749"
    assert item["properties"]["processing:software"]["pantau"]


def test_item_links_its_sources_and_collection(item: dict) -> None:
    rels = {ln["rel"]: ln for ln in item["links"]}
    assert rels["derived_from"]["href"] == "https://example.test/S2A.json"
    assert rels["derived_from"]["pantau:item_id"] == "S2A_49MDN_2023"
    assert rels["collection"]["href"] == "../../collection.json"
    assert item["properties"]["pantau:fingerprint"] == "abc"
    assert item["properties"]["pantau:unit"] == UNIT and item["id"] == f"pantau-{UNIT}-2023"


def test_item_without_rasters_declares_no_raster_extension(tmp_path: Path) -> None:
    table = ProductAsset(tmp_path / "t.parquet", media_type="x", title="t", roles=["data"])
    item = _write(tmp_path / "catalog", "2023", {"statistics": table})
    assert RASTER not in item["stac_extensions"]


def test_collection_extent_is_the_union_of_its_items(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    other = "32749_x0022_y0446"
    _write(catalog, "2022", {})
    _write(catalog, "2023", {})
    _write(catalog, "2023", {}, unit=other)
    files = [
        _item_file(catalog, p, u) for p, u in (("2022", UNIT), ("2023", UNIT), ("2023", other))
    ]
    files.append(_item_file(catalog, "2024"))  # not committed: not listed
    write_collection(catalog, files)
    collection = json.loads((catalog / "collection.json").read_text())
    assert collection["extent"]["temporal"]["interval"] == [
        ["2022-01-05T00:00:00Z", "2023-12-20T00:00:00Z"]
    ]
    items = [ln["href"] for ln in collection["links"] if ln["rel"] == "item"]
    assert items == [
        f"./items/2022/{UNIT}.json",
        f"./items/2023/{UNIT}.json",
        f"./items/2023/{other}.json",
    ]
    assert collection["summaries"]["pantau:unit"] == sorted([UNIT, other])
    assert collection["summaries"]["pantau:period"] == ["2022", "2023"]


def test_unreadable_item_is_not_committed(tmp_path: Path) -> None:
    path = _item_file(tmp_path, "2023")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert read_item(path) is None
    assert read_item(_item_file(tmp_path, "2024")) is None


def test_raster_band_scale_inverts_the_products() -> None:
    assert raster_band(PRODUCTS["rgb"])["scale"] * PRODUCTS["rgb"].scale == pytest.approx(1)
