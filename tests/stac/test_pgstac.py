"""A real STAC API: PostgreSQL + pgSTAC + stac-fastapi-pgstac on loopback (``-m pgstac``).

Load local catalogs idempotently, run the pipeline through the API, publish the products with
their lineage, find them again, and check the API with stac-api-validator. The server is one
session fixture (tests/services.py); each test uses its own collection ids.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import requests

from simulate import SimulationResult, simulate_scenes, simulate_villages
from stac.api_items import search_items
from stac.transactions import (
    content_hash,
    item_for_api,
    load_catalog,
    publish_items,
    read_catalog,
)
from tests.stac.conftest import write_catalog
from workflows.cli import main

pytestmark = pytest.mark.pgstac

REPO = Path(__file__).resolve().parents[2]
START, END = "2021-01-01", "2022-12-31"
PRODUCTS = "pantau-village-indicators"


@pytest.fixture(autouse=True)
def no_network() -> None:
    """Loopback is allowed here: pytest-socket (--allow-hosts) still refuses other hosts."""


def _count(url: str, collection: str) -> int:
    got = requests.get(f"{url}/collections/{collection}/items", params={"limit": 1000}, timeout=30)
    got.raise_for_status()
    return len(got.json()["features"])


def _pin(name: str) -> str:
    for line in (REPO / ".ci" / "stac-server.txt").read_text().splitlines():
        if line.startswith(name):
            return line.split("==")[1].strip()
    raise LookupError(name)


# --- the service itself -----------------------------------------------------------------------


def test_server_runs_the_pinned_pgstac_schema(stac_server) -> None:
    assert stac_server.pgstac_version == _pin("pypgstac")
    landing = requests.get(stac_server.url, timeout=30).json()
    assert any(c.endswith("/extensions/transaction") for c in landing["conformsTo"])


# --- loading local catalogs ----------------------------------------------------------------


def test_loading_twice_changes_nothing(stac_server, tmp_path: Path) -> None:
    folder = write_catalog(tmp_path / "cat", collection="test-load-twice")
    (first,) = load_catalog(stac_server.url, folder)
    assert (first.collection_status, len(first.created), first.updated) == ("created", 5, [])
    assert _count(stac_server.url, "test-load-twice") == 5
    (second,) = load_catalog(stac_server.url, folder)
    assert (second.collection_status, second.created, second.updated) == ("unchanged", [], [])
    assert len(second.unchanged) == 5 and not second.changed
    assert _count(stac_server.url, "test-load-twice") == 5


def test_changed_item_is_updated_not_duplicated(stac_server, tmp_path: Path) -> None:
    folder = write_catalog(tmp_path / "cat", collection="test-load-change")
    load_catalog(stac_server.url, folder)
    path = next(folder.rglob("S2_YOG_20230301.json"))
    data = json.loads(path.read_text())
    data["properties"]["eo:cloud_cover"] = 42.5
    path.write_text(json.dumps(data))
    (report,) = load_catalog(stac_server.url, folder)
    assert report.updated == ["S2_YOG_20230301"] and report.created == []
    assert _count(stac_server.url, "test-load-change") == 5
    url = f"{stac_server.url}/collections/test-load-change/items/S2_YOG_20230301"
    assert requests.get(url, timeout=30).json()["properties"]["eo:cloud_cover"] == 42.5


def test_loaded_asset_hrefs_are_absolute_file_uris(stac_server, tmp_path: Path) -> None:
    folder = write_catalog(tmp_path / "cat", collection="test-load-hrefs")
    load_catalog(stac_server.url, folder)
    item_file = next(folder.rglob("S2_YOG_20230301.json"))
    url = f"{stac_server.url}/collections/test-load-hrefs/items/S2_YOG_20230301"
    stored = requests.get(url, timeout=30).json()
    assert (
        stored["assets"]["red"]["href"] == "file://" + str(item_file.parent.resolve()) + "/red.tif"
    )


def test_cli_load_prints_what_it_did(stac_server, tmp_path: Path, capsys) -> None:
    folder = write_catalog(tmp_path / "cat", collection="test-load-cli")
    assert main(["catalog", "load", "--stac", stac_server.url, str(folder)]) == 0
    assert main(["catalog", "load", "--stac", stac_server.url, str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "test-load-cli: collection created; items 5 created, 0 updated, 0 unchanged",
        "test-load-cli: collection unchanged; items 0 created, 0 updated, 5 unchanged",
    ]


def test_derived_from_becomes_a_url_in_the_api(stac_server, tmp_path: Path) -> None:
    folder = write_catalog(tmp_path / "cat", collection="test-lineage-src")
    load_catalog(stac_server.url, folder)
    ((coll, _),) = read_catalog(folder).collections
    product = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "derived-1",
        "geometry": {"type": "Point", "coordinates": [110.4, -7.8]},
        "bbox": [110.4, -7.8, 110.4, -7.8],
        "properties": {"datetime": "2023-03-01T00:00:00Z"},
        "links": [
            {
                "rel": "derived_from",
                "href": "/elsewhere/S2_YOG_20230301.json",
                "pantau:item_id": "S2_YOG_20230301",
                "pantau:collection": "test-lineage-src",
            }
        ],
        "assets": {},
    }
    target = {**coll, "id": "test-lineage-products", "links": []}
    publish_items(stac_server.url, target, [product])
    url = f"{stac_server.url}/collections/test-lineage-products/items/derived-1"
    (link,) = [
        ln for ln in requests.get(url, timeout=30).json()["links"] if ln["rel"] == "derived_from"
    ]
    assert requests.get(link["href"], timeout=30).json()["id"] == "S2_YOG_20230301"


# --- the demo flow through the API ---------------------------------------------------------


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulationResult, Path]:
    """Simulated scenes (2 years x 4 dates) over 12 simulated villages, and the villages."""
    villages = tmp_path_factory.mktemp("villages") / "villages.parquet"
    simulate_villages(n=12, seed=5, size_km=3.0).to_parquet(villages)
    sim = simulate_scenes(
        gpd.read_parquet(villages),
        tmp_path_factory.mktemp("sim"),
        start=START,
        end=END,
        scenes_per_year=4,
        seed=5,
        progress=False,
    )
    return sim, villages


def _run(stac: str, villages: Path, out: Path, *extra: str) -> None:
    args = [
        "run",
        "--stac",
        stac,
        "--boundaries",
        str(villages),
        "--start",
        START,
        "--end",
        END,
        "--out",
        str(out),
        "--max-cloud",
        "60",
        "--no-progress",
        *extra,
    ]
    assert main(args) == 0


@pytest.fixture(scope="module")
def api_run(stac_server, scenes, tmp_path_factory) -> tuple[Path, Path]:
    """Scenes loaded into the API, then ``pantau run`` once embedded and once through it."""
    sim, villages = scenes
    assert main(["catalog", "load", "--stac", stac_server.url, str(sim.catalog_dir)]) == 0
    embedded, through_api = tmp_path_factory.mktemp("embedded"), tmp_path_factory.mktemp("api")
    _run(str(sim.catalog_dir), villages, embedded)
    _run(stac_server.url + "/", villages, through_api, "--collection", "sentinel-2-l2a")
    return embedded, through_api


def test_run_through_the_api_equals_the_embedded_run(api_run) -> None:
    embedded, through_api = (gpd.read_parquet(d / "villages.parquet") for d in api_run)
    key = ["kode", "period"]
    pd.testing.assert_frame_equal(
        embedded.sort_values(key).reset_index(drop=True),
        through_api.sort_values(key).reset_index(drop=True),
    )


def test_published_products_are_found_by_collection_and_period(stac_server, api_run) -> None:
    _, through_api = api_run
    load_catalog(stac_server.url, through_api / "catalog")
    for period in ("2021", "2022"):
        found = search_items(stac_server.url, collection=PRODUCTS, period=period)
        assert found and {i["properties"]["pantau:period"] for i in found} == {period}
        for item in found:
            lineage = [ln for ln in item["links"] if ln["rel"] == "derived_from"]
            assert lineage
            for link in lineage:
                assert link["href"].startswith(stac_server.url + "/collections/sentinel-2-l2a/")
                scene = requests.get(link["href"], timeout=30).json()
                assert scene["id"] == link["pantau:item_id"]
                assert scene["properties"]["datetime"].startswith(period)


def test_run_publish_flag_publishes_each_unit_once(stac_server, scenes, tmp_path) -> None:
    sim, villages = scenes
    url = stac_server.url + "/"
    out = tmp_path / "published"
    _run(url, villages, out, "--collection", "sentinel-2-l2a", "--publish")
    committed = sorted(p.stem for p in (out / "catalog" / "items").rglob("*.json"))
    found = search_items(stac_server.url, collection=PRODUCTS)
    ids = {i["id"] for i in found}
    local = {json.loads(p.read_text())["id"] for p in (out / "catalog" / "items").rglob("*.json")}
    assert committed and local <= ids
    before = {i["id"]: i["properties"]["processing:datetime"] for i in found}
    _run(url, villages, out, "--collection", "sentinel-2-l2a", "--publish")  # all skipped
    after = {
        i["id"]: i["properties"]["processing:datetime"]
        for i in search_items(stac_server.url, collection=PRODUCTS)
    }
    assert after == before


def test_cli_lists_products_of_a_period(stac_server, api_run, capsys) -> None:
    _, through_api = api_run
    load_catalog(stac_server.url, through_api / "catalog")
    capsys.readouterr()
    assert main(["catalog", "items", "--stac", stac_server.url, "--period", "2022"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith(f"{len(lines) - 1} item(s) in {PRODUCTS}")
    assert all("\t2022\t" in line for line in lines[:-1]) and len(lines) > 1


def test_pantau_search_finds_products_by_collection_and_period(
    stac_server, api_run, capsys
) -> None:
    _, through_api = api_run
    load_catalog(stac_server.url, through_api / "catalog")
    capsys.readouterr()
    code = main([
        "search", "--stac", stac_server.url + "/", "--collection", PRODUCTS,
        "--bbox", "-180", "-90", "180", "90", "--period", "2021", "--json",
    ])  # fmt: skip
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    local = [
        json.loads(p.read_text())
        for p in (through_api / "catalog" / "items" / "2021").glob("*.json")
    ]
    assert {r["id"] for r in rows} == {i["id"] for i in local}
    assert all(r["period"] == "2021" and r["sources"] > 0 for r in rows)


# --- stac-api-validator -------------------------------------------------------------------


def test_stac_api_validator_finds_no_errors(stac_server, api_run) -> None:
    # a point inside the loaded scenes, for the validator's intersects searches
    coll = requests.get(f"{stac_server.url}/collections/sentinel-2-l2a", timeout=30).json()
    west, south, east, north = coll["extent"]["spatial"]["bbox"][0]
    point = {"type": "Point", "coordinates": [(west + east) / 2, (south + north) / 2]}
    cmd = [
        str(stac_server.bin("python")),
        str(REPO / "tests" / "validate_stac_api.py"),
        "--root-url", stac_server.url,
        "--conformance", "core",
        "--conformance", "item-search",
        "--conformance", "collections",
        "--collection", "sentinel-2-l2a",
        "--geometry", json.dumps(point),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert "Errors: none" in done.stdout, done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0


# --- what is compared and sent (no server needed) -------------------------------------------


def test_content_hash_ignores_what_pgstac_rewrites() -> None:
    sent = {
        "id": "a",
        "properties": {"created": "2021-11-18T06:10:28.276Z", "cloud": 0.0, "region": None},
        "links": [{"rel": "derived_from", "href": "http://x/1"}],
    }
    stored = {
        "id": "a",
        "properties": {"created": "2021-11-18T06:10:28.276000Z", "cloud": 0},
        "links": [
            {"rel": "self", "href": "http://api/collections/c/items/a"},
            {"rel": "derived_from", "href": "http://x/1"},
        ],
    }
    assert content_hash(sent) == content_hash(stored)
    stored["properties"]["cloud"] = 0.5
    assert content_hash(sent) != content_hash(stored)


def test_local_hrefs_become_undecoded_file_uris(tmp_path: Path) -> None:
    item = {
        "type": "Feature",
        "id": "p",
        "assets": {"ndvi": {"href": "../x+0021/ndvi.tif"}},
        "links": [{"rel": "root", "href": "../catalog.json"}],
    }
    got = item_for_api(item, collection="c", base=tmp_path / "items" / "p.json")
    assert got["assets"]["ndvi"]["href"] == f"file://{tmp_path.resolve()}/x+0021/ndvi.tif"
    assert got["links"] == [] and got["collection"] == "c"
