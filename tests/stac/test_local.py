"""Local static catalogs: the stac-geoparquet index, its cache, and searches answered by it."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from stac import local
from stac.errors import StacSourceError
from stac.local import INDEX_NAME, ensure_index, search_local
from stac.search import datetime_range, search_scenes
from stac.source import resolve_source
from tests.stac.conftest import JAKARTA, YOGYAKARTA, write_catalog

JANUARY = datetime_range("2023-01-01", "2023-01-31")


def ids(items: list) -> list[str]:
    return [item.id for item in items]


@pytest.mark.parametrize(
    ("bbox", "max_cloud", "expected"),
    [
        (JAKARTA, 30.0, ["S2_JKT_20230105", "S2_JKT_20230120"]),
        (JAKARTA, 50.0, ["S2_JKT_20230105", "S2_JKT_20230110", "S2_JKT_20230120"]),
        (YOGYAKARTA, 30.0, ["S2_YOG_20230105"]),
        ((120.0, -5.0, 121.0, -4.0), 100.0, []),
    ],
)
def test_search_by_bbox_date_and_cloud(
    local_catalog: Path, bbox: tuple, max_cloud: float, expected: list[str]
) -> None:
    found = search_local(local_catalog, bbox=bbox, datetime=JANUARY, max_cloud=max_cloud)
    assert ids(found) == expected


def test_end_day_is_included(local_catalog: Path) -> None:
    # S2_JKT_20230110 was acquired at 23:59:59.5 on the last day of the range.
    when = datetime_range("2023-01-06", "2023-01-10")
    assert ids(search_local(local_catalog, bbox=JAKARTA, datetime=when)) == ["S2_JKT_20230110"]


def test_search_by_geometry(local_catalog: Path) -> None:
    ring = [[110.35, -7.83], [110.40, -7.83], [110.40, -7.77], [110.35, -7.77], [110.35, -7.83]]
    kota_yogyakarta = {"type": "Polygon", "coordinates": [ring]}
    found = search_local(local_catalog, intersects=kota_yogyakarta)
    assert ids(found) == ["S2_YOG_20230105", "S2_YOG_20230301"]


@pytest.mark.parametrize(("collection", "count"), [("sentinel-2-c1-l2a", 5), ("other", 0)])
def test_search_by_collection(local_catalog: Path, collection: str, count: int) -> None:
    assert len(search_local(local_catalog, collection=collection)) == count


def test_max_items_caps_the_result(local_catalog: Path) -> None:
    assert ids(search_local(local_catalog, max_items=2)) == ["S2_YOG_20230105", "S2_JKT_20230105"]


def test_asset_hrefs_are_absolute(local_catalog: Path) -> None:
    (item,) = search_local(local_catalog, bbox=YOGYAKARTA, datetime=JANUARY)
    href = Path(item.assets["red"].href)
    assert href.is_absolute()
    assert href == local_catalog.resolve() / "sentinel-2-c1-l2a" / item.id / "red.tif"


def test_items_keep_their_full_metadata(local_catalog: Path) -> None:
    (item,) = search_local(local_catalog, bbox=YOGYAKARTA, datetime=JANUARY)
    assert item.properties["s2:processing_baseline"] == "05.09"
    assert item.assets["red"].extra_fields["raster:bands"][0]["offset"] == -0.1


def test_index_is_built_once_and_reused(local_catalog: Path) -> None:
    index = ensure_index(local_catalog)
    assert index == local_catalog.resolve() / INDEX_NAME
    built = index.stat().st_mtime_ns
    search_local(local_catalog, bbox=JAKARTA)
    assert index.stat().st_mtime_ns == built


def test_changed_item_rebuilds_the_index(
    local_catalog: Path, item_json: Callable[[str], Path]
) -> None:
    before = ids(search_local(local_catalog, bbox=JAKARTA, datetime=JANUARY, max_cloud=30))
    path = item_json("S2_JKT_20230120")
    data = json.loads(path.read_text())
    data["properties"]["eo:cloud_cover"] = 80.0
    path.write_text(json.dumps(data))
    after = ids(search_local(local_catalog, bbox=JAKARTA, datetime=JANUARY, max_cloud=30))
    assert (before, after) == (["S2_JKT_20230105", "S2_JKT_20230120"], ["S2_JKT_20230105"])


def test_added_item_is_found_after_rebuild(tmp_path: Path) -> None:
    folder = write_catalog(tmp_path / "c", items=[("A", JAKARTA, "2023-01-05T03:00:00", 1.0)])
    assert ids(search_local(folder)) == ["A"]
    write_catalog(folder, items=[("A", JAKARTA, "2023-01-05T03:00:00", 1.0),
                                 ("B", JAKARTA, "2023-01-06T03:00:00", 1.0)])  # fmt: skip
    assert ids(search_local(folder)) == ["A", "B"]


def test_read_only_catalog_is_indexed_in_a_temp_dir(
    local_catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "_is_writable", lambda folder: False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    found = search_local(local_catalog, bbox=YOGYAKARTA, datetime=JANUARY)
    assert ids(found) == ["S2_YOG_20230105"]
    assert not (local_catalog / INDEX_NAME).exists()
    assert ensure_index(local_catalog).is_relative_to(tmp_path / "tmp" / "pantau-stac-index")


def test_catalog_without_items_is_refused(tmp_path: Path) -> None:
    (tmp_path / "catalog.json").write_text(
        json.dumps({"type": "Catalog", "id": "x", "description": "x", "stac_version": "1.0.0",
                    "links": []})
    )  # fmt: skip
    with pytest.raises(StacSourceError, match="links to no items"):
        search_local(tmp_path)


def test_remote_item_links_are_refused(tmp_path: Path) -> None:
    link = {"rel": "item", "href": "https://example.org/item.json"}
    (tmp_path / "catalog.json").write_text(
        json.dumps({"type": "Catalog", "id": "x", "description": "x", "stac_version": "1.0.0",
                    "links": [link]})
    )  # fmt: skip
    with pytest.raises(StacSourceError, match="links to remote https://example.org/item.json"):
        search_local(tmp_path)


def test_search_scenes_goes_local_for_a_folder(local_catalog: Path) -> None:
    source = resolve_source(str(local_catalog))
    found = search_scenes(source, bbox=JAKARTA, start="2023-01-01", end="2023-01-31")
    assert ids(found) == ["S2_JKT_20230105", "S2_JKT_20230120"]
