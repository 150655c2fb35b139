"""quality.html and ``pantau quality DIR``: what a run recorded, in a page and in a terminal.

Two folders: a real run over the tiny simulated stack (its planted implausible scene must
appear with its reason) and the planted DIY folder of :mod:`.quality_support` (438 real
village polygons; codes, geometry repairs and an indicator table with gaps recorded).
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

import workflows.quality_report
from geo.indicators import add_indicator_table
from simulate import SimulationResult
from workflows.cli import main
from workflows.quality_report import read_quality, summary_text, write_quality_html
from workflows.quality_svg import histogram_counts, month_counts, svg_map
from workflows.run import RunConfig, run

from .conftest import END, START
from .quality_support import (
    DROPPED,
    DUPLICATE,
    EXCLUDED,
    EXCLUDED_REASON,
    FLAGGED,
    INVALID,
    REPAIRED,
    UNREADABLE,
    UNREADABLE_REASON,
    Page,
    diy_products,
)

PLANTED = "S2A_49MDM_20220226_0_L2A"  # the scene the simulator breaks (test_checks.py)
IDM_DIY = "indicators/idm_2024_desa_34_diy.csv"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_scenes: SimulationResult, tiny_villages: Path) -> Path:
    out = tmp_path_factory.mktemp("quality-run")
    run(
        RunConfig(
            stac=str(tiny_scenes.catalog_dir),
            boundaries=tiny_villages,
            out=out,
            start=START,
            end=END,
            max_cloud=80,
            progress=False,
        )
    )
    return out


@pytest.fixture(scope="module")
def diy(tmp_path_factory, shared_data: Path) -> Path:
    """The planted DIY folder with the real IDM 2024 table added (kelurahan get no value)."""
    out = diy_products(tmp_path_factory.mktemp("quality-diy"), shared_data)
    add_indicator_table(shared_data / IDM_DIY, products_dir=out, name="idm", key="kode_desa")
    write_quality_html(out, json.loads((out / "quality.json").read_text()))
    return out


def _page(out: Path) -> Page:
    return Page((out / "quality.html").read_text())


# ---------- the page of a real run ----------


def test_run_writes_the_page_next_to_quality_json(tiny_run: Path) -> None:
    text = (tiny_run / "quality.html").read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert not list(tiny_run.glob(".quality.html.*")), "a temporary file was left"


def test_page_names_the_planted_implausible_scene_and_why(tiny_run: Path) -> None:
    quality = json.loads((tiny_run / "quality.json").read_text())
    assert quality["scenes_excluded"] == [PLANTED]
    (scene,) = [s for p in quality["periods"] for s in p["scenes"] if s["id"] == PLANTED]
    reason = scene["plausibility"]["reason"]
    assert "subtracted twice" in reason
    words = _page(tiny_run).words
    assert re.search(rf"{PLANTED} 2022-02-26 2022 {scene['cloud_cover']:.0f} dikecualikan", words)
    assert reason in words


def test_period_table_has_the_recorded_numbers(tiny_run: Path) -> None:
    quality = json.loads((tiny_run / "quality.json").read_text())
    words = _page(tiny_run).words
    for p in quality["periods"]:
        clear = p["clear_observations"]
        row = (
            f"{p['period']} {len(p['scenes'])} {p['scenes_used']} {len(p['scenes_excluded'])} "
            f"{clear['mean']:.2f} {clear['share_never_clear']:.1%}"
        )
        assert row in words
    low = quality["low_coverage_villages"]["villages"][0]
    assert f"{low['kode']} " in words and f"{low['valid_fraction']:.3f}" in words


def test_map_has_one_path_per_village(tiny_run: Path, tiny_villages: Path) -> None:
    (svg,) = _page(tiny_run).svg("map")
    n = len(gpd.read_parquet(tiny_villages))
    assert len(svg["children"]["path"]) == n == int(svg["data-villages"])
    assert all(p["d"].startswith("M") for p in svg["children"]["path"])


def test_histogram_bins_sum_to_the_village_count(tiny_run: Path, tiny_villages: Path) -> None:
    hists = _page(tiny_run).svg("hist")
    n = len(gpd.read_parquet(tiny_villages))
    assert [h["data-period"] for h in hists] == ["2021", "2022"]
    for h in hists:
        assert sum(int(r["data-count"]) for r in h["children"]["rect"]) == n
        assert int(h["data-villages"]) == n


def test_scene_chart_counts_every_scene_once(tiny_run: Path) -> None:
    quality = json.loads((tiny_run / "quality.json").read_text())
    (svg,) = _page(tiny_run).svg("months")
    bars = svg["children"]["rect"]
    assert sum(int(r["data-count"]) for r in bars) == sum(
        len(p["scenes"]) for p in quality["periods"]
    )
    assert [int(r["data-count"]) for r in bars if r["class"] == "excluded"] == [1]
    assert int(svg["data-months"]) == 22  # February 2021 to November 2022


def test_page_fetches_nothing(tiny_run: Path, diy: Path) -> None:
    for out in (tiny_run, diy):
        text = (out / "quality.html").read_text()
        links = [(t, v) for t, k, v in _page(out).attributes if k in ("src", "href")]
        assert not [v for _, v in links if v.startswith(("http", "//")) or "//" in v]
        assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", text)


def test_empty_categories_say_so(tiny_run: Path) -> None:
    words = _page(tiny_run).words
    assert "No geometry was repaired or dropped." in words
    assert "Tidak ada kode desa yang tidak sah atau ganda." in words
    assert "No invalid or duplicate village codes." in words
    assert "No indicator tables stored (pantau indicators add)." in words


def test_indonesian_comes_first(tiny_run: Path) -> None:
    text = (tiny_run / "quality.html").read_text()
    assert '<html lang="id">' in text
    assert text.index("Laporan kualitas Pantau") < text.index("Pantau quality report")


# ---------- recorded problems (planted DIY folder) ----------


def test_recorded_problems_are_listed(diy: Path) -> None:
    page = _page(diy)
    words = page.words
    assert f"{EXCLUDED} 2024-03-12 2024 12 dikecualikan / excluded {EXCLUDED_REASON}" in words
    assert f"{FLAGGED} 2023-07-04 2023 30 ditandai, tetap dipakai / flagged, used" in words
    assert f"{UNREADABLE} 2023-11-30 2023 5 dikecualikan / excluded unreadable: " in words
    assert UNREADABLE_REASON in words
    for kode in (*REPAIRED, *DROPPED):
        assert kode in words
    assert f"kode tidak sah / invalid codes {len(INVALID)} {', '.join(INVALID)}" in words
    assert f"kode ganda / duplicate codes 1 {DUPLICATE[0]}" in words
    # reasons are escaped text, never markup
    assert escape(EXCLUDED_REASON) in (diy / "quality.html").read_text()


def test_indicator_join_gaps_come_from_the_stored_report(diy: Path) -> None:
    report = json.loads((diy / "indicators" / "idm.report.json").read_text())
    without = report["villages"]["without_value"]
    assert without["count"] == 46  # the kelurahan: IDM covers desa only
    words = _page(diy).words
    line = (
        f"idm desa desa tanpa nilai / villages without a value {without['count']} / "
        f"{report['villages']['villages']} {', '.join(without['examples'][:5])}"
    )
    assert line in words
    assert "codes not in the Kemendagri 2025 list 0 / 392" in words


def test_low_coverage_villages_worst_first(diy: Path) -> None:
    quality = json.loads((diy / "quality.json").read_text())
    shown = re.findall(r"(\d{10}) [^<>]*? (20\d\d) (0\.\d{3})", _page(diy).words)
    fractions = [float(f) for _, _, f in shown]
    assert fractions and fractions == sorted(fractions)
    assert len(shown) == min(quality["low_coverage_villages"]["count"], 200)


def test_diy_map_and_histograms(diy: Path) -> None:
    page = _page(diy)
    (svg,) = page.svg("map")
    assert len(svg["children"]["path"]) == 438
    assert len(svg["children"]["title"]) == 438  # a hover title per village
    for h in page.svg("hist"):
        assert sum(int(r["data-count"]) for r in h["children"]["rect"]) == 438
    # the village without a valid fraction is counted in an n/a bar, not dropped
    assert [r["data-count"] for r in page.svg("hist")[0]["children"]["rect"]][-1] == "1"


def test_diy_page_is_small(diy: Path) -> None:
    size = (diy / "quality.html").stat().st_size
    assert size < 400_000, f"{size} bytes for 438 villages"


# ---------- pictures alone ----------


def test_villages_smaller_than_a_drawing_unit_keep_a_path() -> None:
    big = shapely.box(110.0, -8.0, 110.5, -7.5)
    tiny = shapely.box(110.2, -7.7, 110.2001, -7.6999)
    table = gpd.GeoDataFrame(
        {"kode": ["9901012001", "9901012002"], "n_obs": [3.0, np.nan]},
        geometry=[big, tiny],
        crs="EPSG:4326",
    )
    svg = Page(svg_map(table)).svg("map")[0]
    paths = svg["children"]["path"]
    assert len(paths) == 2 and paths[0]["d"].endswith("h1v1h-1z")  # no data: grey, first
    assert [g["fill"] for g in svg["children"]["g"][1:]] == ["#cccccc", "#fee090"]


def test_histogram_counts_cover_the_edges() -> None:
    counts, missing = histogram_counts(np.array([0.0, 0.05, 0.1, 0.999, 1.0, np.nan, 1.2]))
    assert counts == [2, 1, 0, 0, 0, 0, 0, 0, 0, 3] and missing == 1


def test_months_without_scenes_are_kept() -> None:
    scenes = [
        {"id": "a", "datetime": "2023-01-05T00:00:00", "cloud_cover": 10.0},
        {"id": "b", "datetime": "2023-01-25T00:00:00", "cloud_cover": 30.0},
        {"id": "c", "datetime": "2023-04-02T00:00:00", "cloud_cover": None},
    ]
    assert month_counts(scenes, {"b"}) == [
        ("2023-01", 1, 1, 20.0),
        ("2023-02", 0, 0, None),
        ("2023-03", 0, 0, None),
        ("2023-04", 1, 0, None),
    ]


# ---------- atomic write ----------


def test_a_failed_write_leaves_the_old_page_and_no_temporary_file(
    diy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    for name in ("villages.parquet", "quality.json"):
        (out / name).write_bytes((diy / name).read_bytes())
    quality = json.loads((out / "quality.json").read_text())
    write_quality_html(out, quality)
    before = (out / "quality.html").read_bytes()

    def broken(report):
        raise RuntimeError("disk full")

    monkeypatch.setattr(workflows.quality_report, "render_html", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_quality_html(out, quality)
    assert (out / "quality.html").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [
        "quality.html",
        "quality.json",
        "villages.parquet",
    ]


# ---------- pantau quality DIR ----------


def test_cli_prints_the_summary(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", str(tiny_run)]) == 0
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "periods: 2021, 2022" in out
    assert f"  {PLANTED} (2022-02-26, period 2022, cloud 16%): excluded" in out
    assert "offset seems to be subtracted twice" in " ".join(out.split())
    assert "low coverage (valid fraction < 0.5): 1 village-period(s); worst:" in out
    assert "indicator tables: none stored" in out
    assert f"report: {tiny_run / 'quality.html'}" in out


def test_cli_lists_problems_within_80_columns(diy: Path) -> None:
    text = summary_text(read_quality(diy), worst=3)
    assert all(len(line) <= 80 for line in text.splitlines()), text
    assert f"geometries repaired: {', '.join(REPAIRED)}" in text
    assert f"invalid codes: {len(INVALID)}, e.g. {', '.join(INVALID)}" in text
    assert "villages without a value: 46/438" in text
    assert re.search(r"\.\.\. \d+ more in quality\.json", text)


def test_cli_without_quality_json_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["quality", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pantau quality: error: no quality.json in") and "Traceback" not in err
    assert main(["quality", str(tmp_path / "missing")]) == 2


def test_cli_html_rewrites_the_page_with_new_indicator_tables(
    diy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    for name in ("villages.parquet", "quality.json"):
        (out / name).write_bytes((diy / name).read_bytes())
    assert main(["quality", str(out)]) == 0
    assert "report: no quality.html" in capsys.readouterr().out
    # a table added after the run (its join report, as `pantau indicators add` writes it)
    report = json.loads((diy / "indicators" / "idm.report.json").read_text())
    (out / "indicators").mkdir()
    (out / "indicators" / "idm2.report.json").write_text(json.dumps({**report, "name": "idm2"}))
    assert main(["quality", str(out), "--html"]) == 0
    assert "idm2 desa" in _page(out).words
    assert "  idm2 (desa, 392 rows)" in capsys.readouterr().out
