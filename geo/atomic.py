"""Atomic writes: a file appears complete under its name, or not at all.

Everything is written to a temporary sibling (same folder, so the rename stays on one file
system) and ``os.replace``d into place; a failure removes the temporary file.
"""

from __future__ import annotations

import glob
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_group",
    "atomic_target",
    "remove_leftovers",
    "temporary_sibling",
    "write_json",
    "write_parquet",
    "write_text",
]

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{8}\.tmp$")


def temporary_sibling(path: Path) -> Path:
    """A fresh hidden name next to ``path`` (only a name: nothing is created)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def remove_leftovers(*targets: Path) -> int:
    """Remove temporary siblings of ``targets`` left by a writer that was killed.

    A target that is a folder loses every temporary file directly inside it. Call it only
    where one writer owns the targets (a work unit its folder, the driver its tables).
    Returns how many files were removed.
    """
    removed = 0
    for target in targets:
        target = Path(target)
        if target.is_dir():
            candidates = [p for p in target.iterdir() if _TEMPORARY.match(p.name)]
        elif target.parent.is_dir():
            candidates = list(target.parent.glob(f".{glob.escape(target.name)}.*.tmp"))
            candidates = [p for p in candidates if _TEMPORARY.match(p.name)]
        else:
            continue
        for path in candidates:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling to write to; on success it replaces ``path``, else it is removed.

    The parent folder is created. Leaving the block normally ``os.replace``s the temporary
    file onto ``path``; an exception removes it (if it was written) and propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_group() -> Iterator[Callable[[Path], Path]]:
    """Files that appear together or not at all (a table and its report).

    ``stage(path)`` returns a temporary sibling to write; leaving the block normally replaces
    each target with its staged file, in order. If a replacement fails, the targets already
    replaced get their previous content back (kept as hard links) or are removed if they are
    new, and the error propagates; an exception inside the block replaces nothing. A process
    killed mid-way leaves every target whole (old or new) plus temporary siblings that
    :func:`remove_leftovers` clears.
    """
    staged: list[tuple[Path, Path]] = []

    def stage(path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_sibling(path)
        staged.append((tmp, path))
        return tmp

    kept: list[tuple[Path, Path | None]] = []
    try:
        yield stage
        try:
            for tmp, path in staged:
                backup = None
                if path.exists():
                    backup = temporary_sibling(path)
                    os.link(path, backup)
                kept.append((path, backup))
                os.replace(tmp, path)
        except BaseException:
            for path, backup in reversed(kept):
                if backup is not None:
                    os.replace(backup, path)
                else:
                    path.unlink(missing_ok=True)
            raise
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        for _, backup in kept:
            if backup is not None:
                backup.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_target(path) as tmp:
        tmp.write_text(text)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def write_json(path: Path, data: Any, *, indent: int | None = 1) -> Path:
    """Write ``data`` as JSON atomically (numpy scalars and paths are converted)."""
    return write_text(path, json.dumps(data, indent=indent, default=_json_default))


def write_parquet(path: Path, frame: Any, **kwargs: Any) -> Path:
    """Write a (Geo)DataFrame to Parquet (GeoParquet for GeoDataFrames) atomically."""
    writer: Callable[..., None] = frame.to_parquet
    with atomic_target(path) as tmp:
        writer(tmp, **kwargs)
    return path
