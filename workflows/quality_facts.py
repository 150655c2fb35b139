"""The facts of a run's quality that ``quality.html`` and ``pantau quality DIR`` show.

The facts come from what the run recorded: ``quality.json`` (scenes and their plausibility
verdicts, periods, low-coverage villages, the boundary report), the per-village table
``villages.parquet`` (clear observations and valid fractions) and the join reports of the
stored indicator tables (``indicators/<name>.report.json``). Nothing is recomputed from
pixels. :mod:`workflows.quality_report` draws the page; :func:`summary_text` is the
terminal form.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd

from workflows.errors import WorkflowError

__all__ = [
    "Gap",
    "QualityReport",
    "boundary_problems",
    "excluded_scenes",
    "indicator_gaps",
    "low_coverage",
    "read_indicator_reports",
    "read_quality",
    "read_villages",
    "summary_text",
]

#: Columns of villages.parquet the report uses (``n_obs``: median clear observations).
VILLAGE_COLUMNS: Final = ("kode", "nama", "period", "n_obs", "valid_fraction")


@dataclass(frozen=True)
class QualityReport:
    """What a run recorded about its quality, gathered from its products folder."""

    out: Path
    quality: Mapping[str, Any]
    #: one row per village x period (``VILLAGE_COLUMNS`` present, ``geometry`` if read)
    villages: pd.DataFrame | None = None
    #: the stored indicator tables' join reports, sorted by table name
    indicators: tuple[Mapping[str, Any], ...] = ()

    @property
    def periods(self) -> list[str]:
        """The run's periods, in order."""
        return [str(p["period"]) for p in self.quality.get("periods", [])]

    def names(self) -> dict[str, str]:
        """Village name by code (empty when the table has no names)."""
        v = self.villages
        if v is None or "nama" not in v.columns:
            return {}
        first = v.drop_duplicates("kode")
        return dict(zip(first["kode"].astype(str), first["nama"].astype(str), strict=True))


@dataclass(frozen=True)
class Gap:
    """One check of an indicator table's join: how many rows or villages it concerns."""

    label_id: str
    label_en: str
    count: int
    examples: tuple[str, ...] = ()
    total: int | None = None


def read_quality(out: str | Path, *, geometry: bool = False) -> QualityReport:
    """Gather the report of the run in ``out``; ``geometry`` also reads village polygons.

    Raises:
        WorkflowError: ``out`` has no readable ``quality.json``.
    """
    out = Path(out)
    path = out / "quality.json"
    if not out.is_dir():
        raise WorkflowError(f"no folder {out}: give the folder a `pantau run --out DIR` wrote")
    if not path.is_file():
        raise WorkflowError(
            f"no quality.json in {out}: give the folder a `pantau run --out DIR` wrote"
        )
    try:
        quality = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WorkflowError(f"{path} is not readable JSON ({exc}); run the pipeline again") from exc
    if not isinstance(quality, dict) or "periods" not in quality:
        raise WorkflowError(f"{path} is not a Pantau quality.json (no periods)")
    return QualityReport(
        out=out,
        quality=quality,
        villages=read_villages(out / "villages.parquet", geometry=geometry),
        indicators=read_indicator_reports(out),
    )


def read_villages(path: Path, *, geometry: bool) -> pd.DataFrame | None:
    """The report's columns of villages.parquet (None when there is no such table)."""
    if not path.is_file():
        return None
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    columns = [c for c in VILLAGE_COLUMNS if c in present]
    if geometry and "geometry" in present:
        import geopandas as gpd

        return gpd.read_parquet(path, columns=[*columns, "geometry"])
    return pd.read_parquet(path, columns=columns)


def read_indicator_reports(out: Path) -> tuple[dict[str, Any], ...]:
    """``indicators/<name>.report.json`` of every stored table, sorted by name."""
    reports = []
    for path in sorted((Path(out) / "indicators").glob("*.report.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            doc = None
        if not isinstance(doc, dict):
            doc = {"unreadable": True}
        doc.setdefault("name", path.name.removesuffix(".report.json"))
        reports.append(doc)
    return tuple(reports)


# ---------- facts shared by the page and the terminal ----------


def excluded_scenes(quality: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Scenes left out, or flagged (unreadable, implausible) and used anyway, and why."""
    rows = []
    for period in quality.get("periods", []):
        left_out = set(period.get("scenes_excluded", []))
        for scene in period.get("scenes", []):
            verdict = scene.get("plausibility") or {}
            unreadable = verdict.get("readable") is False
            if scene["id"] in left_out or unreadable or verdict.get("plausible") is False:
                why = verdict.get("reason") or ""
                rows.append(
                    {
                        "id": scene["id"],
                        "period": period["period"],
                        "date": str(scene.get("datetime", ""))[:10],
                        "cloud_cover": scene.get("cloud_cover"),
                        "excluded": scene["id"] in left_out,
                        "reason": f"unreadable: {why}" if unreadable else why,
                    }
                )
    return rows


def low_coverage(report: QualityReport) -> list[dict[str, Any]]:
    """Low-coverage village-periods of quality.json with names, worst (lowest) first."""
    names = report.names()
    rows = [
        {**v, "nama": names.get(str(v["kode"]), "")}
        for v in report.quality.get("low_coverage_villages", {}).get("villages", [])
    ]
    return sorted(rows, key=lambda r: (r["valid_fraction"], r["kode"], r["period"]))


def _sample(d: Any) -> tuple[int, tuple[str, ...]]:
    """(count, examples) of a ``{"count", "examples"}`` entry (0, () when absent)."""
    if not isinstance(d, Mapping):
        return 0, ()
    return int(d.get("count") or 0), tuple(str(e) for e in d.get("examples") or ())


def indicator_gaps(doc: Mapping[str, Any]) -> list[Gap]:
    """The checks of one join report that concern rows or villages, zero counts included."""
    if doc.get("unreadable"):
        return [Gap("laporan tidak terbaca", "report unreadable", 1)]
    gaps = [
        Gap(
            "kode tidak ada di daftar Kemendagri 2025",
            "codes not in the Kemendagri 2025 list",
            *_sample(doc.get("unmatched")),
            total=doc.get("rows"),
        )
    ]
    villages = doc.get("villages")
    if isinstance(villages, Mapping):
        gaps.append(
            Gap(
                "desa tanpa nilai",
                "villages without a value",
                *_sample(villages.get("without_value")),
                total=villages.get("villages"),
            )
        )
    keys = doc.get("keys") or {}
    if keys.get("rows_left_out"):
        gaps.append(
            Gap(
                "baris tidak dipakai (kunci tidak pasti)",
                "rows left out (key not certain)",
                int(keys["rows_left_out"]),
                total=keys.get("rows_read"),
            )
        )
    conversion = (keys.get("bps_conversion") or {}).get("not_converted") or {}
    for key, label_id, label_en in (
        ("not_in_crosswalk", "kode BPS tidak ada di tabel padanan", "BPS codes not in crosswalk"),
        ("one_bps_code_to_several", "satu kode BPS ke beberapa", "one BPS code to several"),
        ("several_bps_codes_to_one", "beberapa kode BPS ke satu", "several BPS codes to one"),
        ("target_not_in_master_list", "hasil tidak ada di daftar", "target not in master list"),
    ):
        count, examples = _sample(conversion.get(key))
        if count:
            gaps.append(Gap(label_id, label_en, count, examples))
    names = keys.get("name_matching") or {}
    for key, label_id, label_en in (
        ("unmatched", "nama tidak cocok", "names not matched"),
        ("ambiguous", "nama ambigu", "ambiguous names"),
        ("duplicates", "nama ganda", "duplicated names"),
    ):
        count, examples = _sample(names.get(key))
        if count:
            gaps.append(Gap(label_id, label_en, count, examples))
    for column, sample in (doc.get("unparsed_values") or {}).items():
        count, examples = _sample(sample)
        gaps.append(Gap(f"{column}: bukan angka", f"{column}: not numbers", count, examples))
    privacy = doc.get("privacy") or {}
    if privacy.get("sensitive"):
        hidden = int(privacy.get("primary") or 0) + int(privacy.get("complementary") or 0)
        gaps.append(Gap("sel disembunyikan (privasi)", "cells suppressed (privacy)", hidden))
    return gaps


def boundary_problems(quality: Mapping[str, Any]) -> dict[str, Any]:
    """Invalid, duplicate and out-of-region codes and geometry repairs of the boundaries."""
    b = quality.get("boundaries") or {}
    invalid, examples = _sample(b.get("invalid_codes"))
    return {
        "invalid_codes": invalid,
        "invalid_examples": examples,
        "duplicate_codes": list(b.get("duplicate_codes") or []),
        "outside_region": int(b.get("outside_region") or 0),
        "repaired": list(b.get("repaired_geometries") or []),
        "dropped": list(b.get("dropped_geometries") or []),
    }


# ---------- terminal ----------


def _wrap(text: str, width: int, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, width, subsequent_indent=indent, break_on_hyphens=False) or [""]


def _list(items: Sequence[str], limit: int = 5) -> str:
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def summary_text(report: QualityReport, *, width: int = 80, worst: int = 10) -> str:
    """Plain-text summary of a run's quality, each line at most ``width`` characters."""
    q = report.quality
    lines = [f"quality of {report.out}", f"periods: {', '.join(report.periods) or 'none'}", ""]
    lines.append(f"{'period':<10}{'scenes':>7}{'used':>6}{'excluded':>9}"
                 f"{'clear obs/px':>14}{'never clear':>13}")  # fmt: skip
    for p in q.get("periods", []):
        clear = p.get("clear_observations") or {}
        lines.append(
            f"{str(p['period']):<10}{len(p.get('scenes', [])):>7}{p.get('scenes_used', 0):>6}"
            f"{len(p.get('scenes_excluded', [])):>9}{clear.get('mean', float('nan')):>14.2f}"
            f"{clear.get('share_never_clear', float('nan')):>13.1%}"
        )
    scenes = excluded_scenes(q)
    lines += ["", f"excluded or flagged scenes: {len(scenes) or 'none'}"]
    for s in scenes:
        status = "excluded" if s["excluded"] else "flagged, used anyway"
        cloud = f", cloud {s['cloud_cover']:.0f}%" if s["cloud_cover"] is not None else ""
        lines += _wrap(f"  {s['id']} ({s['date']}, period {s['period']}{cloud}): {status}", width)
        lines += _wrap(f"    why: {s['reason'] or 'no reason recorded'}", width, "    ")
    low = q.get("low_coverage_villages") or {}
    rows = low_coverage(report)
    lines += [""] + _wrap(
        f"low coverage (valid fraction < {low.get('threshold', '?')}): "
        f"{low.get('count', len(rows))} village-period(s)" + ("; worst:" if rows else ""),
        width,
    )
    for r in rows[:worst]:
        lines.append(
            f"  {r['kode']}  {r['period']:<8} {r['valid_fraction']:.3f}  {r['nama']}"[:width]
        )
    if len(rows) > worst:
        lines.append(f"  ... {len(rows) - worst} more in quality.json")
    lines += [""] + _boundary_lines(q, width) + [""] + _indicator_lines(report, width)
    html = report.out / "quality.html"
    lines += ["", *_wrap(f"report: {html}" if html.exists() else "report: no quality.html", width)]
    return "\n".join(lines)


def _boundary_lines(q: Mapping[str, Any], width: int) -> list[str]:
    b, problems = q.get("boundaries") or {}, boundary_problems(q)
    lines = _wrap(
        f"boundaries: {b.get('n_villages', '?')} villages of {b.get('n_features_read', '?')} "
        f"features, code column {b.get('code_column', '?')}",
        width,
    )
    invalid = problems["invalid_codes"]
    invalid_text = f"{invalid}, e.g. {_list(problems['invalid_examples'])}" if invalid else ""
    checks = [
        ("invalid codes", invalid_text or "none"),
        ("duplicate codes", _list(problems["duplicate_codes"]) or "none"),
        ("geometries repaired", _list(problems["repaired"]) or "none"),
        ("geometries dropped", _list(problems["dropped"]) or "none"),
    ]
    if problems["outside_region"]:
        checks.append(("outside --region, left out", str(problems["outside_region"])))
    for label, text in checks:
        lines += _wrap(f"  {label}: {text}", width, "    ")
    return lines


def _indicator_lines(report: QualityReport, width: int) -> list[str]:
    if not report.indicators:
        return ["indicator tables: none stored (pantau indicators add)"]
    lines = [f"indicator tables: {len(report.indicators)}"]
    for doc in report.indicators:
        lines += _wrap(
            f"  {doc['name']} ({doc.get('level', '?')}, {doc.get('rows', '?')} rows)", width
        )
        for gap in indicator_gaps(doc):
            of = f"/{gap.total}" if gap.total is not None else ""
            eg = f", e.g. {_list(gap.examples, 3)}" if gap.count and gap.examples else ""
            lines += _wrap(f"    {gap.label_en}: {gap.count}{of}{eg}", width, "      ")
    return lines
