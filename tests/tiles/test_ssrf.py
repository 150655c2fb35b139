"""SSRF canary: no parameter of any endpoint makes the tile server fetch a URL or open a file
outside the products directory.

A loopback HTTP server (the canary) counts every connection it accepts. Every parameter and
path segment of every operation of the app's OpenAPI document (so new endpoints are covered
without editing this file), plus an undeclared ``url=``, is sent each payload of
:func:`payloads`: a URL of the canary, ``/vsicurl/`` and ``/vsis3/`` paths (S3 pointed at the
canary through ``AWS_S3_ENDPOINT``), ``file:///etc/passwd``, an inline ``<VRTDataset>`` whose
source is the canary, and GDAL connection strings (``PG:``, ``WMS:``). The other parameters
hold real values, so each request reaches as deep into the server as it can. The canary must
see no connection, and spies on rasterio, parquet reads, Python-level opens (an audit hook)
and GDAL's own open log (``CPL_DEBUG``) must show no file outside the products directory.
Positive controls show that the same payloads, opened by GDAL directly, do reach the canary.
"""

from __future__ import annotations

import http.server
import logging
import re
import sys
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow.parquet
import pytest
import rasterio
from fastapi.testclient import TestClient

from tests.tiles.conftest import PATH_BASELINES as BASELINES
from tiles.app import create_app
from tiles.settings import TilesSettings

REPO = Path(__file__).resolve().parents[2]
_GDAL_OPEN = re.compile(r"GDALOpen\((.*?), this=", re.S)
#: Files an inline VRT reads (rasterio's reprojection opens VRTs without any source).
_VRT_SOURCE = re.compile(r"<Source(?:Filename|Dataset)[^>]*>(.*?)</Source", re.S)
_NETWORK_WORDS = ("VSICURL", "HTTP", "S3", "curl", "PG:", "WMS")


class Canary(http.server.ThreadingHTTPServer):
    """Counts every connection; answers HTTP requests with 404."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[str] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(http.server.BaseHTTPRequestHandler):
    def setup(self) -> None:
        super().setup()
        assert isinstance(self.server, Canary)
        self.server.hits.append(f"connection from {self.client_address}")

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        assert isinstance(self.server, Canary)
        self.server.hits.append(f"GET {self.path}")
        self.send_error(404)

    do_HEAD = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    """The counting server, on a free loopback port for the module."""
    server = Canary()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def payloads(port: int) -> dict[str, str]:
    """Attacker-chosen strings, each pointing at the canary or outside the products.

    Each URL is distinct (GDAL caches what it learnt of a URL, 404s included)."""
    base = f"http://127.0.0.1:{port}"
    return {
        "url": f"{base}/url.tif",
        "vsicurl": f"/vsicurl/{base}/vsicurl.tif",
        "vsis3": "/vsis3/bucket/key.tif",
        "file": "file:///etc/passwd",
        "vrt": (
            '<VRTDataset rasterXSize="8" rasterYSize="8"><VRTRasterBand dataType="Byte" '
            f'band="1"><SimpleSource><SourceFilename>/vsicurl/{base}/vrt.tif</SourceFilename>'
            "</SimpleSource></VRTRasterBand></VRTDataset>"
        ),
        "pg": f"PG:host=127.0.0.1 port={port} dbname=x user=x",
        "wms": f"WMS:http://127.0.0.1:{port}/wms?SERVICE=WMS&LAYERS=x",
    }


@pytest.fixture
def network_env(canary: Canary, monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 requests go to the canary; GDAL logs every open (CPL_DEBUG)."""
    for name, value in {
        "AWS_S3_ENDPOINT": f"127.0.0.1:{canary.port}",
        "AWS_HTTPS": "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
        "AWS_NO_SIGN_REQUEST": "YES",
        "GDAL_HTTP_TIMEOUT": "2",
        "CPL_DEBUG": "ON",
    }.items():
        monkeypatch.setenv(name, value)


# --------------------------------------------------------------------------- spies

_AUDIT: list[list[str]] = []  # the open paths of the running test (the hook is process-wide)


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _AUDIT and isinstance(args[0], str | bytes | Path):
        _AUDIT[-1].append(str(args[0] if not isinstance(args[0], bytes) else args[0].decode()))


sys.addaudithook(_audit)  # cannot be removed: it records only while a test holds _AUDIT


class Opened(dict):
    """Paths opened so far, by rasterio, pyarrow and Python; GDAL's from its debug log."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        super().__init__(rasterio=[], parquet=[], python=[])
        self.caplog = caplog

    def _messages(self) -> Iterator[str]:
        for record in self.caplog.records:
            if record.name.startswith("rasterio"):
                yield record.getMessage()

    def gdal(self) -> list[str]:
        """What GDAL opened (``GDALOpen(...)`` debug messages, with CPL_DEBUG on)."""
        return [path for message in self._messages() for path in _GDAL_OPEN.findall(message)]

    def network(self) -> list[str]:
        """GDAL messages about network reads (/vsicurl/, /vsis3/, HTTP, drivers)."""
        return [m for m in self._messages() if any(w in m for w in _NETWORK_WORDS)]


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[Opened]:
    """Paths opened while the test runs, by rasterio, pyarrow, Python and GDAL itself."""
    found = Opened(caplog)

    def spy(real: Any, into: list[str]) -> Any:
        def wrapper(fp: Any, *args: Any, **kwargs: Any) -> Any:
            into.append(str(fp))
            return real(fp, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(rasterio, "open", spy(rasterio.open, found["rasterio"]))
    monkeypatch.setattr(pyarrow.parquet, "read_table", spy(pyarrow.parquet.read_table,
                                                            found["parquet"]))  # fmt: skip
    caplog.set_level(logging.DEBUG, logger="rasterio")
    _AUDIT.append(found["python"])
    try:
        yield found
    finally:
        _AUDIT.pop()


def _library_roots() -> list[Path]:
    """Folders whose files a request may read besides the products: Python and packages."""
    roots = {Path(sys.prefix), Path(sys.base_prefix), REPO / "tiles"}
    roots.update(Path(p) for p in sysconfig.get_paths().values())
    return [r.resolve() for r in roots]


def outside(paths: list[str], root: Path, *, libraries: bool) -> list[str]:
    """The paths that resolve neither inside ``root`` nor (if allowed) a library folder."""
    allowed = [root.resolve(), *(_library_roots() if libraries else [])]
    bad = []
    for path in paths:
        if path.lstrip().startswith("<VRTDataset"):
            bad.extend(outside(_VRT_SOURCE.findall(path), root, libraries=libraries))
            continue
        if path.startswith("/vsimem/") or path in ("/dev/null", "/dev/urandom"):
            continue
        resolved = Path(path).resolve() if path.startswith("/") else None
        if resolved is None or not any(resolved.is_relative_to(a) for a in allowed):
            bad.append(path)
    return bad


# --------------------------------------------------------------------------- requests


def _fill(template: str, values: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m[1]]), template)


def attack_requests(doc: dict[str, Any], payload: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(path, query) of every operation with ``payload`` in one parameter, real values in the
    others: each path parameter (percent-encoded, and as raw text), each query parameter,
    and an undeclared ``url``."""
    for template, item in doc["paths"].items():
        for op in item.values():
            params = op.get("parameters", [])
            for base in BASELINES if "{layer_id}" in template else BASELINES[:1]:
                yield _fill(template, base), {"url": payload}
                for p in params:
                    if p["in"] == "query":
                        yield _fill(template, base), {p["name"]: payload}
                    elif p["in"] == "path":
                        encoded = quote(payload, safe="")
                        yield _fill(template, {**base, p["name"]: encoded}), {}
                        raw = payload.replace("?", "%3F")
                        yield _fill(template, {**base, p["name"]: raw}), {}


@pytest.fixture(scope="module")
def client(products_dir: Path) -> TestClient:
    """An app over the session products: no rescans, no tile cache (every tile is drawn)."""
    settings = TilesSettings(products_dir=products_dir, rescan_interval=3600, cache_size=0)
    return TestClient(create_app(settings))


@pytest.mark.parametrize("kind", ["url", "vsicurl", "vsis3", "file", "vrt", "pg", "wms"])
def test_no_parameter_reaches_the_network_or_other_files(
    kind: str,
    client: TestClient,
    canary: Canary,
    network_env: None,
    opened: Opened,
    products_dir: Path,
) -> None:
    payload = payloads(canary.port)[kind]
    doc = client.get("/openapi.json").json()
    before = len(canary.hits)
    statuses = []
    for path, query in attack_requests(doc, payload):
        response = client.get(path, params=query)
        statuses.append(response.status_code)
        assert response.status_code < 500, (path, query, response.status_code, response.text)
        assert len(canary.hits) == before, (path, query, canary.hits[before:])
    assert len(statuses) > 100  # every operation, every parameter
    # the payload was also taken as harmless text (v=, q=) and tiles were drawn: the spies
    # saw those files open, so they would have seen any other
    assert 200 in statuses
    if kind != "vrt":  # longer than v= takes
        assert opened["rasterio"] and opened.gdal()
    assert not outside(opened["rasterio"], products_dir, libraries=False), opened["rasterio"]
    assert not outside(opened["parquet"], products_dir, libraries=False), opened["parquet"]
    assert not outside(opened.gdal(), products_dir, libraries=False), opened.gdal()
    assert not outside(opened["python"], products_dir, libraries=True), opened["python"]
    assert not opened.network(), opened.network()


def test_every_operation_is_attacked(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    attacked = {path.split("?")[0] for path, _ in attack_requests(doc, "X")}
    operations = {(t, m) for t, item in doc["paths"].items() for m in item}
    assert len(operations) >= 13  # healthz ... table.csv; tiles and legend serve both families
    for template in doc["paths"]:
        pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
        assert any(re.fullmatch(pattern, p) for p in attacked), template


# --------------------------------------------------------------------------- controls


@pytest.mark.parametrize("kind", ["vsicurl", "vsis3", "vrt", "wms"])
def test_the_payloads_do_reach_the_canary_when_gdal_opens_them(
    kind: str, canary: Canary, network_env: None
) -> None:
    """Positive control: opened by GDAL directly (no tile server), each payload is fetched."""
    before = len(canary.hits)
    with rasterio.Env(GDAL_HTTP_MAX_RETRY="0"):
        try:
            with rasterio.open(payloads(canary.port)[kind]) as src:
                src.read(1, window=((0, 8), (0, 8)))  # WMS declares a planet-sized raster
        except rasterio.errors.RasterioError:
            pass  # the canary answers 404: what matters is that it was asked
    assert len(canary.hits) > before, kind
