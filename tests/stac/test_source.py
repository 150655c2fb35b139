"""resolve_source: service names, API URLs, local catalog folders and the errors in between."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stac.errors import StacSourceError
from stac.settings import StacSettings
from stac.source import StacSource, resolve_source
from tests.stac.conftest import ES_URL, PC_URL


@pytest.mark.parametrize(
    ("spec", "kind", "url", "collection"),
    [
        ("earth-search", "earth-search", ES_URL, "sentinel-2-c1-l2a"),
        ("Earth-Search", "earth-search", ES_URL, "sentinel-2-c1-l2a"),
        (ES_URL + "/", "earth-search", ES_URL, "sentinel-2-c1-l2a"),
        ("planetary-computer", "planetary-computer", PC_URL, "sentinel-2-l2a"),
        (
            "https://stac.example.org/api/",
            "api",
            "https://stac.example.org/api",
            "sentinel-2-c1-l2a",
        ),
    ],
)
def test_remote_sources(spec: str, kind: str, url: str, collection: str) -> None:
    source = resolve_source(spec)
    assert (source.kind, source.url_or_path, source.collection) == (kind, url, collection)


def test_collection_overrides_the_default() -> None:
    assert (
        resolve_source("earth-search", collection="sentinel-2-l2a").collection == "sentinel-2-l2a"
    )


def test_planetary_computer_signs_hrefs_at_read_time() -> None:
    patch_url = resolve_source("planetary-computer").patch_url
    assert patch_url is sys.modules["planetary_computer"].sign


@pytest.mark.parametrize("spec", ["earth-search", "https://stac.example.org/api"])
def test_other_sources_need_no_signing(spec: str) -> None:
    assert resolve_source(spec).patch_url is None


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANTAU_STAC_DEFAULT_COLLECTION", "my-s2")
    monkeypatch.setenv("PANTAU_STAC_EARTH_SEARCH_URL", "https://mirror.example.org/v1")
    source = resolve_source("earth-search", settings=StacSettings())
    assert (source.url_or_path, source.collection) == ("https://mirror.example.org/v1", "my-s2")


def test_settings_passed_down_win_over_defaults() -> None:
    settings = StacSettings(planetary_computer_collection="sentinel-2-l2a-test")
    assert (
        resolve_source("planetary-computer", settings=settings).collection == "sentinel-2-l2a-test"
    )


@pytest.mark.parametrize("target", ["folder", "catalog.json"])
def test_local_catalog_folder(local_catalog: Path, target: str) -> None:
    spec = local_catalog if target == "folder" else local_catalog / "catalog.json"
    source = resolve_source(str(spec))
    assert source == StacSource("local", str(local_catalog.resolve()), None)
    assert source.is_local


def test_local_collection_is_kept_when_given(local_catalog: Path) -> None:
    assert resolve_source(str(local_catalog), collection="c").collection == "c"


def test_missing_folder_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(StacSourceError, match="no such folder; pass 'earth-search'"):
        resolve_source(str(tmp_path / "nowhere"))


def test_misspelt_name_suggests_the_right_one() -> None:
    with pytest.raises(StacSourceError, match="did you mean 'earth-search'"):
        resolve_source("earthsearch")


def test_folder_without_catalog_is_refused(tmp_path: Path) -> None:
    (tmp_path / "item.json").write_text("{}")
    with pytest.raises(StacSourceError, match="holds no catalog.json or collection.json"):
        resolve_source(str(tmp_path))


def test_file_that_is_not_a_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scenes.csv"
    path.write_text("id\n")
    with pytest.raises(StacSourceError, match="is a file, not a catalog folder"):
        resolve_source(str(path))


def test_empty_spec_is_refused() -> None:
    with pytest.raises(StacSourceError, match="empty STAC source"):
        resolve_source("  ")
