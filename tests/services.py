"""Real services for the STAC API tests: PostgreSQL + PostGIS, pgSTAC, stac-fastapi-pgstac.

``start_stac_server`` initialises a throwaway PostgreSQL cluster (Debian's binaries, trust
authentication, loopback only, a private socket folder), runs ``pypgstac migrate`` and serves
stac-fastapi-pgstac with uvicorn on a free 127.0.0.1 port. The STAC server runs from its own
virtual environment (``.ci/install-stac-server.sh`` creates it; pinned in
``.ci/stac-server.txt``), so its FastAPI/pydantic stack never mixes with Pantau's.

PostgreSQL refuses to run as root: as root (CI) the cluster belongs to the ``postgres`` user
and its commands run through ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VENV = Path.home() / ".cache" / "pantau" / "stac-server-venv"
INSTALL_HINT = "install them with `sudo .ci/install-stac-server.sh` (Debian/Ubuntu)"


class ServiceUnavailable(RuntimeError):
    """A service the STAC API tests need is not installed on this machine."""


@dataclass
class StacServer:
    """A running stac-fastapi-pgstac on loopback, its database and how to stop both."""

    url: str
    dsn: str
    venv: Path
    workdir: Path
    pgstac_version: str
    _procs: list[subprocess.Popen] = field(default_factory=list, repr=False)
    _stop: list[list[str]] = field(default_factory=list, repr=False)

    def bin(self, name: str) -> Path:
        """An executable of the STAC server's virtual environment."""
        return self.venv / "bin" / name

    def log(self) -> str:
        """The tail of the uvicorn and PostgreSQL logs (for failure messages)."""
        parts = []
        for name in ("uvicorn.log", "postgres.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(f"--- {name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop uvicorn and PostgreSQL, remove the cluster."""
        for proc in self._procs:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for cmd in self._stop:
            subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)


def stac_server_venv() -> Path:
    """``$PANTAU_STAC_SERVER_VENV`` or ``~/.cache/pantau/stac-server-venv``."""
    env = os.environ.get("PANTAU_STAC_SERVER_VENV")
    return Path(env) if env else DEFAULT_VENV


def postgres_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has PostGIS next to it."""
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        version = bindir.parent.name
        postgis = Path(f"/usr/share/postgresql/{version}/extension/postgis.control")
        if (bindir / "pg_ctl").exists() and postgis.exists():
            return bindir
    raise ServiceUnavailable(
        f"PostgreSQL with PostGIS not found under /usr/lib/postgresql; {INSTALL_HINT}"
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_stac_server(*, timeout: float = 120.0) -> StacServer:
    """Start PostgreSQL + pgSTAC + stac-fastapi-pgstac; ServiceUnavailable if not installed."""
    venv = stac_server_venv()
    for exe in ("pypgstac", "uvicorn", "stac-api-validator"):
        if not (venv / "bin" / exe).exists():
            raise ServiceUnavailable(f"{venv / 'bin' / exe} is missing; {INSTALL_HINT}")
    bindir = postgres_bindir()
    workdir = Path(tempfile.mkdtemp(prefix="pantau-pgstac-"))
    workdir.chmod(0o755)
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, pg_port, api_port = workdir / "data", free_port(), free_port()
    server = StacServer(
        url=f"http://127.0.0.1:{api_port}",
        dsn=f"postgresql://pantau@127.0.0.1:{pg_port}/pgstac",
        venv=venv,
        workdir=workdir,
        pgstac_version="",
    )
    try:
        _run(
            [
                *as_user,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "pantau",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
        options = (
            f"-p {pg_port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            [
                *as_user,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(workdir / "postgres.log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ]
        )
        server._stop.append(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        )
        _run(
            [
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(pg_port),
                "-U",
                "pantau",
                "pgstac",
            ]
        )
        _run([str(server.bin("pypgstac")), "migrate", "--dsn", server.dsn])
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PG")},
            "PGUSER": "pantau",
            "PGPASSWORD": "unused-trust-auth",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(pg_port),
            "PGDATABASE": "pgstac",
            "ENABLE_TRANSACTIONS_EXTENSIONS": "true",
        }
        log = (workdir / "uvicorn.log").open("wb")
        server._procs.append(
            subprocess.Popen(
                [
                    str(server.bin("uvicorn")),
                    "stac_fastapi.pgstac.app:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(api_port),
                    "--log-level",
                    "warning",
                ],
                cwd=workdir,  # stac-fastapi reads a .env from its working directory
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        _wait_healthy(server, timeout=timeout)
    except BaseException:
        detail = server.log()
        server.stop()
        if detail:
            print(detail)
        raise
    return server


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}"
            f"\n{done.stderr[-2000:]}"
        )
    return done.stdout


def _wait_healthy(server: StacServer, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server._procs and server._procs[0].poll() is not None:
            raise RuntimeError(f"stac-fastapi-pgstac exited:\n{server.log()}")
        try:
            got = requests.get(f"{server.url}/_mgmt/health", timeout=5)
            pgstac = got.json().get("pgstac", {}) if got.ok else {}
            if pgstac.get("status") == "UP":
                server.pgstac_version = str(pgstac.get("pgstac_version", ""))
                return
            last = got.text[:200]
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.3)
    raise RuntimeError(f"stac-fastapi-pgstac not healthy after {timeout:.0f} s ({last})")
