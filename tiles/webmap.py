"""The planners' web map: one page and its static files, served beside the tiles.

``register(app, settings)`` adds ``GET /`` (the page), ``/static/...`` (our own JS and CSS from
``tiles/static``) and ``/static/maplibre/...`` (maplibre-gl.js and .css, read at run time from
the data directory of the installed ``maplibre`` PyPI package, so the repository carries no copy
of the library and the page needs no CDN). Everything the page loads comes from this server.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "maplibre_dir", "register"]

STATIC_DIR = Path(__file__).with_name("static")

# Files the page needs from the maplibre package; checked once when the app is built.
_MAPLIBRE_FILES = ("maplibre-gl.js", "maplibre-gl.css")


def maplibre_dir() -> Path:
    """The folder of the installed ``maplibre`` package that holds maplibre-gl.js and .css.

    Found with ``importlib.util.find_spec`` so the package is not imported: importing it
    configures logging and warns about optional extras, neither of which the server wants.
    """
    spec = importlib.util.find_spec("maplibre")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        folder = Path(root) / "srcjs"
        if all((folder / name).is_file() for name in _MAPLIBRE_FILES):
            return folder
    raise RuntimeError(
        "maplibre-gl.js not found: the web map needs the 'maplibre' package (pip install maplibre)"
    )


def _index() -> FileResponse:
    """The web map page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


def register(app: FastAPI, settings: object | None = None) -> None:
    """Add the web map page and its static routes to ``app``.

    Args:
        app: the tile server application.
        settings: the tile server settings; unused for now, accepted so the page can later
            take options (title, initial view) from them.
    """
    # The more specific mount goes first: Starlette matches mounts in order.
    app.mount("/static/maplibre", StaticFiles(directory=maplibre_dir()), name="maplibre")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="webmap")
    app.add_api_route("/", _index, methods=["GET"], include_in_schema=False)
