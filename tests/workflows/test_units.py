"""Work units: many small units give the one-unit table, throughput is recorded.

Killed runs resume: test_kill_points.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.tiling import plan_units
from simulate import SimulationResult
from workflows.run import RunConfig, run
from workflows.submit import unit_threads

from .conftest import END, START

SMALL, LARGE = 256, 4096


def _config(scenes: SimulationResult, villages: Path, out: Path, tile_size: int) -> RunConfig:
    return RunConfig(
        stac=str(scenes.catalog_dir),
        boundaries=villages,
        out=out,
        start=START,
        end=END,
        max_cloud=80,
        progress=False,
        tile_size=tile_size,
    )


def _table(out: Path) -> pd.DataFrame:
    return pd.DataFrame(gpd.read_parquet(out / "villages.parquet").drop(columns="geometry"))


@pytest.fixture(scope="module")
def one_unit(tmp_path_factory, tiny_scenes, tiny_villages) -> Path:
    out = tmp_path_factory.mktemp("one")
    result = run(_config(tiny_scenes, tiny_villages, out, LARGE))
    assert len(result.units) == 1
    return out


@pytest.fixture(scope="module")
def many_units(tmp_path_factory, tiny_scenes, tiny_villages) -> Path:
    out = tmp_path_factory.mktemp("many")
    result = run(_config(tiny_scenes, tiny_villages, out, SMALL))
    assert len(result.units) >= 3
    return out


def test_small_units_cover_villages_that_cross_tile_edges(tiny_villages: Path) -> None:
    """The plan the equality test below relies on: some villages reach out of their tile."""
    villages = gpd.read_parquet(tiny_villages)
    units = plan_units(villages, tile_size=SMALL, resolution=10.0)
    crossing = 0
    for unit in units:
        home = villages[villages["kode"].isin(unit.kodes)].to_crs(unit.epsg)
        tile = shapely.box(*unit.tile.extent.boundingbox)
        grid = shapely.box(*unit.geobox.extent.boundingbox)
        crossing += int((~home.within(tile)).sum())
        assert home.within(grid).all()
    assert crossing >= 2


def test_many_units_give_the_one_unit_table(one_unit: Path, many_units: Path) -> None:
    a, b = _table(one_unit), _table(many_units)
    assert len(a) == len(b) == 24
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-6)


def test_each_unit_writes_its_own_products(many_units: Path) -> None:
    collection = json.loads((many_units / "catalog" / "collection.json").read_text())
    units = collection["summaries"]["pantau:unit"]
    assert len(units) >= 3
    for period in ("2021", "2022"):
        for unit in units:
            assert (many_units / "composites" / period / unit / "ndvi.tif").is_file()
            item = json.loads(
                (many_units / "catalog" / "items" / period / f"{unit}.json").read_text()
            )
            assert item["properties"]["pantau:unit"] == unit


def test_quality_records_units_and_throughput(many_units: Path) -> None:
    q = json.loads((many_units / "quality.json").read_text())
    assert {u["unit"] for u in q["units"]} == set(
        json.loads((many_units / "catalog" / "collection.json").read_text())["summaries"][
            "pantau:unit"
        ]
    )
    for record in q["units"]:
        assert record["pixels"] > 0 and record["seconds"] > 0 and record["scenes"] >= 0
    work = [u for u in q["units"] if u["scenes"]]
    expected = sum(u["pixels"] * u["scenes"] for u in work) / sum(u["seconds"] for u in work)
    assert q["throughput"]["pixel_scenes_per_second"] == pytest.approx(expected)


def test_plan_reads_the_measured_throughput(many_units: Path, tiny_villages: Path, capsys) -> None:
    from workflows.cli import main

    code = main(["plan", "--boundaries", str(tiny_villages), "--from-run", str(many_units)])
    assert code == 0
    assert "units" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("worker_threads", "units", "expected"), [(2, 1, 2), (2, 5, 1), (8, 2, 4), (1, 1, 1)]
)
def test_a_lone_unit_takes_its_workers_threads(worker_threads, units, expected) -> None:
    assert unit_threads(worker_threads, units) == expected
