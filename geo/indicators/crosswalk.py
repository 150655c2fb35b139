"""BPS codes to Kemendagri codes through a crosswalk table, and the evidence for a code system.

BPS (statistics agency) codes differ from Kemendagri codes below the province: kecamatan
have 7 digits instead of 6, and even among 4-digit kab/kota codes a third denote another
region (BPS ``3171`` is Jakarta Selatan, Kemendagri ``31.71`` Jakarta Pusat). A BPS code is
therefore only ever converted through a crosswalk (:func:`read_crosswalk`, e.g. BPS's 2020
bridging table), never kept as it is. :func:`convert_bps` converts the codes a crosswalk maps
to exactly one Kemendagri code that no other BPS code maps to and that is in the Kemendagri
2025 list; every other code is refused and reported by reason. :func:`code_system_evidence`
counts how many of a table's codes exist in one system and not the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import pandas as pd

from geo.codes import LEVEL_LENGTHS, CodeLevel, CodeSample, normalize_codes, valid_village_mask
from geo.errors import IndicatorTableError
from geo.indicators.read import read_csv_text, snake_case

__all__ = [
    "BPS_LEVEL_LENGTHS",
    "CodeSystem",
    "CodeSystemEvidence",
    "Conversion",
    "ConversionReport",
    "Crosswalk",
    "check_bps_codes",
    "code_system_evidence",
    "convert_bps",
    "read_crosswalk",
]

CodeSystem = Literal["kemendagri", "bps"]

#: Number of digits of a BPS code at each level, coarsest first.
BPS_LEVEL_LENGTHS: Final[dict[CodeLevel, int]] = {
    "provinsi": 2,
    "kabkota": 4,
    "kecamatan": 7,
    "desa": 10,
}
_BPS_LEVEL_BY_LENGTH: Final = {n: level for level, n in BPS_LEVEL_LENGTHS.items()}
_BPS_COLUMNS: Final = ("kode_bps", "bps")
_KEMENDAGRI_COLUMNS: Final = ("kode_dagri", "kode_kemendagri", "kemendagri", "dagri")
_BPS_RE: Final = r"(?:[0-9]{2}|[0-9]{4}|[0-9]{7}|[0-9]{10})(?:\.0+)?"


def normalize_bps_codes(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Digits of BPS codes (2, 4, 7 or 10 digits) and the mask of values that are not one."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        number = pd.to_numeric(values, errors="coerce").astype("Float64")
        text = number.where(number % 1 == 0).astype("Int64").astype("string")
    else:
        text = values.astype("string").str.strip()
    valid = text.str.fullmatch(_BPS_RE).fillna(False).astype(bool)
    digits = text.where(valid).str.replace(r"\.0+$", "", regex=True)
    return digits, ~valid


def check_bps_codes(values: pd.Series, key: str) -> tuple[pd.Series, CodeLevel]:
    """BPS codes of one level, each once; anything else is an error naming examples."""
    codes, invalid = normalize_bps_codes(values)
    if invalid.any():
        bad = CodeSample.of(values[invalid].astype("string").fillna("<empty>"))
        raise IndicatorTableError(
            f"{bad.count} values of key column {key!r} are not BPS codes (e.g. "
            f"{', '.join(bad.examples[:5])}); BPS codes have 2, 4, 7 or 10 digits"
        )
    lengths = codes.str.len().value_counts()
    if len(lengths) > 1:
        parts = ", ".join(f"{n} codes of {length} digits" for length, n in lengths.items())
        raise IndicatorTableError(
            f"key column {key!r} mixes levels ({parts}); store each level as its own table"
        )
    repeated = codes[codes.duplicated(keep=False)].value_counts()
    if len(repeated):
        examples = ", ".join(f"{code} ({n}x)" for code, n in repeated.head(5).items())
        raise IndicatorTableError(
            f"key column {key!r} has {len(repeated)} duplicated codes, e.g. {examples}; "
            "keep one row per code"
        )
    return codes, _BPS_LEVEL_BY_LENGTH[int(codes.str.len().iloc[0])]


@dataclass(frozen=True)
class Crosswalk:
    """Pairs of BPS and Kemendagri codes (``bps``, ``kemendagri``, ``level``) and their source."""

    pairs: pd.DataFrame
    source: str
    files: tuple[tuple[str, str], ...]  # (file name, sha256)

    def level(self, level: CodeLevel) -> pd.DataFrame:
        """The distinct pairs of one level."""
        pairs = self.pairs.loc[self.pairs["level"] == level, ["bps", "kemendagri"]]
        return pairs.drop_duplicates().reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready provenance."""
        counts = self.pairs["level"].value_counts()
        return {
            "source": self.source,
            "files": [{"name": name, "sha256": digest} for name, digest in self.files],
            "pairs": {level: int(counts.get(level, 0)) for level in BPS_LEVEL_LENGTHS},
        }


def read_crosswalk(path: str | Path) -> Crosswalk:
    """Read a crosswalk: one CSV, or a folder of CSVs (``provinsi.csv``, ``kabkota.csv``, ...).

    Each CSV has a ``kode_bps`` and a ``kode_dagri`` (or ``kode_kemendagri``) column; other
    columns (names) are ignored. The level of each row follows from its BPS code's length,
    and its Kemendagri code must have that level's length.

    Raises:
        IndicatorTableError: no such file, no CSV, missing columns, malformed codes or no rows.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
        if not files:
            raise IndicatorTableError(f"crosswalk folder {path} holds no .csv file")
    elif path.is_file():
        files = [path]
    else:
        raise IndicatorTableError(f"crosswalk not found: {path}; pass a CSV or a folder of CSVs")
    parts = [_read_pairs(file) for file in files]
    pairs = pd.concat(parts, ignore_index=True)
    if pairs.empty:
        raise IndicatorTableError(f"crosswalk {path} has no rows")
    digests = tuple((f.name, hashlib.sha256(f.read_bytes()).hexdigest()) for f in files)
    return Crosswalk(pairs=pairs, source=str(path), files=digests)


def _read_pairs(path: Path) -> pd.DataFrame:
    """The code pairs of one crosswalk CSV."""
    try:
        raw = read_csv_text(path)
    except Exception as exc:  # one clear message, whatever the parser said
        raise IndicatorTableError(f"cannot read crosswalk {path} ({exc})") from exc
    bps, kemendagri = _column(raw, _BPS_COLUMNS, path), _column(raw, _KEMENDAGRI_COLUMNS, path)
    raw = raw.dropna(how="all")
    codes, bad_bps = normalize_bps_codes(raw[bps])
    targets, bad_target = normalize_codes(raw[kemendagri])
    level = codes.str.len().map(_BPS_LEVEL_BY_LENGTH)
    expected = level.map(LEVEL_LENGTHS)
    bad = bad_bps | bad_target | targets.str.len().ne(expected).fillna(True).astype(bool)
    if bad.any():
        rows = raw.loc[bad, [bps, kemendagri]].astype("string").fillna("<empty>")
        examples = ", ".join(f"{b} -> {k}" for b, k in rows.head(5).itertuples(index=False))
        raise IndicatorTableError(
            f"crosswalk {path.name}: {int(bad.sum())} rows are not a BPS code (2, 4, 7 or 10 "
            f"digits) with a Kemendagri code of the same level (2, 4, 6 or 10 digits), e.g. "
            f"{examples}"
        )
    return pd.DataFrame(
        {"bps": codes, "kemendagri": targets, "level": level.astype("string")}
    ).reset_index(drop=True)


def _column(raw: pd.DataFrame, names: tuple[str, ...], path: Path) -> str:
    """The first column whose snake_case name is one of ``names``."""
    for name in names:
        for column in raw.columns:
            if snake_case(str(column)) == name:
                return str(column)
    raise IndicatorTableError(
        f"crosswalk {path.name} has no {names[0]} column (or {', '.join(names[1:])}); its "
        f"columns are: {', '.join(map(str, raw.columns))}"
    )


@dataclass(frozen=True)
class ConversionReport:
    """What :func:`convert_bps` converted, and what it refused by reason."""

    crosswalk: dict[str, Any]
    level: CodeLevel
    rows: int
    converted: int
    changed: int
    not_in_crosswalk: CodeSample
    split: CodeSample
    merged: CodeSample
    target_not_in_master: CodeSample

    @property
    def refused(self) -> int:
        """Rows not converted, for any reason."""
        return self.rows - self.converted

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "crosswalk": self.crosswalk,
            "level": self.level,
            "rows": self.rows,
            "converted": self.converted,
            "converted_to_another_code": self.changed,
            "not_converted": {
                "count": self.refused,
                "not_in_crosswalk": self.not_in_crosswalk.to_dict(),
                "one_bps_code_to_several": self.split.to_dict(),
                "several_bps_codes_to_one": self.merged.to_dict(),
                "target_not_in_master_list": self.target_not_in_master.to_dict(),
            },
        }

    def lines(self) -> list[str]:
        """Lines for the terminal."""
        out = [
            f"  BPS codes converted to Kemendagri codes: {self.converted}/{self.rows} "
            f"({self.changed} to a different code) through {self.crosswalk['source']}"
        ]
        for label, sample in (
            ("not in the crosswalk", self.not_in_crosswalk),
            ("one BPS code to several Kemendagri codes (ambiguous)", self.split),
            ("several BPS codes to one Kemendagri code (ambiguous)", self.merged),
            ("crosswalk target not in the Kemendagri 2025 list", self.target_not_in_master),
        ):
            if sample.count:
                out.append(
                    f"  not converted, not stored: {sample.count} {label}, e.g. "
                    f"{', '.join(sample.examples[:5])}"
                )
        return out


@dataclass(frozen=True)
class Conversion:
    """Kemendagri codes of the converted rows (``<NA>`` elsewhere) and the report."""

    codes: pd.Series
    report: ConversionReport


def convert_bps(
    codes: pd.Series, level: CodeLevel, crosswalk: Crosswalk, *, master: Collection[str]
) -> Conversion:
    """Convert BPS codes of one level to Kemendagri codes; never keep a BPS code as it is.

    A code converts when the crosswalk maps it to exactly one Kemendagri code, maps no other
    BPS code to that one, and that code is in ``master``. Other codes get ``<NA>`` and are
    reported: not in the crosswalk, mapped to several codes, sharing their target with
    another BPS code, or mapped to a code missing from ``master`` (an outdated one).

    Raises:
        IndicatorTableError: the crosswalk has no pair of this level.
    """
    pairs = crosswalk.level(level)
    if pairs.empty:
        held = ", ".join(sorted(set(crosswalk.pairs["level"]))) or "none"
        raise IndicatorTableError(
            f"crosswalk {crosswalk.source} has no {level} pairs ({BPS_LEVEL_LENGTHS[level]}-"
            f"digit BPS codes); it has: {held}"
        )
    targets = pairs.groupby("bps")["kemendagri"].agg(sorted).to_dict()
    sources = pairs.groupby("kemendagri")["bps"].agg(sorted).to_dict()
    known = set(master)
    converted: dict[Any, str] = {}
    missing, split, merged, outdated = [], [], [], []
    for i, code in codes.items():
        found = targets.get(code)
        if found is None:
            missing.append(code)
        elif len(found) > 1:
            split.append(f"{code} -> {' | '.join(found)}")
        elif len(sources[found[0]]) > 1:
            others = ", ".join(b for b in sources[found[0]] if b != code)
            merged.append(f"{code} -> {found[0]} (also from {others})")
        elif found[0] not in known:
            outdated.append(f"{code} -> {found[0]}")
        else:
            converted[i] = found[0]
    result = pd.Series(converted, dtype="string").reindex(codes.index)
    return Conversion(
        codes=result,
        report=ConversionReport(
            crosswalk=crosswalk.to_dict(),
            level=level,
            rows=len(codes),
            converted=len(converted),
            changed=sum(codes[i] != k for i, k in converted.items()),
            not_in_crosswalk=CodeSample.of(missing),
            split=CodeSample.of(split),
            merged=CodeSample.of(merged),
            target_not_in_master=CodeSample.of(outdated),
        ),
    )


@dataclass(frozen=True)
class CodeSystemEvidence:
    """How many of a table's codes exist only in the Kemendagri list, only in the BPS list."""

    codes: int
    kemendagri_only: CodeSample
    bps_only: CodeSample
    both: int
    both_elsewhere: CodeSample  # in both lists, but the BPS code denotes another region
    neither: int
    bps_shaped: CodeSample  # 10-digit codes that cannot be Kemendagri village codes
    bps_list: str  # the crosswalk the BPS codes came from ("" without one)

    def looks_like_bps(self) -> bool:
        """More codes exist only as BPS codes than only as Kemendagri codes (or have its shape)."""
        return self.bps_only.count > self.kemendagri_only.count or self.bps_shaped.count > 0

    def looks_like_kemendagri(self) -> bool:
        """More codes exist only as Kemendagri codes than only as BPS codes."""
        return self.kemendagri_only.count > self.bps_only.count

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "codes": self.codes,
            "kemendagri_only": self.kemendagri_only.to_dict(),
            "bps_only": self.bps_only.to_dict(),
            "both": self.both,
            "both_denoting_another_region": self.both_elsewhere.to_dict(),
            "neither": self.neither,
            "bps_shaped": self.bps_shaped.to_dict(),
            "bps_list": self.bps_list,
        }

    def describe(self) -> str:
        """The counts in one sentence."""
        parts = []
        if self.bps_list:
            parts += [
                f"{self.bps_only.count} of {self.codes} codes exist only as BPS codes"
                + _eg(self.bps_only),
                f"{self.kemendagri_only.count} only as Kemendagri 2025 codes"
                + _eg(self.kemendagri_only),
                f"{self.both} in both, {self.both_elsewhere.count} of which denote another "
                f"region as BPS codes" + _eg(self.both_elsewhere),
            ]
        if self.bps_shaped.count:
            parts.append(
                f"{self.bps_shaped.count} of {self.codes} codes cannot be Kemendagri village "
                f"codes (desa segment not 1xxx, 2xxx or 3xxx) and have the BPS shape"
                + _eg(self.bps_shaped)
            )
        return "; ".join(parts)


def _eg(sample: CodeSample) -> str:
    return f" (e.g. {', '.join(sample.examples[:3])})" if sample.count else ""


def code_system_evidence(
    codes: pd.Series, *, master: Collection[str], crosswalk: Crosswalk | None
) -> CodeSystemEvidence:
    """Count the codes found in the Kemendagri list (``master``) and in the crosswalk's BPS codes.

    Codes are compared as digits of the same length: a 4-digit code with the 4-digit
    Kemendagri and BPS kab/kota codes. Without a crosswalk only the shape is checked.
    """
    in_master = codes.isin(set(master))
    if crosswalk is not None:
        pairs = crosswalk.pairs.drop_duplicates(["bps", "kemendagri"])
        in_bps = codes.isin(set(pairs["bps"]))
        moved = set(pairs.loc[pairs["bps"] != pairs["kemendagri"], "bps"])
    else:
        in_bps, moved = pd.Series(False, index=codes.index), set()
    both = in_master & in_bps
    shaped = codes.str.len().eq(10) & ~valid_village_mask(codes)
    return CodeSystemEvidence(
        codes=len(codes),
        kemendagri_only=CodeSample.of(codes[in_master & ~in_bps]),
        bps_only=CodeSample.of(codes[in_bps & ~in_master]),
        both=int(both.sum()),
        both_elsewhere=CodeSample.of(codes[both & codes.isin(moved)]),
        neither=int((~in_master & ~in_bps).sum()),
        bps_shaped=CodeSample.of(codes[shaped]),
        bps_list=crosswalk.source if crosswalk is not None else "",
    )
