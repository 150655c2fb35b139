"""STAC API faults: a loopback API that misbehaves on command (tests/stac/fault_api.py).

It serves the 33 real Planetary Computer ``sentinel-2-l2a`` items recorded in a
pystac-client cassette, 5 per page (7 pages). Whatever it does, a search returns exactly
those 33 items once each, or stops with one StacSourceError naming the API and what failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stac.errors import StacSourceError
from stac.search import search_scenes
from stac.settings import StacSettings
from stac.source import resolve_source
from tests.stac.conftest import PC_DATETIME
from tests.stac.fault_api import FaultApi, serve

PAGE = 5
# Small waits keep the tests fast; the bounds are the same code paths as the defaults.
FAST = StacSettings(
    page_size=PAGE, max_retries=3, backoff_base=0.05, timeout=0.5, retry_after_max=0.1
)


@pytest.fixture
def no_network() -> None:
    """Overrides tests/stac/conftest.py's socket guard: these tests talk to their own loopback
    server (pytest-socket still refuses every host but 127.0.0.0/8)."""


@pytest.fixture(scope="module")
def recorded(cassettes: Path) -> list[dict[str, Any]]:
    """The cassette's items once each (it recorded some pages twice), in recorded order."""
    import json

    import yaml

    with (cassettes / PC_DATETIME).open() as fh:
        data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    items: dict[str, dict[str, Any]] = {}
    for interaction in data["interactions"]:
        body = json.loads(interaction["response"]["body"]["string"] or "{}")
        for feature in body.get("features", []) if isinstance(body, dict) else []:
            items.setdefault(feature["id"], feature)
    assert len(items) == 33
    return list(items.values())


@pytest.fixture(scope="module")
def server(recorded: list[dict[str, Any]]) -> Iterator[FaultApi]:
    with serve(FaultApi(items=recorded, slow_seconds=1.5)) as running:
        yield running


@pytest.fixture
def api(server: FaultApi) -> FaultApi:
    """The module's server, healthy and with an empty log."""
    server.reset()
    return server


def search(api: FaultApi, settings: StacSettings = FAST, **kwargs: Any) -> list[str]:
    items = search_scenes(
        resolve_source(api.url), bbox=(173.0, 57.0, 180.0, 60.0), start="2019-01-01",
        end="2019-01-01", max_cloud=100, settings=settings, **kwargs,
    )  # fmt: skip
    return [i.id for i in items]


def expected(recorded: list[dict[str, Any]]) -> set[str]:
    return {f["id"] for f in recorded}


def test_a_healthy_api_gives_every_item_once(api: FaultApi, recorded: list) -> None:
    ids = search(api)
    assert len(ids) == 33 and set(ids) == expected(recorded)
    assert [h.target for h in api.hits("page")] == [f"page:{n}" for n in range(7)]


FAULTS = ["429", "500", "502", "503", "slow", "truncated", "cut"]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("where", ["landing", "page:0", "page:3"])
def test_one_fault_is_retried_and_nothing_is_lost_or_doubled(
    api: FaultApi, recorded: list, fault: str, where: str
) -> None:
    api.inject(where, fault, fault)  # twice in a row: the backoff grows, the bound holds
    ids = search(api)
    assert len(ids) == 33 and set(ids) == expected(recorded)
    hits = api.hits(where)
    assert len(hits) >= 3 and hits[-1].status == 200
    if fault in {"429", "500", "502", "503"}:
        assert [h.status for h in hits[:2]] == [int(fault)] * 2


def test_repeated_items_are_kept_once(api: FaultApi, recorded: list) -> None:
    api.overlap = 2  # every page after the first repeats 2 items of the page before
    ids = search(api)
    assert len(ids) == 33 and set(ids) == expected(recorded)
    assert len(api.hits("page")) == 7


def test_max_items_counts_distinct_items(api: FaultApi) -> None:
    api.overlap = 2
    assert len(set(search(api, max_items=12))) == 12


@pytest.mark.parametrize("loop_to", [0, 3, 6], ids=["to-first", "to-middle", "to-itself"])
def test_a_looping_next_link_stops_with_one_error(api: FaultApi, loop_to: int) -> None:
    api.loop_to = loop_to
    with pytest.raises(StacSourceError) as error:
        search(api)
    message = str(error.value)
    assert api.url in message and "pages loop" in message
    assert len(api.hits("page")) <= 8  # noticed on the first repeated link


PERSISTENT: list[tuple[str, Callable[[FaultApi], None], str]] = [
    ("503", lambda a: a.always.update({"page:2": "503"}), "HTTP 503 after 3 retries"),
    ("429", lambda a: a.always.update({"page:2": "429"}), "HTTP 429 after 3 retries"),
    ("slow", lambda a: a.always.update({"page:2": "slow"}), "no answer within the 0.5 s"),
    ("truncated", lambda a: a.always.update({"page:2": "truncated"}), "JSON that is not whole"),
    ("cut", lambda a: a.always.update({"page:2": "cut"}), "closed before the whole answer"),
    ("landing-502", lambda a: a.always.update({"landing": "502"}), "HTTP 502 after 3 retries"),
]


@pytest.mark.parametrize(
    ("setup", "says"), [p[1:] for p in PERSISTENT], ids=[p[0] for p in PERSISTENT]
)
def test_a_fault_that_persists_is_one_clear_error_after_bounded_retries(
    api: FaultApi, setup: Callable[[FaultApi], None], says: str
) -> None:
    setup(api)
    with pytest.raises(StacSourceError) as error:
        search(api)
    message = str(error.value)
    assert message.startswith(f"STAC API {api.url} failed: ") and says in message
    target = "landing" if "landing" in api.always else "page:2"
    assert len(api.hits(target)) == FAST.max_retries + 1


def test_backoff_grows_between_retries(api: FaultApi) -> None:
    api.always["page:1"] = "503"
    settings = FAST.model_copy(update={"backoff_base": 0.1})
    with pytest.raises(StacSourceError):
        search(api, settings)
    times = [h.time for h in api.hits("page:1")]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # urllib3: the first retry is immediate, then base x 2^n: 0, 0.2, 0.4 s
    assert len(gaps) == 3
    assert gaps[1] >= 0.19 and gaps[2] >= 0.39 and gaps[2] > gaps[1]


@pytest.mark.parametrize(("cap", "low", "high"), [(5.0, 1.0, 3.0), (0.2, 0.19, 0.9)])
def test_retry_after_is_honoured_up_to_the_cap(
    api: FaultApi, recorded: list, cap: float, low: float, high: float
) -> None:
    api.retry_after = "1"
    api.inject("page:1", "429")
    ids = search(api, FAST.model_copy(update={"retry_after_max": cap}))
    assert set(ids) == expected(recorded)
    first, second = api.hits("page:1")
    assert first.status == 429 and low <= second.time - first.time <= high


def test_pantau_run_against_a_failing_api_writes_nothing(
    api: FaultApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from simulate import simulate_villages
    from workflows.cli import main

    boundaries = tmp_path / "villages.parquet"
    simulate_villages(n=3, seed=1, size_km=1.0).to_parquet(boundaries)
    monkeypatch.setenv("PANTAU_STAC_BACKOFF_BASE", "0.01")
    api.always["page:0"] = "503"
    out = tmp_path / "out"
    argv = ["run", "--stac", api.url, "--boundaries", str(boundaries), "--start", "2021-01-01",
            "--end", "2021-12-31", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"STAC API {api.url} failed: it answered HTTP 503 after 4 retries" in err
    assert not out.exists()
    assert len(api.hits("page:0")) == 5  # the default bound: 4 retries
