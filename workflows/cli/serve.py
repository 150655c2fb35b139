"""``pantau serve``: serve a products directory as map tiles (TileJSON, WMTS, MVT, web map).

The tile server is imported inside the handler: the rest of the CLI never pays for it, and
``workflows`` depends on ``tiles`` only here.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from workflows.errors import WorkflowError

__all__ = ["register", "run"]

#: The app factory uvicorn imports in each worker; settings come from ``PANTAU_TILES_*``.
APP_FACTORY = "tiles.app:create_app"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` sub-command."""
    parser = subparsers.add_parser(
        "serve",
        help="serve a products directory as map tiles",
        description=(
            "Serve the products of `pantau run` (raster, choropleth and bivariate layers, "
            "vector tiles, TileJSON, WMTS for QGIS). Other options come from PANTAU_TILES_* "
            "environment variables (see README)."
        ),
    )
    parser.add_argument("--products", required=True, type=Path, help="products directory")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the settings, then run uvicorn on the app factory."""
    products = Path(args.products).expanduser()
    if not products.is_dir():
        raise WorkflowError(f"products directory not found: {products}")
    if not 1 <= args.workers <= 64:
        raise WorkflowError("--workers must be between 1 and 64")
    # Workers build the app from the environment, so the directory travels as a setting.
    os.environ["PANTAU_TILES_PRODUCTS_DIR"] = str(products.resolve())

    import uvicorn
    from pydantic import ValidationError

    from tiles.settings import TilesSettings

    try:
        TilesSettings()  # type: ignore[call-arg]  # from the environment; fail here, once
    except ValidationError as exc:
        raise WorkflowError(f"invalid PANTAU_TILES_* setting: {exc}") from None
    uvicorn.run(APP_FACTORY, factory=True, host=args.host, port=args.port, workers=args.workers)
    return 0
