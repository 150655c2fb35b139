"""Per-period median composites with a per-pixel count of clear observations.

The block kernel works on plain numpy; :func:`median_composite` wraps it with
``dask.array.map_blocks`` so compositing stays lazy until a workflow computes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from geo.masking import clear_mask

__all__ = ["Period", "period_labels", "composite_block", "median_composite", "nanmedian_axis0"]

Period = Literal["year", "quarter", "month"]


def period_labels(times: Sequence[Any], period: Period) -> list[str]:
    """Period label of each timestamp: ``2023``, ``2023-Q1`` or ``2023-01``."""
    idx = pd.DatetimeIndex(pd.to_datetime(list(times), utc=True))
    if period == "year":
        return [f"{t.year:04d}" for t in idx]
    if period == "quarter":
        return [f"{t.year:04d}-Q{t.quarter}" for t in idx]
    if period == "month":
        return [f"{t.year:04d}-{t.month:02d}" for t in idx]
    raise ValueError(f"period must be year, quarter or month, not {period!r}")


def nanmedian_axis0(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median over axis 0 ignoring NaN, and the count of non-NaN values.

    Equal to ``np.nanmedian(values, axis=0)`` for finite-or-NaN input, but 5-10x faster for
    the short axes of a time series: NaN is moved to +inf so it sorts last, the axis is
    sorted (a compare-exchange network of whole planes when it is short), and the median is
    picked by the per-pixel count.
    """
    count = (~np.isnan(values)).sum(axis=0)
    ordered = np.where(np.isnan(values), np.inf, values).astype(values.dtype, copy=False)
    _sort_axis0(ordered)
    n = values.shape[0]
    lo = np.take_along_axis(ordered, np.clip((count - 1) // 2, 0, n - 1)[None], 0)[0]
    hi = np.take_along_axis(ordered, np.clip(count // 2, 0, n - 1)[None], 0)[0]
    median = (lo + hi) * np.float32(0.5) if values.dtype == np.float32 else (lo + hi) / 2
    median[count == 0] = np.nan
    return median, count


def _sort_axis0(a: np.ndarray) -> None:
    """Sort ``a`` in place along axis 0: odd-even transposition network for short axes."""
    n = a.shape[0]
    if n > 16:
        a.sort(axis=0)
        return
    lo = np.empty_like(a[0])
    for round_ in range(n):
        for i in range(round_ % 2, n - 1, 2):
            np.minimum(a[i], a[i + 1], out=lo)
            np.maximum(a[i], a[i + 1], out=a[i + 1])
            a[i] = lo


def composite_block(stack: np.ndarray, *, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Median reflectance of each band over clear observations, plus the clear count.

    Args:
        stack: ``(band, time, y, x)`` DN; the last band is SCL, the others reflectance DN
            (0 = no data).
        scale, offset: per time step, reflectance = DN * scale + offset.

    Returns:
        ``(band, y, x)`` float32: the median of each reflectance band, then the number of
        clear observations (as float32) in the last layer.
    """
    dn, scl = stack[:-1], stack[-1]
    clear = clear_mask(scl) & (dn != 0).all(axis=0)
    n = dn.shape[1]
    out = np.empty((dn.shape[0] + 1,) + dn.shape[2:], dtype=np.float32)
    s = np.asarray(scale, dtype=np.float32)[:, None, None]
    o = np.asarray(offset, dtype=np.float32)[:, None, None]
    count = clear.sum(axis=0, dtype=np.intp)
    size = count.size
    # Computed once for every band, each applied in one plain pass (a masked copy is ~10x
    # slower): + offset where clear and + inf where masked (masked observations sort last
    # and the count picks the median), then + NaN where a pixel has no clear observation.
    bias = np.where(clear, o, np.float32(np.inf)).astype(np.float32, copy=False)
    empty = np.where(count == 0, np.float32(np.nan), np.float32(0))
    # The median's two sorted positions, as flat indices into a sorted (time, y, x) block
    # (a gather by flat index is ~4x faster than take_along_axis).
    k = np.arange(n + 1)
    plane = np.arange(size, dtype=np.intp).reshape(count.shape)
    at_lo = np.clip((k - 1) // 2, 0, n - 1)[count] * size
    at_lo += plane
    at_hi = np.clip(k // 2, 0, n - 1)[count] * size
    at_hi += plane
    del plane, clear
    refl = np.empty(dn.shape[1:], dtype=np.float32)
    lo = np.empty(count.shape, dtype=np.float32)
    for b in range(dn.shape[0]):
        refl[...] = dn[b]
        refl *= s
        refl += bias
        _sort_axis0(refl)
        flat = refl.reshape(-1)
        np.take(flat, at_lo, out=lo)
        np.take(flat, at_hi, out=out[b])
        out[b] += lo
        out[b] *= np.float32(0.5)
        out[b] += empty
    out[-1] = count
    return out


def median_composite(
    stack: Any, scale: np.ndarray, offset: np.ndarray, *, chunk: int = 1024
) -> Any:
    """Lazy median composite of a dask ``(band, time, y, x)`` DN stack (last band SCL)."""
    import dask.array as da

    stack = stack.rechunk({0: -1, 1: -1, 2: chunk, 3: chunk})
    return da.map_blocks(
        composite_block,
        stack,
        scale=np.asarray(scale),
        offset=np.asarray(offset),
        dtype=np.float32,
        drop_axis=1,
        chunks=((stack.shape[0],),) + stack.chunks[2:],
        meta=np.empty((0, 0, 0), dtype=np.float32),
    )
