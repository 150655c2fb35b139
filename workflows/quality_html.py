"""Building blocks of ``quality.html`` and its table sections (low coverage, geometry
repairs, code problems, indicator join gaps).

Text is Indonesian first, English beside it: ``<span class="id">`` / ``<span class="en">``
pairs (or a paragraph each) that the page's language switch shows or hides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any, Final

from workflows.quality_facts import QualityReport, boundary_problems, indicator_gaps, low_coverage

__all__ = [
    "LOW_ROWS",
    "bi",
    "codes_section",
    "geometry_section",
    "indicators_section",
    "low_section",
    "none_note",
    "para",
    "section",
    "table",
]

#: Rows of the low-coverage table on the page (all of them are in quality.json).
LOW_ROWS: Final = 200


def bi(id_text: str, en_text: str) -> str:
    """Inline text in both languages (escaped)."""
    return (
        f'<span class="id" lang="id">{escape(id_text)}</span>'
        f'<span class="en" lang="en">{escape(en_text)}</span>'
    )


def para(id_text: str, en_text: str, cls: str = "") -> str:
    """A paragraph per language."""
    extra = f" {cls}" if cls else ""
    return (
        f'<p class="id{extra}" lang="id">{escape(id_text)}</p>'
        f'<p class="en{extra}" lang="en">{escape(en_text)}</p>'
    )


def none_note(id_text: str, en_text: str) -> str:
    """The explicit "nothing recorded" line of an empty category."""
    return para(id_text, en_text, "none")


def table(head: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """A table; ``head`` cells are markup, row cells are escaped text."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = []
    for row in rows:
        cells = (
            f'<td class="n">{escape(str(v))}</td>' if i in numeric else f"<td>{escape(str(v))}</td>"
            for i, v in enumerate(row)
        )
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def section(anchor: str, title_id: str, title_en: str, *content: str) -> str:
    return f'<section id="{anchor}"><h2>{bi(title_id, title_en)}</h2>{"".join(content)}</section>'


def low_section(report: QualityReport) -> str:
    low = report.quality.get("low_coverage_villages") or {}
    threshold = low.get("threshold", "?")
    rows = low_coverage(report)
    title = ("Desa dengan cakupan rendah", "Villages with low coverage")
    text = para(
        f"Fraksi valid < {threshold}: {low.get('count', len(rows))} desa-periode, terburuk dulu.",
        f"Valid fraction < {threshold}: {low.get('count', len(rows))} village-periods, worst "
        "first.",
    )
    if not rows:
        return section(
            "cakupan",
            *title,
            none_note(
                f"Tidak ada desa dengan fraksi valid < {threshold}.",
                f"No village has a valid fraction < {threshold}.",
            ),
        )
    head = [bi("Kode", "Code"), bi("Nama", "Name"), bi("Periode", "Period"),
            bi("Fraksi valid", "Valid fraction")]  # fmt: skip
    rows_html = table(
        head,
        [
            (r["kode"], r["nama"], r["period"], f"{r['valid_fraction']:.3f}")
            for r in rows[:LOW_ROWS]
        ],
        (3,),
    )
    more = (
        para(
            f"… dan {len(rows) - LOW_ROWS} lagi di quality.json.",
            f"… and {len(rows) - LOW_ROWS} more in quality.json.",
        )
        if len(rows) > LOW_ROWS
        else ""
    )
    return section("cakupan", *title, text, rows_html, more)


def geometry_section(report: QualityReport) -> str:
    problems = boundary_problems(report.quality)
    names = report.names()
    rows = [
        (k, names.get(k, ""), "diperbaiki (make_valid) / repaired") for k in problems["repaired"]
    ]
    rows += [(k, "", "dibuang (kosong/bukan poligon) / dropped") for k in problems["dropped"]]
    title = ("Perbaikan geometri", "Geometry repairs")
    if not rows:
        return section(
            "geometri",
            *title,
            none_note(
                "Tidak ada geometri yang diperbaiki atau dibuang.",
                "No geometry was repaired or dropped.",
            ),
        )
    head = [bi("Kode", "Code"), bi("Nama", "Name"), bi("Tindakan", "Action")]
    return section("geometri", *title, table(head, rows))


def codes_section(q: Any) -> str:
    problems = boundary_problems(q)
    rows = []
    if problems["invalid_codes"]:
        rows.append(("kode tidak sah / invalid codes", problems["invalid_codes"],
                     ", ".join(problems["invalid_examples"])))  # fmt: skip
    if problems["duplicate_codes"]:
        dup = problems["duplicate_codes"]
        rows.append(("kode ganda / duplicate codes", len(dup), ", ".join(dup[:10])))
    if problems["outside_region"]:
        rows.append(("di luar --region / outside --region", problems["outside_region"], ""))
    title = ("Masalah kode", "Code problems")
    if not rows:
        return section(
            "kode",
            *title,
            none_note(
                "Tidak ada kode desa yang tidak sah atau ganda.",
                "No invalid or duplicate village codes.",
            ),
        )
    head = [bi("Masalah", "Problem"), bi("Jumlah", "Count"), bi("Contoh", "Examples")]
    return section("kode", *title, table(head, rows, (1,)))


def indicators_section(report: QualityReport) -> str:
    title = ("Celah gabungan indikator", "Indicator join gaps")
    if not report.indicators:
        return section(
            "indikator",
            *title,
            none_note(
                "Belum ada tabel indikator tersimpan (pantau indicators add).",
                "No indicator tables stored (pantau indicators add).",
            ),
        )
    head = [bi("Tabel", "Table"), bi("Tingkat", "Level"), bi("Pemeriksaan", "Check"),
            bi("Jumlah", "Count"), bi("Contoh", "Examples")]  # fmt: skip
    rows = []
    for doc in report.indicators:
        for gap in indicator_gaps(doc):
            of = f" / {gap.total}" if gap.total is not None else ""
            rows.append((doc["name"], doc.get("level", "?"), f"{gap.label_id} / {gap.label_en}",
                         f"{gap.count}{of}", ", ".join(gap.examples[:5])))  # fmt: skip
    text = para(
        "Tiap pemeriksaan ditampilkan, juga yang nol. Sumber: indicators/<nama>.report.json.",
        "Every check is shown, zeros included. Source: indicators/<name>.report.json.",
    )
    return section("indikator", *title, text, table(head, rows, (3,)))
