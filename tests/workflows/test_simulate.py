"""The demo's scene simulator: villages, spectra, COGs, SCL, radiometry, truth, reuse.

Simulations here are small (a few km, a few hundred pixels a side) and generated per test
session into temporary folders; nothing is read from the network.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pystac
import pytest
import rasterio
import shapely
from rio_cogeo.cogeo import cog_validate

from geo.sentinel2 import BOA_ADD_OFFSET_DN
from workflows.errors import WorkflowError
from workflows.simulate import (
    CLASS_SPECTRA,
    MANIFEST_NAME,
    LandCover,
    class_reflectance,
    simulate_scenes,
    simulate_villages,
)
from workflows.simulate import run as simulate_run
from workflows.simulate.spectra import BAND_GAIN_JITTER, GAIN_JITTER, NOISE_REL

CODE = re.compile(r"^99\d{2}\d{2}[12]\d{3}$")
REFLECTANCE = ("blue", "green", "red", "nir", "swir16", "swir22")


# --- helpers -------------------------------------------------------------------------------


def built_rule(r: dict[str, np.ndarray]) -> np.ndarray:
    """The pipeline's built-up rule, written out independently of the pipeline's code."""
    ndbi = (r["swir16"] - r["nir"]) / (r["swir16"] + r["nir"])
    ndvi = (r["nir"] - r["red"]) / (r["nir"] + r["red"])
    mndwi = (r["green"] - r["swir16"]) / (r["green"] + r["swir16"])
    a, b = r["swir16"] + r["red"], r["nir"] + r["blue"]
    bsi = (a - b) / (a + b)
    return (ndbi > 0) & (ndvi < 0.2) & (mndwi < 0) & (bsi < 0.2)


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def items_of(result: simulate_run.SimulationResult) -> list[pystac.Item]:
    catalog = pystac.Catalog.from_file(str(result.catalog_dir / "catalog.json"))
    return sorted(catalog.get_items(recursive=True), key=lambda i: i.datetime)


def manifest_of(result: simulate_run.SimulationResult) -> dict:
    return json.loads((result.catalog_dir / MANIFEST_NAME).read_text())


def mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def small_villages() -> gpd.GeoDataFrame:
    return simulate_villages(n=25, size_km=6.0, seed=3)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, small_villages) -> simulate_run.SimulationResult:
    """Two years x five scenes over a 6 km square: every scene condition occurs."""
    out = tmp_path_factory.mktemp("sim")
    return simulate_scenes(small_villages, out, seed=11, progress=False)


# --- villages ------------------------------------------------------------------------------


def test_simulated_villages_tile_the_square_with_wellformed_codes() -> None:
    villages = simulate_villages(n=40, size_km=5.0, seed=1)
    assert villages.crs.to_epsg() == 4326
    assert len(villages) == 40
    assert villages.is_valid.all()
    assert (villages.geom_type == "Polygon").all()
    assert villages["kode"].is_unique
    assert all(CODE.match(k) for k in villages["kode"])
    assert villages["simulated"].all()
    assert villages["nama"].str.endswith("(simulated)").all()
    utm = villages.to_crs(32749)
    union = shapely.union_all(utm.geometry.values)
    assert utm.area.sum() == pytest.approx(25e6, rel=1e-6)
    assert union.area == pytest.approx(25e6, rel=1e-6)  # no overlaps, no gaps
    kelurahan = villages["kode"].str[6] == "1"
    assert 0 < kelurahan.sum() < len(villages)


def test_simulated_villages_are_deterministic() -> None:
    a, b = simulate_villages(n=10, seed=5), simulate_villages(n=10, seed=5)
    assert a.equals(b)
    assert not a.geometry.equals(simulate_villages(n=10, seed=6).geometry)


# --- spectra -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "built"),
    [
        (LandCover.WATER, False),
        (LandCover.VEGETATION, False),
        (LandCover.BARE, False),
        (LandCover.BUILT, True),
    ],
)
def test_class_spectra_under_noise_follow_the_builtup_rule(cls: LandCover, built: bool) -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    days = [date.fromordinal(date(2021, 1, 1).toordinal() + d) for d in range(365)]
    day_of = rng.integers(0, 365, n)
    gain = rng.uniform(1 - GAIN_JITTER, 1 + GAIN_JITTER, n)
    noisy = {}
    for band in REFLECTANCE:
        seasonal = np.array([class_reflectance(d)[cls][band] for d in days])[day_of]
        band_gain = rng.uniform(1 - BAND_GAIN_JITTER, 1 + BAND_GAIN_JITTER, n)
        noise = 1 + NOISE_REL * rng.standard_normal(n)
        noisy[band] = seasonal * gain * band_gain * noise
    share = built_rule(noisy).mean()
    if built:
        assert share > 0.995
    else:
        assert share < 0.005
    # and without noise, with a margin
    clean = {b: np.array([CLASS_SPECTRA[cls][b]]) for b in REFLECTANCE}
    assert bool(built_rule(clean)[0]) is built


def test_class_spectra_are_plausible_reflectances() -> None:
    for spectrum in CLASS_SPECTRA.values():
        assert all(0.0 < v < 0.6 for v in spectrum.values())
    veg, water = CLASS_SPECTRA[LandCover.VEGETATION], CLASS_SPECTRA[LandCover.WATER]
    assert veg["nir"] > 4 * veg["red"]  # red edge
    assert water["nir"] < water["green"] and water["swir16"] < water["green"]


# --- rasters -------------------------------------------------------------------------------


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


def _class_medians(item: pystac.Item, land_cover: np.ndarray) -> dict[tuple[LandCover, str], float]:
    """Median DN per (class, band) over clear pixels whose 2x2 block is one class."""
    scl = read(Path(item.assets["scl"].get_absolute_href()))
    blocks = land_cover.reshape(scl.shape[0], 2, scl.shape[1], 2)
    pure = (blocks == blocks[:, :1, :, :1]).all(axis=(1, 3))
    usable = np.isin(scl, (4, 5, 6)) & pure
    cls20 = blocks[:, 0, :, 0]
    out = {}
    for band in REFLECTANCE:
        dn = read(Path(item.assets[band].get_absolute_href()))
        if dn.shape != scl.shape:
            dn = dn[::2, ::2]  # top-left pixel of each block: inside the pure block
        for cls in LandCover:
            values = dn[usable & (cls20 == cls)]
            if values.size >= 50:
                out[(cls, band)] = float(np.median(values))
    return out


def test_dn_follow_each_items_radiometry(sim) -> None:
    manifest = manifest_of(sim)
    raw, contradicting = set(manifest["raw_offset_items"]), set(manifest["contradicting_items"])
    for item in items_of(sim):
        year = item.datetime.year
        land_cover = read(sim.catalog_dir / f"land_cover_{year}.tif")
        expected = class_reflectance(item.datetime.date())
        offset = BOA_ADD_OFFSET_DN if item.id in raw else 0
        medians = _class_medians(item, land_cover)
        assert len(medians) >= 12, item.id
        for (cls, band), median in medians.items():
            dn = expected[cls][band] * 1e4
            # per-scene gain (+-3%, +-1% per band) and noise: well inside the 1000 DN offset
            assert abs(median - offset - dn) <= 0.045 * dn + 15, (item.id, cls, band)
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


# --- truth ---------------------------------------------------------------------------------


def test_truth_is_a_share_with_planted_growth(sim, small_villages) -> None:
    truth = sim.truth
    assert list(truth.columns) == ["kode", "year", "built_up_fraction_true"]
    assert len(truth) == 2 * len(small_villages)
    assert set(truth["kode"]) == set(small_villages["kode"])
    assert truth["year"].dtype == np.int64 and set(truth["year"]) == {2021, 2022}
    assert truth["built_up_fraction_true"].between(0, 1).all()
    wide = truth.pivot(index="kode", columns="year", values="built_up_fraction_true")
    change = wide[2022] - wide[2021]
    assert (change >= -1e-12).all()  # built-up only grows
    assert (change > 0.10).sum() >= 3
    kelurahan = wide.index.str[6] == "1"
    assert wide.loc[kelurahan, 2021].mean() > wide.loc[~kelurahan, 2021].mean()
    saved = pd.read_parquet(sim.catalog_dir / "truth.parquet")
    pd.testing.assert_frame_equal(saved, truth)


def test_truth_equals_the_land_cover_share_of_pixel_aligned_squares(tmp_path: Path) -> None:
    # 3 x 3 squares of 410 m x 330 m, corners on the 10 m grid, given in the UTM CRS
    x0, y0, w, h = 430_000, 9_140_000, 410, 330
    squares = [
        shapely.box(x0 + i * w, y0 + j * h, x0 + (i + 1) * w, y0 + (j + 1) * h)
        for j in range(3)
        for i in range(3)
    ]
    codes = [f"9901{k // 5 + 1:02d}{1 if k < 2 else 2}{k:03d}" for k in range(9)]
    villages = gpd.GeoDataFrame({"kode": codes}, geometry=squares, crs=32749)
    result = simulate_scenes(villages, tmp_path, scenes_per_year=1, seed=4, progress=False)
    with rasterio.open(result.catalog_dir / "land_cover_2021.tif") as src:
        west, north = src.transform.c, src.transform.f
    for year in (2021, 2022):
        land_cover = read(result.catalog_dir / f"land_cover_{year}.tif")
        assert set(np.unique(land_cover)) <= {1, 2, 3, 4}
        for code, square in zip(codes, squares, strict=True):
            x0_, y0_, x1_, y1_ = square.bounds
            rows = slice(round((north - y1_) / 10), round((north - y0_) / 10))
            cols = slice(round((x0_ - west) / 10), round((x1_ - west) / 10))
            window = land_cover[rows, cols]
            assert window.shape == (h // 10, w // 10)
            share = float((window == LandCover.BUILT).mean())
            truth = result.truth
            got = truth.loc[(truth["kode"] == code) & (truth["year"] == year)]
            got = got["built_up_fraction_true"]
            assert got.item() == pytest.approx(share, abs=1e-9)


# --- reuse, regeneration, resumption -------------------------------------------------------


def test_second_call_reuses_without_rewriting(sim, small_villages) -> None:
    out = sim.catalog_dir.parent
    before = mtimes(sim.catalog_dir)
    started = time.perf_counter()
    again = simulate_scenes(small_villages, out, seed=11, progress=False)
    assert time.perf_counter() - started < 5  # ~0.02 s even for a province
    assert again.reused is True
    assert again.item_ids == sim.item_ids and again.epsg == sim.epsg
    pd.testing.assert_frame_equal(again.truth, sim.truth)
    assert mtimes(sim.catalog_dir) == before


def test_changing_the_seed_regenerates_cleanly(tmp_path: Path) -> None:
    villages = simulate_villages(n=6, size_km=2.0, seed=2)
    first = simulate_scenes(villages, tmp_path, scenes_per_year=2, seed=0, progress=False)
    second = simulate_scenes(villages, tmp_path, scenes_per_year=2, seed=1, progress=False)
    assert second.reused is False
    assert manifest_of(second)["parameters"]["seed"] == 1
    folders = {p.name for p in second.catalog_dir.iterdir() if p.is_dir()}
    assert folders == {*second.item_ids, "sentinel-2-l2a"}
    assert not first.truth.equals(second.truth)
    assert not list(second.catalog_dir.rglob("*.tmp"))


def test_interrupted_run_resumes_with_finished_items(tmp_path: Path, monkeypatch) -> None:
    villages = simulate_villages(n=6, size_km=2.0, seed=2)
    real = simulate_run.render_scene
    calls = []

    def flaky(plan, *args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(plan.index)
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(simulate_run, "render_scene", flaky)
    with pytest.raises(KeyboardInterrupt):
        simulate_scenes(villages, tmp_path, scenes_per_year=2, seed=0, progress=False)
    scenes = tmp_path / "scenes"
    assert not (scenes / MANIFEST_NAME).exists()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in scenes.glob("S2*/S2*.json")}
    assert len(finished) == 2
    monkeypatch.setattr(simulate_run, "render_scene", real)
    result = simulate_scenes(villages, tmp_path, scenes_per_year=2, seed=0, progress=False)
    assert result.reused is False and len(result.item_ids) == 4
    for name, mtime in finished.items():
        assert (scenes / name / f"{name}.json").stat().st_mtime_ns == mtime
    fresh = simulate_scenes(villages, tmp_path / "fresh", scenes_per_year=2, seed=0, progress=False)
    for name in result.item_ids:
        assert np.array_equal(
            read(scenes / name / "nir.tif"), read(fresh.catalog_dir / name / "nir.tif")
        )


def test_refuses_extents_too_large_for_memory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(simulate_run, "MAX_PIXELS", 10_000)
    with pytest.raises(WorkflowError, match="million 10 m pixels"):
        simulate_scenes(simulate_villages(n=3, size_km=2.0), tmp_path, progress=False)
    assert not (tmp_path / "scenes").exists()


def test_refuses_to_clear_a_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "precious.txt").write_text("keep me")
    with pytest.raises(WorkflowError, match="not empty"):
        simulate_scenes(simulate_villages(n=3, size_km=1.0), tmp_path, progress=False)
    assert (tmp_path / "scenes" / "precious.txt").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda v: v.drop(columns="kode"), "no column"),
        (lambda v: v.assign(kode="9901012001"), "not unique"),
        (lambda v: gpd.GeoDataFrame({"kode": v["kode"]}, geometry=list(v.geometry)), "no CRS"),
    ],
)
def test_rejects_unusable_villages(tmp_path: Path, change, message: str) -> None:
    villages = change(simulate_villages(n=3, size_km=1.0))
    with pytest.raises(WorkflowError, match=message):
        simulate_scenes(villages, tmp_path, progress=False)


# --- real polygons -------------------------------------------------------------------------


def test_real_diy_villages(shared_data: Path, tmp_path: Path) -> None:
    diy = gpd.read_parquet(shared_data / "boundaries" / "desa_kel_34_diy.parquet")
    smallest = diy.loc[diy.to_crs(32749).area.nsmallest(10).index]
    result = simulate_scenes(
        smallest, tmp_path, code_column="kode_10", scenes_per_year=2, progress=False
    )
    assert result.epsg == 32749
    assert set(result.truth["kode"]) == set(smallest["kode_10"])
    assert result.truth["built_up_fraction_true"].between(0, 1).all()
    assert len(items_of(result)) == 4
    assert cog_validate(str(result.catalog_dir / result.item_ids[0] / "nir.tif"))[0]
