"""``quality.html``: a run's quality for people, one self-contained page next to quality.json.

Inline CSS and SVG, no script, nothing fetched from the network. The facts come from
:mod:`workflows.quality_facts` (quality.json, villages.parquet, the indicator join reports);
:func:`write_quality_html` writes the page atomically, :func:`render_html` is the text.

Indonesian first, English beside it; three radio buttons and CSS switch between both
languages, Indonesian only and English only. Every category is shown, and one with nothing
recorded says so rather than disappearing.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from geo.atomic import write_text
from workflows.quality_facts import (
    VILLAGE_COLUMNS,
    QualityReport,
    excluded_scenes,
    read_indicator_reports,
    read_quality,
    read_villages,
    summary_text,
)
from workflows.quality_html import (
    bi,
    codes_section,
    geometry_section,
    indicators_section,
    low_section,
    none_note,
    para,
    section,
    table,
)
from workflows.quality_svg import (
    CLEAR_CLASSES,
    NO_DATA_COLOUR,
    clear_class,
    svg_histogram,
    svg_map,
    svg_months,
)

__all__ = ["read_quality", "render_html", "summary_text", "write_quality_html"]

CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222}
header,main,footer{max-width:1100px;margin:0 auto;padding:0 16px}
h1{font-size:22px;margin:16px 0 4px}h2{font-size:17px;margin:28px 0 8px;
border-bottom:1px solid #ddd;padding-bottom:3px}
span.en{color:#555}span.en::before{content:" · "}p.en{color:#555;margin-top:-6px}
input.lang{position:absolute;opacity:0}
.langs label{display:inline-block;border:1px solid #aaa;border-radius:3px;padding:1px 8px;
margin:8px 4px 0 0;cursor:pointer;font-size:13px}
#lang-both:checked~header .langs label[for=lang-both],#lang-id:checked~header .langs
label[for=lang-id],#lang-en:checked~header .langs label[for=lang-en]{background:#333;color:#fff}
#lang-id:checked~* .en{display:none}#lang-en:checked~* .id{display:none}
#lang-en:checked~* span.en::before{content:none}#lang-en:checked~* p.en{color:#222;margin-top:0}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:2px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
.none{color:#2a7a2a;font-style:italic}
svg{max-width:100%;height:auto;font-size:10px;fill:#222}svg.map{max-height:80vh;display:block}
.hists{display:flex;flex-wrap:wrap;gap:12px}
.hists figure{margin:0}figcaption{font-size:13px}
.legend span.sw{display:inline-block;width:14px;height:10px;margin:0 3px 0 10px;
border:1px solid #999}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}dd{margin:0}
"""


def write_quality_html(
    out: str | Path,
    quality: Mapping[str, Any],
    *,
    villages: pd.DataFrame | None = None,
) -> Path:
    """Write ``out/quality.html`` (atomically) from ``quality`` and the village table.

    ``villages`` is the run's table (one row per village x period with ``geometry``); by
    default ``out/villages.parquet`` is read. Indicator join reports are read from ``out``.
    """
    out = Path(out)
    if villages is None:
        villages = read_villages(out / "villages.parquet", geometry=True)
    else:
        villages = villages[[c for c in (*VILLAGE_COLUMNS, "geometry") if c in villages.columns]]
    report = QualityReport(
        out=out, quality=quality, villages=villages, indicators=read_indicator_reports(out)
    )
    return write_text(out / "quality.html", render_html(report))


def render_html(report: QualityReport) -> str:
    """The whole page as text."""
    q = report.quality
    title = bi("Laporan kualitas Pantau", "Pantau quality report")
    sections = [
        _overview(report),
        _map(report),
        _histograms(report),
        _scenes(q),
        low_section(report),
        geometry_section(report),
        codes_section(q),
        indicators_section(report),
    ]
    langs = (
        '<nav class="langs"><label for="lang-both">ID · EN</label>'
        '<label for="lang-id">Bahasa Indonesia</label><label for="lang-en">English</label></nav>'
    )
    radios = "".join(
        f'<input type="radio" class="lang" name="lang" id="lang-{k}"'
        f'{" checked" if k == "both" else ""} aria-label="{k}">'
        for k in ("both", "id", "en")
    )
    return (
        '<!DOCTYPE html><html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Laporan kualitas · Quality report: {escape(report.out.name)}</title>"
        f"<style>{CSS}</style></head><body>{radios}"
        f"<header>{langs}<h1>{title}</h1><p><code>{escape(str(report.out))}</code></p></header>"
        f"<main>{''.join(sections)}</main>"
        "<footer>"
        + para(
            "Dibuat dari quality.json, villages.parquet dan laporan tabel indikator.",
            "Made from quality.json, villages.parquet and the indicator tables' reports.",
        )
        + "</footer></body></html>\n"
    )


def _overview(report: QualityReport) -> str:
    q = report.quality
    b = q.get("boundaries") or {}
    units = {u.get("unit") for u in q.get("units", [])}
    facts = [
        (bi("Periode", "Periods"), ", ".join(report.periods) or "–"),
        (
            bi("Desa (dipakai / fitur dibaca)", "Villages (used / features read)"),
            f"{b.get('n_villages', '?')} / {b.get('n_features_read', '?')}",
        ),
        (bi("Sumber batas", "Boundaries"), str(b.get("source", "?"))),
        (bi("Unit kerja", "Work units"), str(len(units))),
        (bi("Metode lahan terbangun", "Built-up method"), str(q.get("built_up_method") or "–")),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    head = [
        bi("Periode", "Period"),
        bi("Adegan", "Scenes"),
        bi("Dipakai", "Used"),
        bi("Dikecualikan", "Excluded"),
        bi("Pengamatan cerah rata-rata/piksel", "Mean clear observations/pixel"),
        bi("Piksel tak pernah cerah", "Pixels never clear"),
    ]
    rows = []
    for p in q.get("periods", []):
        clear = p.get("clear_observations") or {}
        rows.append(
            (
                p["period"],
                len(p.get("scenes", [])),
                p.get("scenes_used", 0),
                len(p.get("scenes_excluded", [])),
                f"{clear.get('mean', float('nan')):.2f}",
                f"{clear.get('share_never_clear', float('nan')):.1%}",
            )
        )
    return section(
        "ringkasan", "Ringkasan", "Summary", f"<dl>{dl}</dl>", table(head, rows, (1, 2, 3, 4, 5))
    )


def _latest(report: QualityReport) -> tuple[str | None, Any]:
    """The last period and its rows of the village table (None, None without a table)."""
    v = report.villages
    if v is None or not report.periods:
        return None, None
    period = report.periods[-1]
    return period, v[v["period"].astype(str) == period]


def _map(report: QualityReport) -> str:
    title = ("Peta pengamatan cerah per desa", "Map of clear observations per village")
    period, rows = _latest(report)
    if rows is None or "geometry" not in rows.columns or not len(rows):
        return section("peta", *title, none_note("Tidak ada tabel desa.", "No village table."))
    if "n_obs" not in rows.columns:
        return section(
            "peta",
            *title,
            none_note("Tabel desa tanpa kolom n_obs.", "The village table has no n_obs column."),
        )
    rows = rows[rows.geometry.notna() & ~rows.geometry.is_empty]
    classes = clear_class(rows["n_obs"].to_numpy("float64"))
    counts = np.bincount(classes[classes >= 0], minlength=len(CLEAR_CLASSES))
    last = max((i for i, n in enumerate(counts) if n), default=0)
    legend = [
        f'<span class="sw" style="background:{c.colour}"></span>{escape(c.label)} ({counts[i]})'
        for i, c in enumerate(CLEAR_CLASSES[: last + 1])
    ]
    missing = int((classes < 0).sum())
    if missing:
        legend.append(
            f'<span class="sw" style="background:{NO_DATA_COLOUR}"></span>'
            f"{bi('tanpa data', 'no data')} ({missing})"
        )
    caption = para(
        f"Periode terakhir, {period}: median jumlah pengamatan cerah (tanpa awan) per piksel "
        f"di tiap desa ({len(rows)} desa).",
        f"Latest period, {period}: median number of clear (cloud-free) observations per pixel "
        f"in each village ({len(rows)} villages).",
    )
    return section(
        "peta", *title, caption, svg_map(rows), f'<p class="legend">{"".join(legend)}</p>'
    )


def _histograms(report: QualityReport) -> str:
    title = ("Histogram fraksi valid", "Histogram of valid fractions")
    v = report.villages
    if v is None or "valid_fraction" not in v.columns:
        return section("histogram", *title, none_note("Tidak ada tabel desa.", "No village table."))
    threshold = float((report.quality.get("low_coverage_villages") or {}).get("threshold", 0.5))
    figures = []
    for period in report.periods:
        values = v.loc[v["period"].astype(str) == period, "valid_fraction"].to_numpy("float64")
        figures.append(
            f"<figure>{svg_histogram(values, threshold=threshold, period=period)}"
            f"<figcaption>{bi('Periode', 'Period')} {escape(period)}: {len(values)} "
            f"{bi('desa', 'villages')}</figcaption></figure>"
        )
    text = para(
        f"Jumlah desa (sumbu tegak) menurut fraksi piksel dengan pengamatan cerah (fraksi "
        f"valid, sumbu datar); oranye: di bawah ambang cakupan rendah {threshold:g} (garis "
        "putus-putus); n/a: tanpa nilai.",
        f"Villages (vertical axis) by the fraction of their pixels with a clear observation "
        f"(valid fraction, horizontal axis); orange: below the low-coverage threshold "
        f"{threshold:g} (dashed line); n/a: no value.",
    )
    return section("histogram", *title, text, f'<div class="hists">{"".join(figures)}</div>')


def _scenes(q: Any) -> str:
    scenes = [s for p in q.get("periods", []) for s in p.get("scenes", [])]
    left_out = {s for p in q.get("periods", []) for s in p.get("scenes_excluded", [])}
    chart = svg_months(scenes, left_out)
    text = para(
        "Batang: adegan per bulan (biru dipakai, merah dikecualikan); titik: tutupan awan "
        "rata-rata (sumbu kanan). Adegan di atas batas awan --max-cloud tidak dicari dan tidak "
        "tercatat di sini.",
        "Bars: scenes per month (blue used, red excluded); dots: mean cloud cover (right axis). "
        "Scenes above the run's --max-cloud are not searched and not recorded here.",
    )
    rows = excluded_scenes(q)
    head = [
        bi("Adegan", "Scene"),
        bi("Tanggal", "Date"),
        bi("Periode", "Period"),
        bi("Awan %", "Cloud %"),
        bi("Status", "Status"),
        bi("Alasan", "Reason"),
    ]
    status = {True: "dikecualikan / excluded", False: "ditandai, tetap dipakai / flagged, used"}
    listing = (
        table(
            head,
            [
                (
                    s["id"],
                    s["date"],
                    s["period"],
                    "–" if s["cloud_cover"] is None else f"{s['cloud_cover']:.0f}",
                    status[s["excluded"]],
                    s["reason"] or "–",
                )
                for s in rows
            ],
            (3,),
        )
        if rows
        else none_note(
            "Tidak ada adegan yang dikecualikan atau ditandai tidak wajar.",
            "No scene was excluded or flagged implausible.",
        )
    )
    body = chart or none_note("Tidak ada adegan tercatat.", "No scenes recorded.")
    heading = f"<h3>{bi('Adegan dikecualikan dan alasannya', 'Excluded scenes and why')}</h3>"
    return section("adegan", "Adegan per bulan", "Scenes per month", text, body, heading, listing)
