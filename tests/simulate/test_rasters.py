"""Simulated scenes: COGs on the product grid, SCL, no-data, radiometry, STAC items."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import shapely
from rio_cogeo.cogeo import cog_validate

from geo.sentinel2 import BOA_ADD_OFFSET_DN
from simulate import MaterialPalette

from .conftest import REFLECTANCE, items_of, manifest_of, read


def test_cogs_validate_with_the_product_grid(sim) -> None:
    epsg = sim.epsg
    assert epsg == 32749
    for item in items_of(sim)[:3]:
        for key, asset in item.assets.items():
            path = Path(asset.get_absolute_href())
            valid, errors, warnings = cog_validate(str(path))
            assert valid and not errors and not warnings, (path, errors, warnings)
            with rasterio.open(path) as src:
                res = 20 if key in ("swir16", "swir22", "scl") else 10
                assert src.crs.to_epsg() == epsg
                assert src.res == (res, res)
                assert src.dtypes[0] == ("uint8" if key == "scl" else "uint16")
                assert src.nodata == 0
                assert src.compression.name.upper() in ("ZSTD", "DEFLATE")
                assert list(src.shape) == asset.extra_fields["proj:shape"]
                assert list(src.transform)[:6] == asset.extra_fields["proj:transform"]
                assert src.transform.c % 20 == 0 and src.transform.f % 20 == 0
                if res == 10:
                    assert src.overviews(1)  # 640 px a side: one internal overview


def test_cloud_cover_is_the_share_of_scl_clouds_and_cirrus(sim) -> None:
    covers = []
    for item in items_of(sim):
        scl = read(Path(item.assets["scl"].get_absolute_href()))
        data = scl != 0
        share = 100 * np.isin(scl[data], (8, 9, 10)).mean()
        assert item.properties["eo:cloud_cover"] == pytest.approx(share, abs=1e-4)
        covers.append(share)
    assert 1 <= sum(c > 70 for c in covers) <= 2
    assert all(c < 60 for c in covers if c <= 70)


def test_scenes_hold_every_scl_condition(sim) -> None:
    seen: set[int] = set()
    for item in items_of(sim):
        seen |= set(np.unique(read(Path(item.assets["scl"].get_absolute_href()))).tolist())
    assert {0, 1, 3, 4, 5, 6, 8, 9, 10} <= seen


def test_nodata_and_saturation_agree_across_bands(sim) -> None:
    for item in items_of(sim):
        scl = read(Path(item.assets["scl"].get_absolute_href()))
        scl10 = np.repeat(np.repeat(scl, 2, axis=0), 2, axis=1)
        for key in ("blue", "nir"):
            dn = read(Path(item.assets[key].get_absolute_href()))
            assert np.array_equal(dn == 0, scl10 == 0)
            assert (dn[scl10 == 1] == 65535).all()
        swir = read(Path(item.assets["swir16"].get_absolute_href()))
        assert np.array_equal(swir == 0, scl == 0)


def test_dn_follow_each_items_radiometry(sim) -> None:
    """Every clear pixel's DN is its mixture's reflectance x 10000 (+1000 when raw)."""
    manifest = manifest_of(sim)
    raw, contradicting = set(manifest["raw_offset_items"]), set(manifest["contradicting_items"])
    palette = MaterialPalette.from_dict(
        json.loads((sim.catalog_dir / manifest["palette"]).read_text())
    )
    for item in items_of(sim):
        year = item.datetime.year
        materials = read(sim.catalog_dir / manifest["materials"][str(year)])
        expected = palette.reflectance(item.datetime.date()) * 1e4
        offset = BOA_ADD_OFFSET_DN if item.id in raw else 0
        scl = read(Path(item.assets["scl"].get_absolute_href()))
        clear = np.isin(scl, (4, 5, 6))
        for b, band in enumerate(REFLECTANCE):
            dn = read(Path(item.assets[band].get_absolute_href())).astype(float) - offset
            per_pixel = expected[materials, b]
            if dn.shape == scl.shape:  # 20 m: the mean of the 2x2 10 m mixtures
                per_pixel = per_pixel.reshape(scl.shape[0], 2, scl.shape[1], 2).mean(axis=(1, 3))
                ok = clear
            else:
                ok = np.repeat(np.repeat(clear, 2, axis=0), 2, axis=1)
            ratio = dn[ok] / per_pixel[ok]
            # per-scene gain (+-3%, +-1% per band), 2.5% noise: well inside the 1000 DN offset
            assert abs(np.median(ratio) - 1) <= 0.045, (item.id, band)
            assert np.percentile(np.abs(ratio - np.median(ratio)), 90) < 0.06, (item.id, band)
        props = item.properties
        if item.id in raw or item.id in contradicting:
            assert props["earthsearch:boa_offset_applied"] is False


def test_radiometry_metadata_mimics_earth_search(sim) -> None:
    manifest = manifest_of(sim)
    items = items_of(sim)
    newer = [i for i in items if i.properties["s2:processing_baseline"] >= "04.00"]
    older = [i for i in items if i.properties["s2:processing_baseline"] < "04.00"]
    assert older and newer
    for item in older:
        assert item.datetime.date() < date(2022, 1, 25)
        assert item.properties["s2:processing_baseline"] == "03.01"
    for item in newer:
        assert item.datetime.date() >= date(2022, 1, 25)
    contradicting = manifest["contradicting_items"]
    assert len(contradicting) == 1
    assert contradicting[0] in {i.id for i in newer}
    raw = set(manifest["raw_offset_items"])
    assert raw and raw <= {i.id for i in newer}
    applied = [i for i in newer if i.properties["earthsearch:boa_offset_applied"]]
    assert len(applied) > len(newer) / 2
    assert {i.id for i in newer} == raw | set(contradicting) | {i.id for i in applied}
    for item in items:
        for key in REFLECTANCE:
            (band,) = item.assets[key].extra_fields["raster:bands"]
            assert band["scale"] == 0.0001
            assert band["offset"] == (-0.1 if item in newer else 0)


def test_items_look_like_earth_search_v1(sim) -> None:
    items = items_of(sim)
    assert [i.id for i in items] == list(sim.item_ids)
    for item in items:
        assert re.match(r"^S2[ABC]_49M[A-Z]{2}_\d{8}_0_L2A$", item.id)
        props = item.properties
        assert props["pantau:simulated"] is True
        # written as Earth Search does (projection v1.1 proj:epsg); pystac may migrate it
        on_disk = json.loads(Path(item.get_self_href()).read_text())["properties"]
        assert on_disk["proj:epsg"] == sim.epsg
        assert props.get("proj:epsg", sim.epsg) == sim.epsg
        assert props.get("proj:code", f"EPSG:{sim.epsg}") == f"EPSG:{sim.epsg}"
        assert props["platform"].startswith("sentinel-2")
        assert props["constellation"] == "sentinel-2"
        assert props["s2:product_type"] == "S2MSI2A"
        assert props["mgrs:utm_zone"] == 49 and props["mgrs:latitude_band"] == "M"
        assert set(item.assets) == {*REFLECTANCE, "scl"}
        for key, asset in item.assets.items():
            assert asset.media_type == pystac.MediaType.COG
            assert "data" in (asset.roles or [])
            if key != "scl":
                assert asset.extra_fields["eo:bands"][0]["common_name"] == key
        shapely.geometry.shape(item.geometry).buffer(0)  # a real polygon
        text = Path(item.get_self_href()).read_text()
        assert str(sim.catalog_dir) not in text  # self-contained: relative hrefs only
    collection = pystac.Catalog.from_file(str(sim.catalog_dir / "catalog.json")).get_child(
        "sentinel-2-l2a"
    )
    assert "SIMULATED" in collection.description


def test_odc_stac_loads_the_items_on_its_default_grid(sim) -> None:
    odc_stac = pytest.importorskip("odc.stac")
    items = items_of(sim)[:2]
    data = odc_stac.load(items, bands=["nir", "swir16"], resolution=10, crs=f"EPSG:{sim.epsg}")
    with rasterio.open(items[0].assets["nir"].get_absolute_href()) as src:
        nir, west, north = src.read(1), src.transform.c, src.transform.f
    swir = read(Path(items[0].assets["swir16"].get_absolute_href()))
    swir = np.repeat(np.repeat(swir, 2, axis=0), 2, axis=1)
    # pixel centres of odc-stac's grid fall on ours: same edges, maybe a wider extent
    col = (data.x.values - 5 - west) / 10
    row = (north - data.y.values - 5) / 10
    assert np.array_equal(col, np.round(col)) and np.array_equal(row, np.round(row))
    inside_c = (col >= 0) & (col < nir.shape[1])
    inside_r = (row >= 0) & (row < nir.shape[0])
    assert inside_c.sum() == nir.shape[1] and inside_r.sum() == nir.shape[0]
    window = np.ix_(inside_r, inside_c)
    assert np.array_equal(data["nir"].values[0][window], nir)
    assert np.array_equal(data["swir16"].values[0][window], swir)
