"""``pantau catalog``: load local STAC catalogs into a STAC API, list what an API holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``catalog`` sub-command with ``load`` and ``items``."""
    p = sub.add_parser(
        "catalog",
        help="load a local STAC catalog into a STAC API, list an API's items",
        description="Work with a STAC API that implements the Transactions extension "
        "(e.g. stac-fastapi-pgstac, see docs/stac-server.md).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    load = actions.add_parser(
        "load",
        help="upsert the collections and items of a local catalog into a STAC API",
        description="Idempotent: unchanged items are left alone, changed ones replaced, new "
        "ones created. Local asset hrefs become absolute file:// URIs.",
    )
    load.add_argument("--stac", required=True, metavar="URL", help="STAC API root URL")
    load.add_argument(
        "source",
        type=Path,
        metavar="SOURCE",
        help="local catalog folder or file: the demo's DIR/scenes, a run's DIR/catalog",
    )
    load.set_defaults(func=_load)

    items = actions.add_parser(
        "items",
        help="list the items of a collection in a STAC API (products by period)",
        description="Search a collection of a STAC API by bbox, dates and Pantau period.",
    )
    items.add_argument("--stac", required=True, metavar="URL", help="STAC API root URL")
    items.add_argument(
        "--collection",
        default="pantau-village-indicators",
        help="collection id (default: Pantau's products, pantau-village-indicators)",
    )
    items.add_argument("--period", help="pantau:period of product items, e.g. 2022")
    items.add_argument(
        "--bbox", nargs=4, type=float, metavar=("W", "S", "E", "N"), help="EPSG:4326 degrees"
    )
    items.add_argument("--datetime", help="STAC datetime interval, e.g. 2022-01-01/2022-12-31")
    items.add_argument("--json", action="store_true", help="print the items as JSON")
    items.set_defaults(func=_items)


def _load(args: argparse.Namespace) -> int:
    from stac.transactions import load_catalog

    for report in load_catalog(args.stac, args.source):
        print(report.summary())
    return 0


def _items(args: argparse.Namespace) -> int:
    from stac.api_items import search_items

    found = search_items(
        args.stac,
        collection=args.collection,
        period=args.period,
        bbox=args.bbox,
        datetime=args.datetime,
    )
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for item in found:
        props = item.get("properties", {})
        period = props.get("pantau:period") or props.get("datetime") or ""
        print(f"{item['id']}\t{period}\t{item.get('collection', '')}")
    print(f"{len(found)} item(s) in {args.collection} at {args.stac}")
    return 0
