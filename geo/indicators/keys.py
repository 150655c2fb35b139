"""Which Kemendagri region each row of an indicator table is: by code, BPS code or names.

:func:`resolve_keys` turns the key of a table into Kemendagri 2025 codes of one level, in one
of three ways (:class:`KeyOptions`): Kemendagri codes taken as they are (checked, and compared
with a BPS code list when a crosswalk is given), BPS codes converted through a crosswalk
(:mod:`.crosswalk`), or names matched to the master list (:mod:`.names`). Rows that cannot be
keyed for sure are left out and reported, never joined by a guess; the report goes to the
terminal and into the stored table's ``<name>.report.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from geo.codes import LEVEL_LENGTHS, CodeLevel, kemendagri_codes
from geo.errors import IndicatorTableError
from geo.indicators.crosswalk import (
    CodeSystem,
    CodeSystemEvidence,
    ConversionReport,
    Crosswalk,
    check_bps_codes,
    code_system_evidence,
    convert_bps,
    read_crosswalk,
)
from geo.indicators.join import check_codes, key_column
from geo.indicators.names import NAME_LEVELS, NameReport, match_names

__all__ = ["KeyOptions", "KeyReport", "Keys", "resolve_keys"]

log = logging.getLogger(__name__)

_HINT = "add --code-system bps --crosswalk FILE to convert them"


@dataclass(frozen=True)
class KeyOptions:
    """How a table's rows are keyed: ``key`` codes of a code system, or ``by_name`` columns.

    Attributes:
        key: column of codes (Kemendagri, or BPS with ``code_system="bps"``).
        code_system: ``kemendagri`` (codes used as they are) or ``bps`` (converted).
        crosswalk: BPS-Kemendagri crosswalk, a CSV or a folder of CSVs; required for ``bps``,
            and with ``kemendagri`` used to check that the codes are not BPS codes.
        by_name: name columns, coarse to fine from the province (1-4), instead of ``key``.
    """

    key: str | None = None
    code_system: CodeSystem = "kemendagri"
    crosswalk: Path | None = None
    by_name: tuple[str, ...] = ()

    def check(self) -> None:
        """Raise :class:`IndicatorTableError` for a combination that cannot be used."""
        if self.by_name and self.key:
            raise IndicatorTableError("give either a key column or name columns, not both")
        if not self.by_name and not self.key:
            raise IndicatorTableError("give a key column of codes or name columns to match")
        if self.code_system not in ("kemendagri", "bps"):
            raise IndicatorTableError(
                f"unknown code system {self.code_system!r}: use kemendagri or bps"
            )
        if self.code_system == "bps" and (self.by_name or self.crosswalk is None):
            raise IndicatorTableError(
                "BPS codes need a key column and a crosswalk (--crosswalk FILE or folder); "
                "they are never joined as they are"
            )
        if self.by_name and self.crosswalk is not None:
            raise IndicatorTableError("a crosswalk applies to a key column of codes, not to names")
        if self.by_name and not 1 <= len(self.by_name) <= len(NAME_LEVELS):
            raise IndicatorTableError(
                f"give 1 to {len(NAME_LEVELS)} name columns, province first "
                f"(e.g. 'Provinsi,Kab/Kota'); got {len(self.by_name)}"
            )


@dataclass(frozen=True)
class KeyReport:
    """How the rows were keyed, and what was left out."""

    method: Literal["kemendagri", "bps", "names"]
    rows_read: int
    rows_keyed: int
    evidence: CodeSystemEvidence | None = None
    conversion: ConversionReport | None = None
    names: NameReport | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "method": self.method,
            "rows_read": self.rows_read,
            "rows_keyed": self.rows_keyed,
            "rows_left_out": self.rows_read - self.rows_keyed,
            "code_system_evidence": self.evidence.to_dict() if self.evidence else None,
            "bps_conversion": self.conversion.to_dict() if self.conversion else None,
            "name_matching": self.names.to_dict() if self.names else None,
            "warnings": list(self.warnings()),
        }

    def warnings(self) -> tuple[str, ...]:
        """Warnings about the code system, with their evidence."""
        if self.evidence is None:
            return ()
        if self.method == "kemendagri" and self.evidence.looks_like_bps():
            return (f"these codes look like BPS codes: {self.evidence.describe()}; {_HINT}",)
        if self.method == "bps" and self.evidence.looks_like_kemendagri():
            return (
                "these codes look like Kemendagri codes, not BPS codes: "
                f"{self.evidence.describe()}; if so, add the table without --code-system bps",
            )
        return ()

    def lines(self) -> list[str]:
        """Lines for the terminal."""
        out = [f"  warning: {text}" for text in self.warnings()]
        if self.conversion is not None:
            out += self.conversion.lines()
        if self.names is not None:
            out += self.names.lines()
        return out


@dataclass(frozen=True)
class Keys:
    """Kemendagri codes of the keyed rows (indexed like the table), their level, the key
    columns of the file and the report."""

    codes: pd.Series
    level: CodeLevel
    columns: tuple[str, ...]
    report: KeyReport


def resolve_keys(
    raw: pd.DataFrame,
    options: KeyOptions,
    *,
    path: Path,
    master: Collection[str] | None = None,
) -> Keys:
    """Kemendagri codes for the rows of ``raw`` as ``options`` say; rows left out are reported.

    Args:
        raw: the table as read (:func:`geo.indicators.read.read_raw`).
        options: key column or name columns, code system, crosswalk.
        path: the table's file, named in errors.
        master: Kemendagri codes to check against (default the 2025 list of the level).

    Raises:
        IndicatorTableError: bad options, a missing column, malformed or repeated codes, an
            unusable crosswalk, or no row that could be keyed.
    """
    options.check()
    if options.by_name:
        return _by_name(raw, options.by_name, path)
    crosswalk = read_crosswalk(options.crosswalk) if options.crosswalk is not None else None
    key = key_column(raw, str(options.key), path)
    if options.code_system == "bps":
        assert crosswalk is not None  # checked by options.check()
        return _by_bps(raw, key, crosswalk, master, path)
    try:
        codes, level = check_codes(raw[key], key)
    except IndicatorTableError as exc:
        if _bps_kecamatan(raw[key]):
            hint = f"{exc}; 7-digit codes are BPS kecamatan codes: {_HINT}"
            raise IndicatorTableError(hint) from exc
        raise
    evidence = code_system_evidence(codes, master=_master(level, master), crosswalk=crosswalk)
    report = KeyReport("kemendagri", len(raw), len(codes), evidence=evidence)
    for warning in report.warnings():
        log.warning("%s: %s", path.name, warning)
    return Keys(codes, level, (key,), report)


def _master(level: CodeLevel, master: Collection[str] | None) -> Collection[str]:
    """The master codes of one level."""
    if master is None:
        return kemendagri_codes(level)
    return [code for code in master if len(code) == LEVEL_LENGTHS[level]]


def _bps_kecamatan(values: pd.Series) -> bool:
    """True when most values are 7-digit codes (BPS kecamatan)."""
    text = values.astype("string").str.strip()
    return bool(text.str.fullmatch(r"[0-9]{7}").fillna(False).mean() > 0.5)


def _by_bps(
    raw: pd.DataFrame,
    key: str,
    crosswalk: Crosswalk,
    master: Collection[str] | None,
    path: Path,
) -> Keys:
    """Convert the BPS codes of ``key``; refuse those the crosswalk does not map for sure."""
    bps, level = check_bps_codes(raw[key], key)
    known = _master(level, master)
    conversion = convert_bps(bps, level, crosswalk, master=known)
    evidence = code_system_evidence(bps, master=known, crosswalk=crosswalk)
    report = KeyReport("bps", len(raw), conversion.report.converted, evidence, conversion.report)
    for warning in report.warnings():
        log.warning("%s: %s", path.name, warning)
    if conversion.report.refused:
        log.warning(
            "%s: %d BPS codes not converted (not stored)", path.name, conversion.report.refused
        )
    codes = conversion.codes.dropna()
    if codes.empty:
        raise IndicatorTableError(
            "no BPS code of the table could be converted; nothing stored:\n"
            + "\n".join(line.strip() for line in conversion.report.lines())
        )
    return Keys(codes, level, (key,), report)


def _by_name(raw: pd.DataFrame, columns: Sequence[str], path: Path) -> Keys:
    """Match the names of ``columns``; rows unmatched, ambiguous or repeated are left out."""
    found = tuple(key_column(raw, column, path) for column in columns)
    match = match_names(raw, found)
    report = KeyReport("names", len(raw), match.report.matched, names=match.report)
    left_out = len(raw) - match.report.matched
    if left_out:
        log.warning("%s: %d rows not matched by name (not stored)", path.name, left_out)
    codes = match.codes.dropna()
    if codes.empty:
        raise IndicatorTableError(
            f"no row of {path.name} could be matched by name; nothing stored:\n"
            + "\n".join(line.strip() for line in match.report.lines())
        )
    return Keys(codes, match.report.level, found, report)
