"""Fuzzing the tile API: schemathesis cases from its OpenAPI document, with real ids spliced in.

:class:`Fuzzer` loads the app's ``/openapi.json`` with schemathesis and draws cases with
Hypothesis: positive ones (valid by the schema) and negative ones (violating it), two to one.
Random ids almost never name a layer, so each case is sent three times: as generated; with
its path parameters replaced by real ones (layer ids, periods, tiles over the data, village
and region codes, read from the app itself); and with some query parameters replaced too
(``breaks``, ``level``, ``rescale`` ... values that pass validation). Every answer must pass
schemathesis's checks (no 5xx; status code, media type, headers and JSON schema as the
document declares; schema-violating input refused) and ours (:func:`body_problems`): no
file-system path, traceback or GDAL/rasterio text in a body or header, and every 4xx a JSON
error naming one of the operation's parameters. The app runs in-process (ASGI).

Used by ``tests/tiles/test_fuzz.py`` (1,000 requests) and ``bench/fuzz.py`` (5,000).
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.errors import FailureGroup
from starlette.testclient import TestClient

#: Folders of this installation whose paths must never appear in an answer (found at run
#: time: the folder holding the repository and its shared data, the temporary folder,
#: Python's prefix, the home folder).
_LOCAL_ROOTS = tuple(
    sorted(
        {
            str(Path(__file__).resolve().parents[3]) + "/",
            tempfile.gettempdir() + "/",
            sys.prefix + "/",
            str(Path.home()) + "/",
        }
    )
)
#: Text that must never appear in an answer: internals of the server and its libraries.
LEAKS = (
    *_LOCAL_ROOTS,
    "Traceback",
    'File "',
    "site-packages",
    "/home/",
    "/usr/",
    "/etc/",
    "GDAL",
    "CPLE_",
    "rasterio",
    "RasterioIOError",
    "[Errno",
)
_TEXT_TYPES = ("application/json", "text/", "application/xml")
#: Cases drawn per request sent: the case, then two variants with real values spliced in.
SENDS_PER_CASE = 3


@dataclass
class FuzzReport:
    """What a fuzz run sent and saw."""

    requests: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    #: request line -> what went wrong, per kind
    server_errors: dict[str, str] = field(default_factory=dict)
    bad_bodies: dict[str, str] = field(default_factory=dict)
    nonconforming: dict[str, str] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        """Distinct failing requests of every kind."""
        return len(self.server_errors) + len(self.bad_bodies) + len(self.nonconforming)

    def summary(self, limit: int = 10) -> str:
        """Counts, then up to ``limit`` examples of each kind of problem."""
        lines = [
            f"requests tried: {self.requests} in {self.seconds:.1f} s",
            f"statuses: {dict(sorted(self.statuses.items()))}",
            f"5xx seen: {sum(n for s, n in self.statuses.items() if s >= 500)}",
            f"bad bodies: {len(self.bad_bodies)}",
            f"schema conformance failures: {len(self.nonconforming)}",
        ]
        for title, found in (
            ("server errors", self.server_errors),
            ("bad bodies", self.bad_bodies),
            ("conformance", self.nonconforming),
        ):
            for request, what in list(found.items())[:limit]:
                lines.append(f"  {title}: {request}\n    {what[:600]}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Pools:
    """Real values of the products, read through the API, to splice into generated cases."""

    path: dict[str, list[Any]]
    query: dict[str, list[Any]]
    tiles: list[tuple[int, int, int]]

    @classmethod
    def from_app(cls, client: TestClient) -> Pools:
        """Ids, periods, codes and tiles the app serves."""
        import morecantile

        layers = client.get("/layers").json()
        ids = [layer["id"] for layer in layers]
        columns = sorted({i.removeprefix("choropleth.") for i in ids if i[:11] == "choropleth."})
        periods = sorted({p for layer in layers for p in layer["periods"]})
        w, s, e, n = layers[0]["bounds"]
        tms = morecantile.tms.get("WebMercatorQuad")
        tiles = []
        for z in range(0, 19):
            for lon, lat in ((w, s), ((w + e) / 2, (s + n) / 2), (e, n)):
                t = tms.tile(lon, lat, z)
                tiles.append((z, t.x, t.y))
        villages = client.get("/layers/choropleth.ndvi_mean/2024/table.csv?region=34").text
        kodes = [row.split(",")[0] for row in villages.splitlines()[1:]]
        regions = ["34", "3404", "3471", "340407", "34.04.07", "3471031"]
        version = client.get("/healthz").json()["version"]
        return cls(
            path={
                "layer_id": [*ids, "bivariate.ndvi_mean__built_up_fraction", "raster.nope"],
                "period": [*periods, "2024-Q1", "1999"],
                "format": ["png", "pbf", "png", "tif"],
                "kode": [*kodes[:8], *regions],
            },
            query={
                "tilesize": [64, 256, 512, 1024],
                "colormap_name": ["viridis", "rdbu", "greens_r", "nope"],
                "rescale": [["0,1"], ["-1,1"], ["0,100"], ["0,3000", "0,3000", "0,3000"], ["1,0"]],
                "gamma": [0.5, 1.2, 5.0, 0.1],
                "classification": ["quantile", "equal_interval", "jenks"],
                "n_classes": [2, 5, 9, 10],
                "breaks": ["0.1,0.5", "0.2,0.4,0.6", "-1,0,1", "1,0", "0.5"],
                "column": [*columns[:6], "idm.status_idm_2024", "nope"],
                "level": ["province", "kab", "kecamatan", "village", "desa"],
                "tile_format": ["png", "pbf"],
                "bbox": ["110.3,-7.85,110.45,-7.7", "-180,-90,180,90", "110.4,-7.7,110.3,-7.8"],
                "region": ["34", "3471", "3404072001", "35"],
                "lang": ["id", "en", "fr"],
                "q": ["sle", "34.04", "Condong", "yogya", "kota"],
                "limit": [1, 10, 20, 21],
                "x": [c for c in columns if not c.endswith("_change")][:4],
                "y": ["built_up_fraction", "ndvi_mean", "poverty.p0_persen_2021"],
                "v": [version, "0" * 16],
            },
            tiles=tiles,
        )

    def splice(self, case: Any, rnd: random.Random, *, query: bool) -> Any:
        """A copy of ``case`` with real path values (and some real query values)."""
        derived = case.derive()
        for name in list(derived.path_parameters):
            if name in ("z", "x", "y"):
                continue
            if name in self.path and rnd.random() < 0.85:
                derived.path_parameters[name] = rnd.choice(self.path[name])
        if {"z", "x", "y"} <= set(derived.path_parameters) and rnd.random() < 0.85:
            z, x, y = rnd.choice(self.tiles)
            derived.path_parameters.update(z=z, x=x, y=y)
        if query:
            for parameter in case.operation.query:
                if parameter.name in self.query and rnd.random() < 0.4:
                    derived.query[parameter.name] = rnd.choice(self.query[parameter.name])
                elif rnd.random() < 0.5:
                    derived.query.pop(parameter.name, None)
        return derived


def _request_line(case: Any, response: Any | None = None) -> str:
    url = response.request.url if response is not None else case.formatted_path
    return f"{case.method} {url}"


def body_problems(case: Any, response: Any, products: Path) -> list[str]:
    """What is wrong with an answer beyond the schema: leaks, and 4xx naming no parameter."""
    problems = []
    media = (response.headers.get("content-type") or [""])[0]
    raw = response.content or b""
    headers = json.dumps({k: v for k, v in response.headers.items()})
    text = raw.decode("utf-8", "replace") if media.startswith(_TEXT_TYPES) else ""
    for root in {str(products), str(products.resolve())}:
        if root.encode() in raw or root in headers:
            problems.append(f"holds the products path {root}")
    for leak in LEAKS:
        if leak in text or leak in headers:
            problems.append(f"holds {leak!r}")
    if 400 <= response.status_code < 500:
        # a declared parameter, or an unknown one sent ("query" when its name is unprintable)
        names = {p.name for p in case.operation.iter_parameters()}
        sent = {k for k, _ in parse_qsl(urlsplit(response.request.url).query, True)}
        names |= sent - names | ({"query"} if sent - names else set())
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not media.startswith("application/json") or not isinstance(body, dict):
            problems.append(f"a {response.status_code} that is not a JSON object ({media})")
        elif not isinstance(body.get("detail"), str):
            problems.append("an error without a detail text")
        elif body.get("parameter") not in names:
            problems.append(
                f"a {response.status_code} naming {body.get('parameter')!r}, not one of {names}"
            )
    return problems


class Fuzzer:
    """Schemathesis over an app's OpenAPI document, with real values spliced in."""

    def __init__(self, app: Any, products: Path) -> None:
        config = schemathesis.Config.from_dict(
            # a request valid by the schema may still name no layer or cross a range the
            # schema cannot state (breaks must increase): 400/404 are right answers to it
            {"checks": {"positive_data_acceptance": {"enabled": False}}}
        )
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
        self.products = products
        self.pools = Pools.from_app(TestClient(app))
        positive = self.schema.as_strategy(GenerationMode.POSITIVE)
        negative = self.schema.as_strategy(GenerationMode.NEGATIVE)
        self.cases = st.one_of(positive, positive, negative)

    def send(self, case: Any, report: FuzzReport) -> None:
        """Send one case and check its answer."""
        report.requests += 1
        report.operations[case.operation.label] += 1
        try:
            response = case.call()
        except Exception as exc:  # the app raised instead of answering
            report.statuses[500] += 1
            report.server_errors[_request_line(case)] = f"{type(exc).__name__}: {exc}"
            return
        report.statuses[response.status_code] += 1
        line = _request_line(case, response)
        if response.status_code >= 500:
            report.server_errors[line] = response.content[:300].decode("utf-8", "replace")
        problems = body_problems(case, response, self.products)
        if problems:
            report.bad_bodies[line] = "; ".join(problems)
        try:
            case.validate_response(response)
        except FailureGroup as group:
            titles = sorted({f.title for f in group.exceptions if f.title != "Server error"})
            if titles:
                report.nonconforming[line] = "; ".join(titles) + f" (status {response.status_code})"

    def run(self, requests: int, *, seed_value: int = 0) -> FuzzReport:
        """Send at least ``requests`` requests (deterministic for a seed)."""
        import time

        report = FuzzReport()
        start = time.perf_counter()
        round_ = 0
        while report.requests < requests:
            examples = max(1, -(-(requests - report.requests) // SENDS_PER_CASE))

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @seed(seed_value + round_)
            @given(case=self.cases, rnd=st.randoms(use_true_random=False))
            def fuzz(case: Any, rnd: random.Random) -> None:
                self.send(case, report)
                self.send(self.pools.splice(case, rnd, query=False), report)
                self.send(self.pools.splice(case, rnd, query=True), report)

            fuzz()
            round_ += 1
        report.seconds = time.perf_counter() - start
        return report
