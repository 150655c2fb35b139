"""``pantau run`` end to end on a tiny simulated stack: outputs, lineage, resume, atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

import stac.publish
from geo.errors import PantauError
from geo.products import PRODUCTS, Product, normalized_difference
from simulate import SimulationResult
from workflows.run import STAT_COLUMNS, RunConfig, run

from .conftest import END, START


def _config(scenes: SimulationResult, villages: Path, out: Path) -> RunConfig:
    return RunConfig(
        stac=str(scenes.catalog_dir),
        boundaries=villages,
        out=out,
        start=START,
        end=END,
        max_cloud=80,
        progress=False,
    )


def _cog(out: Path, period: str, name: str) -> Path:
    """The COG of the tiny run's one work unit."""
    (path,) = sorted((out / "composites" / period).glob(f"*/{name}.tif"))
    return path


def _item(out: Path, period: str) -> dict:
    """The STAC item of the tiny run's one work unit."""
    (path,) = sorted((out / "catalog" / "items" / period).glob("*.json"))
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def products(tmp_path_factory, tiny_scenes: SimulationResult, tiny_villages: Path) -> Path:
    out = tmp_path_factory.mktemp("products")
    run(_config(tiny_scenes, tiny_villages, out))
    return out


def test_one_row_per_village_and_period(products: Path, tiny_villages: Path) -> None:
    table = gpd.read_parquet(products / "villages.parquet")
    codes = set(gpd.read_parquet(tiny_villages)["kode"])
    assert set(table["period"]) == {"2021", "2022"}
    assert len(table) == 2 * len(codes) and set(table["kode"]) == codes
    assert table.crs.to_epsg() == 4326 and "nama" in table.columns
    for col in STAT_COLUMNS:
        assert col in table.columns and f"{col}_change" in table.columns
    first = table[table["period"] == "2021"]
    assert first["built_up_fraction_change"].isna().all()
    csv = pd.read_csv(products / "villages.csv", dtype={"kode": str})
    assert "geometry" not in csv.columns and len(csv) == len(table)


def test_change_is_this_period_minus_previous(products: Path) -> None:
    t = gpd.read_parquet(products / "villages.parquet").set_index(["kode", "period"])
    k = t.index.get_level_values(0)[0]
    expected = t.loc[(k, "2022"), "ndvi_mean"] - t.loc[(k, "2021"), "ndvi_mean"]
    assert t.loc[(k, "2022"), "ndvi_mean_change"] == pytest.approx(expected)


def test_statistics_are_plausible(products: Path) -> None:
    t = gpd.read_parquet(products / "villages.parquet")
    assert t["valid_fraction"].between(0, 1).all() and t["valid_fraction"].mean() > 0.7
    assert t["built_up_fraction"].between(0, 1).all()
    assert (t["ndvi_p10"] <= t["ndvi_median"]).all() and (t["ndvi_median"] <= t["ndvi_p90"]).all()
    assert (t["n_obs"] >= 0).all() and t["n_obs"].mean() >= 1


@pytest.mark.parametrize("name", list(PRODUCTS))
def test_composites_are_valid_cogs(products: Path, name: str) -> None:
    product = PRODUCTS[name]
    for period in ("2021", "2022"):
        path = _cog(products, period, name)
        assert cog_validate(path)[0], path
        with rasterio.open(path) as ds:
            assert ds.crs.to_epsg() // 100 == 327 and ds.res == (10.0, 10.0)
            assert ds.overviews(1) or max(ds.shape) <= 512  # GDAL adds none below one tile
            assert ds.count == product.n_bands and set(ds.dtypes) == {product.dtype}
            if product.nodata is None:
                assert ds.nodata is None
            else:
                assert ds.nodata == pytest.approx(product.nodata, nan_ok=True)


@pytest.mark.parametrize("name", list(PRODUCTS))
def test_item_describes_each_product(products: Path, name: str) -> None:
    product = PRODUCTS[name]
    item = _item(products, "2022")
    asset = item["assets"][name]
    assert asset["title"] == product.title and asset["roles"] == list(product.roles)
    bands = asset["raster:bands"]
    assert len(bands) == product.n_bands
    assert all(b["data_type"] == product.dtype for b in bands)
    assert "https://stac-extensions.github.io/raster/v1.1.0/schema.json" in item["stac_extensions"]


def test_catalog_items_link_source_scenes(products: Path, tiny_scenes: SimulationResult) -> None:
    collection = json.loads((products / "catalog" / "collection.json").read_text())
    (unit,) = collection["summaries"]["pantau:unit"]
    assert {ln["href"] for ln in collection["links"] if ln["rel"] == "item"} == {
        f"./items/2021/{unit}.json",
        f"./items/2022/{unit}.json",
    }
    item = _item(products, "2022")
    assert item["properties"]["pantau:unit"] == unit
    sources = [ln["pantau:item_id"] for ln in item["links"] if ln["rel"] == "derived_from"]
    assert sources and set(sources) <= set(tiny_scenes.item_ids)
    assert all("2022" in s for s in sources)
    assert item["properties"]["processing:software"]["pantau"]
    assert item["properties"]["pantau:parameters"]["period"] == "year"
    for asset in item["assets"].values():
        assert (products / "catalog" / "items" / "2022" / asset["href"]).resolve().exists()


def test_quality_report(products: Path, tiny_scenes: SimulationResult) -> None:
    q = json.loads((products / "quality.json").read_text())
    assert [p["period"] for p in q["periods"]] == ["2021", "2022"]
    assert q["boundaries"]["n_villages"] == 12
    scenes = [s for p in q["periods"] for s in p["scenes"]]
    assert all(s["radiometry_rule"] and s["plausibility"] for s in scenes)


def test_contradicting_scene_is_flagged_and_excluded(products: Path, tiny_scenes) -> None:
    manifest = json.loads((tiny_scenes.catalog_dir / "simulation.json").read_text())
    bad = set(manifest["contradicting_items"])
    q = json.loads((products / "quality.json").read_text())
    seen = {s["id"] for p in q["periods"] for s in p["scenes"]}
    if not bad & seen:
        pytest.skip("the contradicting scene is above the cloud filter in this tiny stack")
    assert bad & seen <= set(q["scenes_excluded"])
    flagged = [s for p in q["periods"] for s in p["scenes"] if s["id"] in bad]
    assert all(not s["plausibility"]["plausible"] for s in flagged)


def test_rerun_recomputes_nothing(products: Path, tiny_scenes, tiny_villages) -> None:
    before = {p: p.stat().st_mtime_ns for p in (products / "composites").rglob("*.tif")}
    result = run(_config(tiny_scenes, tiny_villages, products))
    assert result.computed == [] and result.skipped == ["2021", "2022"]
    after = {p: p.stat().st_mtime_ns for p in (products / "composites").rglob("*.tif")}
    assert before == after


def test_rerun_removes_a_killed_drivers_temporary_files(
    products: Path, tiny_scenes, tiny_villages
) -> None:
    left = [
        products / "stats" / ".scene_checks.json.0123abcd.tmp",
        products / "overviews" / "2021" / ".ndvi.tif.0123abcd.tmp",
    ]
    for path in left:
        path.write_bytes(b"half")
    run(_config(tiny_scenes, tiny_villages, products))
    assert not [p for p in left if p.exists()]


def test_interrupted_run_resumes_to_the_same_table(
    tmp_path: Path, products: Path, tiny_scenes, tiny_villages, monkeypatch, inprocess_client
) -> None:
    real = stac.publish.write_unit_item
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(kwargs["period"])
        if len(calls) == 2:
            raise OSError("disk full")  # fails while committing the second period
        return real(*args, **kwargs)

    monkeypatch.setattr("workflows.unit.write_unit_item", crash_on_second)
    out = tmp_path / "p"
    with pytest.raises(OSError, match="disk full"):
        run(_config(tiny_scenes, tiny_villages, out), client=inprocess_client)
    assert not (out / "villages.parquet").exists()
    assert not list(out.rglob(".*.tmp"))
    monkeypatch.setattr("workflows.unit.write_unit_item", real)
    result = run(_config(tiny_scenes, tiny_villages, out))
    assert result.skipped == ["2021"] and result.computed == ["2022"]
    a = gpd.read_parquet(out / "villages.parquet")
    b = gpd.read_parquet(products / "villages.parquet")
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))


def test_no_scenes_is_a_clear_error_and_writes_nothing(tmp_path, tiny_scenes, tiny_villages):
    cfg = RunConfig(
        stac=str(tiny_scenes.catalog_dir),
        boundaries=tiny_villages,
        out=tmp_path / "x",
        start="2015-01-01",
        end="2015-12-31",
        progress=False,
    )
    with pytest.raises(PantauError, match="no Sentinel-2 scenes"):
        run(cfg)
    assert not (tmp_path / "x").exists()


def test_bad_boundaries_write_nothing(tmp_path: Path, tiny_scenes) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text("not json")
    with pytest.raises(PantauError):
        run(_config(tiny_scenes, bad, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_zonal_mean_matches_the_cog(products: Path) -> None:
    """The table's per-village mean equals exactextract over the written COG."""
    from exactextract import exact_extract

    t = gpd.read_parquet(products / "villages.parquet")
    t = t[t["period"] == "2022"].reset_index(drop=True)
    path = _cog(products, "2022", "ndbi")
    with rasterio.open(path) as ds:
        crs = ds.crs
    ref = exact_extract(str(path), t.to_crs(crs), ["mean", "median"], output="pandas")
    np.testing.assert_allclose(t["ndbi_mean"], ref["mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t["ndbi_median"], ref["median"], rtol=1e-5, atol=1e-6)


NDMI = Product(
    name="ndmi",
    title="NDMI (moisture)",
    title_id="NDMI (kelembapan)",
    description="Normalized Difference Moisture Index (Gao 1996)",
    inputs=("nir", "swir16"),
    formula=normalized_difference,
    valid_range=(-1.0, 1.0),
    statistics={f"ndmi_{s}": s for s in ("mean", "median", "std", "p10", "p90")},
    label="NDMI",
)


@pytest.fixture(scope="module")
def with_ndmi(tmp_path_factory, tiny_scenes: SimulationResult, tiny_villages: Path) -> Path:
    """A run whose registry has one more index, added in the registry only."""
    out = tmp_path_factory.mktemp("ndmi")
    run(_config(tiny_scenes, tiny_villages, out), products=PRODUCTS.register(NDMI))
    return out


def test_registered_index_is_written_as_a_cog(with_ndmi: Path) -> None:
    for period in ("2021", "2022"):
        path = _cog(with_ndmi, period, "ndmi")
        assert cog_validate(path)[0], path
        with rasterio.open(path) as ds:
            assert ds.dtypes == ("float32",) and np.isnan(ds.nodata)


def test_registered_index_is_computed_from_the_composite(with_ndmi: Path) -> None:
    """ndmi.tif is (nir - swir16) / (nir + swir16) of the composite's ndvi/ndbi inputs.

    NDBI = (swir16 - nir) / (swir16 + nir) is written from the same composite, so NDMI must
    be exactly its negative wherever both have a value.
    """
    ndmi_path, ndbi_path = _cog(with_ndmi, "2022", "ndmi"), _cog(with_ndmi, "2022", "ndbi")
    with rasterio.open(ndmi_path) as a, rasterio.open(ndbi_path) as b:
        ndmi, ndbi = a.read(1), b.read(1)
    valid = ~np.isnan(ndbi)
    assert valid.any()
    np.testing.assert_array_equal(np.isnan(ndmi), ~valid)
    np.testing.assert_allclose(ndmi[valid], -ndbi[valid], atol=1e-6)


def test_registered_index_adds_its_columns(with_ndmi: Path) -> None:
    table = gpd.read_parquet(with_ndmi / "villages.parquet")
    for stat in ("mean", "median", "std", "p10", "p90"):
        assert f"ndmi_{stat}" in table.columns and f"ndmi_{stat}_change" in table.columns
    # NDMI = -NDBI pixel by pixel, so the village means are each other's negatives
    np.testing.assert_allclose(table["ndmi_mean"], -table["ndbi_mean"], atol=1e-6)
    for col in STAT_COLUMNS:  # the default columns are all still there
        assert col in table.columns


def test_registered_index_is_an_item_asset(with_ndmi: Path) -> None:
    item = _item(with_ndmi, "2022")
    asset = item["assets"]["ndmi"]
    assert asset["href"].endswith(f"composites/2022/{item['properties']['pantau:unit']}/ndmi.tif")
    assert asset["title"] == "NDMI (moisture)" and asset["roles"] == ["data"]
    assert "ndmi" in item["properties"]["pantau:parameters"]["products"]


def test_changed_registry_recomputes(
    tmp_path: Path, products: Path, tiny_scenes: SimulationResult, tiny_villages: Path
) -> None:
    """Products computed with the default registry are not reused for a different one."""
    import shutil

    out = tmp_path / "p"
    shutil.copytree(products, out)
    result = run(_config(tiny_scenes, tiny_villages, out), products=PRODUCTS.register(NDMI))
    assert result.computed == ["2021", "2022"] and result.skipped == []
    assert _cog(out, "2021", "ndmi").exists()
