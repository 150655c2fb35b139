"""Indicator tables for the tile server: joined per village, stored tables cached in-process.

The join itself is :func:`geo.indicators.joined_indicators`; this module gives it a reader
that keeps each stored table in memory until its file changes, because the catalogue is
rebuilt (and every table re-joined) whenever any product file changes.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import pandas as pd

from geo.errors import GeoError
from geo.indicators import joined_indicators, read_stored_table

__all__ = ["TABLE_CACHE_SIZE", "cached_table", "load_indicators"]

logger = logging.getLogger(__name__)

#: Stored tables kept in memory by the process (each keyed on path, mtime and size).
TABLE_CACHE_SIZE = 32


@functools.lru_cache(maxsize=TABLE_CACHE_SIZE)
def _read(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    """Read one stored table (keyed on mtime and size so a replaced file is re-read)."""
    return read_stored_table(Path(path))


def cached_table(path: Path) -> pd.DataFrame:
    """A stored table, read once until its file changes (callers must not modify it)."""
    stat = path.stat()
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


def load_indicators(root: Path, kodes: pd.Index) -> pd.DataFrame:
    """Indicator columns ``"{name}.{column}"`` for each village code (NaN where none).

    A kab/kota table gives each of its villages its value; a table that cannot be read
    costs its columns, not the village layers.
    """
    if not (root / "indicators").is_dir():
        return pd.DataFrame(index=kodes)
    try:
        table = joined_indicators(root, kodes=list(kodes), read_table=cached_table)
    except GeoError:
        logger.error("cannot join the indicator tables; serving villages without them",
                     exc_info=True)  # fmt: skip
        return pd.DataFrame(index=kodes)
    table.index = table.index.astype(str)
    return table.reindex(kodes)
