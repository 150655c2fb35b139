"""The stored indicator tables of a products directory: add one, list them, join them.

A stored table ``DIR/indicators/<name>.parquet`` has the columns ``kode`` (digits only),
``level`` (``provinsi``, ``kabkota``, ``kecamatan`` or ``desa``), ``kode_known`` (False for
codes missing from the 2025 master list), then the value columns in snake_case: numeric ones
as float64, the others as text. Beside it, ``<name>.report.json`` is its join report. A
sensitive table (``privacy=``) is stored only after cell suppression (:mod:`geo.privacy`):
hidden cells null, a ``suppressed`` column, ``<name>.regions.parquet`` beside it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from geo.atomic import atomic_group
from geo.codes import CodeLevel, CodeSample, kemendagri_codes, normalize_codes
from geo.errors import IndicatorTableError
from geo.indicators.join import (
    JoinReport,
    isin,
    join_villages,
    master_description,
    village_codes,
)
from geo.indicators.keys import KeyOptions, resolve_keys
from geo.indicators.read import KEY_COLUMNS, MAX_CATEGORIES, read_raw, snake_case, typed_columns
from geo.privacy import PrivacySpec, ProtectedTable, protect_table, regions_path

__all__ = [
    "NAME_PATTERN",
    "ColumnKind",
    "IndicatorColumn",
    "IndicatorInfo",
    "TableReader",
    "add_indicator_table",
    "joined_indicators",
    "list_indicators",
    "read_stored_table",
    "stored_tables",
]

log = logging.getLogger(__name__)

ColumnKind = Literal["numeric", "categorical"]
#: Reads one stored table (``read_stored_table``, or a caching wrapper of it).
TableReader = Callable[[Path], pd.DataFrame]

NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,40}")


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


# -- adding a table ----------------------------------------------------------------------------


def add_indicator_table(
    path: str | Path,
    *,
    products_dir: str | Path,
    name: str,
    key: str | KeyOptions,
    sheet: str | None = None,
    master: Sequence[str] | None = None,
    privacy: PrivacySpec | None = None,
) -> JoinReport:
    """Validate an indicator table and store it as ``DIR/indicators/<name>.parquet``.

    Args:
        path: CSV, Parquet or Excel table with one row per region.
        products_dir: the products directory (``pantau run --out DIR``).
        name: identifier of the table, ``[a-z][a-z0-9_]{0,40}``; its columns are served
            as ``<name>.<column>``.
        key: column with Kemendagri codes of one level (2, 4, 6 or 10 digits, dotted or not),
            or :class:`KeyOptions` for BPS codes through a crosswalk or name columns; rows
            that cannot be keyed for sure are left out and reported (:mod:`.keys`).
        sheet: Excel sheet (default the first).
        master: codes to check the key against, any level, dotted or not (default the
            Kemendagri 2025 list of the table's level).
        privacy: a sensitive table's count column and k: suppressed before anything is
            stored; the raw values are not stored (:mod:`geo.privacy`).

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
    raw = read_raw(path, sheet)
    if master is not None:
        master = list(normalize_codes(pd.Series(list(master), dtype=object))[0].dropna())
    options = key if isinstance(key, KeyOptions) else KeyOptions(key=key)
    keys = resolve_keys(raw, options, path=path, master=master)
    codes, level = keys.codes, keys.level
    table, unparsed = typed_columns(raw.loc[codes.index].drop(columns=list(keys.columns)))
    known_codes: Collection[str] = kemendagri_codes(level) if master is None else master
    known = isin(codes, known_codes)
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
    protected: ProtectedTable | None = None
    if privacy is not None:  # from here on only the suppressed table exists
        columns = list(table.columns)
        protected = protect_table(stored, privacy, value_columns=columns, name_of=snake_case)
        stored = protected.table
    villages = join_villages(
        protected.values if protected else stored, products / "villages.parquet"
    )
    target = products / "indicators" / f"{name}.parquet"
    numeric = tuple(c for c in table.columns if pd.api.types.is_float_dtype(table[c].dtype))
    report = JoinReport(
        name=name,
        source=str(path),
        key_column=", ".join(keys.columns),
        level=level,
        rows=len(stored),
        matched=int(known.sum()),
        unmatched=unmatched,
        numeric_columns=numeric,
        categorical_columns=tuple(c for c in table.columns if c not in numeric),
        unparsed_values=unparsed,
        villages=villages,
        table_path=str(target),
        master_list=master_description() if master is None else "custom",
        keys=keys.report,
    )
    document = {**report.to_dict(), "created": datetime.now(UTC).isoformat(timespec="seconds")}
    document["privacy"] = protected.summary.to_dict() if protected else {"sensitive": False}
    text = json.dumps(document, indent=2, ensure_ascii=False)
    # the table, its region rows and its report appear together or not at all
    with atomic_group() as stage:
        stored.to_parquet(stage(target), index=False)
        if protected is not None:
            protected.regions.to_parquet(stage(regions_path(target)), index=False)
        stage(target.with_suffix(".report.json")).write_text(text, encoding="utf-8")
    if protected is None:  # a table re-added as not sensitive loses its stale region rows
        regions_path(target).unlink(missing_ok=True)
    return report


# -- reading stored tables ---------------------------------------------------------------------


def stored_tables(products_dir: str | Path) -> list[tuple[str, Path]]:
    """(name, path) of every stored table, sorted by name."""
    folder = Path(products_dir) / "indicators"
    if not folder.is_dir():
        return []
    found = [(p.stem, p) for p in folder.glob("*.parquet") if NAME_PATTERN.fullmatch(p.stem)]
    return sorted(found)


def read_stored_table(path: Path) -> pd.DataFrame:
    """Read one stored table; a file that is not one is named in the error."""
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
    return [c for c in frame.columns if c not in KEY_COLUMNS]


def joined_indicators(
    products_dir: str | Path,
    kodes: Sequence[str] | None = None,
    *,
    read_table: TableReader = read_stored_table,
) -> pd.DataFrame:
    """Every stored indicator per village: index ``kode``, columns ``<name>.<column>``.

    Args:
        products_dir: the products directory.
        kodes: 10-digit village codes (dotted or not); default the villages of
            ``villages.parquet``.
        read_table: reads one stored table (the tile server passes a caching reader).
    """
    if kodes is None:
        codes = village_codes(Path(products_dir) / "villages.parquet")
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
    for name, path in stored_tables(products_dir):
        table = read_table(path)
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
    for name, path in stored_tables(products_dir):
        table = read_stored_table(path)
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
