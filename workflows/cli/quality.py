"""``pantau quality DIR``: the quality of a run, as plain text in the terminal."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    """Add the ``quality`` sub-command."""
    p = sub.add_parser(
        "quality",
        help="summarise a run's quality: scenes excluded, low coverage, code and join problems",
        description="Print the quality of the run in DIR (from its quality.json, "
        "villages.parquet and indicator join reports): periods, scenes used and excluded "
        "with the reasons, villages with low coverage, code, geometry and indicator problems. "
        "The same facts, with pictures, are in DIR/quality.html.",
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="a folder `pantau run --out` wrote")
    p.add_argument(
        "--html",
        action="store_true",
        help="write DIR/quality.html again first (e.g. after `pantau indicators add`)",
    )
    p.add_argument(
        "--worst", type=int, default=10, metavar="N", help="low-coverage villages listed (10)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary; 0 on success (a folder without quality.json is an error, 2)."""
    from workflows.quality_report import read_quality, summary_text, write_quality_html

    report = read_quality(args.dir)
    if args.html:
        write_quality_html(report.out, report.quality)
    print(summary_text(report, worst=args.worst))
    return 0
