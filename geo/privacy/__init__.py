"""Privacy of household-derived indicator tables: cell suppression before publishing.

A table added with ``pantau indicators add --sensitive --count-column n_households --k 10``
has, for every row, the number of units (households, persons) behind its values. Before it is
stored, :func:`protect_table`:

1. builds the hierarchy of its cells from the 10-digit Kemendagri code (2-2-2-4): the rows,
   and every kecamatan, kab/kota and province above them (:class:`Hierarchy`); a region's
   count is the sum of its rows' counts, its numeric values the count-weighted means, which
   with the count published are totals (count x value) as good as published;
2. **primary suppression**: hides every cell, row or region, with 0 < n < k (a zero count
   is not sensitive and stays published);
3. **complementary suppression**: hides further cells until no hidden cell can be computed
   exactly from the published ones, for every additive column (the count; count x value of
   each numeric column; the count behind the values where some are missing) with the
   equations "region = sum of its children" at every level. Which hidden cells are still
   determined is decided exactly on the tree (:func:`protection`); the smallest published
   cell that frees a determined one is hidden next (:func:`suppress`).

Published layout (``DIR/indicators/``):

``<name>.parquet``
    the rows as for any table, the count and every value column null where hidden, and one
    boolean column ``suppressed`` (:data:`FLAG_COLUMN`): the pattern is per row, so a row is
    either wholly published or wholly hidden. Why a row was hidden (small, or to protect
    another) is not published: that would say which rows have 0 < n < k.
``<name>.regions.parquet``
    one row per region above the table's level: ``kode``, ``level``, the count (total),
    the numeric columns (count-weighted means) and ``suppressed``, hidden the same way.
``<name>.report.json``
    the join report with a ``privacy`` entry: ``sensitive``, ``k``, ``count_column``,
    ``flag_column``, the numbers of primary and complementary suppressions (rows, regions,
    per level), the region rule, ``raw_values: "not stored"``.

The raw values are not stored anywhere: suppression runs in memory between reading the
source file and writing the published table, so the products folder holds nothing a
server could leak; to change k, add the table again from its source.
"""

from __future__ import annotations

from geo.privacy.hierarchy import LENGTHS, Hierarchy, Protection, protection, suppress
from geo.privacy.table import (
    DEFAULT_K,
    FLAG_COLUMN,
    REGION_RULE,
    PrivacySpec,
    PrivacySummary,
    ProtectedTable,
    describe_privacy,
    protect_table,
    read_privacy,
    regions_path,
    report_path,
    store_regions,
)

__all__ = [
    "DEFAULT_K",
    "FLAG_COLUMN",
    "LENGTHS",
    "REGION_RULE",
    "Hierarchy",
    "PrivacySpec",
    "PrivacySummary",
    "ProtectedTable",
    "Protection",
    "describe_privacy",
    "protect_table",
    "protection",
    "read_privacy",
    "regions_path",
    "report_path",
    "store_regions",
    "suppress",
]
