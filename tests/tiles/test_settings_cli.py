"""Settings from the environment, ``pantau serve``, and what the tile server imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.tiles.conftest import tile_of
from tiles.errors import ProductsUnavailable
from tiles.settings import TilesSettings
from workflows.cli import build_parser, main

Z, X, Y = tile_of(110.385, -7.76, 13)


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pantau serve` writes PANTAU_TILES_PRODUCTS_DIR; monkeypatch puts it back after."""
    monkeypatch.setenv("PANTAU_TILES_PRODUCTS_DIR", "placeholder")


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PANTAU_TILES_PRODUCTS_DIR", str(tmp_path))
    monkeypatch.setenv("PANTAU_TILES_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("PANTAU_TILES_N_CLASSES", "7")
    monkeypatch.setenv("PANTAU_TILES_MAX_ZOOM", "16")
    settings = TilesSettings()
    assert settings.products_dir == tmp_path
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert (settings.n_classes, settings.max_zoom) == (7, 16)


def test_settings_defaults(tmp_path: Path) -> None:
    settings = TilesSettings(products_dir=tmp_path)
    assert settings.cors_origins == []
    assert settings.cache_size == 2048 and settings.cache_url is None
    assert settings.max_tile_size == 512
    assert (settings.min_zoom, settings.max_zoom) == (0, 18)
    assert settings.classification == "quantile" and settings.n_classes == 5


@pytest.mark.parametrize(
    "options",
    [
        {"n_classes": 10},
        {"n_classes": 1},
        {"max_tile_size": 100_000},
        {"max_zoom": 40},
        {"min_zoom": 10, "max_zoom": 5},
        {"cache_url": "http://example.com"},
        {"classification": "jenks"},
    ],
)
def test_settings_are_capped(tmp_path: Path, options: dict) -> None:
    with pytest.raises(ValidationError):
        TilesSettings(products_dir=tmp_path, **options)


def test_missing_products_dir_fails_at_start(tmp_path: Path) -> None:
    from tiles.app import create_app

    with pytest.raises(ProductsUnavailable):
        create_app(TilesSettings(products_dir=tmp_path / "missing"))


def test_empty_products_dir_serves_no_layers(tmp_path: Path, make_client) -> None:
    client = make_client(tmp_path)
    assert client.get("/layers").json() == []
    assert client.get("/healthz").json()["periods"] == []
    assert client.get("/villages/3471011001").status_code == 404


def test_serve_runs_uvicorn_on_the_factory(
    products_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    calls: list[tuple] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append((a, k)))
    args = ["serve", "--products", str(products_dir), "--port", "8123", "--workers", "2"]
    assert main(args) == 0
    ((target,), options) = calls[0]
    assert target == "tiles.app:create_app"
    assert options == {"factory": True, "host": "127.0.0.1", "port": 8123, "workers": 2}
    assert os.environ["PANTAU_TILES_PRODUCTS_DIR"] == str(products_dir.resolve())


def test_serve_refuses_a_missing_directory(tmp_path: Path, capsys) -> None:
    assert main(["serve", "--products", str(tmp_path / "nope")]) == 2
    assert "products directory not found" in capsys.readouterr().err


def test_serve_reports_bad_settings(
    products_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("PANTAU_TILES_N_CLASSES", "99")
    assert main(["serve", "--products", str(products_dir)]) == 2
    assert "PANTAU_TILES_" in capsys.readouterr().err


def test_serve_is_registered() -> None:
    args = build_parser().parse_args(["serve", "--products", "x"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 8000, 1)


def test_serve_through_the_entry_point() -> None:
    script = shutil.which("pantau")
    if script is None:
        pytest.skip("the pantau console script is not installed (pip install -e .)")
    result = subprocess.run(
        [script, "serve", "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--products" in result.stdout


def test_fresh_process(products_dir: Path) -> None:
    """A new server process: tiles work when its GDAL environment is the first one set, and
    the tile server brings in no scheduler (distributed), STAC stage or workflow.

    (rio-tiler imports rioxarray, which imports dask as a library; no client is created.)
    """
    raster = f"/layers/raster.ndvi/2024/tiles/{Z}/{X}/{Y}.png"
    code = f"""
import sys, warnings
warnings.simplefilter("ignore")
from concurrent.futures import ThreadPoolExecutor
from fastapi.testclient import TestClient
from tiles.app import create_app
from tiles.settings import TilesSettings
client = TestClient(create_app(TilesSettings(products_dir={str(products_dir)!r})))
urls = [{raster!r}, {raster.replace("raster.ndvi", "raster.rgb")!r},
        {raster.replace("raster.ndvi", "choropleth.ndvi_mean")!r}] * 3
with ThreadPoolExecutor(4) as pool:
    codes = list(pool.map(lambda u: client.get(u).status_code, urls))
assert codes == [200] * len(urls), codes
bad = [m for m in sys.modules
       if m.split(".")[0] in ("distributed", "stac", "workflows", "odc", "pystac_client")]
assert not bad, bad
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=180
    )
    assert result.returncode == 0, result.stderr[-2000:]
