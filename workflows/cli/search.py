"""``pantau search``: list the Sentinel-2 L2A scenes of an area and a date range."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from stac.errors import StacError
from stac.parse import parse_items, scenes_table
from stac.publish import COLLECTION_ID
from stac.search import BBox, search_scenes
from stac.settings import StacSettings
from stac.source import resolve_source

__all__ = ["register", "run", "boundaries_bbox"]

# Columns of the boundary files that hold Kemendagri codes (dotted or digits only).
_CODE_COLUMNS = ("kode_10", "kode_digits", "kode", "code")
_TABLE = ["id", "datetime", "cloud_cover", "processing_baseline", "offset", "radiometry_rule"]


def register(subparsers: Any) -> None:
    """Add the ``search`` sub-command."""
    p = subparsers.add_parser(
        "search",
        help="list Sentinel-2 L2A scenes of an area and dates",
        description="Search a STAC source and print its scenes with their radiometry rule.",
    )
    p.add_argument(
        "--stac",
        required=True,
        metavar="SRC",
        help="earth-search, planetary-computer, a STAC API URL, or a local catalog folder",
    )
    p.add_argument("--collection", help="collection id (default depends on the source)")
    area = p.add_mutually_exclusive_group(required=True)
    area.add_argument(
        "--bbox", nargs=4, type=float, metavar=("W", "S", "E", "N"), help="EPSG:4326 degrees"
    )
    area.add_argument("--boundaries", type=Path, metavar="FILE", help="boundary file (any CRS)")
    p.add_argument(
        "--region", metavar="CODE", help="with --boundaries: Kemendagri code prefix, e.g. 34.71"
    )
    p.add_argument("--start", help="first day, YYYY-MM-DD (scenes)")
    p.add_argument("--end", help="last day (included), YYYY-MM-DD (scenes)")
    p.add_argument(
        "--period",
        help=f"with --collection {COLLECTION_ID}: the product period, e.g. 2022 or 2022-Q1",
    )
    p.add_argument("--max-cloud", type=float, default=30.0, help="max eo:cloud_cover, percent")
    p.add_argument("--max-items", type=int, help="cap on scenes (default PANTAU_STAC_MAX_ITEMS)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON records")
    fmt.add_argument("--csv", action="store_true", help="print CSV")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Search, parse and print the scenes; 0 on success."""
    if args.region and not args.boundaries:
        raise StacError("--region needs --boundaries FILE")
    settings = StacSettings()
    source = resolve_source(args.stac, collection=args.collection, settings=settings)
    bbox = args.bbox or boundaries_bbox(args.boundaries, region=args.region)
    if args.collection == COLLECTION_ID:
        return _products(args, source.url_or_path, bbox, settings)
    if args.period:
        raise StacError(f"--period is for Pantau products: add --collection {COLLECTION_ID}")
    if not (args.start and args.end):
        raise StacError("give the dates of the scenes with --start and --end")
    items = search_scenes(
        source,
        bbox=bbox,
        start=args.start,
        end=args.end,
        max_cloud=args.max_cloud,
        max_items=args.max_items,
        settings=settings,
    )
    table = scenes_table(parse_items(items))
    if args.json:
        print(json.dumps(_records(table), indent=2))
    elif args.csv:
        table.to_csv(sys.stdout, index=False)
    else:
        print(table[_TABLE].to_string(index=False) if len(table) else "no scenes found")
        print(f"{len(table)} scene(s) from {source}", file=sys.stderr)
    return 0


def _products(args: argparse.Namespace, api: str, bbox: BBox, settings: StacSettings) -> int:
    """Pantau's product items in a STAC API, by period and area, with their lineage."""
    from stac.api_items import search_items

    if not api.startswith(("http://", "https://")):
        raise StacError("products are searched in a STAC API: give --stac http://HOST:PORT/")
    found = search_items(
        api, collection=COLLECTION_ID, period=args.period, bbox=bbox,
        max_items=args.max_items, settings=settings,
    )  # fmt: skip
    rows = [
        {
            "id": i["id"],
            "unit": i["properties"].get("pantau:unit"),
            "period": i["properties"].get("pantau:period"),
            "sources": sum(1 for ln in i.get("links", []) if ln.get("rel") == "derived_from"),
        }
        for i in found
    ]
    table = pd.DataFrame(rows, columns=["id", "unit", "period", "sources"])
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.csv:
        table.to_csv(sys.stdout, index=False)
    else:
        print(table.to_string(index=False) if len(table) else "no products found")
        print(f"{len(table)} product item(s) from {api}", file=sys.stderr)
    return 0


def boundaries_bbox(path: Path, *, region: str | None = None) -> BBox:
    """EPSG:4326 total bounds of a boundary file, or of its rows whose code starts with region."""
    import geopandas as gpd

    try:
        frame = gpd.read_file(path) if path.suffix != ".parquet" else gpd.read_parquet(path)
    except Exception as exc:  # pyogrio/pyarrow raise many types; the message is what matters
        raise StacError(f"cannot read boundaries {path}: {exc}") from exc
    if frame.crs is None:
        raise StacError(f"boundaries {path} have no CRS; set one (e.g. EPSG:4326) and retry")
    if region:
        frame = frame[_region_mask(frame, region, path)]
        if frame.empty:
            raise StacError(f"no boundary in {path} has a code starting with {region!r}")
    west, south, east, north = (float(v) for v in frame.to_crs(4326).total_bounds)
    return west, south, east, north


def _region_mask(frame: pd.DataFrame, region: str, path: Path) -> pd.Series:
    prefix = region.replace(".", "").strip()
    for column in _CODE_COLUMNS:
        if column in frame.columns:
            codes = frame[column].astype(str).str.replace(".", "", regex=False)
            return codes.str.startswith(prefix)
    raise StacError(
        f"boundaries {path} have no code column ({', '.join(_CODE_COLUMNS)}); drop --region"
    )


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    out = table.copy()
    out["datetime"] = out["datetime"].map(lambda t: t.isoformat())
    records: list[dict[str, Any]] = json.loads(out.to_json(orient="records"))
    return records
