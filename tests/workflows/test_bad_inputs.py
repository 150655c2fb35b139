"""Bad inputs through the ``pantau`` CLI (issue 12, items 2, 5 and 6).

Every bad boundary file or indicator table ends ``pantau run`` / ``pantau indicators add``
with exit status 2, one line on stderr and nothing written; a products folder that is full or
read-only (ENOSPC / EROFS injected into :mod:`geo.atomic`, since the tests run as root and
chmod does not stop root) gives a clear error naming the folder, leaves no temporary file and
keeps the previous products byte for byte.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

import geo.atomic
from simulate import SimulationResult
from tests.geo.test_bad_files import (
    REFUSED_BOUNDARIES,
    Canary,
    ogr_vrt,
    raster_vrt,
    serve_canary,
    sparse,
)
from workflows.cli import main
from workflows.run import RunConfig, run

from .conftest import END, START


@pytest.fixture
def canary() -> Iterator[Canary]:
    with serve_canary() as server:
        yield server


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (hidden and temporary ones included)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_error(err: str, command: str) -> str:
    """The single stderr line of a refused command (no traceback, no second message)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"pantau {command}: error: "), err
    return lines[0]


# -- pantau run --boundaries -------------------------------------------------------------------


def run_argv(boundaries: Path, out: Path, stac: str = "no-catalog") -> list[str]:
    return ["run", "--stac", stac, "--boundaries", str(boundaries), "--out", str(out),
            "--start", START, "--end", END, "--max-cloud", "80", "--no-progress"]  # fmt: skip


@pytest.mark.parametrize("case", REFUSED_BOUNDARIES)
def test_run_refuses_bad_boundaries(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make, message = REFUSED_BOUNDARIES[case]
    out = tmp_path / "products"
    assert main(run_argv(make(tmp_path), out)) == 2
    line = one_error(capsys.readouterr().err, "run")
    assert re.search(message, line), line
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".tif", ".csv"])
def test_run_never_follows_a_disguised_vrt(
    tmp_path: Path, canary: Canary, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"villages{suffix}"
    path.write_text(ogr_vrt(canary.url()) if suffix != ".tif" else raster_vrt(canary.url()))
    assert main(run_argv(path, tmp_path / "products")) == 2
    one_error(capsys.readouterr().err, "run")
    assert canary.hits == []
    assert not (tmp_path / "products").exists()


# -- pantau indicators add ---------------------------------------------------------------------

CODES = ["3404012001", "3404012002"]


@pytest.fixture(scope="module")
def products_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A products folder with villages and a previously added table ``t``."""
    tmp_path = tmp_path_factory.mktemp("template")
    folder = tmp_path / "products"
    folder.mkdir()
    gpd.GeoDataFrame(
        {"kode": CODES, "period": "2024"}, geometry=gpd.points_from_xy([110.4, 110.5], [-7.7] * 2),
        crs=4326,
    ).to_parquet(folder / "villages.parquet")  # fmt: skip
    table = tmp_path / "old.csv"
    table.write_text("kode,nilai\n3404012001,1\n3404012002,2\n")
    assert main(add_argv(table, folder)) == 0
    return folder


@pytest.fixture
def products(tmp_path: Path, products_template: Path) -> Path:
    """A fresh copy of the template products folder."""
    return Path(shutil.copytree(products_template, tmp_path / "products"))


def add_argv(table: Path, products: Path) -> list[str]:
    return ["indicators", "add", str(table), "--products", str(products), "--name", "t",
            "--key", "kode"]  # fmt: skip


def bad_tables(folder: Path) -> dict[str, tuple[Path, str]]:
    """Refused tables: file and a fragment of the message."""
    import openpyxl

    def book(name: str, rows: list[list[object]]) -> Path:
        workbook = openpyxl.Workbook()
        for row in rows:
            workbook.active.append(row)
        workbook.save(folder / name)
        return folder / name

    def text(name: str, content: str) -> Path:
        (folder / name).write_text(content)
        return folder / name

    return {
        "scientific-codes": (text("s.csv", "kode,nilai\n3.404E+09,1\n"), "scientific notation"),
        "formulas": (book("f.xlsx", [["kode", "a"], [3404012001, "=1+1"]]), "no saved result"),
        "empty-sheet": (book("e.xlsx", []), "is empty"),
        "no-header": (book("h.xlsx", [["kode", None], [3404012001, 1]]), "header row"),
        "empty-file": (text("z.csv", ""), "empty (0 bytes)"),
        "500MB-text": (sparse(folder / "b.csv", b"kode,nilai\n" * 400), "over the 256 MiB"),
        "vrt-as-csv": (text("v.csv", ogr_vrt("http://127.0.0.1:9/x")), "is a GDAL VRT"),
    }


@pytest.mark.parametrize(
    "case",
    ["scientific-codes", "formulas", "empty-sheet", "no-header", "empty-file", "500MB-text",
     "vrt-as-csv"],
)  # fmt: skip
def test_add_refuses_bad_tables(
    tmp_path: Path, products: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(products)
    path, message = bad_tables(tmp_path)[case]
    capsys.readouterr()
    assert main(add_argv(path, products)) == 2
    assert message in one_error(capsys.readouterr().err, "indicators")
    assert snapshot(products) == before


def test_add_never_follows_a_disguised_vrt(
    tmp_path: Path, products: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(products)
    for name in ("v.csv", "v.xlsx", "v.parquet"):
        (tmp_path / name).write_text(raster_vrt(canary.url()))
        assert main(add_argv(tmp_path / name, products)) == 2
    assert canary.hits == []
    assert snapshot(products) == before


def test_add_repairs_and_reports(
    tmp_path: Path, products: Path, caplog: pytest.LogCaptureFixture
) -> None:
    table = tmp_path / "t.csv"
    table.write_bytes("\ufeffkode;nama;penduduk\n3404012001.0;Balécatur;1.234\n".encode())
    table.write_bytes(table.read_bytes() + b"3404012002.0;Ambarketawang;1.234.567\n")
    assert main(add_argv(table, products)) == 0
    assert "read as UTF-8 with BOM" in caplog.text and "lost a '.0'" in caplog.text
    stored = pd.read_parquet(products / "indicators" / "t.parquet")
    assert stored["kode"].tolist() == CODES
    assert stored["penduduk"].tolist() == [1234.0, 1234567.0]


# -- a full or read-only products folder -------------------------------------------------------


def fail_writes(monkeypatch: pytest.MonkeyPatch, code: int, *, after: int = 0) -> list[Path]:
    """Make :func:`geo.atomic.atomic_target` fail with ``code`` once a file is written.

    The first ``after`` writes succeed; the next one writes its temporary file completely and
    then fails as a full or read-only disk would. Returns the targets attempted.
    """
    original = geo.atomic.atomic_target
    attempted: list[Path] = []

    @contextmanager
    def failing(path: Path) -> Iterator[Path]:
        with original(path) as tmp:
            yield tmp
            attempted.append(Path(path))
            if len(attempted) > after:
                raise OSError(code, os.strerror(code), str(tmp))

    monkeypatch.setattr(geo.atomic, "atomic_target", failing)
    return attempted


def fail_replace(monkeypatch: pytest.MonkeyPatch, code: int, nth: int) -> list[str]:
    """Make the ``nth`` ``os.replace`` of a staged temporary file fail with ``code`` (as a full
    or read-only disk would when a group of files is committed); later calls (restores) pass."""
    real_replace = os.replace
    calls: list[str] = []

    def replace(src, dst):  # type: ignore[no-untyped-def]
        if str(src).endswith(".tmp") and len(calls) < nth:
            calls.append(str(dst))
            if len(calls) == nth:
                raise OSError(code, os.strerror(code), str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_add_into_a_full_folder(
    tmp_path: Path, products: Path, code: int, monkeypatch, capsys
) -> None:
    table = tmp_path / "new.csv"
    table.write_text("kode,nilai\n3404012001,10\n3404012002,20\n")
    before = snapshot(products)
    fail_replace(monkeypatch, code, 1)
    capsys.readouterr()
    assert main(add_argv(table, products)) == 2
    line = one_error(capsys.readouterr().err, "indicators")
    assert f"cannot write to the products folder {products}: {os.strerror(code)}" in line
    assert snapshot(products) == before  # no temporary file, old table intact


@pytest.mark.parametrize("failing_replace", [1, 2], ids=["table", "report"])
def test_add_failing_mid_commit_keeps_the_old_table_and_report(
    tmp_path: Path, products: Path, monkeypatch, capsys, failing_replace: int
) -> None:
    """The table and its report are replaced together: a disk that fails on either
    replacement leaves both old files byte-identical and no temporary file."""
    table = tmp_path / "new.csv"
    table.write_text("kode,nilai\n3404012001,10\n3404012002,20\n")
    before = snapshot(products)
    calls = fail_replace(monkeypatch, errno.ENOSPC, failing_replace)
    assert main(add_argv(table, products)) == 2
    assert len(calls) == failing_replace
    assert snapshot(products) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0555 folder anyway")
def test_add_into_a_read_only_folder(tmp_path: Path, products: Path, capsys) -> None:
    table = tmp_path / "new.csv"
    table.write_text("kode,nilai\n3404012001,10\n3404012002,20\n")
    before = snapshot(products)
    folders = [products, products / "indicators"]
    for folder in folders:
        folder.chmod(0o555)
    try:
        assert main(add_argv(table, products)) == 2
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert "cannot write to the products folder" in capsys.readouterr().err
    assert snapshot(products) == before


@pytest.fixture(scope="module")
def finished_run(
    tmp_path_factory: pytest.TempPathFactory, tiny_scenes: SimulationResult, tiny_villages: Path
) -> Path:
    """Products of a finished tiny run (an in-process Dask worker, so it is quick)."""
    from distributed import Client

    out = tmp_path_factory.mktemp("finished") / "products"
    config = RunConfig(stac=str(tiny_scenes.catalog_dir), boundaries=tiny_villages, out=out,
                       start=START, end=END, max_cloud=80, progress=False)  # fmt: skip
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as c:
        run(config, client=c)
    return out


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_rerun_into_a_full_folder_keeps_the_products(
    tmp_path: Path, finished_run: Path, tiny_scenes, tiny_villages, code, monkeypatch, capsys
) -> None:
    out = tmp_path / "products"
    shutil.copytree(finished_run, out)
    before = snapshot(out)
    attempted = fail_writes(monkeypatch, code)
    argv = run_argv(tiny_villages, out, stac=str(tiny_scenes.catalog_dir))
    assert main(argv) == 2
    line = one_error(capsys.readouterr().err, "run")
    assert attempted, "the rerun wrote nothing, so nothing was tested"
    assert f"cannot write to the products folder {out}: {os.strerror(code)}" in line
    assert snapshot(out) == before
