"""Tile server benchmark: our layers against titiler's plain COG endpoint, same file, same run.

    python bench/tiles.py [--products DIR] [--per-zoom 6] [--warm-rounds 3] [--max-seconds 300]

Starts two servers on 127.0.0.1 only, each ``uvicorn --workers 2`` (uvicorn[standard]):

* ours: ``tiles.app:create_app`` over the products directory (what ``pantau serve`` runs);
* the reference: a minimal app with ``titiler.core.factory.TilerFactory`` mounted at ``/cog``,
  reading the COG behind our raster layer through its ``url=`` parameter (acceptable for this
  reference app only; our server maps layer ids to files and never takes paths).

Then an asyncio/httpx client requests a fixed list of tiles at zooms 10-16 inside the data, for
four targets: our raster index layer, our PNG choropleth, our MVT villages layer, and titiler on
the same COG with the same rescale and colormap. For each of 1 and 8 concurrent connections both
servers are restarted, then each target gets a cold pass (first request of every tile) and warm
passes (the same tiles again). It prints p50/p99 latency and tiles/s, and the ratio ours/titiler
for the raster layer. The run is bounded by request count and ``--max-seconds``; it stops by
itself. Without ``--products`` it builds the demo products first (``pantau demo``).

This is a benchmark, not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, this file's folder is sys.path[0] and its name would shadow our `tiles`
# package; the servers run in subprocesses, so the bench itself only needs that out of the way.
HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    sys.path.pop(0)

REPO = HERE.parent
HOST = "127.0.0.1"  # loopback only
WORKERS = 2
ZOOMS = range(10, 17)
CONCURRENCY = (1, 8)
REQUEST_TIMEOUT = 60.0
OUT = HERE / "out"  # git-ignored: the demo products and the servers' logs


def reference_app() -> Any:
    """The peer: titiler's own COG endpoints, nothing of ours (uvicorn factory)."""
    from fastapi import FastAPI
    from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
    from titiler.core.factory import TilerFactory

    app = FastAPI(title="titiler reference (bench only)")
    app.include_router(TilerFactory().router, prefix="/cog")
    add_exception_handlers(app, DEFAULT_STATUS_CODES)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


# ---------- servers ----------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A uvicorn process group we started; stopped by its own pid only."""

    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, logdir: Path) -> None:
        self.port = _free_port()
        self.log = logdir / f"{self.name}.log"
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            *self.args,
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        with open(self.log, "ab") as log:  # appended over the restarts of one run
            self.proc = subprocess.Popen(
                cmd,
                cwd=REPO,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_ready(self)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # uvicorn's manager stops its own workers
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group we created for it, only
            self.proc.wait(timeout=10)


def _wait_ready(server: Server, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.proc is not None
        if server.proc.poll() is not None:
            raise SystemExit(f"{server.name} server exited; see {server.log}")
        try:
            if httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{server.name} server not ready after {timeout:.0f} s; see {server.log}")


# ---------- what to request ----------


@dataclass(frozen=True)
class Target:
    """One tile URL template ({z}/{x}/{y}) on one server."""

    name: str
    server: str  # "ours" or "titiler"
    template: str  # path + query, relative to the server's base URL


def _layers(base: str) -> list[dict[str, Any]]:
    import httpx

    layers = httpx.get(f"{base}/layers", timeout=30).raise_for_status().json()
    return list(layers["layers"] if isinstance(layers, dict) else layers)


def _tile_template(base: str, layer: dict[str, Any], period: str) -> str:
    """The layer's tile URL template from its TileJSON, relative to the server."""
    import httpx

    url = f"{base}/layers/{layer['id']}/{period}/tilejson.json"
    tilejson = httpx.get(url, timeout=30).raise_for_status().json()
    template = str(tilejson["tiles"][0])
    return template.split(base, 1)[1] if template.startswith(base) else template


def _pick(layers: list[dict[str, Any]], kind: str, prefer: str = "") -> dict[str, Any]:
    of_kind = [layer for layer in layers if layer.get("kind") == kind]
    if not of_kind:
        raise SystemExit(f"/layers lists no {kind} layer")
    preferred = [layer for layer in of_kind if prefer and prefer in str(layer["id"])]
    return (preferred or of_kind)[0]


def _raster_cog(products: Path, layer: dict[str, Any], period: str) -> Path:
    """The COG our raster layer reads: composites/<period>/<index>.tif."""
    name = str(layer["id"]).split(".")[-1].split("/")[-1]
    path = products / "composites" / period / f"{name}.tif"
    if not path.exists():
        raise SystemExit(f"no COG for layer {layer['id']} at {path}; pass --cog FILE")
    return path


def _reference_query(layer: dict[str, Any], cog: Path) -> str:
    """titiler query rendering the COG like our raster layer: same rescale and colormap."""
    from urllib.parse import urlencode

    from tiles.raster import RASTER_SPECS  # our defaults, so both servers draw the same

    params = {"url": str(cog)}
    spec = RASTER_SPECS.get(str(layer["id"]).removeprefix("raster."))
    low, high = spec.rescale[0] if spec and spec.rescale else layer.get("range", (0, 1))
    params["rescale"] = f"{low},{high}"
    if spec and spec.colormap_name:
        params["colormap_name"] = spec.colormap_name
    if spec:
        params["resampling"] = spec.resampling
    return urlencode(params)


def tiles_inside(
    bounds: tuple[float, float, float, float], *, per_zoom: int
) -> list[tuple[int, int, int]]:
    """Up to ``per_zoom`` tiles per zoom 10-16 whose centre lies inside ``bounds`` (lon/lat).

    Spread evenly over the candidates so every zoom samples the whole area; at zooms where no
    tile centre falls inside, the tile holding the centre of the area.
    """
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    west, south, east, north = bounds
    chosen: list[tuple[int, int, int]] = []
    for z in ZOOMS:
        inside = []
        for t in tms.tiles(west, south, east, north, [z]):
            b = tms.bounds(t)
            cx, cy = (b.left + b.right) / 2, (b.bottom + b.top) / 2
            if west <= cx <= east and south <= cy <= north:
                inside.append((t.z, t.x, t.y))
        if not inside:
            t = tms.tile((west + east) / 2, (south + north) / 2, z)
            inside = [(t.z, t.x, t.y)]
        step = max(len(inside) / per_zoom, 1.0)
        chosen += [inside[int(i * step)] for i in range(min(per_zoom, len(inside)))]
    return chosen


def _bounds_4326(path: Path) -> tuple[float, float, float, float]:
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(path) as src:
        return tuple(transform_bounds(src.crs, "EPSG:4326", *src.bounds))  # type: ignore[return-value]


# ---------- load ----------


@dataclass
class Pass:
    """Timings of one pass of one target."""

    target: str
    concurrency: int
    kind: str  # "cold" or "warm"
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0
    statuses: dict[int | str, int] = field(default_factory=dict)
    truncated: bool = False

    def row(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "target": self.target,
            "conc": self.concurrency,
            "pass": self.kind,
            "n": len(lat),
            "errors": self.errors,
            "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"),
            "p99_ms": 1000 * _quantile(lat, 0.99) if lat else float("nan"),
            "tiles_s": len(lat) / self.wall if self.wall else float("nan"),
            "truncated": self.truncated,
        }


def _quantile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def run_pass(
    base: str, urls: list[str], concurrency: int, result: Pass, deadline: float
) -> None:
    """Request every URL once with ``concurrency`` connections; record per-request latency."""
    import httpx

    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=REQUEST_TIMEOUT) as client:

        async def worker() -> None:
            while not queue.empty():
                if time.monotonic() > deadline:
                    result.truncated = True
                    return
                url = queue.get_nowait()
                start = time.perf_counter()
                try:
                    response = await client.get(url)
                    await response.aread()
                except httpx.HTTPError as exc:
                    result.errors += 1
                    name = type(exc).__name__
                    result.statuses[name] = result.statuses.get(name, 0) + 1
                    continue
                elapsed = time.perf_counter() - start
                code = response.status_code
                result.statuses[code] = result.statuses.get(code, 0) + 1
                if code in (200, 204):
                    result.latencies.append(elapsed)
                else:
                    result.errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.wall = time.perf_counter() - start


def _urls(template: str, tiles: list[tuple[int, int, int]]) -> list[str]:
    return [
        template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
        for z, x, y in tiles
    ]


# ---------- report ----------


def print_table(rows: list[dict[str, Any]]) -> None:
    width = max(len(r["target"]) for r in rows)
    header = (
        f"{'target':<{width}} {'conc':>4} {'pass':<5} {'n':>5} {'err':>4} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'tiles/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        mark = " (cut by --max-seconds)" if r["truncated"] else ""
        print(
            f"{r['target']:<{width}} {r['conc']:>4} {r['pass']:<5} {r['n']:>5} {r['errors']:>4} "
            f"{r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['tiles_s']:>8.1f}{mark}"
        )


def print_ratios(rows: list[dict[str, Any]], ours: str, peer: str) -> None:
    print(
        f"\nratio ours/titiler for the raster layer ({ours} vs {peer}); "
        "latency < 1 and throughput > 1 favour ours"
    )
    index = {(r["target"], r["conc"], r["pass"]): r for r in rows}
    for conc in CONCURRENCY:
        for kind in ("cold", "warm"):
            a, b = index.get((ours, conc, kind)), index.get((peer, conc, kind))
            if not a or not b or not a["n"] or not b["n"]:
                print(f"  conc {conc} {kind}: n/a (no successful requests on one side)")
                continue
            print(
                f"  conc {conc} {kind}: p50 x{a['p50_ms'] / b['p50_ms']:.2f}, "
                f"p99 x{a['p99_ms'] / b['p99_ms']:.2f}, "
                f"tiles/s x{a['tiles_s'] / b['tiles_s']:.2f}"
            )


# ---------- main ----------


def build_demo(out: Path) -> Path:
    """Demo-size products with ``pantau demo`` (simulated scenes, offline); reused if there."""
    if (out / "villages.parquet").exists() and (out / "composites").is_dir():
        print(f"reusing demo products in {out}", flush=True)
        return out
    print(f"building demo products in {out} (pantau demo, a few minutes) ...", flush=True)
    code = "import sys; from workflows.cli import main; sys.exit(main(sys.argv[1:]))"
    subprocess.run([sys.executable, "-c", code, "demo", "--out", str(out)], cwd=REPO, check=True)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--products",
        type=Path,
        metavar="DIR",
        help=f"products directory (default: the demo, built once in {OUT}/demo)",
    )
    p.add_argument("--cog", type=Path, help="COG titiler reads (default: our raster layer's file)")
    p.add_argument("--per-zoom", type=int, default=6, help="tiles per zoom level (default 6)")
    p.add_argument("--warm-rounds", type=int, default=3, help="warm passes per target (default 3)")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        help="stop requesting after this long (default 300)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="run ours without its in-memory tile cache (titiler has none)",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs = OUT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for name in ("ours", "titiler"):
        (logs / f"{name}.log").unlink(missing_ok=True)
    products = (args.products or build_demo(OUT / "demo")).resolve()
    env = {"PANTAU_TILES_PRODUCTS_DIR": str(products)}
    if args.no_cache:
        env["PANTAU_TILES_CACHE_SIZE"] = "0"
    ours = Server("ours", ["--factory", "tiles.app:create_app"], env=env)
    # The reference loads this file as module `tiles` from --app-dir bench, in its own
    # processes only; they need nothing of our package.
    peer = Server("titiler", ["--factory", "--app-dir", str(HERE), "tiles:reference_app"])
    try:
        rows = _bench(args, products, ours, peer, logs)
    finally:
        ours.stop()
        peer.stop()
    return 0 if rows else 1


def _bench(
    args: argparse.Namespace, products: Path, ours: Server, peer: Server, workdir: Path
) -> list[dict[str, Any]]:
    ours.start(workdir)
    layers = _layers(ours.base)
    raster = _pick(layers, "raster", prefer="ndvi")
    choropleth = _pick(layers, "choropleth", prefer="built_up")
    vector = _pick(layers, "vector")
    period = str(raster["periods"][-1])
    cog = (args.cog or _raster_cog(products, raster, period)).resolve()
    tiles = tiles_inside(_bounds_4326(cog), per_zoom=args.per_zoom)

    def period_of(layer: dict[str, Any]) -> str:
        periods = [str(p) for p in layer["periods"]]
        return period if period in periods else periods[-1]

    targets = [
        Target(f"ours raster {raster['id']}", "ours", _tile_template(ours.base, raster, period)),
        Target(
            f"ours png {choropleth['id']}",
            "ours",
            _tile_template(ours.base, choropleth, period_of(choropleth)),
        ),
        Target(
            f"ours mvt {vector['id']}", "ours", _tile_template(ours.base, vector, period_of(vector))
        ),
        Target(
            "titiler cog",
            "titiler",
            "/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?" + _reference_query(raster, cog),
        ),
    ]
    ours.stop()
    print(
        f"products {products}\nCOG      {cog}\ntiles    {len(tiles)} at zooms "
        f"{ZOOMS.start}-{ZOOMS.stop - 1}; {WORKERS} uvicorn workers per server; "
        f"client: httpx on this machine ({os.cpu_count()} cores shared with the servers)\n"
        f"ours' in-memory tile cache: {'off' if args.no_cache else 'on (as deployed)'}; "
        "titiler has none, so warm passes of ours may be cache hits"
    )
    for t in targets:
        print(f"  {t.name:<24} {t.template[:110]}")
    print(flush=True)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average before the run: {load} (the bench wants an otherwise idle machine)\n")
    deadline = time.monotonic() + args.max_seconds
    passes: list[Pass] = []
    for conc in CONCURRENCY:
        # Fresh processes per concurrency level so the cold pass is cold in the servers
        # (the OS file cache stays warm: that is the same for both).
        for server in (ours, peer):
            server.stop()
            server.start(workdir)
        for target in targets:
            server = ours if target.server == "ours" else peer
            urls = _urls(target.template, tiles)
            for kind, rounds in (("cold", 1), ("warm", args.warm_rounds)):
                result = Pass(target.name, conc, kind)
                asyncio.run(run_pass(server.base, urls * rounds, conc, result, deadline))
                passes.append(result)
                if result.errors:
                    print(
                        f"  {target.name} conc {conc} {kind}: statuses {result.statuses}",
                        flush=True,
                    )
    for server in (ours, peer):
        server.stop()

    rows = [p.row() for p in passes]
    print_table(rows)
    if any(r["errors"] for r in rows):
        print(f"\nsome requests failed; server logs: {ours.log} {peer.log}")
    print_ratios(rows, targets[0].name, targets[3].name)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    sys.exit(main())
