"""``pantau plan``: units, volume and time of a run, on real DI Yogyakarta polygons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workflows.cli import main
from workflows.errors import WorkflowError
from workflows.plan import throughput_from_run


@pytest.fixture(scope="module")
def diy_file(shared_data: Path) -> Path:
    return shared_data / "boundaries" / "desa_kel_34_diy.parquet"


def _plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    assert main(["plan", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_text_output_lists_units(diy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--boundaries", str(diy_file), "--tile-size", "4096"]) == 0
    out = capsys.readouterr().out
    assert "units:      6; villages per unit" in out
    assert "438 villages" in out
    assert "assumed: 40 per year" in out
    assert "32749_x0009_y0222" in out
    assert "100 worker(s)" in out


def test_json_shape(diy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _plan_json(
        capsys,
        "--boundaries",
        str(diy_file),
        "--region",
        "34.71",
        "--start",
        "2024-01-01",
        "--end",
        "2024-06-30",
        "--workers",
        "1",
        "4",
    )
    assert d["level"] == "desa" and d["n_villages"] == 45 == d["n_boundaries"]
    assert d["n_units"] == len(d["units"]) >= 1
    assert sum(u["villages"] for u in d["units"]) == 45
    unit = d["units"][0]
    assert set(unit) >= {"id", "villages", "pixels", "scenes", "values", "seconds"}
    assert unit["scenes"] == 20  # 40 a year, half a year
    assert unit["values"] == unit["pixels"] * 20 * 6
    assert [w["workers"] for w in d["wall"]] == [1, 4]
    total = sum(u["seconds"] for u in d["units"]) / 3600
    assert d["worker_hours"] == pytest.approx(total)
    assert d["wall"][0]["hours"] == pytest.approx(total)


def test_throughput_from_fake_quality_json(
    diy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units = [
        {"unit": "32749_x0021_y0445", "pixels": 4_000_000, "scenes": 30, "seconds": 50.0},
        {"unit": "32749_x0021_y0446", "pixels": 2_000_000, "scenes": 30, "seconds": 40.0},
    ]
    (tmp_path / "quality.json").write_text(json.dumps({"units": units}))
    assert throughput_from_run(tmp_path) == pytest.approx(180e6 / 90.0)
    d = _plan_json(capsys, "--boundaries", str(diy_file), "--from-run", str(tmp_path))
    assert d["throughput"] == pytest.approx(2e6)
    assert d["throughput_from"].startswith("measured in")


def test_quality_json_without_units_is_a_clear_error(
    diy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "quality.json").write_text(json.dumps({"periods": ["2024"]}))
    with pytest.raises(WorkflowError, match="no per-unit records"):
        throughput_from_run(tmp_path)
    assert main(["plan", "--boundaries", str(diy_file), "--from-run", str(tmp_path)]) == 2
    assert "--throughput" in capsys.readouterr().err


def test_kabkota_boundaries_count_villages_from_the_code_list(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kab = shared_data / "boundaries" / "kabkota_indonesia.parquet"
    d = _plan_json(capsys, "--boundaries", str(kab), "--region", "34")
    assert d["level"] == "kabkota" and d["n_boundaries"] == 5
    assert d["n_villages"] == 438  # DIY's desa + kelurahan in the 2025 list
    assert any("code list" in n for n in d["notes"])


def test_scenes_searched_per_unit_in_a_local_catalog(
    tiny_villages: Path,
    tiny_scenes,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    d = _plan_json(
        capsys,
        "--boundaries",
        str(tiny_villages),
        "--stac",
        str(tiny_scenes.catalog_dir),
        "--start",
        "2021-01-01",
        "--end",
        "2021-12-31",
        "--max-cloud",
        "100",
    )
    assert d["scenes_from"].startswith("searched in")
    assert d["n_villages"] == 12
    assert [u["scenes"] for u in d["units"]] == [4] * d["n_units"]
