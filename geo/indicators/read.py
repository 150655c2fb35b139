"""Reading indicator tables: CSV, Parquet or Excel files, column names, numbers and types.

The typing rule is one for every caller: a column named like an identifier (:func:`is_identifier`)
stays text; otherwise a column is numeric when at least :data:`NUMERIC_SHARE` of its non-empty
values parse as numbers (``,`` or ``.`` decimals, see :func:`parse_numbers`), else text.
``pantau indicators add`` stores tables typed by it, and the tile server types joined tables
with :func:`infer_numeric`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import pandas as pd

from geo.codes import CodeSample
from geo.errors import IndicatorTableError
from geo.indicators.excel import read_sheet
from geo.safe_open import CSV, PARQUET, TABLE_FORMATS, XLSX, check_input_file

__all__ = [
    "KEY_COLUMNS",
    "MAX_CATEGORIES",
    "NUMERIC_SHARE",
    "infer_numeric",
    "is_identifier",
    "parse_numbers",
    "read_csv_text",
    "read_indicator_table",
    "read_raw",
    "snake_case",
    "typed_columns",
]

log = logging.getLogger(__name__)

#: A text column is numeric when at least this share of its non-empty values parse.
NUMERIC_SHARE: Final = 0.95
#: A text column with more distinct values than this is not a category (names, free text).
MAX_CATEGORIES: Final = 50
#: The stored table's own columns, before the value columns.
KEY_COLUMNS: Final = ("kode", "level", "kode_known")
_CSV_SUFFIXES: Final = (".csv", ".txt", ".tsv")
_EXCEL_SUFFIXES: Final = (".xlsx", ".xlsm")
FORMATS: Final = "CSV (.csv, ',' or ';' separated), Parquet (.parquet) or Excel (.xlsx)"
# Columns that identify or name things (parent codes, status codes, names): text, not maps.
_IDENTIFIER: Final = re.compile(r"^(kode|kd|code|id|nama|name)(_|$)|_(kode|kd|code|id)$")
_MISSING = ("", "-", "--", "na", "n/a", "nan", "null", "none", "#n/a", "..", "...", "?")
# One separator is a decimal point; several of one kind group thousands (1.234.567,89).
_PLAIN_NUMBER = r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?"
_DOT_THOUSANDS = r"[+-]?[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?"
_COMMA_THOUSANDS = r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?"
# A code in scientific notation (3.404E+09): a spreadsheet made it a number and cut digits.
_SCIENTIFIC = r"[+-]?[0-9](?:[.,][0-9]+)?[eE]\+?[0-9]+"
_FLOAT_CODE = r"[0-9]+\.0+"


def is_identifier(name: str) -> bool:
    """True for a column that identifies or names things (``kode_kab``, ``nama_desa``, ``id``).

    Such columns are kept as text and are never drawn as maps. For a joined column
    ``<table>.<column>`` the part after the last ``.`` is judged.
    """
    return bool(_IDENTIFIER.search(snake_case(str(name).rpartition(".")[2])))


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
    # A column that groups thousands elsewhere (1.234.567) groups them in 1.234 too, unless
    # it also writes that separator as a decimal point (12.5).
    if dots.any() != commas.any():
        grouped, sep, pattern = (
            (dots, ".", _DOT_THOUSANDS) if dots.any() else (commas, ",", _COMMA_THOUSANDS)
        )
        with_sep = plain & text.str.contains(sep, regex=False).fillna(False).astype(bool)
        single = with_sep & _matches(text, pattern)
        if not (with_sep & ~single).any():
            plain = plain & ~single
            dots, commas = (dots | single, commas) if sep == "." else (dots, commas | single)
    out = pd.Series(pd.NA, index=values.index, dtype="string")
    out = out.mask(plain, text.str.replace(",", ".", regex=False))
    out = out.mask(dots, text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    out = out.mask(commas, text.str.replace(",", "", regex=False))
    return pd.to_numeric(out, errors="coerce").astype("float64")


def infer_numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each column typed by the table rule: numbers as float64, the rest text.

    Identifier columns (:func:`is_identifier`) are left as they are.
    """
    out = {
        name: values if is_identifier(str(name)) else _typed(values)[0]
        for name, values in frame.items()
    }
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


def read_indicator_table(path: str | Path, *, sheet: str | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or Excel table with every column typed as stored (key not checked).

    Column names become snake_case; numeric columns float64, the others text.
    """
    raw = read_raw(Path(path), sheet)
    typed, _ = typed_columns(raw)
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


def read_raw(path: Path, sheet: str | None) -> pd.DataFrame:
    """Read the file as it is: text for CSV, native types for Parquet and Excel."""
    if sheet is not None and path.suffix.lower() not in _EXCEL_SUFFIXES:
        raise IndicatorTableError(f"--sheet applies to Excel files only, not {path.name}")
    # Extension and first bytes must agree (a VRT or HTML page renamed .csv is refused).
    fmt = check_input_file(
        path, TABLE_FORMATS, what="indicator table", expected=FORMATS, error=IndicatorTableError
    )
    repairs: list[str] = []
    try:
        if fmt is CSV:
            frame, encoding = _read_csv(path)
            if encoding != "utf-8":
                repairs.append(f"{path.name}: read as {encoding}")
        elif fmt is PARQUET:
            frame = pd.read_parquet(path)
        elif fmt is XLSX:
            frame, repairs = read_sheet(path, sheet)
        else:  # pragma: no cover - TABLE_FORMATS holds only these
            raise IndicatorTableError(f"unsupported indicator table {path.name}: use {FORMATS}")
    except IndicatorTableError:
        raise
    except Exception as exc:  # every reader error becomes one clear message
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise IndicatorTableError(f"cannot read {path} ({reason}); expected {FORMATS}") from exc
    frame = frame.dropna(how="all")
    # Binary columns (a GeoParquet's WKB geometry) are not indicators.
    binary = [c for c in frame.columns if _is_binary(frame[c])]
    frame = frame.drop(columns=binary)
    if frame.empty or len(frame.columns) == 0:
        raise IndicatorTableError(f"indicator table {path} has no rows or no columns")
    frame.columns = [str(c).strip() for c in frame.columns]
    repairs += _repair_codes(frame, path)
    for repair in repairs:
        log.warning("repaired %s", repair)
    frame.attrs["repairs"] = repairs
    return frame


def _repair_codes(frame: pd.DataFrame, path: Path) -> list[str]:
    """Codes written as floats lose their ``.0``; codes in scientific notation are refused."""
    repairs = []
    for column in frame.columns:
        values = frame[column]
        if not is_identifier(column) or pd.api.types.is_numeric_dtype(values.dtype):
            continue
        text = values.astype("string").str.strip()
        scientific = _matches(text, _SCIENTIFIC)
        if scientific.any():
            raise IndicatorTableError(
                f"column {column!r} of {path.name} holds codes in scientific notation (e.g. "
                f"{text[scientific].iloc[0]}, {int(scientific.sum())} rows): a spreadsheet "
                "turned the codes into numbers and dropped digits, which cannot be recovered; "
                "export the table again with the column formatted as Text"
            )
        floats = _matches(text, _FLOAT_CODE)
        if floats.any():
            frame[column] = values.where(~floats, text.str.replace(r"\.0+$", "", regex=True))
            repairs.append(f"{path.name}: {int(floats.sum())} codes in {column!r} lost a '.0'")
    return repairs


def read_csv_text(path: Path) -> pd.DataFrame:
    """CSV as text, separator detected, UTF-8 (with or without BOM) or Latin-1."""
    return _read_csv(path)[0]


def _read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    """CSV as text and the encoding it was read with (``utf-8``, ``utf-8 with BOM``, ...)."""
    sep = _detect_separator(path)
    # Only empty cells are missing: text such as "NA" may be a real value (a name, a class).
    options: dict[str, Any] = {
        "sep": sep,
        "dtype": str,
        "keep_default_na": False,
        "na_values": [""],
    }
    with path.open("rb") as handle:
        bom = handle.read(3) == b"\xef\xbb\xbf"
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", **options)
        return frame, "UTF-8 with BOM" if bom else "utf-8"
    except UnicodeDecodeError:
        return pd.read_csv(path, encoding="latin-1", **options), "Latin-1 (not UTF-8)"


def _is_binary(values: pd.Series) -> bool:
    """True for a column of bytes (e.g. WKB geometry)."""
    if values.dtype != object:
        return False
    first = values.dropna().head(1)
    return bool(len(first)) and isinstance(first.iloc[0], bytes | bytearray)


def snake_case(name: str) -> str:
    """``Rata-rata Lama Sekolah (Tahun)`` -> ``rata_rata_lama_sekolah_tahun``."""
    snake = re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")
    if not snake:
        return "column"
    return f"c_{snake}" if snake[0].isdigit() else snake


def _unique_names(names: Sequence[str]) -> list[str]:
    """Snake-case names, made unique (and never one of the stored table's own columns)."""
    taken = set(KEY_COLUMNS)
    out = []
    for name in names:
        base = snake_case(name)
        candidate, i = base, 2
        while candidate in taken:
            candidate, i = f"{base}_{i}", i + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def _typed(values: pd.Series) -> tuple[pd.Series, pd.Series | None]:
    """One column typed by the rule, and the mask of present values that did not parse."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return _as_text(values), None
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64"), None
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _as_text(values), None
    text = _as_text(values)
    present = text.notna() & ~text.str.lower().isin(_MISSING).fillna(False).astype(bool)
    numbers = parse_numbers(text.where(present))
    n_present = int(present.sum())
    if n_present and int(numbers.notna().sum()) >= NUMERIC_SHARE * n_present:
        return numbers, present & numbers.isna()
    return text, None


def typed_columns(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, CodeSample]]:
    """Snake-case the names; numeric columns to float64, the rest to text; unparsed values."""
    names = _unique_names([str(c) for c in raw.columns])
    typed: dict[str, pd.Series] = {}
    unparsed: dict[str, CodeSample] = {}
    for source, name in zip(raw.columns, names, strict=True):
        if is_identifier(name):
            typed[name] = _as_text(raw[source])
            continue
        typed[name], bad = _typed(raw[source])
        if bad is not None and bad.any():
            unparsed[name] = CodeSample.of(_as_text(raw[source])[bad])
    return pd.DataFrame(typed, index=raw.index), unparsed


def _as_text(values: pd.Series) -> pd.Series:
    """Trimmed text, empty -> missing; integral floats lose their ``.0``."""
    if pd.api.types.is_float_dtype(values.dtype):
        integral = values.dropna().mod(1).eq(0).all()
        if integral:
            values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")
