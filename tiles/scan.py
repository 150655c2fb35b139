"""Which files of a products directory the tile server reads, and their version token.

Only fixed names are read (docs/products.md): ``villages.parquet``, ``indicators/*.parquet``,
``composites/<period>/<unit>/<product>.tif`` for each product of the registry and each
work unit (:data:`geo.unit_ids.UNIT_ID_RE`), and ``overviews/<period>/<product>.tif``, each
resolved inside the directory. The hash of their names, sizes and mtimes is the products
version, part of every tile cache key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import rasterio
from rasterio.warp import transform_bounds

from geo.overview import UNITS_TAG
from geo.unit_ids import UNIT_ID_RE
from tiles.errors import ProductsUnavailable
from tiles.reader import ALLOWED_DRIVER

__all__ = [
    "PERIOD_RE",
    "RasterInfo",
    "fingerprint",
    "inside",
    "is_overview",
    "product_files",
    "raster_info",
]

logger = logging.getLogger(__name__)

PERIOD_RE = re.compile(r"^\d{4}(?:-Q[1-4]|-(?:0[1-9]|1[0-2]))?$")


def inside(path: Path, root: Path) -> bool:
    """True when ``path`` exists and resolves (symlinks followed) inside ``root``."""
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except OSError:
        return False


def product_files(root: Path, rasters: Collection[str]) -> Iterator[Path]:
    """Every file the catalogue reads, in a stable order; only fixed names under ``root``.

    ``rasters`` are the product names looked for as ``composites/<period>/<unit>/<name>.tif``.
    """
    for table in ("villages.parquet", "regions.parquet"):
        if (root / table).is_file():
            yield root / table
    indicators = root / "indicators"
    if indicators.is_dir():
        yield from sorted(p for p in indicators.glob("*.parquet") if p.is_file())
    composites = root / "composites"
    if composites.is_dir():
        for period_dir in sorted(composites.iterdir()):
            if not (period_dir.is_dir() and PERIOD_RE.match(period_dir.name)):
                continue
            for unit_dir in sorted(period_dir.iterdir()):
                if unit_dir.is_dir() and UNIT_ID_RE.match(unit_dir.name):
                    for name in rasters:
                        path = unit_dir / f"{name}.tif"
                        if path.is_file():
                            yield path
    overviews = root / "overviews"
    if overviews.is_dir():
        for period_dir in sorted(overviews.iterdir()):
            if period_dir.is_dir() and PERIOD_RE.match(period_dir.name):
                for name in rasters:
                    path = period_dir / f"{name}.tif"
                    if path.is_file():
                        yield path


def is_overview(path: Path, root: Path) -> bool:
    """True for ``overviews/<period>/<name>.tif`` (else a unit COG under ``composites/``)."""
    return path.relative_to(root).parts[0] == "overviews"


def fingerprint(root: Path, rasters: Collection[str]) -> str:
    """Version token of a products directory: hash of names, sizes and mtimes."""
    if not root.is_dir():
        raise ProductsUnavailable()
    digest = hashlib.sha256()
    for path in product_files(root, rasters):
        try:
            st = path.stat()
        except OSError:  # removed between listing and stat: the next check sees it
            continue
        digest.update(f"{path.relative_to(root)}|{st.st_mtime_ns}|{st.st_size}\n".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class RasterInfo:
    """What the scan reads of a COG, once: its bounds, the EPSG:3857 size of a pixel of its
    coarsest overview level, and the units an overview covers."""

    lonlat: tuple[float, float, float, float]
    mercator: tuple[float, float, float, float]
    units: tuple[str, ...] | None = None
    coarsest_pixel: float = 0.0


def raster_info(path: Path, gdal_env: dict[str, str]) -> RasterInfo | None:
    """Lon/lat and EPSG:3857 bounds of a COG (and an overview's units tag).

    None when it is not a readable, georeferenced GeoTIFF.
    """
    try:
        with rasterio.Env(**gdal_env), rasterio.open(path, driver=ALLOWED_DRIVER) as src:
            if src.crs is None:
                return None
            lonlat = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
            mercator = transform_bounds(src.crs, "EPSG:3857", *src.bounds, densify_pts=21)
            units = src.tags().get(UNITS_TAG)
            factor = max(src.overviews(1) or [1])
            coarsest = (mercator[2] - mercator[0]) / src.width * factor
        listed = json.loads(units) if units else None
        return RasterInfo(
            tuple(lonlat),  # type: ignore[arg-type]
            tuple(mercator),  # type: ignore[arg-type]
            tuple(str(u) for u in listed) if isinstance(listed, list) else None,
            float(coarsest),
        )
    except Exception:  # a broken product is skipped, not served
        logger.warning("skipping unreadable raster %s", path.name, exc_info=True)
        return None
