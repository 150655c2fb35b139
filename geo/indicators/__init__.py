"""Socioeconomic indicator tables keyed by Kemendagri codes, stored beside the products.

:func:`add_indicator_table` reads a CSV, Parquet or Excel table (:mod:`.read`), keys its rows
by Kemendagri codes, by BPS codes through a crosswalk or by names (:mod:`.keys`,
:mod:`.crosswalk`, :mod:`.names`), checks the codes against the Kemendagri 2025 master list,
joins it to the villages (:mod:`.join`), and stores it as ``DIR/indicators/<name>.parquet``
with a ``<name>.report.json`` join report (:mod:`.store`). :func:`joined_indicators` and
:func:`list_indicators` read the stored tables back: every table joins to villages by code
prefix at its own level.
"""

from __future__ import annotations

from geo.indicators.crosswalk import CodeSystem, Crosswalk, read_crosswalk
from geo.indicators.join import JoinReport, KindJoin, VillageJoin
from geo.indicators.keys import KeyOptions, KeyReport
from geo.indicators.names import NAME_VARIANTS, match_names, name_key
from geo.indicators.read import (
    MAX_CATEGORIES,
    NUMERIC_SHARE,
    infer_numeric,
    is_identifier,
    parse_numbers,
    read_indicator_table,
)
from geo.indicators.store import (
    NAME_PATTERN,
    ColumnKind,
    IndicatorColumn,
    IndicatorInfo,
    TableReader,
    add_indicator_table,
    joined_indicators,
    list_indicators,
    read_stored_table,
)

__all__ = [
    "MAX_CATEGORIES",
    "NAME_PATTERN",
    "NAME_VARIANTS",
    "NUMERIC_SHARE",
    "CodeSystem",
    "ColumnKind",
    "Crosswalk",
    "IndicatorColumn",
    "IndicatorInfo",
    "JoinReport",
    "KeyOptions",
    "KeyReport",
    "KindJoin",
    "TableReader",
    "VillageJoin",
    "add_indicator_table",
    "infer_numeric",
    "is_identifier",
    "joined_indicators",
    "list_indicators",
    "match_names",
    "name_key",
    "parse_numbers",
    "read_crosswalk",
    "read_indicator_table",
    "read_stored_table",
]
