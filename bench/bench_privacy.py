"""Cell suppression at national scale, against the count-only classic rule in the same run.

    python bench/bench_privacy.py [--provinces 38] [--audit 2] [--k 10] [--median 120] [--seed 0]

A synthetic village table shaped like Indonesia (``--provinces`` provinces of 7-17 kab/kota,
7-18 kecamatan each, 4-19 villages each: about 1,700 villages per province) with a household
count (log-normal, median ``--median``, default 120, 3 % zeros) and a share (beta(0.8, 3),
20 % exact zeros) is protected twice:

* **ours**: :func:`geo.privacy.protect_table` (count, count x share, all levels);
* **peer**: the same suppression run on the count column alone, i.e. the classic
  hierarchical rule "no equation with exactly one suppressed cell, smallest cell first",
  which ignores what the value columns reveal.

It prints, for each, the time, the hidden cells per level (primary / complementary) and the
hidden households, then audits the first ``--audit`` provinces of both patterns with the LP
audit of ``tests/geo/test_privacy.py`` (provinces are independent: no national total is
published, so auditing some provinces is exact for them). The peer's recoverable cells are
the value totals pinned by zeros that ours protects.

This is a benchmark, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from geo.privacy import Hierarchy, PrivacySpec, protect_table, suppress  # noqa: E402
from tests.geo.test_privacy import _blocks, _Cells, _pinned  # noqa: E402


def national_table(provinces: int, seed: int, median: float = 120.0) -> pd.DataFrame:
    """A village table with Indonesia's shape: codes, household counts, a share."""
    rng = np.random.default_rng(seed)
    codes = [
        f"{11 + p}{kab:02d}{kec:02d}{2001 + v}"
        for p in range(provinces)
        for kab in range(1, int(rng.integers(8, 19)))
        for kec in range(1, int(rng.integers(8, 20)))
        for v in range(int(rng.integers(4, 20)))
    ]
    n = np.round(rng.lognormal(np.log(median), 1.3, len(codes)))
    n[rng.random(len(codes)) < 0.03] = 0
    share = rng.beta(0.8, 3, len(codes)).round(3)
    share[rng.random(len(codes)) < 0.2] = 0
    return pd.DataFrame(
        {
            "kode": pd.array(codes, dtype="string"),
            "level": "desa",
            "kode_known": True,
            "n": n,
            "share": share,
        }
    )


def count_only(table: pd.DataFrame, k: int) -> set[str]:
    """The peer: hidden cells of the classic rule on the count column alone."""
    h = Hierarchy.from_codes(table["kode"].astype(str).to_numpy())
    cells = h.aggregate(table["n"].to_numpy(dtype="float64"))
    hidden = suppress(h, cells, np.array([0.0]), (cells[:, 0] > 0) & (cells[:, 0] < k))
    return {str(c) for c in h.codes[hidden]}


def describe(name: str, hidden: set[str], table: pd.DataFrame, k: int, seconds: float) -> None:
    counts = table.set_index(table["kode"].astype(str))["n"]
    rows = [c for c in hidden if len(c) == 10]
    small = counts[(counts > 0) & (counts < k)]
    by_length = {n: sum(1 for c in hidden if len(c) == n) for n in (2, 4, 6, 10)}
    print(
        f"{name:<5} {seconds:6.2f} s  hidden villages {len(rows):6d} (primary {len(small)}, "
        f"complementary {len(rows) - len(small)}), kecamatan {by_length[6]}, kab/kota "
        f"{by_length[4]}, provinces {by_length[2]}; households hidden "
        f"{counts.reindex(rows).sum() / counts.sum():.2%}"
    )


def audit(table: pd.DataFrame, hidden: set[str], provinces: list[str]) -> tuple[int, int]:
    """(hidden cell values audited, recoverable ones) in ``provinces``."""
    part = table[table["kode"].astype(str).str.slice(0, 2).isin(provinces)]
    inside = {c for c in hidden if c[:2] in provinces}
    blocks = _blocks(_Cells.of(part.reset_index(drop=True)), inside)
    return sum(len(b.truth) for b in blocks), len(_pinned(blocks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provinces", type=int, default=38)
    parser.add_argument("--audit", type=int, default=2, help="provinces to audit by LP")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--median", type=float, default=120.0, help="median households")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    table = national_table(args.provinces, args.seed, args.median)
    print(f"{len(table)} villages in {args.provinces} provinces, k = {args.k}")

    started = time.perf_counter()
    protected = protect_table(table, PrivacySpec("n", args.k), value_columns=["n", "share"])
    ours_s = time.perf_counter() - started
    ours = set(protected.table.loc[protected.table["suppressed"], "kode"].astype(str))
    ours |= set(protected.regions.loc[protected.regions["suppressed"], "kode"].astype(str))
    started = time.perf_counter()
    peer = count_only(table, args.k)
    peer_s = time.perf_counter() - started
    describe("ours", ours, table, args.k, ours_s)
    describe("peer", peer, table, args.k, peer_s)
    print(f"hidden cells, ours / peer: {len(ours) / max(len(peer), 1):.3f}")

    provinces = [f"{11 + p}" for p in range(min(args.audit, args.provinces))]
    for name, hidden in (("ours", ours), ("peer", peer)):
        started = time.perf_counter()
        audited, recoverable = audit(table, hidden, provinces)
        print(
            f"LP audit {name:<4} of {len(provinces)} provinces: {audited} hidden cell "
            f"values, {recoverable} recoverable ({time.perf_counter() - started:.1f} s)"
        )


if __name__ == "__main__":
    main()
