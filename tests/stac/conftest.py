"""STAC test fixtures: replay the real recorded pystac-client cassettes, build local catalogs.

The cassettes (``shared/data/stac/pystac-client_cassettes``, see SOURCES.md section 4) are
read where they are, never copied. vcrpy answers pystac-client's real HTTP requests from
them with ``record_mode="none"``; requests are matched on method and path only, so our
search bodies (another bbox, another filter) get the recorded answers: these tests check
how we call and page the API and parse its answers, not the server's filtering.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pystac
import pytest
import requests
import vcr
import yaml
from pystac_client import Client

ES_URL = "https://earth-search.aws.element84.com/v1"
PC_URL = "https://planetarycomputer.microsoft.com/api/stac/v1"
ES_FILTER = "test_cli/TestCLISearch.test_filter[inprocess].yaml"
ES_LANDING = ES_FILTER  # its first interaction is GET /v1
ES_MULTI = "test_item_search/test_multiple_collections.yaml"
ES_FIELDS = "test_item_search/test_fields.yaml"
PC_LANDING = "test_client/TestSigning.test_sign_with_return_warns.yaml"
PC_DATETIME = "test_item_search/TestItemSearch.test_datetime_results.yaml"
PC_PAGING = "test_item_search/TestItemSearch.test_result_paging.yaml"

Replay = Callable[[str], AbstractContextManager[Any]]


@dataclass(frozen=True)
class Api:
    """An opened pystac-client Client and the requests it sent (method, url, JSON body)."""

    client: Client
    sent: list[tuple[str, str, dict[str, Any] | None]]

    def bodies(self, method: str = "POST") -> list[dict[str, Any]]:
        """JSON bodies of the requests sent with ``method``, in order."""
        return [body or {} for m, _, body in self.sent if m == method]


def _body(request: requests.Request) -> dict[str, Any] | None:
    if request.json is not None:  # as sent on the wire (tuples become lists)
        return dict(json.loads(json.dumps(request.json)))
    if not request.data:
        return None
    return dict(json.loads(request.data))


@pytest.fixture(scope="session")
def cassettes(shared_data: Path) -> Path:
    """The folder of the recorded pystac-client cassettes."""
    return shared_data / "stac" / "pystac-client_cassettes"


@pytest.fixture
def replay(cassettes: Path) -> Replay:
    """``with replay(name):`` answers HTTP requests from one cassette; no network."""
    player = vcr.VCR(record_mode="none", match_on=["method", "path"])

    def use(name: str) -> AbstractContextManager[Any]:
        path = Path(name) if Path(name).is_absolute() else cassettes / name
        return player.use_cassette(str(path))

    return use


def _open(replay: Replay, cassette: str, url: str) -> Api:
    sent: list[tuple[str, str, dict[str, Any] | None]] = []

    def record(request: requests.Request) -> None:
        sent.append((request.method or "", request.url or "", _body(request)))

    with replay(cassette):
        client = Client.open(url, request_modifier=record)
        client.get_root()  # resolve the root link now, while its answer is recorded
    sent.clear()
    return Api(client, sent)


@pytest.fixture
def es_api(replay: Replay) -> Api:
    """Earth Search v1 opened from its recorded landing page."""
    return _open(replay, ES_LANDING, ES_URL)


@pytest.fixture
def pc_api(replay: Replay) -> Api:
    """Planetary Computer opened from its recorded landing page."""
    return _open(replay, PC_LANDING, PC_URL)


@pytest.fixture(scope="session")
def recorded_features(cassettes: Path) -> Callable[[str], list[dict[str, Any]]]:
    """``features(name)``: every item dict in the responses of one cassette (cached)."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def features(name: str) -> list[dict[str, Any]]:
        if name not in cache:
            with (cassettes / name).open() as fh:
                data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            found: list[dict[str, Any]] = []
            for interaction in data["interactions"]:
                body = json.loads(interaction["response"]["body"]["string"] or "{}")
                if isinstance(body, dict):
                    found.extend(body.get("features", []))
            cache[name] = found
        return [json.loads(json.dumps(f)) for f in cache[name]]  # fresh copies to edit

    return features


@pytest.fixture
def recorded_item(
    recorded_features: Callable[[str], list[dict[str, Any]]],
) -> Callable[[str, str], pystac.Item]:
    """``item(cassette, id)``: one real recorded item as a fresh pystac.Item."""

    def item(name: str, item_id: str) -> pystac.Item:
        for feature in recorded_features(name):
            if feature["id"] == item_id:
                return pystac.Item.from_dict(feature, migrate=False)
        raise LookupError(f"{item_id} not in {name}")

    return item


# --- local static catalogs ------------------------------------------------------------------

JAKARTA = (106.70, -6.40, 106.95, -6.08)
YOGYAKARTA = (110.00, -8.21, 110.84, -7.54)
_BANDS = ("blue", "green", "red", "nir", "swir16", "scl")

# id, bbox, acquisition time (UTC), cloud cover: small enough to read at a glance.
LOCAL_ITEMS = (
    ("S2_JKT_20230105", JAKARTA, "2023-01-05T03:10:00", 5.0),
    ("S2_JKT_20230110", JAKARTA, "2023-01-10T23:59:59.500000", 45.0),
    ("S2_JKT_20230120", JAKARTA, "2023-01-20T03:10:00", 12.5),
    ("S2_YOG_20230105", YOGYAKARTA, "2023-01-05T02:55:00", 2.0),
    ("S2_YOG_20230301", YOGYAKARTA, "2023-03-01T02:55:00", 0.0),
)


def s2_item(
    item_id: str, bbox: tuple[float, float, float, float], when: str, cloud: float
) -> pystac.Item:
    """A small Sentinel-2 C1 L2A item with Earth Search v1 asset keys and relative hrefs."""
    west, south, east, north = bbox
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    item = pystac.Item(
        id=item_id,
        geometry={"type": "Polygon", "coordinates": [ring]},
        bbox=list(bbox),
        datetime=datetime.fromisoformat(when).replace(tzinfo=UTC),
        properties={
            "eo:cloud_cover": cloud,
            "s2:processing_baseline": "05.09",
            "proj:epsg": 32749,
        },
    )
    for band in _BANDS:
        raster: dict[str, Any] = {"nodata": 0, "data_type": "uint8" if band == "scl" else "uint16"}
        if band != "scl":
            raster |= {"scale": 0.0001, "offset": -0.1}
        item.add_asset(
            band,
            pystac.Asset(
                href=f"./{band}.tif", roles=["data"], extra_fields={"raster:bands": [raster]}
            ),
        )
    return item


def write_catalog(
    folder: Path, items: Any = LOCAL_ITEMS, collection: str = "sentinel-2-c1-l2a"
) -> Path:
    """Save a static catalog (catalog.json -> collection -> items) in ``folder``."""
    built = [s2_item(*spec) for spec in items]
    child = pystac.Collection(
        id=collection,
        description="test scenes",
        extent=pystac.Extent(
            pystac.SpatialExtent([[95.0, -11.0, 141.0, 6.0]]),
            pystac.TemporalExtent([[None, None]]),
        ),
    )
    child.add_items(built)
    catalog = pystac.Catalog(id="pantau-test", description="local test catalog")
    catalog.add_child(child)
    catalog.normalize_hrefs(str(folder))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return folder


@pytest.fixture
def local_catalog(tmp_path: Path) -> Path:
    """A static catalog of the five LOCAL_ITEMS in a temp folder."""
    return write_catalog(tmp_path / "catalog")


@pytest.fixture
def item_json(local_catalog: Path) -> Callable[[str], Path]:
    """``item_json(id)``: the JSON file of one item of ``local_catalog``."""

    def find(item_id: str) -> Path:
        return next(local_catalog.rglob(f"{item_id}.json"))

    return find


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if a test opens a socket: vcr answers from cassettes without one."""
    import socket

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a STAC test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


# --- a real STAC API: PostgreSQL + pgSTAC + stac-fastapi-pgstac on loopback ------------------


@pytest.fixture(scope="session")
def stac_server() -> Any:
    """stac-fastapi-pgstac over a throwaway pgSTAC database, started once per test run.

    Fails in CI (``CI`` set) when the services are not installed; skips elsewhere with the
    command that installs them (tests/services.py).
    """
    import os

    from tests.services import ServiceUnavailable, start_stac_server

    try:
        server = start_stac_server()
    except ServiceUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    yield server
    server.stop()
