"""The web map page and its static routes: on a bare app with only the page, then in ours."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tiles import webmap

URL = re.compile(r"https?://[^\s\"'<>)]+")
OUR_FILES = ["/", "/static/app.js", "/static/style.css"]


class _Assets(HTMLParser):
    """Collects the page's src/href attributes and its labelled controls."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.controls: list[str] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key):
                self.refs.append(a[key] or "")
        if tag in ("input", "select") and a.get("id"):
            self.controls.append(a["id"] or "")
        if tag == "label" and a.get("for"):
            self.labelled.add(a["for"] or "")


@pytest.fixture(scope="module")
def bare() -> TestClient:
    """A bare FastAPI app with only the web map registered."""
    app = FastAPI()
    webmap.register(app, None)
    return TestClient(app)


@pytest.fixture(scope="module")
def page(bare: TestClient) -> _Assets:
    parser = _Assets()
    parser.feed(bare.get("/").text)
    return parser


def test_index_is_html(bare: TestClient) -> None:
    response = bare.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "static/app.js" in response.text


@pytest.mark.parametrize("path", OUR_FILES)
def test_no_remote_urls(bare: TestClient, path: str) -> None:
    response = bare.get(path)
    assert response.status_code == 200
    assert URL.findall(response.text) == []


def test_page_assets_are_local_and_served(bare: TestClient, page: _Assets) -> None:
    assert page.refs, "the page references no assets"
    for ref in page.refs:
        if ref.startswith("data:"):
            continue
        assert not ref.startswith(("http:", "https:", "//")), ref
        assert bare.get("/" + ref.lstrip("/")).status_code == 200, ref


def test_every_control_has_a_label(page: _Assets) -> None:
    assert page.controls
    assert set(page.controls) <= page.labelled


@pytest.mark.parametrize(
    ("name", "media_types"),
    [
        ("maplibre-gl.js", ("text/javascript", "application/javascript")),
        ("maplibre-gl.css", ("text/css",)),
    ],
)
def test_maplibre_served_from_package(
    bare: TestClient, name: str, media_types: tuple[str, ...]
) -> None:
    response = bare.get(f"/static/maplibre/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in media_types
    assert response.content == (webmap.maplibre_dir() / name).read_bytes()


def test_maplibre_is_not_in_the_repository() -> None:
    assert not list(webmap.STATIC_DIR.rglob("maplibre-gl*"))
    assert not webmap.maplibre_dir().is_relative_to(Path(webmap.__file__).parents[1])


@pytest.mark.parametrize(
    "path",
    [
        "/static/%2e%2e/webmap.py",
        "/static/..%2fwebmap.py",
        "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/static/maplibre/%2e%2e/__init__.py",
        "/static/maplibre/..%2f..%2fmaplibre%2f__init__.py",
        "/static/maplibre/%2fetc%2fpasswd",
        "/static/../tiles/webmap.py",
    ],
)
def test_path_traversal_is_refused(bare: TestClient, path: str) -> None:
    response = bare.get(path)
    assert 400 <= response.status_code < 500
    assert "import" not in response.text


def test_missing_maplibre_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webmap.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="pip install maplibre"):
        webmap.register(FastAPI(), None)


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/maplibre/maplibre-gl.js"])
def test_tile_server_serves_the_page(client: TestClient, path: str) -> None:
    """``create_app`` registers the page: ``client`` is the real app (tests/tiles/conftest.py)."""
    assert client.get(path).status_code == 200
