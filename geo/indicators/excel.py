"""One sheet of an Excel workbook as a table, the way a person reads it.

Spreadsheets from statistics offices carry a title above the header, merged cells and formulas.
:func:`read_sheet` finds the header row when it is unambiguous (the first row filled across
the table's width with text, only short notes above it), gives every cell of a merged range
the range's value (Excel shows it there), uses the results Excel saved for formulas and
refuses formulas that were never calculated (openpyxl and scripts write no results) rather
than reading them as empty. What it repaired is returned, to be reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import openpyxl
import pandas as pd

from geo.errors import IndicatorTableError

__all__ = ["read_sheet"]

# Rows above the header may hold a title and notes, each of at most this many cells.
_MAX_NOTE_CELLS: Final = 2


def read_sheet(path: Path, sheet: str | None) -> tuple[pd.DataFrame, list[str]]:
    """The table of one sheet (the first by default) and the repairs made to read it."""
    book = openpyxl.load_workbook(path, data_only=True)
    try:
        names = [str(n) for n in book.sheetnames]
        if sheet is not None and sheet not in names:
            raise IndicatorTableError(
                f"sheet {sheet!r} not in {path.name}; its sheets are: {', '.join(names)}"
            )
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        rows = [list(r) for r in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
        merged = [
            (r.min_row - 1, r.max_row - 1, r.min_col - 1, r.max_col - 1)
            for r in ws.merged_cells.ranges
        ]
        title = ws.title
    finally:
        book.close()
    where = f"sheet {title!r} of {path.name}"
    rows = _trim(rows)
    if not rows:
        raise IndicatorTableError(
            f"{where} is empty; pass the sheet that holds the table with --sheet "
            f"(its sheets are: {', '.join(names)})"
        )
    _refuse_uncalculated(path, title, rows, where)
    header = _header_row(rows, where)
    repairs = []
    if header:
        repairs.append(f"{where}: {header} title row(s) above the header skipped")
    filled = _fill_merged(rows, merged, first=header + 1)
    if filled:
        repairs.append(f"{where}: {filled} merged cell range(s) filled with their value")
    names_row = [
        str(v).strip() if _filled(v) else f"column_{i + 1}" for i, v in enumerate(rows[header])
    ]
    frame = pd.DataFrame(rows[header + 1 :], columns=names_row, dtype=object).infer_objects()
    return frame, repairs


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _trim(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows without the empty rows and columns at the end."""
    while rows and not any(_filled(v) for v in rows[-1]):
        rows.pop()
    width = max((i + 1 for r in rows for i, v in enumerate(r) if _filled(v)), default=0)
    return [(r + [None] * width)[:width] for r in rows]


def _header_row(rows: list[list[Any]], where: str) -> int:
    """Index of the header: the first row of text across the full width, notes only above."""
    width = max(sum(_filled(v) for v in r) for r in rows)
    for i, row in enumerate(rows):
        cells = [v for v in row if _filled(v)]
        if len(cells) == width and all(isinstance(v, str) for v in cells):
            if i + 1 >= len(rows):
                break
            return i
        if len(cells) > _MAX_NOTE_CELLS:
            break
    raise IndicatorTableError(
        f"cannot find the header row in {where}: no row names every column above the data "
        f"(merged or empty header cells, or data above the header); make row 1 a single "
        "header row with one name per column"
    )


def _fill_merged(
    rows: list[list[Any]], merged: list[tuple[int, int, int, int]], *, first: int
) -> int:
    """Give every cell of each merged range below the header its top-left value."""
    count = 0
    for r0, r1, c0, c1 in merged:
        if r0 < first or r0 >= len(rows):
            continue
        value = rows[r0][c0] if c0 < len(rows[r0]) else None
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            for c in range(c0, min(c1, len(rows[r]) - 1) + 1):
                rows[r][c] = value
        count += 1
    return count


def _refuse_uncalculated(path: Path, title: str, rows: list[list[Any]], where: str) -> None:
    """Refuse formulas without a saved result (they would read as empty cells)."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        cells = book[title].iter_rows(min_row=1, max_row=len(rows), min_col=1)
        missing = [
            f"{cell.coordinate} {cell.value}"
            for r, row in enumerate(cells)
            for c, cell in enumerate(row)
            if cell.data_type == "f" and c < len(rows[r]) and rows[r][c] is None
        ]
    finally:
        book.close()
    if missing:
        raise IndicatorTableError(
            f"{len(missing)} formula cells in {where} have no saved result (e.g. "
            f"{', '.join(missing[:3])}), so their values are unknown; open the file in Excel "
            "or LibreOffice and save it (results are stored), or paste the values"
        )
