"""Helpers of bench/bench_tiles.py: uvicorn servers we start and stop, timed passes, tables.

Loopback only; every process is started by us in its own session and stopped by its pid.
"""

from __future__ import annotations

import asyncio
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HOST = "127.0.0.1"  # loopback only
WORKERS = 2
REQUEST_TIMEOUT = 60.0


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


def _wait_ready(server: Server, timeout: float = 300.0) -> None:
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


# ---------- load ----------


@dataclass
class Pass:
    """Timings of one pass of one target."""

    target: str
    concurrency: int
    kind: str  # "cold" or "warm"
    zoom: int = -1
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0
    statuses: dict[int | str, int] = field(default_factory=dict)
    truncated: bool = False

    def row(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "target": self.target,
            "zoom": self.zoom,
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


def urls(template: str, tiles: list[tuple[int, int, int]]) -> list[str]:
    return [
        template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
        for z, x, y in tiles
    ]


# ---------- report ----------


def print_table(rows: list[dict[str, Any]]) -> None:
    width = max(len(r["target"]) for r in rows)
    header = (
        f"{'target':<{width}} {'z':>2} {'conc':>4} {'pass':<5} {'n':>5} {'err':>4} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'tiles/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        mark = " (cut by --max-seconds)" if r["truncated"] else ""
        print(
            f"{r['target']:<{width}} {r['zoom']:>2} {r['conc']:>4} {r['pass']:<5} {r['n']:>5} "
            f"{r['errors']:>4} "
            f"{r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['tiles_s']:>8.1f}{mark}"
        )
