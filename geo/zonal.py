"""Exact partial-pixel zonal statistics with coverage weights computed once per grid.

exactextract computes, for every village, which cells of the raster grid it touches and what
fraction of each cell it covers. Those weights depend on the grid and the polygons only, not
on the values, so :func:`coverage_weights` computes them once and :func:`zonal_stats` then
summarises any number of rasters (indices x periods) on that grid with vectorised numpy.
The statistics follow exactextract's definitions exactly: coverage-weighted mean, population
standard deviation, and weighted quantiles over distinct values with the interpolation of
exactextract's ``WeightedQuantiles`` (R type 7 when all weights are equal).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from affine import Affine

__all__ = [
    "CoverageWeights",
    "coverage_weights",
    "zonal_stats",
    "weighted_quantiles",
    "STATS",
]

# statistic name -> quantile (None for moments)
STATS: dict[str, float | None] = {
    "mean": None,
    "median": 0.5,
    "std": None,
    "p10": 0.1,
    "p90": 0.9,
}


@dataclass(frozen=True)
class CoverageWeights:
    """Exact coverage of every village on one raster grid, as flat (village, cell) entries."""

    shape: tuple[int, int]
    transform: Affine
    n_villages: int
    village: np.ndarray  # int32, sorted ascending
    cell: np.ndarray  # int64, row * width + col
    coverage: np.ndarray  # float32 in (0, 1]

    def gather(self, raster: np.ndarray) -> np.ndarray:
        """The raster's value at every (village, cell) entry."""
        if raster.shape != self.shape:
            raise ValueError(f"raster shape {raster.shape} is not the grid shape {self.shape}")
        return raster.reshape(-1)[self.cell]

    def area(self) -> np.ndarray:
        """Covered cells per village (sum of coverage fractions)."""
        return np.bincount(self.village, self.coverage, minlength=self.n_villages)

    def save(self, path: Path) -> None:
        """Write to ``path`` (npz) atomically."""
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(
            tmp,
            shape=np.asarray(self.shape),
            transform=np.asarray(tuple(self.transform)[:6]),
            n_villages=np.asarray(self.n_villages),
            village=self.village,
            cell=self.cell,
            coverage=self.coverage,
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> CoverageWeights:
        """Read weights written by :meth:`save`."""
        with np.load(path) as z:
            return cls(
                shape=(int(z["shape"][0]), int(z["shape"][1])),
                transform=Affine(*z["transform"]),
                n_villages=int(z["n_villages"]),
                village=z["village"],
                cell=z["cell"],
                coverage=z["coverage"],
            )


def grid_key(villages: gpd.GeoDataFrame, shape: tuple[int, int], transform: Affine) -> str:
    """A digest of the polygons and the grid: the cache key of their coverage weights."""
    h = hashlib.sha256()
    h.update(repr((shape, tuple(transform)[:6], str(villages.crs))).encode())
    for wkb in villages.geometry.to_wkb():
        h.update(wkb)
    return h.hexdigest()[:24]


def coverage_weights(
    villages: gpd.GeoDataFrame,
    *,
    shape: tuple[int, int],
    transform: Affine,
    threads: int = 1,
) -> CoverageWeights:
    """Exact coverage fractions of each village (in the grid's CRS) over the grid's cells.

    ``threads`` > 1 splits the villages into that many parts computed concurrently
    (exactextract releases the GIL while it rasterises).
    """
    height, width = shape
    if transform.b != 0 or transform.d != 0 or transform.e >= 0:
        raise ValueError("coverage weights need a north-up grid without rotation")
    geoms = villages.geometry.values
    parts = np.array_split(np.arange(len(geoms)), max(1, min(threads, len(geoms))))
    if len(parts) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(parts)) as pool:
            results = list(
                pool.map(lambda ix: _coverage_part(geoms[ix], ix[0], shape, transform), parts)
            )
    else:
        results = [_coverage_part(geoms, 0, shape, transform)]
    return CoverageWeights(
        shape=(height, width),
        transform=transform,
        n_villages=len(geoms),
        village=np.concatenate([r[0] for r in results]),
        cell=np.concatenate([r[1] for r in results]),
        coverage=np.concatenate([r[2] for r in results]),
    )


def _coverage_part(
    geoms: Any, first: int, shape: tuple[int, int], transform: Affine
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(village, cell, coverage) of ``geoms``, villages numbered from ``first``, sorted."""
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource

    height, width = shape
    xmin, ymax = transform.c, transform.f
    xmax = xmin + width * transform.a
    ymin = ymax + height * transform.e
    # The values are never used: a broadcast zero array costs no memory.
    zeros = np.broadcast_to(np.zeros(1, dtype=np.uint8), shape)
    source = NumPyRasterSource(zeros, xmin, ymin, xmax, ymax)
    frame = gpd.GeoDataFrame({"_i": np.arange(len(geoms), dtype=np.int64)}, geometry=geoms)
    if len(frame) == 0:
        return np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.float32)
    result = exact_extract(
        source, frame, ["cell_id", "coverage"], include_cols=["_i"], output="pandas"
    )
    counts = result["cell_id"].map(len).to_numpy()
    village = np.repeat(result["_i"].to_numpy().astype(np.int32) + first, counts)
    cell = np.concatenate([np.asarray(c, dtype=np.int64) for c in result["cell_id"]])
    cov = np.concatenate([np.asarray(c, dtype=np.float32) for c in result["coverage"]])
    if village.size and np.any(village[1:] < village[:-1]):  # features come back in order
        order = np.argsort(village, kind="stable")
        village, cell, cov = village[order], cell[order], cov[order]
    return village, cell, cov


def _sortable(x: np.ndarray) -> np.ndarray:
    """float32 -> uint32 whose unsigned order is the float order."""
    bits = x.astype(np.float32)  # a copy
    bits += np.float32(0)  # -0.0 becomes +0.0: equal values get one key (exactextract merges them)
    bits = bits.view(np.uint32)
    # negative floats flip every bit, others only the sign bit (in place, no temporaries)
    flip = bits >> np.uint32(31)
    np.negative(flip, out=flip)
    flip |= np.uint32(0x80000000)
    flip ^= bits
    return flip


def weighted_quantiles(
    group: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray,
    quantiles: Sequence[float],
    n_groups: int,
) -> np.ndarray:
    """exactextract's weighted quantiles of ``values`` per group, all groups at once.

    Values (float32) equal within a group are merged and their weights summed; sorted
    distinct values x_i with weights w_i get s_i = i*w_i + (n-1)*sum(w_0..w_{i-1}); the
    q-quantile interpolates linearly at q*(n-1)*sum(w). Returns ``(len(quantiles), n_groups)``
    float64, NaN for groups without values. ``group`` must be sorted (entries of a group
    contiguous), as :class:`CoverageWeights` keeps them.
    """
    out = np.full((len(quantiles), n_groups), np.nan)
    if values.size == 0:
        return out
    bounds = np.searchsorted(group, np.arange(n_groups + 1, dtype=group.dtype))
    present = np.flatnonzero(bounds[1:] > bounds[:-1])
    if values.size >= _PER_GROUP_MIN * present.size:
        # large groups: each sorted on its own, in cache (~3x faster than one global sort)
        q = np.asarray(quantiles, dtype=np.float64)
        for j in present:
            lo, hi = bounds[j], bounds[j + 1]
            out[:, j] = _group_quantiles(values[lo:hi], weights[lo:hi], q)
        return out
    g, x, w = _distinct_sorted(group, values, weights, n_groups)
    n = np.bincount(g, minlength=n_groups)
    start = np.zeros(n_groups, dtype=np.intp)
    np.cumsum(n[:-1], out=start[1:])
    gid = np.flatnonzero(n)
    # position within the group, and the weight of the group's earlier values
    local = np.arange(g.size, dtype=np.float64)
    local -= np.repeat(start[gid], n[gid])
    before = np.cumsum(w)
    before -= w
    before -= np.repeat(before[start[gid]], n[gid])
    s = local * w
    s += np.repeat((n[gid] - 1).astype(np.float64), n[gid]) * before
    del local, before
    sum_w = np.bincount(g, w, minlength=n_groups)
    sn = sum_w * (n - 1)
    # s is non-decreasing within a group; a per-group search via one global search over a
    # key that keeps groups apart: group*4 + s/sn lies in [4g, 4g+1].
    sn_e = np.repeat(sn[gid], n[gid])
    with np.errstate(invalid="ignore", divide="ignore"):
        skey = np.where(sn_e > 0, s / sn_e, 0.0)
    skey += g * 4.0
    del sn_e
    for qi, q in enumerate(quantiles):
        lookup = q * sn[gid]
        right = np.searchsorted(skey, gid * 4.0 + q, side="right")
        right = np.maximum(right, start[gid] + 1)  # s_0 = 0 <= lookup always
        left = right - 1
        end = start[gid] + n[gid]
        at_end = right >= end
        r = np.minimum(right, end - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            interp = x[left] + (lookup - s[left]) * (x[r] - x[left]) / (s[r] - s[left])
        out[qi, gid] = np.where(at_end, x[left], interp)
    return out


#: Mean entries per group from which groups are summarised one by one (per-group numpy
#: calls cost ~80 us; below this a single global sort of all entries is faster).
_PER_GROUP_MIN = 1000


def _group_quantiles(v: np.ndarray, c: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Weighted quantiles ``q`` of one group's values ``v`` (no NaN) with weights ``c``.

    Cells wholly inside the village (weight exactly 1, most of them) are sorted as plain
    values; the few partial cells are sorted apart and merged in by position.
    """
    full = c == 1
    if full.all():
        x = np.sort(v)
        w = None
    else:
        part = ~full
        order = np.argsort(v[part])
        vp, wp = v[part][order], c[part][order]
        vf = np.sort(v[full])
        at = np.searchsorted(vf, vp)
        at += np.arange(vp.size)
        x = np.empty(v.size, dtype=v.dtype)
        taken = np.zeros(v.size, dtype=bool)
        taken[at] = True
        x[at] = vp
        x[~taken] = vf
        w = np.ones(v.size)
        w[at] = wp
    first = np.empty(x.size, dtype=bool)
    first[0] = True
    np.not_equal(x[1:], x[:-1], out=first[1:])
    if not first.all():  # merge equal values, summing their weights
        at = np.flatnonzero(first)
        w = (
            np.diff(np.append(at, x.size)).astype(np.float64)
            if w is None
            else np.add.reduceat(w, at)
        )
        x = x[at]
    elif w is None:
        w = np.ones(x.size)
    n = x.size
    before = np.cumsum(w)
    total = before[-1]
    before -= w
    before *= n - 1
    s = np.arange(n, dtype=np.float64)
    s *= w
    s += before
    lookup = q * (total * (n - 1))
    right = np.maximum(np.searchsorted(s, lookup, side="right"), 1)  # s_0 = 0 <= lookup
    left = right - 1
    r = np.minimum(right, n - 1)
    xl = x[left].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        interp = xl + (lookup - s[left]) * (x[r] - xl) / (s[r] - s[left])
    return np.where(right >= n, xl, interp)


def _distinct_sorted(
    group: np.ndarray, values: np.ndarray, weights: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (group, value) pairs sorted by group then value, with summed weights.

    Small-integer rasters (counts, classes) take a histogram (one bincount) instead of a
    sort of every cell.
    """
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 4096 and n_groups * (hi - lo + 1) < 5e7 and np.all(values == np.round(values)):
        span = int(hi - lo) + 1
        index = group.astype(np.intp) * span + (values - lo).astype(np.intp)
        hist = np.bincount(index, weights.astype(np.float64), minlength=n_groups * span)
        present = np.bincount(index, minlength=n_groups * span) > 0
        at = np.flatnonzero(present)
        g, v = np.divmod(at, span)
        return g.astype(np.intp), (v + lo).astype(np.float64), hist[at]
    key = group.astype(np.uint64)
    key <<= np.uint64(32)
    key |= _sortable(values)
    order = np.argsort(key)
    key = key[order]
    w = weights[order].astype(np.float64)
    first = np.empty(key.size, dtype=bool)
    first[0] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    del key
    if not first.all():  # merge equal values of a group, summing their weights
        at = np.flatnonzero(first)
        w = np.add.reduceat(w, at)
        order = order[at]
    del first
    # gathered from the inputs: cheaper than decoding the sorted keys
    return group[order].astype(np.intp, copy=False), values[order].astype(np.float64), w


def zonal_stats(
    weights: CoverageWeights,
    raster: np.ndarray,
    *,
    stats: Sequence[str] = tuple(STATS),
    max_entries: int = 4_000_000,
) -> dict[str, np.ndarray]:
    """Coverage-weighted statistics of ``raster`` (NaN = no data) for every village.

    Returns a dict stat name -> float64 array of length ``n_villages`` (NaN where a village
    has no valid cell). Statistics: mean, std (population), median, p10, p90. Villages are
    processed in batches of about ``max_entries`` (village, cell) entries, so memory stays
    bounded on large regions; every village lies wholly in one batch, so results are exact.
    """
    unknown = set(stats) - set(STATS)
    if unknown:
        raise ValueError(f"unknown statistics {sorted(unknown)}; known: {list(STATS)}")
    if raster.shape != weights.shape:
        raise ValueError(f"raster shape {raster.shape} is not the grid shape {weights.shape}")
    n = weights.n_villages
    out = {s: np.full(n, np.nan) for s in stats}
    flat = raster.reshape(-1)
    for lo, hi, g0, g1 in _batches(weights.village, n, max_entries):
        part = _batch_stats(
            weights.village[lo:hi] - g0,
            flat[weights.cell[lo:hi]],
            weights.coverage[lo:hi],
            g1 - g0,
            stats,
        )
        for s in stats:
            out[s][g0:g1] = part[s]
    return out


def _batches(village: np.ndarray, n: int, max_entries: int) -> list[tuple[int, int, int, int]]:
    """(entry lo, entry hi, village lo, village hi) slices at village boundaries."""
    bounds = np.searchsorted(village, np.arange(n + 1))  # entries of village g: bounds[g:g+2]
    batches = []
    g0 = 0
    while g0 < n:
        limit = bounds[g0] + max_entries
        g1 = int(np.searchsorted(bounds, limit, side="right")) - 1
        g1 = min(max(g1, g0 + 1), n)
        batches.append((int(bounds[g0]), int(bounds[g1]), g0, g1))
        g0 = g1
    return batches


def _batch_stats(
    g: np.ndarray, v: np.ndarray, cov: np.ndarray, n: int, stats: Sequence[str]
) -> dict[str, np.ndarray]:
    """Statistics of one batch; ``g`` sorted, so each village's entries are one run."""
    if np.issubdtype(v.dtype, np.floating):
        ok = ~np.isnan(v)
        if not ok.all():
            g, v, cov = g[ok], v[ok], cov[ok]
    out: dict[str, np.ndarray] = {}
    bounds = np.searchsorted(g, np.arange(n + 1, dtype=g.dtype))
    counts = np.diff(bounds)
    nz = counts > 0
    starts = bounds[:-1][nz]
    c = cov.astype(np.float64)
    cx = v.astype(np.float64)
    cx *= c
    # sums over runs (reduceat): ~5x faster than bincount's scatter
    sum_c, sum_cx = np.zeros(n), np.zeros(n)
    if starts.size:
        sum_c[nz] = np.add.reduceat(c, starts)
        sum_cx[nz] = np.add.reduceat(cx, starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sum_cx / sum_c
        mean[~nz] = np.nan
        if "mean" in stats:
            out["mean"] = mean
        if "std" in stats:
            dev = v.astype(np.float64)
            dev -= np.repeat(mean[nz], counts[nz])
            dev *= dev
            dev *= c
            var = np.full(n, np.nan)
            if starts.size:
                var[nz] = np.add.reduceat(dev, starts) / sum_c[nz]
            out["std"] = np.sqrt(var)
    qnames = [s for s in stats if STATS[s] is not None]
    if qnames:
        qs = weighted_quantiles(g, v, cov, [STATS[s] for s in qnames], n)  # type: ignore[misc]
        for name, row in zip(qnames, qs, strict=True):
            out[name] = row
    return out
