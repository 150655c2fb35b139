"""Per-pixel impervious (built-up) fraction from six Sentinel-2 bands.

Two methods, both calibrated on :func:`geo.spectra.calibration_set` only (real measured
spectra of other places or instruments are held out for ``bench/bench_truth.py``):

``regression`` (the default)
    Regression-based unmixing (Okujeni et al. 2013, Remote Sens. Environ. 137:184-197):
    synthetic linear mixtures of 1-3 calibration spectra (seeded, with an illumination
    factor) train a ridge regression from brightness-normalised bands and band-pair
    normalised differences, with their pairwise products, to the five class fractions
    (impervious, soil, vegetation, npv, water). Fractions are clipped at 0 and rescaled to
    sum to one.
``fcls``
    Fully constrained least squares (non-negative, sum-to-one) with six endmembers: the
    calibration medians of soil, vegetation, npv and water and of the bright and the dark
    half of the impervious spectra. Solved exactly by enumerating the 63 active sets.

Both share a water test calibrated on the same spectra: the brightest visible band over
1.6 um reflectance is above every calibration land spectrum's (water absorbs the SWIR;
wet soils, shadows and dark roofs keep some), and such pixels are all water.

Inputs are surface reflectance (0-1, float, NaN = no data); outputs are float32, NaN where
any band is NaN (reflectance below 1e-4 counts as 1e-4).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from geo.spectra import CLASSES, SpectralSet, calibration_set

__all__ = [
    "CLASSES",
    "METHODS",
    "DEFAULT_METHOD",
    "MODEL_VERSION",
    "ImperviousFraction",
    "WATER_VIS_SWIR_RATIO",
    "class_fractions",
    "impervious_fraction",
    "synthetic_mixtures",
]

Array = Any  # numpy or dask array

#: Pixels whose brightest visible band exceeds this times the 1.6 um band are water. Set
#: between the largest ratio of any calibration land spectrum (1.81, a dark composition
#: shingle) and the calibration sea water (2.04).
WATER_VIS_SWIR_RATIO = 1.95

_SEED = 20240901
_N_MIXTURES = 40_000
_RIDGE = 1e-3
_CHUNK = 1 << 13  # pixels per step: the (276, n) features stay in cache-sized blocks
#: Changes whenever calibration data, features or fitting change (run fingerprints use it).
MODEL_VERSION = "1"
_MAX_THREADS = 4
_FLOOR = np.float32(1e-4)
_IMPERVIOUS, _WATER = CLASSES.index("impervious"), CLASSES.index("water")


def synthetic_mixtures(
    spectra: SpectralSet, n: int, *, seed: int, max_parts: int = 3, shade: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` linear mixtures of 1..``max_parts`` spectra: reflectance (n, 6), fractions (n, 5).

    Classes are drawn uniformly (not by their number of spectra), then a spectrum of the
    class, then Dirichlet(1) fractions; ``shade`` scales each mixture by U(0.7, 1.3).
    """
    rng = np.random.default_rng(seed)
    by_class = spectra.by_class()
    present = [c for c in CLASSES if c in by_class]
    refl = np.zeros((n, 6))
    fractions = np.zeros((n, len(CLASSES)))
    parts = rng.integers(1, max_parts + 1, n)
    for k in range(1, max_parts + 1):
        rows = np.flatnonzero(parts == k)
        weights = rng.dirichlet(np.ones(k), len(rows))
        for j in range(k):
            cls = rng.integers(len(present), size=len(rows))
            for ci, name in enumerate(present):
                sel = rows[cls == ci]
                pool = by_class[name]
                picks = pool[rng.integers(len(pool), size=len(sel))]
                w = weights[cls == ci, j]
                refl[sel] += w[:, None] * picks
                fractions[sel, CLASSES.index(name)] += w
    if shade:
        refl *= rng.uniform(0.7, 1.3, (n, 1))
    return refl.astype(np.float32), fractions


# --------------------------------------------------------------------------- features


def _base_features(x: np.ndarray) -> np.ndarray:
    """(6, n) positive reflectance -> (22, n): band shares, log brightness, 15 NDs."""
    total = x.sum(axis=0, keepdims=True)
    i, j = np.triu_indices(6, 1)
    nd = (x[i] - x[j]) / (x[i] + x[j])
    return np.concatenate([x / total, np.log(total), nd])


def _quadratic(z: np.ndarray) -> np.ndarray:
    """(k, n) features -> (n, 1 + k + k(k+1)/2) design matrix."""
    i, j = np.triu_indices(len(z))
    return np.concatenate([np.ones((1, z.shape[1])), z, z[i] * z[j]]).T


class _Regression:
    """Ridge regression of class fractions on quadratic features (fitted once, seeded)."""

    def __init__(self, spectra: SpectralSet) -> None:
        refl, fractions = synthetic_mixtures(spectra, _N_MIXTURES, seed=_SEED)
        base = _base_features(refl.T.astype(np.float64))
        mean, std = base.mean(axis=1, keepdims=True), base.std(axis=1, keepdims=True)
        design = _quadratic((base - mean) / std)
        self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)
        gram = design.T @ design + _RIDGE * len(design) * np.eye(design.shape[1])
        coef = np.linalg.solve(gram, design.T @ fractions)  # (1 + 22 + 253, 5)
        k = len(base)
        self.intercept = coef[0].astype(np.float32)[:, None]
        self.linear = coef[1 : 1 + k].T.astype(np.float32)  # (5, k)
        # the pairwise terms as one symmetric (k, k) matrix per class, stacked to (5k, k)
        quad = np.zeros((len(CLASSES), k, k))
        i, j = np.triu_indices(k)
        for c in range(len(CLASSES)):
            quad[c, i, j] = coef[1 + k :, c] / np.where(i == j, 1.0, 2.0)
            quad[c, j, i] = quad[c, i, j]
        self.quad = quad.reshape(len(CLASSES) * k, k).astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(6, n) float32 reflectance -> (5, n) unconstrained fractions."""
        z = (_base_features(x) - self.mean) / self.std
        k = len(z)
        zq = (self.quad @ z).reshape(len(CLASSES), k, -1)  # z^T Q_c z = sum_j (Q_c z)_j z_j
        return self.linear @ z + self.intercept + np.einsum("ckn,kn->cn", zq, z)


class _FCLS:
    """Fully constrained least squares over six endmembers, exact by active-set enumeration."""

    def __init__(self, spectra: SpectralSet) -> None:
        by_class = spectra.by_class()
        imp = by_class["impervious"]
        bright = imp.sum(axis=1) >= np.median(imp.sum(axis=1))
        members = [np.median(imp[bright], 0), np.median(imp[~bright], 0)]
        members += [np.median(by_class[c], 0) for c in CLASSES[1:]]
        self.endmembers = np.array(members, dtype=np.float64)  # (6, 6) members x bands
        self.member_class = np.array([0, 0, 1, 2, 3, 4])
        # For each subset S: a = P x + q minimises |E_S^T a - x| subject to sum(a) = 1.
        self.sets: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        n = len(members)
        for size in range(1, n + 1):
            for subset in itertools.combinations(range(n), size):
                e = self.endmembers[list(subset)]  # (s, 6)
                g_inv = np.linalg.pinv(e @ e.T)
                ones = np.ones(size)
                # Lagrange: a = G^-1 (E x - mu 1), mu chosen for sum(a) = 1
                denom = ones @ g_inv @ ones
                p = g_inv @ e - np.outer(g_inv @ ones, ones @ g_inv @ e) / denom
                q = g_inv @ ones / denom
                self.sets.append((np.array(subset), p.astype(np.float32), q.astype(np.float32)))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(6, n) float32 reflectance -> (5, n) fractions of the best feasible active set."""
        n = x.shape[1]
        best = np.full(n, np.inf, dtype=np.float32)
        member = np.zeros((len(self.endmembers), n), dtype=np.float32)
        e32 = self.endmembers.astype(np.float32)
        for subset, p, q in self.sets:
            a = p @ x + q[:, None]  # (s, n)
            feasible = (a >= -1e-6).all(axis=0)
            resid = ((e32[subset].T @ a - x) ** 2).sum(axis=0)
            better = feasible & (resid < best)
            best[better] = resid[better]
            member[:, better] = 0.0
            member[np.ix_(subset, better)] = a[:, better]
        out = np.zeros((len(CLASSES), n), dtype=np.float32)
        np.add.at(out, self.member_class, member)
        return out


@cache
def _model(method: str) -> Callable[[np.ndarray], np.ndarray]:
    if method not in METHODS:
        raise ValueError(f"unknown unmixing method {method!r}; one of {', '.join(METHODS)}")
    return METHODS[method](calibration_set())


#: Unmixing methods by name: a factory from calibration spectra to a (n, 6) -> (n, 5) model.
METHODS: MappingProxyType[str, Callable[[SpectralSet], Callable[[np.ndarray], np.ndarray]]] = (
    MappingProxyType({"regression": _Regression, "fcls": _FCLS})
)
#: The method that validates best on held-out real spectra (bench/bench_truth.py).
DEFAULT_METHOD = "regression"


def _fractions(x: np.ndarray, method: str) -> np.ndarray:
    """(6, n) float32 reflectance -> (5, n) float32 fractions; NaN pixels stay NaN."""
    model = _model(method)
    out = np.empty((len(CLASSES), x.shape[1]), dtype=np.float32)
    for start in range(0, x.shape[1], _CHUNK):
        part = slice(start, start + _CHUNK)
        # L2A reflectance of water and deep shadow can be 0 or slightly negative
        xi = np.maximum(x[:, part], _FLOOR)
        with np.errstate(invalid="ignore"):
            f = np.maximum(model(xi), 0.0)
            total = f.sum(axis=0)
            f = np.where(total > 0, f / np.where(total > 0, total, 1.0), np.float32(0.2))
            water = xi[:3].max(axis=0) > WATER_VIS_SWIR_RATIO * xi[4]
        f[:, water] = 0.0
        f[_WATER, water] = 1.0
        out[:, part] = f
    out[:, np.isnan(x).any(axis=0)] = np.nan
    return out


def class_fractions(
    blue: np.ndarray,
    green: np.ndarray,
    red: np.ndarray,
    nir: np.ndarray,
    swir16: np.ndarray,
    swir22: np.ndarray,
    *,
    method: str = DEFAULT_METHOD,
) -> np.ndarray:
    """Fractions of the five classes, shape (5, *band shape), float32, summing to one."""
    bands = np.broadcast_arrays(
        *(np.asarray(b, dtype=np.float32) for b in (blue, green, red, nir, swir16, swir22))
    )
    shape = bands[0].shape
    x = np.stack([b.reshape(-1) for b in bands])
    with threadpool_limits(1, user_api="blas"):
        return _fractions(x, method).reshape((len(CLASSES), *shape))


def impervious_fraction(
    blue: Array,
    green: Array,
    red: Array,
    nir: Array,
    swir16: Array,
    swir22: Array,
    *,
    method: str = DEFAULT_METHOD,
) -> Array:
    """Per-pixel impervious (built-up) fraction in [0, 1], float32, NaN where no data.

    Works blockwise on dask arrays (``map_blocks``, one thread per block) and directly on
    numpy arrays (up to four threads; memory: the output plus a few MB per thread).
    """
    if hasattr(blue, "map_blocks"):
        import dask.array as da

        return da.map_blocks(
            _impervious_block,
            blue,
            green,
            red,
            nir,
            swir16,
            swir22,
            method=method,
            dtype=np.float32,
        )
    threads = min(_MAX_THREADS, len(os.sched_getaffinity(0)))
    return _impervious_block(blue, green, red, nir, swir16, swir22, method=method, threads=threads)


def _impervious_block(*bands: np.ndarray, method: str, threads: int = 1) -> np.ndarray:
    """Impervious fraction of one block, ``_CHUNK`` pixels per step (bounded memory).

    Steps run on ``threads`` threads (numpy releases the GIL) with BLAS held to one thread
    each: OpenBLAS's own threads on these small products made it 4-6x slower on a busy
    machine (docs/built-up.md, speed).
    """
    shape = np.broadcast_shapes(*(np.shape(b) for b in bands))
    flat = [np.broadcast_to(np.asarray(b), shape).reshape(-1) for b in bands]
    out = np.empty(int(np.prod(shape)), dtype=np.float32)

    def step(start: int) -> None:
        stop = min(start + _CHUNK, out.size)
        x = np.empty((len(flat), stop - start), dtype=np.float32)
        for i, band in enumerate(flat):
            x[i] = band[start:stop]
        out[start:stop] = _fractions(x, method)[_IMPERVIOUS]

    _model(method)  # fit once, before the threads start
    starts = range(0, out.size, _CHUNK)
    with threadpool_limits(1, user_api="blas"):
        if threads > 1 and len(starts) > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(step, starts))
        else:
            for start in starts:
                step(start)
    return out.reshape(shape)


@dataclass(frozen=True)
class ImperviousFraction:
    """Product formula: ``impervious_fraction`` of the six bands with one method (picklable)."""

    method: str = DEFAULT_METHOD

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(
                f"unknown unmixing method {self.method!r}; one of {', '.join(METHODS)}"
            )

    def __str__(self) -> str:
        return f"impervious fraction, {self.method} unmixing (model {MODEL_VERSION})"

    def __call__(
        self,
        blue: Array,
        green: Array,
        red: Array,
        nir: Array,
        swir16: Array,
        swir22: Array,
    ) -> Array:
        """Per-pixel impervious fraction in [0, 1] (float32, NaN where any band is NaN)."""
        return impervious_fraction(blue, green, red, nir, swir16, swir22, method=self.method)
