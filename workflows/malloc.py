"""Keep freed memory in the worker while units run (glibc): 5x less CPU time in the kernel.

A unit allocates and frees hundreds of arrays of 1-100 MB (scene blocks, composite planes,
product planes, COG buffers). glibc serves every allocation above its mmap threshold with a
fresh ``mmap`` and returns it with ``munmap``, so every array costs page faults that zero
its pages again; Dask's nanny makes it worse by starting workers with
``MALLOC_TRIM_THRESHOLD_=65536``, which also freezes that threshold at 128 KiB. Measured on
the pipeline bench (two units at a time in one worker of this 2-core machine): the worker
spent 48 s of 134 CPU-seconds in the kernel, mostly zeroing pages, and the whole run took
80 s. With freed memory kept for reuse while units run: 10 s in the kernel, 50 s in all.

:func:`reuse_freed_memory` switches that on while at least one unit of the process is
running and, when the last one ends, returns the free memory to the system
(``malloc_trim``) and restores the process's own settings, so the worker's memory reported
between units, and other tasks on a shared cluster, are as before. Not glibc (macOS,
musl): nothing changes.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["reuse_freed_memory"]

# mallopt parameters (malloc.h) and glibc's defaults, used when the environment sets none
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
_DEFAULT_MMAP_MAX = 65536
#: trim threshold while units run (mallopt takes an int): in effect never trim; the units'
#: own peak bounds what is kept
_KEEP = 2**31 - 1

_lock = threading.Lock()
_active = 0


def _glibc() -> Any | None:
    """The process's glibc, or None where mallopt/malloc_trim are not glibc's."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  (only glibc has it)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def _env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """While inside (any thread), freed memory is reused instead of returned and re-faulted.

    Re-entrant across threads: the settings change when the first unit enters and are
    restored, with the free memory trimmed, when the last one leaves.
    """
    global _active
    if _LIBC is None:
        yield
        return
    with _lock:
        _active += 1
        if _active == 1:
            _LIBC.mallopt(_M_MMAP_MAX, 0)
            _LIBC.mallopt(_M_TRIM_THRESHOLD, _KEEP)
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                _LIBC.mallopt(_M_MMAP_MAX, _env("MALLOC_MMAP_MAX_", _DEFAULT_MMAP_MAX))
                _LIBC.mallopt(
                    _M_TRIM_THRESHOLD,
                    min(_env("MALLOC_TRIM_THRESHOLD_", _DEFAULT_TRIM_THRESHOLD), _KEEP),
                )
                _LIBC.malloc_trim(0)
