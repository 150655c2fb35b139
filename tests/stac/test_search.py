"""search_scenes against replayed Earth Search / Planetary Computer answers, and `pantau search`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stac.errors import StacError, StacSourceError
from stac.search import datetime_range, search_scenes
from stac.settings import StacSettings
from stac.source import resolve_source
from tests.stac.conftest import (
    ES_FILTER,
    ES_MULTI,
    JAKARTA,
    PC_DATETIME,
    PC_PAGING,
    YOGYAKARTA,
    Api,
    Replay,
)
from workflows.cli import main

BANDUNG = (107.5, -7.0, 107.7, -6.8)


def ids(items: list) -> list[str]:
    return [item.id for item in items]


# --- Earth Search v1 ------------------------------------------------------------------------


def test_earth_search_results_are_sorted_by_datetime(es_api: Api, replay: Replay) -> None:
    with replay(ES_MULTI):
        items = search_scenes(
            resolve_source("earth-search"),
            bbox=BANDUNG,
            start="2023-10-08",
            end="2023-10-08",
            client=es_api.client,
        )
    assert ids(items) == ["LC08_L2SP_033032_20231008_02_T1", "S2A_13TDE_20231008_0_L2A"]


def test_earth_search_pages_with_the_next_token(es_api: Api, replay: Replay) -> None:
    with replay(ES_MULTI):
        search_scenes(
            resolve_source("earth-search"), bbox=BANDUNG, start="2023-10-08", end="2023-10-08",
            client=es_api.client,
        )  # fmt: skip
    first, second = es_api.bodies()
    assert "next" not in first
    assert (
        second["next"]
        == "2023-10-08T17:37:26.656958Z,LC08_L2SP_033032_20231008_02_T1,landsat-c2-l2"
    )


def test_earth_search_request_body(es_api: Api, replay: Replay) -> None:
    with replay(ES_MULTI):
        search_scenes(
            resolve_source("earth-search"), bbox=BANDUNG, start="2023-10-01", end="2023-10-08",
            max_cloud=20, client=es_api.client,
        )  # fmt: skip
    body = es_api.bodies()[0]
    assert body["collections"] == ["sentinel-2-c1-l2a"]
    assert body["bbox"] == list(BANDUNG)
    assert body["datetime"] == "2023-10-01T00:00:00Z/2023-10-08T23:59:59.999999Z"
    # Earth Search's landing page declares the query extension, not CQL2 filter.
    assert body["query"] == {"eo:cloud_cover": {"lte": 20}}
    assert body["limit"] == 100


def test_earth_search_stops_at_max_items(es_api: Api, replay: Replay) -> None:
    with replay(ES_FILTER):
        items = search_scenes(
            resolve_source("earth-search"), bbox=BANDUNG, start="2025-07-31", end="2025-07-31",
            max_items=20, client=es_api.client, settings=StacSettings(page_size=10),
        )  # fmt: skip
    assert len(items) == 20
    assert len(es_api.bodies()) == 2
    assert es_api.bodies()[1]["next"].endswith("S2B_T24MVV_20250731T130245_L2A,sentinel-2-c1-l2a")
    times = [item.datetime for item in items]
    assert times == sorted(times)


# --- Planetary Computer ---------------------------------------------------------------------


def test_planetary_computer_results(pc_api: Api, replay: Replay) -> None:
    with replay(PC_DATETIME):
        items = search_scenes(
            resolve_source("planetary-computer"), bbox=(173.0, 57.0, 180.0, 60.0),
            start="2019-01-01", end="2019-01-01", client=pc_api.client,
        )  # fmt: skip
    assert len(items) == 33
    assert all({"B04", "B08", "B11", "SCL"} <= set(item.assets) for item in items)
    assert not any("?" in item.assets["B04"].href for item in items)  # not signed


def test_planetary_computer_request_uses_cql2(pc_api: Api, replay: Replay) -> None:
    with replay(PC_DATETIME):
        search_scenes(
            resolve_source("planetary-computer"), bbox=(173.0, 57.0, 180.0, 60.0),
            start="2019-01-01", end="2019-01-01", max_cloud=40, client=pc_api.client,
        )  # fmt: skip
    body = pc_api.bodies()[0]
    assert body["collections"] == ["sentinel-2-l2a"]
    assert body["filter"] == {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 40]}
    assert body["filter-lang"] == "cql2-json"


def test_planetary_computer_pages_with_the_token(pc_api: Api, replay: Replay) -> None:
    with replay(PC_PAGING):
        items = search_scenes(
            resolve_source("planetary-computer", collection="naip"),
            bbox=(-73.21, 43.99, -73.12, 44.05), start="2010-01-01", end="2022-12-31",
            max_items=20, client=pc_api.client, settings=StacSettings(page_size=10),
        )  # fmt: skip
    assert len(items) == 20
    assert pc_api.bodies()[1]["token"] == "next:naip:vt_m_4307307_nw_18_060_20211029"


# --- failures -------------------------------------------------------------------------------


# A synthetic answer of the landing page: the service is down.
_DOWN = {
    "request": {"method": "GET", "uri": "https://earth-search.aws.element84.com/v1",
                "body": None, "headers": {}},
    "response": {"status": {"code": 503, "message": "Service Unavailable"},
                 "headers": {"Content-Type": ["text/plain"]}, "body": {"string": "down"}},
}  # fmt: skip


# No interaction recorded behaves like a connection that cannot be made.
@pytest.mark.parametrize("interactions", [[], [_DOWN]], ids=["no-connection", "http-503"])
def test_unreachable_api_names_the_url_and_the_offline_option(
    replay: Replay, tmp_path: Path, interactions: list[dict]
) -> None:
    cassette = tmp_path / "down.yaml"
    cassette.write_text(yaml.safe_dump({"version": 1, "interactions": interactions}))
    with replay(str(cassette)), pytest.raises(StacSourceError) as error:
        search_scenes(
            resolve_source("earth-search"), bbox=JAKARTA, start="2023-01-01", end="2023-01-31"
        )
    assert "earth-search.aws.element84.com/v1" in str(error.value)
    assert "--stac PATH" in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bbox": JAKARTA, "intersects": {"type": "Point", "coordinates": [0, 0]}}, "exactly one"),
        ({}, "exactly one"),
        ({"bbox": (106.9, -6.4, 106.7, -6.1)}, "west < east"),
        ({"bbox": (-6.4, 106.7, -6.1, 106.9)}, "EPSG:4326 degrees"),
        ({"bbox": JAKARTA, "start": "2023-02-01"}, "is after end"),
        ({"bbox": JAKARTA, "start": "1 Jan 2023"}, "YYYY-MM-DD"),
        ({"bbox": JAKARTA, "max_cloud": 130}, r"\[0, 100\]"),
        ({"bbox": JAKARTA, "max_items": 0}, "must be positive"),
    ],
)
def test_bad_arguments_say_what_to_fix(local_catalog: Path, kwargs: dict, message: str) -> None:
    args = {"start": "2023-01-01", "end": "2023-01-31"} | kwargs
    with pytest.raises(StacError, match=message):
        search_scenes(resolve_source(str(local_catalog)), **args)


def test_datetime_range_covers_the_whole_end_day() -> None:
    assert datetime_range("2023-01-01", "2023-01-01") == (
        "2023-01-01T00:00:00Z/2023-01-01T23:59:59.999999Z"
    )


# --- pantau search --------------------------------------------------------------------------


def _cli(catalog: Path, *extra: str) -> list[str]:
    return [
        "search",
        "--stac",
        str(catalog),
        "--start",
        "2023-01-01",
        "--end",
        "2023-01-31",
        *extra,
    ]


def test_cli_prints_a_table(local_catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bbox = [str(v) for v in JAKARTA]
    assert main(_cli(local_catalog, "--bbox", *bbox)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["id", "datetime", "cloud_cover"]
    assert [line.split()[0] for line in out[1:]] == ["S2_JKT_20230105", "S2_JKT_20230120"]
    assert "raster:bands of the reflectance assets" in out[1]


def test_cli_prints_json(local_catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bbox = [str(v) for v in JAKARTA]
    assert main(_cli(local_catalog, "--bbox", *bbox, "--max-cloud", "50", "--json")) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in records] == ["S2_JKT_20230105", "S2_JKT_20230110", "S2_JKT_20230120"]
    assert records[0]["offset"] == pytest.approx(-0.1)
    assert records[1]["datetime"] == "2023-01-10T23:59:59.500000+00:00"


def test_cli_prints_csv(local_catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bbox = [str(v) for v in YOGYAKARTA]
    assert main(_cli(local_catalog, "--bbox", *bbox, "--csv")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("id,collection,datetime,cloud_cover")
    assert lines[1].startswith("S2_YOG_20230105,sentinel-2-c1-l2a,")


@pytest.mark.parametrize("region", [[], ["--region", "34.71"]])
def test_cli_takes_the_area_from_boundaries(
    local_catalog: Path, shared_data: Path, capsys: pytest.CaptureFixture[str], region: list[str]
) -> None:
    boundaries = shared_data / "boundaries" / "desa_kel_34_diy.parquet"
    assert main(_cli(local_catalog, "--boundaries", str(boundaries), *region, "--json")) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ["S2_YOG_20230105"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--bbox", "106.7", "-6.4", "106.9", "-6.1", "--region", "34"],
            "--region needs --boundaries",
        ),
        (["--boundaries", "{diy}", "--region", "99"], "no boundary in"),
    ],
)
def test_cli_errors_exit_2_with_a_message(
    local_catalog: Path,
    shared_data: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    diy = str(shared_data / "boundaries" / "desa_kel_34_diy.parquet")
    assert main(_cli(local_catalog, *[a.format(diy=diy) for a in args])) == 2
    assert message in capsys.readouterr().err


def test_cli_unknown_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_cli(tmp_path / "missing", "--bbox", "106.7", "-6.4", "106.9", "-6.1")) == 2
    assert "pantau search: error: unknown STAC source" in capsys.readouterr().err
