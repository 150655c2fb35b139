"""``pantau indicators`` end to end through ``workflows.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest

from workflows.cli import main

IDM_DIY = "indicators/idm_2024_desa_34_diy.csv"


@pytest.fixture
def products(shared_data: Path, tmp_path: Path) -> Path:
    """A products directory whose villages.parquet holds the 438 DIY villages."""
    boundaries = gpd.read_parquet(shared_data / "boundaries/desa_kel_34_diy.parquet")
    villages = gpd.GeoDataFrame(
        {"kode": boundaries["kode_10"], "period": "2024"},
        geometry=boundaries.geometry,
        crs=boundaries.crs,
    )
    directory = tmp_path / "products"
    directory.mkdir()
    villages.to_parquet(directory / "villages.parquet")
    return directory


def test_add_prints_join_report(
    shared_data: Path, products: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["indicators", "add", str(shared_data / IDM_DIY), "--products", str(products)]
    code = main([*argv, "--name", "idm_2024", "--key", "kode_desa"])
    out = capsys.readouterr().out
    assert code == 0
    assert "392 rows at desa level" in out
    assert "codes in the Kemendagri 2025 list: 392/392" in out
    assert "villages with a value: 392/438 (desa 392/392, kelurahan 0/46)" in out
    assert (products / "indicators" / "idm_2024.parquet").is_file()
    assert (products / "indicators" / "idm_2024.report.json").is_file()


def test_list(shared_data: Path, products: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["indicators", "add", str(shared_data / IDM_DIY), "--products", str(products),
          "--name", "idm", "--key", "kode_desa"])  # fmt: skip
    capsys.readouterr()
    assert main(["indicators", "list", "--products", str(products)]) == 0
    out = capsys.readouterr().out
    assert "idm  (desa, 392 rows)" in out
    assert "idm.status_idm_2024" in out and "MAJU, MANDIRI" in out
    assert main(["indicators", "list", "--products", str(products), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed] == ["idm"]


def test_list_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["indicators", "list", "--products", str(tmp_path)]) == 0
    assert "no indicator tables" in capsys.readouterr().out


def test_duplicate_key_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "dup.csv"
    table.write_text("kode_desa;nilai\n3404012001;0,5\n34.04.01.2001;0,7\n")
    out_dir = tmp_path / "products"
    argv = ["indicators", "add", str(table), "--products", str(out_dir)]
    code = main([*argv, "--name", "dup", "--key", "kode_desa"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("pantau indicators: error: ")
    assert "3404012001 (2x)" in err and "keep one row per code" in err
    assert "Traceback" not in err
    assert not out_dir.exists()


def test_missing_file_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["indicators", "add", str(tmp_path / "nope.csv"), "--products", str(tmp_path)]
    assert main([*argv, "--name", "x", "--key", "kode"]) == 2
    assert "indicator table not found" in capsys.readouterr().err
