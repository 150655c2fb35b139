"""The CLI end to end: the installed entry point, the demo's truth recovery, a real cluster."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

from workflows.cli import main
from workflows.run import RunConfig, run

from .conftest import END, START


def test_installed_entry_point_runs(tmp_path: Path, tiny_scenes, tiny_villages) -> None:
    exe = shutil.which("pantau") or pytest.fail("the `pantau` console script is not installed")
    out = tmp_path / "p"
    proc = subprocess.run(
        [
            exe,
            "run",
            "--stac",
            str(tiny_scenes.catalog_dir),
            "--boundaries",
            str(tiny_villages),
            "--start",
            START,
            "--end",
            END,
            "--max-cloud",
            "80",
            "--out",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "villages.parquet" in proc.stdout and (out / "villages.parquet").exists()


def test_cli_error_is_one_message_and_exit_2(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "run",
            "--stac",
            str(tmp_path / "nowhere"),
            "--boundaries",
            str(tmp_path / "x.gpkg"),
            "--start",
            START,
            "--end",
            END,
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("pantau run: error:") and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def _run_args(tiny_scenes, tiny_villages, out: Path) -> list[str]:
    return [
        "run",
        "--stac",
        str(tiny_scenes.catalog_dir),
        "--boundaries",
        str(tiny_villages),
        "--start",
        START,
        "--end",
        END,
        "--max-cloud",
        "80",
        "--out",
        str(out),
        "--no-progress",
    ]


def test_built_up_option_chooses_the_built_up_product(tmp_path, tiny_scenes, tiny_villages):
    rule, fraction = tmp_path / "rule", tmp_path / "fraction"
    assert main([*_run_args(tiny_scenes, tiny_villages, rule), "--built-up", "rule"]) == 0
    assert main([*_run_args(tiny_scenes, tiny_villages, fraction)]) == 0  # the default
    for out, allowed in ((rule, {0, 1, 255}), (fraction, set(range(101)) | {255})):
        for path in out.glob("composites/*/*/built_up.tif"):
            with rasterio.open(path) as src:
                assert set(np.unique(src.read(1)).tolist()) <= allowed, path
    fractions = pd.read_parquet(fraction / "villages.parquet")["built_up_fraction"]
    masks = pd.read_parquet(rule / "villages.parquet")["built_up_fraction"]
    assert fractions.between(0, 1).all() and masks.between(0, 1).all()
    assert not np.allclose(fractions, masks)


def test_unknown_built_up_method_is_refused_with_the_choices(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", "x", "--built-up", "svm"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'svm'" in err and "regression" in err and "rule" in err


@pytest.mark.slow
def test_multiprocess_local_cluster_gives_the_same_table(tmp_path, tiny_scenes, tiny_villages):
    """Tasks pickle: two worker processes produce the threaded run's table."""
    base = dict(
        stac=str(tiny_scenes.catalog_dir),
        boundaries=tiny_villages,
        start=START,
        end=END,
        max_cloud=80,
        progress=False,
    )
    run(RunConfig(out=tmp_path / "threads", **base))
    run(RunConfig(out=tmp_path / "procs", workers=2, **base))
    a = gpd.read_parquet(tmp_path / "threads" / "villages.parquet").drop(columns="geometry")
    b = gpd.read_parquet(tmp_path / "procs" / "villages.parquet").drop(columns="geometry")
    pd.testing.assert_frame_equal(a, b)


def _recovery(out: Path) -> dict:
    return json.loads((out / "demo_report.json").read_text())["recovery"]


@pytest.mark.slow
def test_demo_defaults_recover_the_planted_truth(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "recovery (regression): built_up_fraction MAE" in printed
    assert str(out / "truth.parquet") in printed
    rec = _recovery(out)
    # pixels are mixtures of real held-out spectra: the regression measured MAE 0.058 here;
    # the old goal of 0.03 is not met on realistic mixtures (docs/built-up.md, demo table)
    assert rec["mae"] <= 0.07 and rec["n_missing"] == 0
    assert rec["n_changed"] >= 20 and rec["sign_agreement"] >= 0.95
    truth = pd.read_parquet(out / "truth.parquet")
    assert list(truth.columns) == ["kode", "period", "built_up_fraction_true"]
    table = pd.read_parquet(out / "villages.parquet")

    written = {p: p.stat().st_mtime_ns for p in out.rglob("*.tif")}
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "demo_report.json").read_text())
    # the rerun recomputes nothing: scenes reused, no period computed, no raster rewritten
    assert report["reused_scenes"] and report["computed_periods"] == []
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.tif")} == written
    pd.testing.assert_frame_equal(pd.read_parquet(out / "villages.parquet"), table)
