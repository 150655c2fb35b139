"""``pantau indicators``: add socioeconomic indicator tables to a products directory, list them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from geo.indicators import add_indicator_table, list_indicators

__all__ = ["register", "run_add", "run_list"]


def register(subparsers: Any) -> None:
    """Add the ``indicators`` sub-command with its ``add`` and ``list`` actions."""
    p = subparsers.add_parser(
        "indicators",
        help="add or list indicator tables (IDM, poverty, ...) joined to villages by code",
        description="Indicator tables keyed by Kemendagri codes, stored in DIR/indicators/.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser(
        "add",
        help="validate a CSV/Parquet/Excel table and store it",
        description=(
            "Check the key codes against the Kemendagri 2025 list, parse numbers (',' or '.' "
            "decimals) and store DIR/indicators/NAME.parquet with a join report."
        ),
    )
    add.add_argument("file", type=Path, metavar="FILE", help="CSV, Parquet or Excel (.xlsx)")
    add.add_argument("--products", required=True, type=Path, metavar="DIR", help="products dir")
    add.add_argument("--name", required=True, help="table name, e.g. idm_2024 ([a-z][a-z0-9_]*)")
    add.add_argument(
        "--key", required=True, metavar="COLUMN", help="column of Kemendagri codes (any level)"
    )
    add.add_argument("--sheet", metavar="S", help="Excel sheet (default the first)")
    add.set_defaults(func=run_add)

    show = actions.add_parser("list", help="list the stored tables and their columns")
    show.add_argument("--products", required=True, type=Path, metavar="DIR", help="products dir")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_list)


def run_add(args: argparse.Namespace) -> int:
    """Store one table and print its join report; 0 on success."""
    report = add_indicator_table(
        args.file, products_dir=args.products, name=args.name, key=args.key, sheet=args.sheet
    )
    print(report.summary())
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the stored tables; 0 (also when there are none)."""
    infos = list_indicators(args.products)
    if args.json:
        print(json.dumps([info.to_dict() for info in infos], indent=2, ensure_ascii=False))
        return 0
    if not infos:
        print(f"no indicator tables in {args.products / 'indicators'}")
        return 0
    for info in infos:
        print(f"{info.name}  ({info.level}, {info.rows} rows)")
        for column in info.columns:
            if column.kind == "numeric":
                detail = f"{column.minimum:g} .. {column.maximum:g}" if column.n_values else "empty"
            elif column.categories:
                detail = ", ".join(column.categories[:8])
                detail += " ..." if len(column.categories) > 8 else ""
            else:
                detail = f"{column.n_categories} distinct values"
            print(f"  {column.field:<45} {column.kind:<12} {detail}")
    return 0
