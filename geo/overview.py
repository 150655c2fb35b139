"""One coarse web-mercator overview COG of a product over many work-unit COGs.

A national run writes thousands of unit COGs per product and period; a web map zoomed out
to a province or the country would open them all for every tile. :func:`build_overview`
reprojects them once into a single COG in EPSG:3857 at the resolution of web-mercator zoom
``zoom`` (256-pixel tiles), aligned to that zoom's pixel grid, so a tile at ``zoom`` or
below reads one file. It is built window by window (``window`` x ``window`` destination
pixels), so memory stays bounded whatever the extent; each unit is read at the internal
overview level nearest to, and finer than, the destination pixel.

Where units overlap (home villages crossing a tile edge) their pixels hold the same values;
the first unit (in the order given) that has a value fills a destination pixel. A product
without a nodata value gets an internal mask instead, so areas without units stay empty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform

from geo.atomic import atomic_target, temporary_sibling
from geo.cog import cog_options
from geo.errors import GeoError
from geo.products import Product

__all__ = [
    "UNITS_TAG",
    "WEB_MERCATOR",
    "ZOOM_TAG",
    "build_overview",
    "ground_resolution",
    "overview_level",
    "zoom_resolution",
]

WEB_MERCATOR = CRS.from_epsg(3857)
#: Tag of an overview COG: JSON list of the work-unit ids it was built from (set by callers).
UNITS_TAG = "PANTAU_UNITS"
#: Tag of an overview COG: the web-mercator zoom of its pixel size.
ZOOM_TAG = "PANTAU_ZOOM"
#: Half the side of the web-mercator square (metres): the grid origin is (-O, +O).
_ORIGIN = 20037508.342789244
_TILE = 256
#: Destination pixels processed at once, per side (4096^2 float32 = 64 MB a band).
DEFAULT_WINDOW = 4096
#: Internal tile size of the COG written (as geo.cog's).
_BLOCK = 512
#: The only driver unit COGs are opened with.
_DRIVER = "GTiff"


def zoom_resolution(zoom: int) -> float:
    """Metres per pixel of web-mercator zoom ``zoom`` with 256-pixel tiles."""
    if not 0 <= zoom <= 24:
        raise GeoError(f"overview zoom must be between 0 and 24, not {zoom!r}")
    return 2 * _ORIGIN / (_TILE * 2**zoom)


@dataclass(frozen=True)
class _Source:
    """A unit COG: its path, web-mercator bounds and the overview level to read."""

    path: Path
    bounds: tuple[float, float, float, float]
    level: int | None


def _describe(path: Path, product: Product, res: float) -> _Source:
    with rasterio.open(path, driver=_DRIVER) as src:
        if src.crs is None:
            raise GeoError(f"{path.name}: no CRS; expected a unit COG written by `pantau run`")
        if src.count != product.n_bands or src.dtypes[0] != np.dtype(product.dtype).name:
            raise GeoError(
                f"{path.name}: {src.count} band(s) of {src.dtypes[0]}, but product "
                f"{product.name!r} stores {product.n_bands} of {product.dtype}: wrong file?"
            )
        bounds = transform_bounds(src.crs, WEB_MERCATOR, *src.bounds, densify_pts=21)
        level = overview_level(src, res, (bounds[1] + bounds[3]) / 2)
    return _Source(path, tuple(bounds), level)  # type: ignore[arg-type]


def ground_resolution(mercator_res: float, mercator_y: float) -> float:
    """Metres on the ground of a web-mercator pixel of ``mercator_res`` at ``mercator_y``
    (a web-mercator pixel spans res x cos(lat))."""
    return mercator_res * math.cos(math.atan(math.sinh(mercator_y / 6378137.0)))


def overview_level(src: Any, mercator_res: float, mercator_y: float) -> int | None:
    """Index of the coarsest overview level of a projected (metre) raster whose pixels are
    no larger than a web-mercator pixel of ``mercator_res`` at ``mercator_y``; None for
    full resolution (or a web-mercator or geographic raster).

    A function of the destination pixel and the source's resolution only: units of one
    product carrying the same levels (:data:`geo.cog.UNIT_OVERVIEWS`) get the same level.
    """
    if not src.crs.is_projected or src.crs == WEB_MERCATOR:
        return None
    ground = ground_resolution(mercator_res, mercator_y)
    level = None
    for i, factor in enumerate(src.overviews(1)):
        if src.res[0] * factor <= ground * (1 + 1e-9):
            level = i
    return level


def _grid(sources: Sequence[_Source], res: float) -> tuple[Affine, int, int]:
    """Transform and size of the zoom's pixel grid covering every source."""
    boxes = np.array([s.bounds for s in sources])
    col0 = math.floor((boxes[:, 0].min() + _ORIGIN) / res)
    col1 = math.ceil((boxes[:, 2].max() + _ORIGIN) / res)
    row0 = math.floor((_ORIGIN - boxes[:, 3].max()) / res)
    row1 = math.ceil((_ORIGIN - boxes[:, 1].min()) / res)
    transform = Affine(res, 0.0, -_ORIGIN + col0 * res, 0.0, -res, _ORIGIN - row0 * res)
    return transform, col1 - col0, row1 - row0


def _fill(product: Product) -> float | int:
    return 0 if product.nodata is None else product.nodata


def _valid(data: np.ndarray, product: Product) -> np.ndarray:
    """Pixels with a value in every band of a (band, y, x) array of stored values."""
    nodata = product.nodata
    if nodata is None:
        return np.ones(data.shape[1:], dtype=bool)
    if isinstance(nodata, float) and math.isnan(nodata):
        return ~np.isnan(data).any(axis=0)
    return (data != nodata).all(axis=0)


def _warp(
    source: _Source, product: Product, transform: Affine, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """A source reprojected onto a destination grid: stored values and where they are valid."""
    data = np.full((product.n_bands, *shape), _fill(product), dtype=product.dtype)
    resampling = Resampling[product.overview_resampling]
    options = {} if source.level is None else {"overview_level": source.level}
    with rasterio.open(source.path, driver=_DRIVER, **options) as src:
        reproject(
            rasterio.band(src, list(range(1, product.n_bands + 1))),
            data,
            src_nodata=product.nodata,
            dst_nodata=product.nodata,
            dst_transform=transform,
            dst_crs=WEB_MERCATOR,
            resampling=resampling,
        )
        valid = _valid(data, product)
        if product.nodata is None:  # no nodata value: where the source has pixels at all
            covered = np.zeros(shape, dtype=np.uint8)
            reproject(
                src.dataset_mask(),
                covered,
                src_transform=src.transform,
                src_crs=src.crs,
                src_nodata=0,
                dst_nodata=0,
                dst_transform=transform,
                dst_crs=WEB_MERCATOR,
                resampling=Resampling.nearest,
            )
            valid &= covered > 0
    return data, valid


def _render(
    sources: Sequence[_Source], product: Product, window: Window, transform: Affine
) -> tuple[np.ndarray, np.ndarray]:
    """The stored values and validity of one destination window (first valid source wins)."""
    height, width = int(window.height), int(window.width)
    data = np.full((product.n_bands, height, width), _fill(product), dtype=product.dtype)
    valid = np.zeros((height, width), dtype=bool)
    local = window_transform(window, transform)
    left, bottom, right, top = window_bounds(window, transform)
    res = transform.a
    for source in sources:
        x0, y0, x1, y1 = source.bounds
        if x0 >= right or x1 <= left or y0 >= top or y1 <= bottom:
            continue
        # the destination pixels the source covers, snapped outward, inside the window
        c0 = max(0, math.floor((x0 - left) / res))
        c1 = min(width, math.ceil((x1 - left) / res))
        r0 = max(0, math.floor((top - y1) / res))
        r1 = min(height, math.ceil((top - y0) / res))
        if c1 <= c0 or r1 <= r0:
            continue
        sub = Window(c0, r0, c1 - c0, r1 - r0)
        values, ok = _warp(source, product, window_transform(sub, local), (r1 - r0, c1 - c0))
        target = data[:, r0:r1, c0:c1]
        take = ok & ~valid[r0:r1, c0:c1]
        target[:, take] = values[:, take]
        valid[r0:r1, c0:c1] |= take
    return data, valid


def build_overview(
    sources: Sequence[Path],
    dst: Path,
    product: Product,
    *,
    zoom: int = 9,
    window: int = DEFAULT_WINDOW,
    tags: dict[str, str] | None = None,
) -> Path:
    """Reproject unit COGs of one product into one web-mercator overview COG at ``dst``.

    Args:
        sources: the unit COGs (GeoTIFFs of ``product``, any projected CRS); where they
            overlap, the first one with a value wins.
        dst: the COG to (re)place, atomically; its folder is created.
        product: the registry product the COGs store (dtype, nodata, bands, resampling).
        zoom: web-mercator zoom whose pixel size the overview has (9: ~306 m).
        window: destination pixels per side processed at once (bounds memory).
        tags: dataset metadata tags to store (e.g. which units it was built from).

    Returns:
        ``dst``.
    """
    if not sources:
        raise GeoError(f"no unit COGs of {product.name!r} to build {Path(dst).name} from")
    if window < _TILE:
        raise GeoError(f"window must be at least {_TILE} pixels, not {window}")
    res = zoom_resolution(zoom)
    described = [_describe(Path(p), product, res) for p in sources]
    transform, width, height = _grid(described, res)
    floating = np.dtype(product.dtype).kind == "f"
    profile = dict(
        driver=_DRIVER,
        width=width,
        height=height,
        count=product.n_bands,
        dtype=product.dtype,
        crs=WEB_MERCATOR,
        transform=transform,
        nodata=product.nodata,
        tiled=True,
        blockxsize=_BLOCK,
        blockysize=_BLOCK,
        compress="ZSTD",
        zstd_level=1,
        predictor=3 if floating else 2,
        BIGTIFF="IF_SAFER",
    )
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = temporary_sibling(dst)
    try:
        with (
            rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True),
            rasterio.open(staging, "w", **profile) as out,
        ):
            for i, name in enumerate(product.band_names, start=1):
                out.set_band_description(i, name)
            out.update_tags(**{**(tags or {}), ZOOM_TAG: str(zoom)})
            for row in range(0, height, window):
                for col in range(0, width, window):
                    win = Window(col, row, min(window, width - col), min(window, height - row))
                    data, valid = _render(described, product, win, transform)
                    out.write(data, window=win)
                    if product.nodata is None:
                        out.write_mask(valid.astype(np.uint8) * 255, window=win)
        with (
            rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True),
            rasterio.open(staging, driver=_DRIVER) as built,
            atomic_target(dst) as tmp,
        ):
            rasterio.shutil.copy(
                built,
                tmp,
                **cog_options(floating=floating, overviews=product.overview_resampling),
            )
    finally:
        staging.unlink(missing_ok=True)
    return dst
