"""Protecting a sensitive indicator table before it is stored for publishing.

:func:`protect_table` takes a table as ``pantau indicators add`` builds it (``kode``,
``level``, ``kode_known``, value columns) and returns what may be published: the rows with
suppressed cells set to null and flagged, the region rows above them (totals of the count,
count-weighted means of the numeric columns), and a summary for the stored metadata. The raw
values are never written anywhere (see :mod:`geo.privacy`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from geo.atomic import write_parquet
from geo.codes import LEVEL_LENGTHS, CodeSample
from geo.errors import IndicatorTableError
from geo.privacy.hierarchy import Hierarchy, suppress

__all__ = [
    "DEFAULT_K",
    "FLAG_COLUMN",
    "REGION_RULE",
    "PrivacySpec",
    "PrivacySummary",
    "ProtectedTable",
    "describe_privacy",
    "protect_table",
    "read_privacy",
    "regions_path",
    "report_path",
    "store_regions",
]

#: Default threshold: a cell with 0 < n < k is suppressed.
DEFAULT_K: Final = 10
#: The one boolean column saying a row (all its value columns and its count) is suppressed.
FLAG_COLUMN: Final = "suppressed"
#: How the region rows aggregate the table's columns.
REGION_RULE: Final = (
    "count column summed; numeric columns as count-weighted means over the rows with a value"
)
_LEVEL_BY_LENGTH: Final = {n: level for level, n in LEVEL_LENGTHS.items()}


@dataclass(frozen=True)
class PrivacySpec:
    """A sensitive table: the column counting the units behind each row, and the threshold k.

    Raises:
        IndicatorTableError: no count column, or k not an integer of at least 2.
    """

    count_column: str
    k: int = DEFAULT_K

    def __post_init__(self) -> None:
        if not str(self.count_column).strip():
            raise IndicatorTableError("a sensitive table needs a count column (--count-column)")
        if isinstance(self.k, bool) or not isinstance(self.k, int | np.integer) or self.k < 2:
            raise IndicatorTableError(
                f"k must be an integer of at least 2 (cells with 0 < n < k are hidden), "
                f"not {self.k!r}"
            )


@dataclass(frozen=True)
class PrivacySummary:
    """What was suppressed, per level (``desa``, ``kecamatan``, ``kabkota``, ``provinsi``)."""

    k: int
    count_column: str
    value_columns: tuple[str, ...]
    table_level: str
    cells: Mapping[str, int]
    primary: Mapping[str, int]
    complementary: Mapping[str, int]

    @property
    def primary_rows(self) -> int:
        """Primary suppressions among the table's own rows."""
        return self.primary.get(self.table_level, 0)

    @property
    def complementary_rows(self) -> int:
        """Complementary suppressions among the table's own rows."""
        return self.complementary.get(self.table_level, 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the ``privacy`` entry of ``<name>.report.json``."""
        regions = [lv for lv in self.cells if lv != self.table_level]
        return {
            "sensitive": True,
            "k": self.k,
            "count_column": self.count_column,
            "flag_column": FLAG_COLUMN,
            "value_columns": list(self.value_columns),
            "primary": self.primary_rows,
            "complementary": self.complementary_rows,
            "region_primary": sum(self.primary.get(lv, 0) for lv in regions),
            "region_complementary": sum(self.complementary.get(lv, 0) for lv in regions),
            "by_level": {
                lv: {
                    "cells": self.cells[lv],
                    "primary": self.primary.get(lv, 0),
                    "complementary": self.complementary.get(lv, 0),
                }
                for lv in self.cells
            },
            "region_rule": REGION_RULE,
            "raw_values": "not stored",
        }


@dataclass(frozen=True)
class ProtectedTable:
    """The publishable form of a sensitive table."""

    table: pd.DataFrame  # the rows, suppressed cells null, FLAG_COLUMN
    regions: pd.DataFrame  # kode, level, count, numeric means, FLAG_COLUMN
    summary: PrivacySummary

    @property
    def values(self) -> pd.DataFrame:
        """The published rows without the flag column (what has a value is what is shown)."""
        return self.table.drop(columns=[FLAG_COLUMN])


def report_path(table_path: str | Path) -> Path:
    """``<name>.report.json`` beside a stored table ``<name>.parquet``."""
    return Path(table_path).with_suffix(".report.json")


def regions_path(table_path: str | Path) -> Path:
    """``<name>.regions.parquet``: the protected region rows of a sensitive table."""
    return Path(table_path).with_suffix(".regions.parquet")


def store_regions(table_path: str | Path, protected: ProtectedTable | None) -> None:
    """Write the region rows beside a sensitive table; remove stale ones beside any other."""
    target = regions_path(table_path)
    if protected is None:
        target.unlink(missing_ok=True)
    else:
        write_parquet(target, protected.regions, index=False)


def read_privacy(table_path: str | Path) -> dict[str, Any] | None:
    """The ``privacy`` metadata of a stored table when it is sensitive, else None.

    A table whose report is missing or unreadable but which has the flag column is treated
    as sensitive (with unknown details), so a server never opens it by mistake.
    """
    path = Path(table_path)
    try:
        privacy = json.loads(report_path(path).read_text(encoding="utf-8"))["privacy"]
        return dict(privacy) if privacy.get("sensitive") else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # no usable report: judge by the table itself
    try:
        names = pq.read_schema(path).names
    except Exception:  # no table, no flag
        return None
    return {"sensitive": True, "flag_column": FLAG_COLUMN} if FLAG_COLUMN in names else None


def describe_privacy(privacy: Mapping[str, Any]) -> str:
    """One terminal line about a sensitive table's suppressions."""
    return (
        f"  sensitive (k={privacy.get('k')}, count column {privacy.get('count_column')}): "
        f"{privacy.get('primary', 0)} rows suppressed as small, "
        f"{privacy.get('complementary', 0)} more so they cannot be derived; regions "
        f"{privacy.get('region_primary', 0)} + {privacy.get('region_complementary', 0)}; "
        "raw values not stored"
    )


def _check_counts(table: pd.DataFrame, column: str) -> np.ndarray:
    """The count column as floats; missing, negative or fractional counts are refused."""
    if not pd.api.types.is_numeric_dtype(table[column].dtype) or pd.api.types.is_bool_dtype(
        table[column].dtype
    ):
        raise IndicatorTableError(
            f"count column {column!r} is not numeric: it must hold the number of households "
            "(or persons) behind each row"
        )
    counts = table[column].to_numpy(dtype="float64", na_value=np.nan)
    problems = {
        "missing or not a number": ~np.isfinite(counts),
        "negative": np.isfinite(counts) & (counts < 0),
        "not whole numbers": np.isfinite(counts) & (counts % 1 != 0),
    }
    for what, bad in problems.items():
        if bad.any():
            sample = CodeSample.of(
                [f"{k} ({v:g})" for k, v in zip(table["kode"][bad], counts[bad], strict=True)]
            )
            raise IndicatorTableError(
                f"count column {column!r}: {sample.count} counts {what}, e.g. "
                f"{', '.join(sample.examples[:5])}; counts must be whole numbers >= 0"
            )
    return counts


def _additive(
    table: pd.DataFrame, counts: np.ndarray, numeric: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[int, int] | None]]:
    """Additive columns, their lower bounds, and where each numeric column's two are.

    The columns are the count and, per numeric column, count x value and (when some values
    are missing) the count behind the values; a column without any value has none.
    """
    columns, lower = [counts], [0.0]
    where: dict[str, tuple[int, int] | None] = {}
    for name in numeric:
        values = table[name].to_numpy(dtype="float64", na_value=np.nan)
        present = np.isfinite(values)
        if not present[counts > 0].any():
            where[name] = None  # nothing to publish above the rows, nothing to protect
            continue
        weight = np.where(present, counts, 0.0)
        columns.append(np.where(present, values, 0.0) * counts)
        lower.append(0.0 if (values[present] >= 0).all() else -np.inf)
        if (present | (counts == 0)).all():
            where[name] = (len(columns) - 1, 0)  # the weight is the count itself
        else:
            columns.append(weight)
            lower.append(0.0)
            where[name] = (len(columns) - 2, len(columns) - 1)
    return np.column_stack(columns), np.asarray(lower), where


def protect_table(
    table: pd.DataFrame,
    spec: PrivacySpec,
    *,
    value_columns: Sequence[str],
    name_of: Callable[[str], str] = str,
) -> ProtectedTable:
    """Primary and complementary cell suppression of a sensitive table.

    Args:
        table: ``kode`` (digits, one level, distinct) and the value columns.
        spec: the count column (one of ``value_columns``) and k.
        value_columns: the columns to protect; numeric ones (float) are also published as
            region means, the others (text) are only hidden.
        name_of: how a source column name became a stored one (``snake_case``), so the
            count column can be given either way.

    Raises:
        IndicatorTableError: the count column is missing, not numeric, or has missing,
            negative or fractional counts; a value column is named like the flag column.
    """
    count = spec.count_column
    if count not in value_columns:
        count = name_of(count)
    if count not in value_columns:
        raise IndicatorTableError(
            f"count column {spec.count_column!r} not in the table; its columns are: "
            f"{', '.join(value_columns)}"
        )
    if FLAG_COLUMN in value_columns:
        raise IndicatorTableError(
            f"a sensitive table cannot have a column named {FLAG_COLUMN!r}: it is the "
            "suppression flag; rename the column"
        )
    counts = _check_counts(table, count)
    numeric = tuple(
        c for c in value_columns if c != count and pd.api.types.is_float_dtype(table[c].dtype)
    )
    codes = table["kode"].astype(str).to_numpy()
    h = Hierarchy.from_codes(codes)
    leaves, lower, where = _additive(table, counts, numeric)
    cells = h.aggregate(leaves)
    primary = (cells[:, 0] > 0) & (cells[:, 0] < spec.k)
    hidden = suppress(h, cells, lower, primary)

    rows = hidden[h.rows]
    published = table.copy()
    for column in value_columns:
        values = published[column]
        if pd.api.types.is_float_dtype(values.dtype):
            published[column] = np.where(rows, np.nan, values.to_numpy())
        else:
            published[column] = values.mask(rows)
    published[FLAG_COLUMN] = rows

    regional = np.flatnonzero(~h.leaf)
    shown = ~hidden[regional]
    region_columns: dict[str, Any] = {
        "kode": pd.array(h.codes[regional], dtype="string"),
        "level": pd.array([_LEVEL_BY_LENGTH[h.lengths[d]] for d in h.depth[regional]], "string"),
        count: np.where(shown, cells[regional, 0], np.nan),
    }
    for name, position in where.items():
        if position is None:
            region_columns[name] = np.full(len(regional), np.nan)
            continue
        total, weight = position
        w = np.where(shown, cells[regional, weight], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            region_columns[name] = np.where(w > 0, cells[regional, total] / w, np.nan)
    region_columns[FLAG_COLUMN] = ~shown
    region_frame = pd.DataFrame(region_columns)

    levels = [_LEVEL_BY_LENGTH[n] for n in h.lengths]
    by_level = [h.depth == d for d in range(h.levels)]
    summary = PrivacySummary(
        k=int(spec.k),
        count_column=count,
        value_columns=tuple(c for c in value_columns if c != count),
        table_level=levels[-1],
        cells={lv: int(m.sum()) for lv, m in zip(levels, by_level, strict=True)},
        primary={lv: int((primary & m).sum()) for lv, m in zip(levels, by_level, strict=True)},
        complementary={
            lv: int((hidden & ~primary & m).sum()) for lv, m in zip(levels, by_level, strict=True)
        },
    )
    return ProtectedTable(table=published, regions=region_frame, summary=summary)
