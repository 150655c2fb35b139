"""Reference land cover per village: planning, unit columns on a simulated map, agreement."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo.tiling import plan_units
from geo.zonal import coverage_weights
from simulate import SimulationResult
from simulate.reference import simulate_reference
from stac.reference import REFERENCES
from workflows.cli import build_parser, main
from workflows.reference import (
    REFERENCE_COLUMNS,
    ReferenceJob,
    agreement,
    plan_reference,
    reference_columns,
)


@pytest.fixture(scope="module")
def exact_reference(tmp_path_factory, tiny_scenes: SimulationResult) -> Path:
    """A simulated WorldCover with no classification error: built-up = the planted truth."""
    out = tmp_path_factory.mktemp("ref") / "esa-worldcover"
    return simulate_reference(
        tiny_scenes.catalog_dir, out, reference="esa-worldcover", omission=0, commission=0
    ).catalog_dir


def _bbox(villages: Path) -> tuple[float, ...]:
    return tuple(gpd.read_parquet(villages).to_crs(4326).total_bounds)


def _planted_built_share(sim: SimulationResult, villages: gpd.GeoDataFrame, year: int) -> pd.Series:
    """Share of each village's area planted as built-up, by exactextract on the class map."""
    import rasterio
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource

    from simulate import LandCover

    with rasterio.open(sim.catalog_dir / f"land_cover_{year}.tif") as src:
        built = (src.read(1) == LandCover.BUILT).astype(np.float64)
        west, south, east, north = src.bounds
        wkt = src.crs.to_wkt()
    source = NumPyRasterSource(built, west, south, east, north, srs_wkt=wkt)
    frame = villages.to_crs(src.crs)[["kode", "geometry"]]
    result = exact_extract(source, frame, ["mean"], include_cols=["kode"], output="pandas")
    return result.set_index("kode")["mean"]


def test_plan_picks_the_nearest_year_per_period(exact_reference, tiny_villages) -> None:
    jobs = plan_reference(
        "esa-worldcover", str(exact_reference), _bbox(tiny_villages), ["2021", "2022-Q3", "2025"]
    )
    assert {p: j.year for p, j in jobs.items()} == {"2021": 2021, "2022-Q3": 2022, "2025": 2022}
    assert all(len(j.items) == 1 for j in jobs.values())
    assert pickle.loads(pickle.dumps(jobs["2021"])) == jobs["2021"]


def test_unit_columns_recover_the_planted_built_up_class_share(
    exact_reference, tiny_villages, tiny_scenes: SimulationResult
) -> None:
    villages = gpd.read_parquet(tiny_villages)
    jobs = plan_reference("esa-worldcover", str(exact_reference), _bbox(tiny_villages), ["2022"])
    truth = _planted_built_share(tiny_scenes, villages, 2022)
    seen = 0
    for unit in plan_units(villages.to_crs(4326), tile_size=128, resolution=10):
        home = villages.set_index("kode").loc[list(unit.kodes)].reset_index()
        home = home.to_crs(unit.epsg)
        weights = coverage_weights(home, shape=unit.geobox.shape.yx, transform=unit.geobox.affine)
        table = reference_columns(jobs["2022"], unit.geobox, weights, chunk=64)
        assert list(table.columns) == list(REFERENCE_COLUMNS)
        assert len(table) == len(home)
        np.testing.assert_allclose(
            table["lc_built_fraction"], truth.loc[home["kode"]].to_numpy(), atol=1e-5
        )
        np.testing.assert_allclose(table.sum(axis=1), 1.0, atol=1e-9)
        seen += len(home)
    assert seen == len(villages)


def test_io_lulc_with_map_errors_agrees_closely_with_the_planted_built_up(
    tmp_path, tiny_villages, tiny_scenes: SimulationResult
) -> None:
    out = simulate_reference(tiny_scenes.catalog_dir, tmp_path, reference="io-lulc-annual-v02")
    villages = gpd.read_parquet(tiny_villages)
    job = plan_reference("io-lulc-annual-v02", str(out.catalog_dir), _bbox(tiny_villages),
                         ["2021"])["2021"]  # fmt: skip
    frames = []
    for unit in plan_units(villages.to_crs(4326), tile_size=256, resolution=10):
        home = villages.set_index("kode").loc[list(unit.kodes)].reset_index().to_crs(unit.epsg)
        weights = coverage_weights(home, shape=unit.geobox.shape.yx, transform=unit.geobox.affine)
        frames.append(reference_columns(job, unit.geobox, weights).assign(kode=home["kode"]))
    planted = _planted_built_share(tiny_scenes, villages, 2021).rename("built_up_fraction")
    table = pd.concat(frames).merge(planted.reset_index(), on="kode")
    report = agreement(table)["overall"]
    assert report["n"] == len(villages)
    assert report["pearson_r"] > 0.9  # the map follows the planted built-up land...
    assert 0 < report["mae"] < 0.1  # ...with its omission and commission errors


def test_a_unit_no_item_covers_gets_nan_rows(exact_reference, tiny_villages) -> None:
    from odc.geo.geobox import GeoBox
    from rasterio.transform import from_origin

    jobs = plan_reference("esa-worldcover", str(exact_reference), _bbox(tiny_villages), ["2022"])
    far = GeoBox((8, 8), from_origin(200_000, 9_000_080, 10, 10), "EPSG:32749")
    village = gpd.GeoDataFrame(
        geometry=gpd.GeoSeries.from_xy([200_040], [9_000_040]).buffer(20), crs=32749
    )
    weights = coverage_weights(village, shape=(8, 8), transform=far.affine)
    table = reference_columns(jobs["2022"], far, weights)
    assert table.isna().all().all() and len(table) == 1


def test_missing_reference_collection_says_what_to_do(tiny_scenes, tiny_villages) -> None:
    from stac.reference import ReferenceDataError

    with pytest.raises(ReferenceDataError, match="--reference-stac"):
        plan_reference(
            "io-lulc-annual-v02", str(tiny_scenes.catalog_dir), _bbox(tiny_villages), ["2021"]
        )


# --- agreement -----------------------------------------------------------------------------


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kode": ["3401012001", "3401012002", "3401022001", "3402012001", "3402012002"],
            "period": ["2021", "2021", "2022", "2021", "2022"],
            "built_up_fraction": [0.1, 0.2, 0.3, 0.4, 0.5],
            "lc_built_fraction": [0.2, 0.2, 0.5, 0.4, np.nan],
        }
    )


def test_agreement_by_hand() -> None:
    report = agreement(_table())
    # overall rows (0.1,0.2) (0.2,0.2) (0.3,0.5) (0.4,0.4): deviations from the means
    # 0.25 / 0.325 are (-.15,-.05,.05,.15) and (-.125,-.125,.175,.075):
    # r = 0.045 / sqrt(0.05 * 0.0675) = sqrt(0.6)
    overall = report["overall"]
    assert overall["n"] == 4 and report["rows_missing"] == 1
    assert overall["pearson_r"] == pytest.approx(math.sqrt(0.6), abs=1e-6)
    assert overall["mae"] == pytest.approx(0.075) and overall["bias"] == pytest.approx(-0.075)
    # kab 3401: (0.1,0.2) (0.2,0.2) (0.3,0.5): r = 0.03 / sqrt(0.02 * 0.06) = sqrt(3)/2
    kab = report["by_kabkota"]["3401"]
    assert kab["n"] == 3 and kab["pearson_r"] == pytest.approx(math.sqrt(3) / 2, abs=1e-6)
    assert kab["mae"] == pytest.approx(0.1) and kab["bias"] == pytest.approx(-0.1)
    # kab 3402: one usable row: no correlation, exact agreement
    assert report["by_kabkota"]["3402"] == {"n": 1, "pearson_r": None, "mae": 0.0, "bias": 0.0}
    assert report["by_period"]["2022"]["n"] == 1


def test_agreement_is_strict_json_with_undefined_figures_as_null() -> None:
    table = _table().assign(lc_built_fraction=0.3)  # constant reference: r undefined
    report = agreement(table)
    assert report["overall"]["pearson_r"] is None
    json.dumps(report, allow_nan=False)
    empty = agreement(_table().assign(lc_built_fraction=np.nan))
    assert empty["overall"] == {"n": 0, "pearson_r": None, "mae": None, "bias": None}
    json.dumps(empty, allow_nan=False)


def test_agreement_names_a_missing_column() -> None:
    with pytest.raises(KeyError, match="lc_built_fraction"):
        agreement(_table().drop(columns="lc_built_fraction"))


def test_agreement_records_the_reference_used() -> None:
    job = ReferenceJob("esa-worldcover", 2021, ({"id": "b"}, {"id": "a"}))
    report = agreement(_table(), reference={"2021": job})
    assert report["reference"] == {"2021": {"name": "esa-worldcover", "year": 2021,
                                            "items": ["a", "b"]}}  # fmt: skip


# --- CLI -----------------------------------------------------------------------------------


def test_cli_offers_exactly_the_registered_references() -> None:
    parser = build_parser()
    run = parser._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    action = next(a for a in run._actions if a.dest == "reference")
    assert set(action.choices) == set(REFERENCES)
    args = parser.parse_args(
        ["run", "--stac", "s", "--boundaries", "b", "--start", "2021-01-01",
         "--end", "2021-12-31", "--out", "o", "--reference", "io-lulc-annual-v02",
         "--reference-stac", "cat"]
    )  # fmt: skip
    assert (args.reference, args.reference_stac) == ("io-lulc-annual-v02", "cat")


def test_cli_reference_stac_without_reference_is_an_error(tmp_path, capsys) -> None:
    code = main(
        ["run", "--stac", "s", "--boundaries", "b", "--start", "2021-01-01",
         "--end", "2021-12-31", "--out", str(tmp_path), "--reference-stac", "cat"]
    )  # fmt: skip
    assert code == 2
    assert "--reference-stac needs --reference" in capsys.readouterr().err


def test_pantau_run_with_reference_adds_shares_and_agreement(
    tmp_path, exact_reference: Path, tiny_scenes: SimulationResult, tiny_villages: Path
) -> None:
    """``pantau run --reference esa-worldcover --reference-stac DIR`` end to end."""
    from workflows.cli import main

    out = tmp_path / "products"
    code = main([
        "run", "--stac", str(tiny_scenes.catalog_dir), "--boundaries", str(tiny_villages),
        "--start", "2021-01-01", "--end", "2022-12-31", "--max-cloud", "80",
        "--out", str(out), "--tile-size", "256", "--no-progress",
        "--reference", "esa-worldcover", "--reference-stac", str(exact_reference),
    ])  # fmt: skip
    assert code == 0
    table = gpd.read_parquet(out / "villages.parquet")
    villages = gpd.read_parquet(tiny_villages)
    for year in (2021, 2022):
        rows = table[table["period"] == str(year)].set_index("kode")
        planted = _planted_built_share(tiny_scenes, villages, year)
        np.testing.assert_allclose(rows.loc[planted.index, "lc_built_fraction"], planted, atol=1e-5)
        shares = rows[[c for c in rows.columns if c.startswith("lc_") and c.endswith("_fraction")]]
        np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-6)
    quality = json.loads((out / "quality.json").read_text())
    report = quality["reference_agreement"]
    assert report["overall"]["n"] == len(table)
    assert set(report["by_kabkota"]) == {k[:4] for k in table["kode"]}
