"""``pantau plan``: the work units of a run, their volume and time, without reading pixels."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register", "run", "format_plan"]

_ROWS = 40


def register(sub: Any) -> None:
    """Add the ``plan`` sub-command."""
    p = sub.add_parser(
        "plan",
        help="list the work units of a run with their volume and estimated time",
        description="Tile the boundaries on the fixed per-UTM-zone grid and estimate what a "
        "run reads and how long it takes on N workers; no pixel is read.",
    )
    p.add_argument(
        "--boundaries",
        required=True,
        type=Path,
        metavar="FILE",
        help="polygons (or points) with Kemendagri codes of any level",
    )
    p.add_argument("--region", metavar="CODE", help="Kemendagri code prefix, e.g. 34 or 3404")
    p.add_argument("--code-column", help="column with the codes (default: detect)")
    p.add_argument("--start", help="first day, YYYY-MM-DD (default: one year is assumed)")
    p.add_argument("--end", help="last day (inclusive), YYYY-MM-DD")
    p.add_argument(
        "--stac",
        metavar="SRC",
        help="count scenes per unit in this source (one search per unit); default: assume",
    )
    p.add_argument("--collection", help="STAC collection (default per source)")
    p.add_argument("--max-cloud", type=float, metavar="PCT", help="max scene cloud cover, %%")
    p.add_argument(
        "--scenes-per-year",
        type=float,
        metavar="N",
        help="scenes assumed per unit and year without --stac (default 40)",
    )
    p.add_argument(
        "--tile-size",
        type=int,
        metavar="PX",
        help="tile side in pixels (default PANTAU_WORKFLOW_TILE_SIZE, 2048)",
    )
    p.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 10, 100],
        metavar="N",
        help="worker counts to estimate the wall time for (default 1 10 100)",
    )
    speed = p.add_mutually_exclusive_group()
    speed.add_argument(
        "--throughput",
        type=float,
        metavar="PX_PER_S",
        help="pixel-scenes per second of one worker",
    )
    speed.add_argument(
        "--from-run",
        type=Path,
        metavar="DIR",
        help="take the throughput from the per-unit records of DIR/quality.json",
    )
    p.add_argument("--all", action="store_true", help=f"list every unit (default first {_ROWS})")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the plan and print it; 0 on success."""
    from workflows.plan import DEFAULT_SCENES_PER_YEAR, PlanConfig, plan

    result = plan(
        PlanConfig(
            boundaries=args.boundaries,
            region=args.region,
            code_column=args.code_column,
            start=args.start,
            end=args.end,
            stac=args.stac,
            collection=args.collection,
            max_cloud=args.max_cloud,
            tile_size=args.tile_size,
            workers=tuple(args.workers),
            throughput=args.throughput,
            from_run=args.from_run,
            scenes_per_year=args.scenes_per_year or DEFAULT_SCENES_PER_YEAR,
        )
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_plan(result.to_dict(), rows=None if args.all else _ROWS))
    return 0


def format_plan(d: dict[str, Any], *, rows: int | None = _ROWS) -> str:
    """Plain-text report of a plan dictionary (``Plan.to_dict()``)."""
    v = d["villages_per_unit"]
    gb = 1e9
    lines = [
        f"boundaries: {d['boundaries']} ({d['n_boundaries']} {d['level']} features, "
        f"{d['n_villages']} villages)",
        f"grid:       {d['tile_size']} px tiles at {d['resolution']:g} m, one grid per UTM zone",
        f"units:      {d['n_units']}; villages per unit min {v['min']:g}, "
        f"median {v['median']:g}, max {v['max']:g}",
        f"scenes:     {d['scenes_from']}",
        f"pixels:     {d['pixels'] / 1e9:.2f} Gpx; to read {d['values'] / 1e12:.3f} T values "
        f"({d['bytes_to_read'] / 1e12:.2f} TB as uint16)",
        f"memory:     largest unit {d['max_memory_bytes'] / gb:.2f} GB; "
        f"{d['units_over_memory']} unit(s) over {d['worker_memory'] / 1e9:g} GB",
        f"throughput: {d['throughput']:.3g} pixel-scenes/s per worker, {d['throughput_from']}",
        f"work:       {d['worker_hours']:.1f} worker-hours",
    ]
    for w in d["wall"]:
        lines.append(
            f"  {w['workers']:>5} worker(s): {w['hours']:.2f} h (at most {w['hours_upper']:.2f} h)"
        )
    lines.extend(f"note: {n}" for n in d["notes"])
    units = d["units"]
    shown = units if rows is None else units[:rows]
    header = f"{'unit':<20} {'villages':>8} {'width':>6} {'height':>6} {'Mpx':>7} {'scenes':>6}"
    lines += ["", header + f" {'GB':>5} {'minutes':>8}"]
    for u in shown:
        lines.append(
            f"{u['id']:<20} {u['villages']:>8} {u['width']:>6} {u['height']:>6} "
            f"{u['pixels'] / 1e6:>7.2f} {u['scenes']:>6} {u['memory_bytes'] / gb:>5.2f} "
            f"{u['seconds'] / 60:>8.1f}"
        )
    if len(shown) < len(units):
        lines.append(f"... {len(units) - len(shown)} more units (--all or --json)")
    return "\n".join(lines)
