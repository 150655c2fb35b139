"""``pantau run``: the monitoring pipeline over a STAC source and village boundaries."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    """--scheduler/--workers/--no-progress, shared by run and demo."""
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local worker processes (default: one in-process worker, a thread per core)",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` sub-command."""
    p = sub.add_parser(
        "run",
        help="compute per-village statistics from Sentinel-2 scenes",
        description="Search scenes, composite per period, compute indices and "
        "per-village statistics; resumable and atomic.",
    )
    p.add_argument(
        "--stac",
        required=True,
        metavar="SRC",
        help="earth-search, planetary-computer, a STAC API URL or a local catalog folder",
    )
    p.add_argument(
        "--boundaries",
        required=True,
        type=Path,
        metavar="FILE",
        help="village polygons: GeoParquet, GeoPackage, GeoJSON or Shapefile",
    )
    p.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--end", required=True, help="last day (inclusive), YYYY-MM-DD")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="products directory")
    p.add_argument("--period", choices=("year", "quarter", "month"), default="year")
    p.add_argument("--region", metavar="CODE", help="Kemendagri code prefix, e.g. 34 or 3404")
    p.add_argument(
        "--max-cloud",
        type=float,
        metavar="PCT",
        help="max scene cloud cover in percent (default 30)",
    )
    p.add_argument("--collection", help="STAC collection (default per source)")
    p.add_argument("--code-column", help="column with the village code (default: detect)")
    p.add_argument("--name-column", help="column with the village name (default: detect)")
    add_cluster_options(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from workflows.run import RunConfig, run

    result = run(
        RunConfig(
            stac=args.stac,
            out=args.out,
            start=args.start,
            end=args.end,
            boundaries=args.boundaries,
            code_column=args.code_column,
            name_column=args.name_column,
            region=args.region,
            period=args.period,
            max_cloud=args.max_cloud,
            collection=args.collection,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=args.progress,
        )
    )
    print(
        f"periods: {', '.join(result.periods)}"
        f" (computed {len(result.computed)}, reused {len(result.skipped)})"
    )
    print(f"villages:   {result.villages_path}")
    print(f"composites: {result.out / 'composites'}")
    print(f"catalog:    {result.out / 'catalog' / 'collection.json'}")
    print(f"quality:    {result.out / 'quality.json'}")
    print(f"time: {result.seconds:.1f} s")
    return 0
