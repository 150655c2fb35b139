"""Tile server benchmark: every layer kind at zooms 5, 8, 11 and 14, cold and warm.

    python bench/bench_tiles.py [--diy DIR] [--jabar DIR] [--per-zoom 6] [--warm-rounds 3]
                                [--max-seconds 480] [--json FILE]
    python bench/bench_tiles.py --overload [--jabar DIR] [--requests 3000] [--connections 128]

Two products directories, each served by ``uvicorn --workers 2 tiles.app:create_app`` on
127.0.0.1 (what ``pantau serve`` runs), requested by an httpx client with 8 connections:

* ``diy``: the DI Yogyakarta demo (438 real villages, simulated Sentinel-2 scenes) run with
  small work units (``--tile-size 1024``), so raster layers are mosaics of many unit COGs.
  Built once into ``bench/out/diy`` with ``pantau demo`` (minutes), or given with ``--diy``.
  Targets: the NDVI raster, the built-up choropleth (PNG and MVT), a bivariate layer.
* ``jabar``: the 5,957 real village polygons of Jawa Barat (``../shared/data``) with
  statistics drawn at random (seeded; no run covers them) and their ``regions.parquet``.
  Targets: the built-up choropleth (PNG and MVT) and a bivariate layer.

Village layers switch level with the zoom (province, kab/kota, kecamatan, village). For each
directory the server is started fresh; each target then gets a cold pass (first request of
each tile: nothing cached) and warm passes (the same tiles again, served from the tile
cache), zoom by zoom. It prints p50/p99 latency and tiles/s per target and zoom, and the
ratio of the raster's p50 at zoom 5 to its p50 at zoom 14. The run is bounded by request
count and ``--max-seconds``. This is a benchmark, not a test: nothing here asserts on time.

``--overload`` shows load shedding instead: the Jawa Barat products, served as above, get
``--requests`` distinct choropleth tiles (zooms 11-14, each with its own ``breaks``, so none
is a cache hit) from ``--connections`` connections at once, while a process of its own asks
``/healthz`` every 20 ms (as a health checker would; the flooding client asks too, to show
its own event loop's delay). It prints the answers (200/204/503), their latencies, the
/healthz p50/p99/max during the flood, and the resident memory of the server processes
before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _tiles_load import REPO, WORKERS, Pass, Server, print_table, run_pass, urls
from _tiles_overload import overload

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"  # git-ignored: the products and the servers' logs
ZOOMS = (5, 8, 11, 14)
CONCURRENCY = 8
SEED = 20250801


# ---------- products ----------


def build_diy(out: Path) -> Path:
    """The DIY demo with small work units (``pantau demo``), built once and reused."""
    if (out / "villages.parquet").exists() and (out / "composites").is_dir():
        print(f"reusing the DIY demo in {out}", flush=True)
        return out
    print(f"building the DIY demo in {out} (pantau demo, several minutes) ...", flush=True)
    boundaries = REPO.parent / "shared" / "data" / "boundaries" / "desa_kel_34_diy.parquet"
    code = "import sys; from workflows.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["demo", "--out", str(out), "--boundaries", str(boundaries), "--tile-size", "1024"]
    subprocess.run([sys.executable, "-c", code, *args, "--no-progress"], cwd=REPO, check=True)
    return out


def build_jabar(out: Path, shared: Path) -> Path:
    """Jawa Barat's real villages with seeded random statistics and their regions.parquet."""
    if (out / "villages.parquet").exists() and (out / "regions.parquet").exists():
        print(f"reusing the Jawa Barat products in {out}", flush=True)
        return out
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from geo.atomic import write_parquet
    from workflows.regions import write_regions

    print(f"building the Jawa Barat products in {out} ...", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    frame = gpd.read_parquet(shared / "boundaries" / "desa_kel_32_jawa_barat.parquet")
    frame = frame[["kode_10", "nama", "geometry"]].rename(columns={"kode_10": "kode"})
    rng = np.random.default_rng(SEED)
    columns = ("built_up_fraction", "ndvi_mean", "valid_fraction")
    frames, previous = [], None
    for i, period in enumerate(("2023", "2024")):
        stats = pd.DataFrame(
            {
                "built_up_fraction": rng.beta(2, 5, len(frame)) + 0.02 * i,
                "ndvi_mean": rng.uniform(0.1, 0.8, len(frame)),
                "valid_fraction": rng.uniform(0.5, 1.0, len(frame)),
            }
        )
        for c in columns:
            stats[f"{c}_change"] = np.nan if previous is None else stats[c] - previous[c]
        previous = stats[list(columns)]
        frames.append(
            pd.concat([frame.reset_index(drop=True), stats], axis=1).assign(period=period)
        )
    villages = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    start = time.perf_counter()
    write_regions(out, villages)
    print(f"  regions.parquet in {time.perf_counter() - start:.1f} s", flush=True)
    write_parquet(out / "villages.parquet", villages, index=False)
    return out


# ---------- what to request ----------


def tiles_inside(bounds: tuple[float, ...], z: int, *, per_zoom: int) -> list[tuple[int, int, int]]:
    """Up to ``per_zoom`` tiles at zoom ``z`` whose centre lies inside ``bounds`` (lon/lat),
    spread evenly; the tile holding the centre of the area when none does."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    west, south, east, north = bounds[:4]
    inside = []
    for t in tms.tiles(west, south, east, north, [z]):
        b = tms.bounds(t)
        if west <= (b.left + b.right) / 2 <= east and south <= (b.bottom + b.top) / 2 <= north:
            inside.append((t.z, t.x, t.y))
    if not inside:
        t = tms.tile((west + east) / 2, (south + north) / 2, z)
        inside = [(t.z, t.x, t.y)]
    step = max(len(inside) / per_zoom, 1.0)
    return [inside[int(i * step)] for i in range(min(per_zoom, len(inside)))]


def targets(base: str, layers: list[dict[str, Any]]) -> list[tuple[str, str, tuple[float, ...]]]:
    """(name, URL template, lon/lat bounds) of each layer kind found."""
    import httpx

    by_id = {layer["id"]: layer for layer in layers}
    wanted = [
        ("raster png", "raster.ndvi", "png"),
        ("choropleth png", "choropleth.built_up_fraction", "png"),
        ("choropleth mvt", "choropleth.built_up_fraction", "pbf"),
    ]
    bivariate = [lid for lid in by_id if lid.startswith("bivariate.")]
    if bivariate:
        wanted.append(("bivariate png", bivariate[0], "png"))
    else:
        wanted.append(("bivariate png", "bivariate.built_up_fraction__ndvi_mean", "png"))
    found = []
    for name, layer_id, fmt in wanted:
        response = httpx.get(f"{base}/layers/{layer_id}", timeout=60)
        if response.status_code != 200:
            continue
        layer = response.json()
        period = layer["periods"][-1]
        url = f"{base}/layers/{layer_id}/{period}/tilejson.json?tile_format={fmt}"
        template = str(httpx.get(url, timeout=60).raise_for_status().json()["tiles"][0])
        found.append((name, template.removeprefix(base), tuple(layer["bounds"])))
    return found


# ---------- run ----------


def bench_products(label: str, products: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Start a fresh server over ``products`` and time every target at every zoom."""
    import httpx

    logs = OUT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    server = Server(f"ours-{label}", ["--factory", "tiles.app:create_app"],
                    env={"PANTAU_TILES_PRODUCTS_DIR": str(products)})  # fmt: skip
    start = time.monotonic()
    server.start(logs)
    ready = time.monotonic() - start
    time.sleep(max(2.0, ready / 2))  # the other worker scans the same files meanwhile
    rows: list[dict[str, Any]] = []
    try:
        layers = httpx.get(f"{server.base}/layers", timeout=120).raise_for_status().json()
        found = targets(server.base, layers)
        print(f"\n[{label}] {products}\n  server ready in {ready:.1f} s "
              f"(scan, simplification of every zoom band, regions)")  # fmt: skip
        for name, template, _ in found:
            print(f"  {name:<16} {template[:110]}")
        deadline = time.monotonic() + args.max_seconds
        for name, template, bounds in found:
            for z in ZOOMS:
                tiles = tiles_inside(bounds, z, per_zoom=args.per_zoom)
                for kind, rounds in (("cold", 1), ("warm", args.warm_rounds)):
                    result = Pass(f"{label} {name}", CONCURRENCY, kind, zoom=z)
                    batch = urls(template, tiles) * rounds
                    asyncio.run(run_pass(server.base, batch, CONCURRENCY, result, deadline))
                    rows.append(result.row())
                    if result.errors:
                        print(f"  {name} z{z} {kind}: statuses {result.statuses}", flush=True)
    finally:
        server.stop()
    return rows


def print_ratio(rows: list[dict[str, Any]]) -> None:
    """Raster p50 at the lowest zoom over p50 at the highest (a low zoom must not be slower)."""
    for label in sorted({r["target"] for r in rows if "raster" in r["target"]}):
        for kind in ("cold", "warm"):
            by_zoom = {r["zoom"]: r for r in rows if r["target"] == label and r["pass"] == kind}
            low, high = by_zoom.get(ZOOMS[0]), by_zoom.get(ZOOMS[-1])
            if low and high and low["n"] and high["n"]:
                print(f"  {label} {kind}: p50 z{ZOOMS[0]} / z{ZOOMS[-1]} = "
                      f"{low['p50_ms'] / high['p50_ms']:.2f}")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--diy", type=Path, metavar="DIR", help=f"DIY products (default {OUT}/diy)")
    p.add_argument("--jabar", type=Path, metavar="DIR", help=f"default {OUT}/jabar")
    shared = Path(os.environ.get("PANTAU_SHARED_DATA", REPO.parent / "shared" / "data"))
    p.add_argument("--shared", type=Path, default=shared, help="shared data folder")
    p.add_argument("--only", choices=("diy", "jabar"), help="run one of the two")
    p.add_argument("--per-zoom", type=int, default=6, help="tiles per zoom level (default 6)")
    p.add_argument("--warm-rounds", type=int, default=3, help="warm passes per target (default 3)")
    p.add_argument("--max-seconds", type=float, default=240.0,
                   help="stop requesting a directory after this long (default 240)")  # fmt: skip
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")
    p.add_argument("--overload", action="store_true", help="load shedding under a flood")
    p.add_argument("--requests", type=int, default=3000, help="--overload: tiles (3000)")
    p.add_argument("--connections", type=int, default=128, help="--overload: at once (128)")
    p.add_argument("--renders", type=int, help="--overload: render slots per server process")
    p.add_argument("--waiting", type=int, help="--overload: waiting renders per process")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.overload:
        jabar = (args.jabar or build_jabar(OUT / "jabar", args.shared)).resolve()
        limits = {"MAX_CONCURRENT_RENDERS": args.renders, "MAX_WAITING_RENDERS": args.waiting}
        env = {f"PANTAU_TILES_{k}": str(v) for k, v in limits.items() if v is not None}
        return overload(jabar, requests=args.requests, connections=args.connections,
                        tiles_inside=tiles_inside, logs=OUT / "logs", env=env)  # fmt: skip
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores shared by the servers ({WORKERS} uvicorn workers) and the "
          f"client; {CONCURRENCY} connections; load average before the run: {load}")  # fmt: skip
    rows: list[dict[str, Any]] = []
    if args.only in (None, "diy"):
        rows += bench_products("diy", (args.diy or build_diy(OUT / "diy")).resolve(), args)
    if args.only in (None, "jabar"):
        jabar = (args.jabar or build_jabar(OUT / "jabar", args.shared)).resolve()
        rows += bench_products("jabar", jabar, args)
    print()
    print_table(rows)
    print("\nraster: low zoom vs high zoom")
    print_ratio(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
