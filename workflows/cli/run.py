"""``pantau run``: the monitoring pipeline over a STAC source and village boundaries."""

from __future__ import annotations

import argparse
import errno
from pathlib import Path

__all__ = ["register", "write_failure"]

# A products folder that is full or not writable: a clear message instead of a traceback.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def write_failure(exc: OSError, folder: Path) -> str | None:
    """The message for a write into ``folder`` that failed for lack of space or rights."""
    if exc.errno not in _WRITE_ERRNOS:
        return None
    if exc.filename is not None:
        target = Path(str(exc.filename)).resolve()
        if not target.is_relative_to(Path(folder).resolve()):
            return None
    return (
        f"cannot write to the products folder {folder}: {exc.strerror or exc}; free space or "
        "make it writable (or pass another folder) and run again; files written completely "
        "before are kept, none is left half-written"
    )


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    """--scheduler/--workers/--tile-size/--no-progress, shared by run and demo."""
    p.add_argument(
        "--tile-size",
        type=int,
        metavar="PX",
        help="work-unit tile side in pixels, a multiple of 256 "
        "(default PANTAU_WORKFLOW_TILE_SIZE, 2048; see docs/scale.md)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local worker processes (default: one per core, a unit each, when the run has at "
        "least as many units as cores; else one process with a thread per core)",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


def add_built_up_option(p: argparse.ArgumentParser) -> None:
    """--built-up METHOD, shared by run and demo."""
    from geo.products import BUILT_UP_METHODS
    from geo.unmixing import DEFAULT_METHOD

    p.add_argument(
        "--built-up",
        dest="built_up",
        choices=tuple(BUILT_UP_METHODS),
        default=DEFAULT_METHOD,
        help=f"built-up method (default {DEFAULT_METHOD}, best on held-out real spectra; "
        "'unmixing' is its alias; 'rule' is the old 0/1 index rule, for comparison)",
    )


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
    p.add_argument(
        "--reference",
        choices=("esa-worldcover", "io-lulc-annual-v02"),
        help="also compute reference land-cover shares per village (lc_*_fraction) and their "
        "agreement with built_up_fraction in quality.json",
    )
    p.add_argument(
        "--reference-stac",
        metavar="SRC",
        help="where the reference collection is: planetary-computer (default), a STAC API "
        "URL or a local catalog folder",
    )
    p.add_argument(
        "--publish",
        action="store_true",
        help="with --stac URL: upsert the product collection and items into that STAC API "
        "(Transactions extension) as each unit is committed; unchanged items are not resent",
    )
    add_built_up_option(p)
    add_cluster_options(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from workflows.errors import WorkflowError
    from workflows.run import RunConfig, run

    if args.publish and not args.stac.startswith(("http://", "https://")):
        raise WorkflowError(
            f"--publish needs --stac URL, the STAC API to publish into; got --stac {args.stac}"
        )
    if args.reference_stac and not args.reference:
        raise WorkflowError("--reference-stac needs --reference esa-worldcover|io-lulc-annual-v02")
    config = RunConfig(
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
        tile_size=args.tile_size,
        progress=args.progress,
        reference=args.reference,
        reference_stac=args.reference_stac,
        built_up=args.built_up,
        publish=args.publish,
    )
    try:
        result = run(config)
    except OSError as exc:
        message = write_failure(exc, args.out)
        if message is None:
            raise
        raise WorkflowError(message) from exc
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
