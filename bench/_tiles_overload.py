"""``bench/bench_tiles.py --overload``: a flood of distinct tiles against one server, and
/healthz asked every 20 ms meanwhile. Loopback only; the server is ours and stopped by pid.

/healthz is asked twice over: from a process of its own (as a health checker would, the
figure that counts) and from inside the flooding client's event loop, where each answer also
waits for the client to handle its 128 connections (that delay is the client's, not the
server's; the two together show how much it is).
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _tiles_load import WORKERS, Server, _quantile

LAYER = "choropleth.built_up_fraction"
ZOOMS = (11, 12, 13, 14)
HEALTH_EVERY = 0.02


def _children(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's manager and its workers)."""
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == parent:
                    found.append(int(entry.name))
                    frontier.append(int(entry.name))
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of a process tree, MB (VmRSS summed)."""
    total = 0
    for p in _children(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _ms(values: list[float], q: float) -> float:
    return 1000 * _quantile(sorted(values), q) if values else float("nan")


def _probe(base: str) -> None:
    """In a process of its own: GET /healthz every HEALTH_EVERY s until stdin closes; print
    the latencies and statuses as JSON."""
    import httpx

    latency: list[float] = []
    statuses: Counter[int | str] = Counter()
    with httpx.Client(base_url=base, timeout=10) as client:  # one kept-alive connection
        while not select.select([sys.stdin], [], [], 0)[0]:
            start = time.perf_counter()
            try:
                statuses[client.get("/healthz").status_code] += 1
                latency.append(time.perf_counter() - start)
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
            time.sleep(HEALTH_EVERY)
    json.dump({"latency": latency, "statuses": statuses}, sys.stdout)


async def _flood(base: str, paths: list[str], connections: int) -> dict[str, Any]:
    import httpx

    statuses: Counter[int | str] = Counter()
    latency: dict[int, list[float]] = {}
    health: list[float] = []
    health_status: Counter[int | str] = Counter()
    queue = list(reversed(paths))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with (
        httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client,
        httpx.AsyncClient(base_url=base, timeout=10) as prober,
    ):

        async def worker() -> None:
            while queue:
                path = queue.pop()
                start = time.perf_counter()
                try:
                    response = await client.get(path)
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                    continue
                statuses[response.status_code] += 1
                latency.setdefault(response.status_code, []).append(time.perf_counter() - start)

        async def probe(stop: asyncio.Event) -> None:
            while not stop.is_set():
                start = time.perf_counter()
                try:
                    health_status[(await prober.get("/healthz")).status_code] += 1
                    health.append(time.perf_counter() - start)
                except httpx.HTTPError as exc:
                    health_status[type(exc).__name__] += 1
                await asyncio.sleep(HEALTH_EVERY)

        stop = asyncio.Event()
        prober_task = asyncio.create_task(probe(stop))
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        wall = time.perf_counter() - start
        stop.set()
        await prober_task
    return {"statuses": statuses, "latency": latency, "health": health,
            "health_status": health_status, "wall": wall}  # fmt: skip


def overload(
    products: Path,
    *,
    requests: int,
    connections: int,
    tiles_inside: Callable[..., list[tuple[int, int, int]]],
    logs: Path,
    env: dict[str, str] | None = None,
) -> int:
    """Flood a fresh server over ``products`` and print what load shedding did."""
    import httpx

    from tiles.settings import TilesSettings

    logs.mkdir(parents=True, exist_ok=True)
    env = {**(env or {}), "PANTAU_TILES_PRODUCTS_DIR": str(products)}
    server = Server("overload", ["--factory", "tiles.app:create_app"], env=env)
    limits = TilesSettings(**{k.removeprefix("PANTAU_TILES_").lower(): v for k, v in env.items()})
    server.start(logs)
    try:
        time.sleep(5)  # the other worker finishes its scan
        bounds = httpx.get(f"{server.base}/layers/{LAYER}", timeout=120).json()["bounds"]
        tiles = [t for z in ZOOMS for t in tiles_inside(bounds, z, per_zoom=64)]
        paths = [
            f"/layers/{LAYER}/2024/tiles/{z}/{x}/{y}.png?breaks=0.{i:07d},0.9"
            for i, (z, x, y) in enumerate(tiles * (requests // len(tiles) + 1))
        ][:requests]
        assert server.proc is not None
        idle = []
        with httpx.Client(base_url=server.base, timeout=10) as client:  # kept alive, as below
            for _ in range(50):
                start = time.perf_counter()
                client.get("/healthz").raise_for_status()
                idle.append(time.perf_counter() - start)
                time.sleep(HEALTH_EVERY)
        before = rss_mb(server.proc.pid)
        prober = subprocess.Popen(
            [sys.executable, __file__, "--probe", server.base],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        found = asyncio.run(_flood(server.base, paths, connections))
        apart = json.loads(prober.communicate("", timeout=60)[0])  # closing stdin stops it
        after = rss_mb(server.proc.pid)
    finally:
        server.stop()
    statuses, latency, health = found["statuses"], found["latency"], found["health"]
    cores = os.cpu_count()
    print(f"\noverload: {len(paths)} distinct tiles ({LAYER}, z{ZOOMS[0]}-{ZOOMS[-1]}, own "
          f"breaks each) from {connections} connections; {WORKERS} uvicorn workers on "
          f"{cores} cores, each with {limits.max_concurrent_renders} render slots, "
          f"{limits.max_waiting_renders} waiting, {limits.render_wait_seconds:g} s wait; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"  answers in {found['wall']:.1f} s: {dict(sorted(statuses.items(), key=str))}")
    for code, values in sorted(latency.items()):
        print(f"  {code}: p50 {_ms(values, 0.5):.0f} ms, p99 {_ms(values, 0.99):.0f} ms, "
              f"max {1000 * max(values):.0f} ms")  # fmt: skip
    print(f"  /healthz idle before the flood: p50 {_ms(idle, 0.5):.1f} ms, "
          f"p99 {_ms(idle, 0.99):.1f} ms")  # fmt: skip
    for where, values, codes in (
        ("from a process of its own", apart["latency"], apart["statuses"]),
        ("inside the flooding client", health, dict(found["health_status"])),
    ):
        within = sum(h <= 0.1 for h in values) / len(values) if values else float("nan")
        print(f"  /healthz during the flood, {where}: {len(values)} answers {codes}, "
              f"p50 {_ms(values, 0.5):.1f} ms, p99 {_ms(values, 0.99):.1f} ms, "
              f"max {_ms(values, 1.0):.1f} ms, {100 * within:.0f} % within 100 ms")  # fmt: skip
    print(f"  server RSS (manager + workers): {before:.0f} MB before, {after:.0f} MB after")
    return 0 if statuses and not any(isinstance(k, int) and k >= 500 and k != 503
                                     for k in statuses) else 1  # fmt: skip


if __name__ == "__main__" and sys.argv[1:2] == ["--probe"]:
    _probe(sys.argv[2])
