"""``pantau indicators`` end to end through ``workflows.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest

from workflows.cli import main

IDM_DIY = "indicators/idm_2024_desa_34_diy.csv"
CROSSWALK = "codes/bps_kemendagri_bridging_2020"


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


# -- BPS codes and names (issue 11) ------------------------------------------------------------

POVERTY_NAMES = "indicators/poverty_kabkota_2021/Klasifikasi Tingkat Kemiskinan di Indonesia.csv"


@pytest.fixture
def poverty_bps(shared_data: Path, tmp_path: Path) -> Path:
    """The Kemendagri-coded poverty table recoded to BPS codes (``tests/geo/poverty_bps.py``)."""
    from tests.geo.poverty_bps import poverty_in_bps_codes

    path = tmp_path / "poverty_bps.csv"
    poverty_in_bps_codes(shared_data)[0].to_csv(path, index=False)
    return path


def add(products: Path, table: Path, *options: str) -> list[str]:
    return ["indicators", "add", str(table), "--products", str(products), "--name", "pov", *options]


def test_add_bps_codes_through_the_crosswalk(
    shared_data: Path, products: Path, poverty_bps: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crosswalk = str(shared_data / CROSSWALK)
    argv = add(products, poverty_bps, "--key", "kode_bps", "--code-system", "bps")
    assert main([*argv, "--crosswalk", crosswalk]) == 0
    out = capsys.readouterr().out
    assert "BPS codes converted to Kemendagri codes: 488/514 (173 to a different code)" in out
    assert (
        "not converted, not stored: 26 crosswalk target not in the Kemendagri 2025 list, "
        "e.g. 9106 -> 9204, 9107 -> 9201" in out
    )
    assert "stored pov: 488 rows at kabkota level" in out
    assert "villages with a value: 438/438" in out
    report = json.loads((products / "indicators" / "pov.report.json").read_text())
    assert report["keys"]["bps_conversion"]["converted"] == 488


def test_bps_codes_without_the_option_warn(
    shared_data: Path,
    products: Path,
    poverty_bps: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    argv = add(
        products, poverty_bps, "--key", "kode_bps", "--crosswalk", str(shared_data / CROSSWALK)
    )
    assert main(argv) == 0
    captured = capsys.readouterr()
    expected = "these codes look like BPS codes: 35 of 514 codes exist only as BPS codes"
    assert f"warning: {expected}" in captured.out
    assert expected in caplog.text  # logged too
    assert "add --code-system bps --crosswalk FILE to convert them" in captured.out


def test_add_by_name(shared_data: Path, products: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = add(products, shared_data / POVERTY_NAMES, "--by-name", "Provinsi, Kab/Kota")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "names matched to the 2025 list: 514/514 rows" in out
    assert "older names matched: 6, e.g. Toba Samosir -> 1212 Kabupaten Toba" in out
    assert "stored pov: 514 rows at kabkota level" in out
    assert "villages with a value: 438/438" in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--by-name", "Provinsi,Kabupaten"], "'Kabupaten' not in t.csv"),
        (["--key", "kode", "--code-system", "bps", "--crosswalk", "EMPTY"], "has no rows"),
        (["--key", "kode", "--code-system", "bps"], "need a key column and a crosswalk"),
        (["--key", "kode", "--by-name", "Provinsi"], "not both"),
        ([], "give a key column"),
        (["--key", "nope"], "'nope' not in t.csv"),
    ],
)
def test_bad_key_options_exit_2_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    table = tmp_path / "t.csv"
    table.write_text("kode;Provinsi;v\n3404;DI YOGYAKARTA;1,5\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("kode_bps,kode_dagri\n")
    options = [str(empty) if o == "EMPTY" else o for o in options]
    out_dir = tmp_path / "products"
    assert main(add(out_dir, table, *options)) == 2
    err = capsys.readouterr().err
    assert err.startswith("pantau indicators: error: ") and message in err
    assert "Traceback" not in err
    assert not out_dir.exists()


# -- sensitive tables: --sensitive --count-column --k -------------------------------------------

SENSITIVE_CSV = (
    "kode_desa;Jumlah KK;share_poor\n"
    "3404012001;3;0,33\n3404012002;25;0,2\n3404012003;40;0,1\n"
    "3404022001;12;0\n3404022002;30;0,5\n3404022003;0;\n"
)


def _sensitive_add(out_dir: Path, table: Path, *options: str) -> list[str]:
    argv = ["indicators", "add", str(table), "--products", str(out_dir), "--name", "poor"]
    return [*argv, "--key", "kode_desa", *options]


def test_sensitive_add_stores_only_the_suppressed_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    table = tmp_path / "poor.csv"
    table.write_text(SENSITIVE_CSV)
    out_dir = tmp_path / "products"
    argv = _sensitive_add(out_dir, table, "--sensitive", "--count-column", "Jumlah KK")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "sensitive (k=10, count column jumlah_kk): 1 rows suppressed as small, 1 more" in out
    stored = pd.read_parquet(out_dir / "indicators" / "poor.parquet")
    hidden = stored.loc[stored["suppressed"], "kode"].tolist()
    assert hidden == ["3404012001", "3404012002"]  # 3 households, and the smallest sibling
    assert stored.loc[stored["suppressed"], ["jumlah_kk", "share_poor"]].isna().all().all()
    report = json.loads((out_dir / "indicators" / "poor.report.json").read_text())
    assert report["privacy"]["k"] == 10 and report["privacy"]["sensitive"] is True
    assert (out_dir / "indicators" / "poor.regions.parquet").is_file()


def test_sensitive_k_is_passed_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "poor.csv"
    table.write_text(SENSITIVE_CSV)
    out_dir = tmp_path / "products"
    argv = _sensitive_add(out_dir, table, "--sensitive", "--count-column", "jumlah_kk", "--k", "2")
    assert main(argv) == 0
    assert "sensitive (k=2, count column jumlah_kk): 0 rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("csv", "options", "message"),
    [
        (SENSITIVE_CSV, ["--sensitive", "--count-column", "nope"], "count column 'nope' not in"),
        (SENSITIVE_CSV, ["--sensitive"], "--sensitive needs --count-column"),
        (SENSITIVE_CSV, ["--count-column", "jumlah_kk"], "apply only with --sensitive"),
        (SENSITIVE_CSV, ["--k", "5"], "apply only with --sensitive"),
        (SENSITIVE_CSV, ["--sensitive", "--count-column", "jumlah_kk", "--k", "1"], "at least 2"),
        (
            SENSITIVE_CSV.replace("3404012002;25;", "3404012002;-25;"),
            ["--sensitive", "--count-column", "jumlah_kk"],
            "1 counts negative, e.g. 3404012002 (-25)",
        ),
        (
            SENSITIVE_CSV.replace("3404012002;25;", "3404012002;2,5;"),
            ["--sensitive", "--count-column", "jumlah_kk"],
            "1 counts not whole numbers, e.g. 3404012002 (2.5)",
        ),
        (
            SENSITIVE_CSV.replace("3404012002;25;", "3404012002;;"),
            ["--sensitive", "--count-column", "jumlah_kk"],
            "1 counts missing or not a number",
        ),
        (
            SENSITIVE_CSV,
            ["--sensitive", "--count-column", "kode_desa"],
            "count column 'kode_desa' not in",
        ),
    ],
)
def test_bad_privacy_options_exit_2_and_write_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    csv: str,
    options: list[str],
    message: str,
) -> None:
    table = tmp_path / "poor.csv"
    table.write_text(csv)
    out_dir = tmp_path / "products"
    assert main(_sensitive_add(out_dir, table, *options)) == 2
    err = capsys.readouterr().err
    assert err.startswith("pantau indicators: error: ") and message in err
    assert "Traceback" not in err
    assert not out_dir.exists()


def test_non_integer_k_is_an_argparse_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "poor.csv"
    table.write_text(SENSITIVE_CSV)
    out_dir = tmp_path / "products"
    argv = _sensitive_add(
        out_dir, table, "--sensitive", "--count-column", "jumlah_kk", "--k", "2.5"
    )
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "argument --k: invalid int value: '2.5'" in capsys.readouterr().err
    assert not out_dir.exists()


# ---------- the run's quality page follows the tables added after it ----------


@pytest.fixture
def run_folder(shared_data: Path, tmp_path: Path) -> Path:
    """A folder as `pantau run` leaves it: villages.parquet, quality.json, quality.html."""
    from tests.workflows.quality_support import diy_products
    from workflows.quality_report import write_quality_html

    out = diy_products(tmp_path / "run", shared_data)
    write_quality_html(out, json.loads((out / "quality.json").read_text()))
    return out


def _add_idm(shared_data: Path, products: Path, name: str = "idm_refresh") -> int:
    return main(["indicators", "add", str(shared_data / IDM_DIY), "--products", str(products),
                 "--name", name, "--key", "kode_desa"])  # fmt: skip


def test_add_refreshes_the_quality_page(
    shared_data: Path, run_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.workflows.quality_support import Page

    assert "idm_refresh" not in Page((run_folder / "quality.html").read_text()).words
    assert _add_idm(shared_data, run_folder) == 0
    assert f"quality report refreshed: {run_folder / 'quality.html'}" in capsys.readouterr().out
    assert "idm_refresh desa" in Page((run_folder / "quality.html").read_text()).words
    assert not list(run_folder.glob(".quality.html.*"))  # written atomically, nothing left


def test_add_writes_no_page_without_a_quality_report(shared_data: Path, products: Path) -> None:
    assert _add_idm(shared_data, products) == 0
    assert not (products / "quality.html").exists()


def test_a_failed_refresh_warns_and_keeps_the_table_and_the_old_page(
    shared_data: Path,
    run_folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import workflows.quality_report

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    before = (run_folder / "quality.html").read_bytes()
    monkeypatch.setattr(workflows.quality_report, "write_quality_html", broken)
    assert _add_idm(shared_data, run_folder) == 0
    err = capsys.readouterr().err
    assert "warning: quality.html not refreshed" in err and "pantau quality" in err
    assert (run_folder / "indicators" / "idm_refresh.parquet").is_file()
    assert (run_folder / "quality.html").read_bytes() == before
