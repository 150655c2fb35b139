"""Fuzz the tile API: 5,000 schemathesis requests against its own OpenAPI document.

    python bench/fuzz.py [--requests 5000] [--seed 7] [--products DIR]

The app runs in-process (ASGI) over the tile tests' products (``tests/tiles/conftest.py``:
20 DI Yogyakarta villages, two periods of COGs, the IDM and poverty indicators) plus their
``regions.parquet``, built into a temporary folder unless ``--products`` names another.
Cases are drawn by schemathesis (positive and negative), each sent as generated and with real
ids spliced in (``tests/tiles/fuzz_support.py``). It prints the requests tried, the statuses,
the 5xx seen, the bad bodies (a path, traceback or GDAL text; a 4xx naming no parameter) and
the schema conformance failures, with examples; exit status 1 if any.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build(root: Path, shared: Path) -> Path:
    """The tile tests' products with a regions.parquet, in ``root``."""
    import geopandas as gpd

    from tests.tiles.conftest import build_products
    from workflows.regions import write_regions

    build_products(root, shared)
    write_regions(root, gpd.read_parquet(root / "villages.parquet"))
    return root


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=5000, help="at least this many (5000)")
    p.add_argument("--seed", type=int, default=7, help="Hypothesis seed (7)")
    p.add_argument("--products", type=Path, help="a products directory (default: built)")
    shared = Path(os.environ.get("PANTAU_SHARED_DATA", REPO.parent / "shared" / "data"))
    p.add_argument("--shared", type=Path, default=shared, help="shared data folder")
    p.add_argument("--examples", type=int, default=10, help="examples printed per problem kind")
    args = p.parse_args(argv)

    from tests.tiles.fuzz_support import Fuzzer
    from tiles.app import create_app
    from tiles.settings import TilesSettings

    with tempfile.TemporaryDirectory(prefix="pantau-fuzz-") as tmp:
        products = args.products or build(Path(tmp), args.shared)
        app = create_app(TilesSettings(products_dir=products, rescan_interval=3600))
        print(f"fuzzing the tile API over {products}: {args.requests} requests, "
              f"seed {args.seed}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
              flush=True)  # fmt: skip
        report = Fuzzer(app, products).run(args.requests, seed_value=args.seed)
    print(report.summary(limit=args.examples))
    print("requests per operation:")
    for label, n in sorted(report.operations.items()):
        print(f"  {n:>5}  {label}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
