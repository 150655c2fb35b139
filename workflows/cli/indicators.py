"""``pantau indicators``: add socioeconomic indicator tables to a products directory, list them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from geo.errors import IndicatorTableError, PantauError
from geo.indicators import KeyOptions, add_indicator_table, list_indicators
from geo.privacy import DEFAULT_K, PrivacySpec, describe_privacy, read_privacy
from workflows.cli.run import write_failure

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
            "Key the rows by Kemendagri codes (--key), BPS codes through a crosswalk "
            "(--code-system bps --crosswalk) or names (--by-name), check the codes against the "
            "Kemendagri 2025 list, parse numbers (',' or '.' decimals) and store "
            "DIR/indicators/NAME.parquet with a join report; rows that cannot be keyed for sure "
            "are reported and left out."
        ),
    )
    add.add_argument("file", type=Path, metavar="FILE", help="CSV, Parquet or Excel (.xlsx)")
    add.add_argument("--products", required=True, type=Path, metavar="DIR", help="products dir")
    add.add_argument("--name", required=True, help="table name, e.g. idm_2024 ([a-z][a-z0-9_]*)")
    add.add_argument(
        "--key", metavar="COLUMN", help="column of region codes (any level); or --by-name"
    )
    add.add_argument(
        "--code-system",
        choices=("kemendagri", "bps"),
        default="kemendagri",
        help="codes of --key: kemendagri (default) or bps (converted through --crosswalk)",
    )
    add.add_argument(
        "--crosswalk",
        type=Path,
        metavar="PATH",
        help="BPS-Kemendagri crosswalk: a CSV (kode_bps,kode_dagri) or a folder of them; with "
        "kemendagri codes it only checks that they are not BPS codes",
    )
    add.add_argument(
        "--by-name",
        metavar="COLUMNS",
        help="instead of --key: name columns, province first, comma-separated "
        "(e.g. 'Provinsi,Kab/Kota'), matched to the Kemendagri 2025 names",
    )
    add.add_argument("--sheet", metavar="S", help="Excel sheet (default the first)")
    add.add_argument(
        "--sensitive",
        action="store_true",
        help="household-derived table: hide small cells (0 < n < k) and enough others that "
        "none can be derived from totals, before storing; raw values are not stored",
    )
    add.add_argument(
        "--count-column",
        metavar="COLUMN",
        help="with --sensitive (required): the count behind each row, e.g. n_households",
    )
    add.add_argument(
        "--k", type=int, metavar="K", help=f"with --sensitive: threshold (default {DEFAULT_K})"
    )
    add.set_defaults(func=run_add)

    show = actions.add_parser("list", help="list the stored tables and their columns")
    show.add_argument("--products", required=True, type=Path, metavar="DIR", help="products dir")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_list)


def run_add(args: argparse.Namespace) -> int:
    """Store one table and print its join report; 0 on success."""
    privacy = _privacy(args)
    try:
        report = add_indicator_table(
            args.file,
            products_dir=args.products,
            name=args.name,
            key=_key(args),
            sheet=args.sheet,
            privacy=privacy,
        )
    except OSError as exc:
        message = write_failure(exc, args.products)
        if message is None:
            raise
        raise IndicatorTableError(message) from exc
    print(report.summary())
    if privacy is not None:
        print(describe_privacy(read_privacy(report.table_path) or {}))
    refresh_quality_html(args.products)
    return 0


def refresh_quality_html(products: Path) -> Path | None:
    """Write ``DIR/quality.html`` again (atomically) when the folder has a quality report, so
    its indicator section lists the table just added; a failure only warns (the table is
    stored). Returns the page written, or None."""
    if not (Path(products) / "quality.json").is_file():
        return None
    from workflows.quality_report import read_quality, write_quality_html

    try:
        page = write_quality_html(products, read_quality(products).quality)
    except (PantauError, OSError, ValueError) as exc:
        print(
            f"pantau indicators: warning: quality.html not refreshed ({exc}); "
            f"run `pantau quality {products} --html`",
            file=sys.stderr,
        )
        return None
    print(f"quality report refreshed: {page}")
    return page


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


def _key(args: argparse.Namespace) -> KeyOptions:
    """The key options of ``add``: a code column of a code system, or name columns."""
    columns = tuple(c.strip() for c in (args.by_name or "").split(",") if c.strip())
    return KeyOptions(
        key=args.key, code_system=args.code_system, crosswalk=args.crosswalk, by_name=columns
    )


def _privacy(args: argparse.Namespace) -> PrivacySpec | None:
    """The privacy options of ``add``; --count-column and --k only with --sensitive."""
    if not args.sensitive:
        if args.count_column is not None or args.k is not None:
            raise IndicatorTableError("--count-column and --k apply only with --sensitive")
        return None
    if not args.count_column:
        raise IndicatorTableError("--sensitive needs --count-column (e.g. n_households)")
    return PrivacySpec(args.count_column, DEFAULT_K if args.k is None else args.k)
