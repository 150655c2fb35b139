"""Search benchmark: the ``GET /search`` index against a linear scan of the same names.

    python bench/bench_search.py [--queries 300] [--seed 20250801] [--json FILE]

Both answer the same queries over the whole Kemendagri 2025 master list (83,762 villages,
7,285 kecamatan, 514 kab/kota, 38 provinces; :func:`geo.codes.kemendagri_names`):

* ``index``: :meth:`tiles.search_index.NameIndex.search` (bisect over the sorted word-start
  suffixes of the normalised names, then the best ``limit`` of the matching range);
* ``scan``: :meth:`~tiles.search_index.NameIndex.scan`, the same ranking by one pass over the
  already-normalised names (the peer: what an index-less endpoint would do per query).

Queries (seeded) mix what a planner types: a prefix (1 to 12 letters) or the whole of a
random village or region name, a word of a multi-word name, a code prefix in dotted or plain
form, and names that are not in the list. Each query is timed once per method, the two
interleaved, with ``limit=10``; both must give the same answer. It prints the index's build
time, median and p99 per method and their ratio. A benchmark, not a test: nothing here
asserts on time.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from geo.codes import kemendagri_names  # noqa: E402
from tiles.places import Place  # noqa: E402
from tiles.search_index import NameIndex  # noqa: E402

LEVELS = {"provinsi": "province", "kabkota": "kabkota", "kecamatan": "kecamatan", "desa": "village"}
LIMIT = 10
MISSES = ("zzyzx", "qwerty", "Xanadu", "Atlantis", "99.99")


def places() -> list[Place]:
    """Every place of the master list (no bounds: the bench times names only)."""
    return [
        Place(kode, level, name)  # type: ignore[arg-type]
        for code_level, level in LEVELS.items()
        for kode, name in kemendagri_names(code_level).items()  # type: ignore[arg-type]
    ]


def queries(found: list[Place], n: int, seed: int) -> list[str]:
    """``n`` seeded queries: name prefixes, whole names, words, codes, misses."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        place = rng.choice(found)
        kind = i % 6
        if kind in (0, 1):  # a prefix of the name, short ones are the expensive ones
            out.append(place.name[: rng.randint(1, 12)])
        elif kind == 2:
            out.append(place.name.lower())
        elif kind == 3:
            words = place.name.split()
            out.append(rng.choice(words)[: rng.randint(3, 8)])
        elif kind == 4:
            code = place.kode[: rng.choice((2, 4, 6, 8, 10))]
            dotted = ".".join(x for x in (code[:2], code[2:4], code[4:6], code[6:]) if x)
            out.append(dotted if rng.random() < 0.5 else code)
        else:
            out.append(rng.choice(MISSES))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20250801)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    found = places()
    villages = sum(p.level == "village" for p in found)
    start = time.perf_counter()
    index = NameIndex(found)
    build = time.perf_counter() - start
    print(f"{len(found):,} names ({villages:,} villages); index built in {build:.2f} s")

    timings: dict[str, list[float]] = {"index": [], "scan": []}
    mismatches = 0
    for q in queries(found, args.queries, args.seed):
        t0 = time.perf_counter()
        fast = index.search(q, LIMIT)
        t1 = time.perf_counter()
        slow = index.scan(q, LIMIT)
        t2 = time.perf_counter()
        timings["index"].append((t1 - t0) * 1e3)
        timings["scan"].append((t2 - t1) * 1e3)
        mismatches += fast != slow

    rows = {
        name: {"median_ms": statistics.median(t), "p99_ms": percentile(t, 0.99)}
        for name, t in timings.items()
    }
    print(f"{args.queries} queries, limit {LIMIT}, {platform.python_implementation()} "
          f"{platform.python_version()}; answers differing: {mismatches}")  # fmt: skip
    print(f"{'method':8} {'median ms':>10} {'p99 ms':>10}")
    for name, row in rows.items():
        print(f"{name:8} {row['median_ms']:10.3f} {row['p99_ms']:10.3f}")
    ratio_median = rows["scan"]["median_ms"] / rows["index"]["median_ms"]
    ratio_p99 = rows["scan"]["p99_ms"] / rows["index"]["p99_ms"]
    print(f"scan / index: {ratio_median:,.0f}x at the median, {ratio_p99:,.0f}x at p99")
    if args.json:
        summary = {"names": len(found), "build_s": build, "queries": args.queries,
                   "mismatches": mismatches, "methods": rows}  # fmt: skip
        args.json.write_text(json.dumps(summary, indent=2))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
