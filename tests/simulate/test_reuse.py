"""Reuse, regeneration, resumption and refusals of ``simulate_scenes``; real polygons."""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from rio_cogeo.cogeo import cog_validate

from simulate import MANIFEST_NAME, simulate_scenes, simulate_villages
from simulate import run as simulate_run
from simulate.errors import SimulationError

from .conftest import items_of, manifest_of, mtimes, read


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
    with pytest.raises(SimulationError, match="million 10 m pixels"):
        simulate_scenes(simulate_villages(n=3, size_km=2.0), tmp_path, progress=False)
    assert not (tmp_path / "scenes").exists()


def test_refuses_to_clear_a_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "precious.txt").write_text("keep me")
    with pytest.raises(SimulationError, match="not empty"):
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
    with pytest.raises(SimulationError, match=message):
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
