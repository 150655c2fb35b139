"""Raster layers (work-unit COGs of a period) served by a composed titiler ``TilerFactory``.

Each raster layer is a product of the app's registry (:mod:`geo.products`): its bands,
resampling, colormap, rescale, gamma and legend come from the product's declaration. The
factory's ``path_dependency`` maps (layer id, period) to the :class:`~tiles.mosaic.Mosaic`
the catalogue found: a tile reads the period's overview at low zoom, else the unit COGs it
meets (found through the mosaic's spatial index, never by opening every file). The
other titiler dependencies are replaced by ones that only allow safe choices: band indexes
fixed per product, a colormap name from rio-tiler's registry, ``rescale`` within the
product's valid range, ``gamma`` where the product takes it. Files are opened with the
GeoTIFF driver only (:mod:`tiles.reader`), so neither VRT XML nor a network path is opened.
"""

# No `from __future__ import annotations` here: the factory's endpoints declare dependencies
# with Annotated[..., Depends(self.<dependency>)], which FastAPI must evaluate at definition.

import math
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from typing import Annotated, Any, cast

import numpy as np
import rasterio
from attrs import define, field
from fastapi import Depends, Path, Query
from rio_tiler.colormap import cmap
from rio_tiler.io import BaseReader
from rio_tiler.models import ImageData
from rio_tiler.types import ColorMapType
from starlette.requests import Request
from starlette.responses import Response
from titiler.core.dependencies import BidxParams, DefaultDependency
from titiler.core.factory import FactoryExtension, TilerFactory
from titiler.core.resources.enums import ImageType

from geo.products import Product
from tiles.cache import CachedTile, cached_response, tile_key
from tiles.dependencies import app_context, catalogue, check_query, check_tile, tilesize_value
from tiles.errors import InvalidParameter, LayerNotFound, TileNotFound, error_responses
from tiles.mosaic import Mosaic, read_mosaic_tile, unit_dataset
from tiles.reader import ProductReader
from tiles.shedding import arrival

__all__ = [
    "RASTER_QUERY",
    "RasterTilerFactory",
    "RasterLegendExtension",
    "raster_colormap",
    "raster_legend",
    "raster_product",
    "raster_rendering",
]

#: Query parameters a raster tile takes.
RASTER_QUERY = frozenset({"tilesize", "colormap_name", "rescale", "gamma", "v"})
_MAX_RESCALE_TEXT = 64


# --------------------------------------------------------------------------- dependencies

LayerId = Annotated[str, Path(description="layer id, e.g. raster.ndvi (see GET /layers)")]
Period = Annotated[str, Path(description="period label, e.g. 2024 or 2024-Q1")]


def raster_product(request: Request, layer_id: LayerId) -> Product:
    """The registry product of a raster layer id."""
    products = app_context(request).products
    name = layer_id.removeprefix("raster.")
    if not layer_id.startswith("raster.") or name not in products:
        raise LayerNotFound("layer_id: no such layer; see GET /layers", parameter="layer_id")
    return products[name]


def raster_mosaic(request: Request, layer_id: LayerId, period: Period) -> Mosaic:
    """titiler path dependency: (layer id, period) -> the COGs the catalogue found."""
    cat = catalogue(request)
    layer = cat.layer(layer_id)
    if layer.kind != "raster":
        raise LayerNotFound("layer_id: no such layer; see GET /layers", parameter="layer_id")
    return cat.raster_mosaic(layer, period)


def raster_bands(spec: Annotated[Product, Depends(raster_product)]) -> BidxParams:
    """Band indexes are fixed per product (no ``bidx``, no ``expression``)."""
    return BidxParams(indexes=list(range(1, spec.n_bands + 1)))


@dataclass
class DatasetOptions(DefaultDependency):
    """Resampling fixed per product."""

    resampling_method: str = "nearest"
    reproject_method: str = "nearest"


def raster_dataset_options(spec: Annotated[Product, Depends(raster_product)]) -> DatasetOptions:
    """Resampling of the product (nearest for classes and counts)."""
    return DatasetOptions(spec.tile_resampling, spec.tile_resampling)


def raster_colormap(
    spec: Annotated[Product, Depends(raster_product)],
    colormap_name: Annotated[
        str | None, Query(max_length=64, description="a rio-tiler colormap name")
    ] = None,
) -> ColorMapType | None:
    """The product's colormap, or a known colormap name the client chose."""
    if colormap_name is None:
        if isinstance(spec.colormap, str):
            return cmap.get(spec.colormap)
        return dict(spec.colormap) if spec.colormap is not None else None
    if spec.n_bands > 1:
        raise InvalidParameter(
            "colormap_name: a multi-band layer takes no colormap", parameter="colormap_name"
        )
    if colormap_name not in cmap.list():
        raise InvalidParameter("colormap_name: unknown colormap", parameter="colormap_name")
    return cmap.get(colormap_name)


@dataclass
class RasterRendering(DefaultDependency):
    """titiler render options: rescale per band and an optional gamma formula."""

    rescale: tuple[tuple[float, float], ...] | None = None
    color_formula: str | None = None
    add_mask: bool = True


def _parse_rescale(spec: Product, values: list[str]) -> tuple[tuple[float, float], ...]:
    if len(values) > spec.n_bands:
        raise InvalidParameter(
            f"rescale: at most {spec.n_bands} ranges for this layer", parameter="rescale"
        )
    lo, hi = spec.valid_range
    ranges = []
    for text in values:
        parts = text.split(",") if len(text) <= _MAX_RESCALE_TEXT else []
        try:
            a, b = (float(p) for p in parts)
        except ValueError:
            raise InvalidParameter("rescale: expected min,max", parameter="rescale") from None
        if not (math.isfinite(a) and math.isfinite(b) and lo <= a < b <= hi):
            raise InvalidParameter(
                f"rescale: min < max within the layer's range {lo:g} to {hi:g}",
                parameter="rescale",
            )
        ranges.append((a, b))
    if len(ranges) < spec.n_bands:  # one range given for every band
        ranges = [ranges[0]] * spec.n_bands
    return tuple(ranges)


def raster_rendering(
    spec: Annotated[Product, Depends(raster_product)],
    rescale: Annotated[
        list[str] | None, Query(description="min,max per band, within the layer's valid range")
    ] = None,
    gamma: Annotated[
        float | None, Query(description="gamma for the true-colour layer, 0.2 to 5")
    ] = None,
) -> RasterRendering:
    """Rescale (validated against the product's range) and gamma."""
    if rescale and spec.rescale is None:
        raise InvalidParameter("rescale: this layer holds classes", parameter="rescale")
    ranges = _parse_rescale(spec, rescale) if rescale else spec.rescale
    formula = None
    if gamma is not None:
        if not spec.gamma:
            raise InvalidParameter("gamma: this layer takes no gamma", parameter="gamma")
        if not (math.isfinite(gamma) and 0.2 <= gamma <= 5):
            raise InvalidParameter("gamma: must be between 0.2 and 5", parameter="gamma")
        formula = f"gamma rgb {gamma:g}"
    return RasterRendering(rescale=ranges, color_formula=formula)


def _class_rescale(
    spec: Product, colormap_name: str | None, rendering: RasterRendering
) -> RasterRendering:
    # A named colormap on a class layer (0/1 built-up) needs its range stretched to 0..255.
    if spec.rescale is None and colormap_name and rendering.rescale is None:
        lo, hi = spec.valid_range
        return RasterRendering(rescale=((lo, hi),), color_formula=rendering.color_formula)
    return rendering


def gdal_env_dependency(request: Request) -> dict[str, str]:
    """titiler environment dependency: the GDAL options built by ``create_app``."""
    return app_context(request).gdal_env


def _no_post_process() -> None:
    """No titiler algorithms: clients cannot run processing on the server."""
    return None


# --------------------------------------------------------------------------- legend


def _hex(rgba: tuple[int, ...]) -> str:
    r, g, b, a = (int(c) for c in rgba)
    return f"#{r:02x}{g:02x}{b:02x}" + ("" if a == 255 else f"{a:02x}")


def raster_legend(
    spec: Product, colormap_name: str | None = None, rescale: Any = None
) -> list[dict]:
    """Legend entries of a raster layer (colour stops of its colormap, or its classes)."""
    if spec.legend == "none":
        return []
    if spec.legend == "classes" and not colormap_name:
        return [
            {"label": label, "color": _hex(color), "value": value}
            for value, label, color in spec.legend_classes()
        ]
    name = colormap_name or spec.colormap_name
    if not name:
        return []
    # registry colormaps are 256-entry {value: rgba} dicts
    colors = cast(dict[int, tuple[int, int, int, int]], cmap.get(name))
    (lo, hi), *_ = rescale or spec.rescale or (spec.valid_range,)
    entries = []
    for value in np.linspace(lo, hi, 5):
        index = int(round((value - lo) / (hi - lo) * 255))
        entries.append({"label": f"{value:g}", "color": _hex(colors[index]), "value": value})
    return entries


@define
class RasterLegendExtension(FactoryExtension):
    """Adds ``GET .../legend.json`` to a raster factory."""

    def register(self, factory: TilerFactory) -> None:  # type: ignore[override]
        """Register the legend endpoint."""

        @factory.router.get(
            "/legend.json",
            operation_id=f"{factory.operation_prefix}getLegend",
            responses=error_responses(400, 404, 422, 503),
        )
        def legend(
            request: Request,
            mosaic: Annotated[Mosaic, Depends(factory.path_dependency)],
            spec: Annotated[Product, Depends(raster_product)],
            colormap: Annotated[Any, Depends(factory.colormap_dependency)],
            rendering: Annotated[RasterRendering, Depends(factory.render_dependency)],
        ) -> dict:
            """Colour stops of the layer with the requested colormap and rescale."""
            check_query(request, RASTER_QUERY - {"tilesize", "v"})
            name = request.query_params.get("colormap_name")
            layer_id = request.path_params["layer_id"]
            return {
                "id": layer_id,
                "period": request.path_params["period"],
                "legend": raster_legend(spec, name, rendering.rescale),
            }


# --------------------------------------------------------------------------- factory


@define(kw_only=True)
class RasterTilerFactory(TilerFactory):
    """titiler's TilerFactory for product COGs: WebMercatorQuad tiles at ``/tiles/{z}/{x}/{y}``.

    Only the tile endpoint is registered (plus extensions): titiler's ``/info.geojson``,
    ``/point`` and ``/statistics`` take CRS strings and sizes we would have to police too.
    The tile endpoint answers from the tile cache when it can.
    """

    reader: type[BaseReader] = ProductReader
    path_dependency: Callable[..., Any] = raster_mosaic
    layer_dependency: Callable[..., Any] = raster_bands  # type: ignore[assignment]
    dataset_dependency: Callable[..., Any] = raster_dataset_options  # type: ignore[assignment]
    tile_dependency: type[DefaultDependency] = DefaultDependency
    process_dependency: Callable[..., Any] = _no_post_process
    colormap_dependency: Callable[..., Any] = raster_colormap
    render_dependency: Callable[..., Any] = raster_rendering  # type: ignore[assignment]
    environment_dependency: Callable[..., dict] = gdal_env_dependency
    extensions: list[FactoryExtension] = field(factory=lambda: [RasterLegendExtension()])
    add_preview: bool = False
    add_part: bool = False
    add_viewer: bool = False

    def register_routes(self) -> None:
        """Only the tile endpoint."""
        self.tile()

    def tile(self) -> None:  # noqa: C901
        """Register ``/tiles/{z}/{x}/{y}.png``."""
        tms = self.supported_tms.get("WebMercatorQuad")

        @self.router.get(
            "/tiles/{z}/{x}/{y}.{format}",
            operation_id=f"{self.operation_prefix}getTile",
            response_class=Response,
            responses={
                200: {"content": {"image/png": {}}, "description": "a PNG tile"},
                204: {"description": "no data in this tile"},
                **error_responses(400, 404, 422, 503),
            },
        )
        def tile(
            request: Request,
            z: Annotated[int, Path(description="zoom level")],
            x: Annotated[int, Path(description="tile column")],
            y: Annotated[int, Path(description="tile row")],
            format: Annotated[str, Path(description="png")],
            mosaic: Annotated[Mosaic, Depends(self.path_dependency)],
            spec: Annotated[Product, Depends(raster_product)],
            layer_params: Annotated[BidxParams, Depends(self.layer_dependency)],
            dataset_params: Annotated[DatasetOptions, Depends(self.dataset_dependency)],
            colormap: Annotated[Any, Depends(self.colormap_dependency)],
            render_params: Annotated[RasterRendering, Depends(self.render_dependency)],
            env: Annotated[dict, Depends(self.environment_dependency)],
            tilesize: Annotated[int | None, Query(description="tile size in pixels")] = None,
            v: Annotated[str | None, Query(max_length=64, description="products version")] = None,
        ) -> Response:
            """A PNG tile of a product (its overview at low zoom, 204 outside the data)."""
            ctx = app_context(request)
            check_query(request, RASTER_QUERY)
            check_tile(ctx.settings, z, x, y)
            if format != "png":
                raise TileNotFound("format: raster tiles are png", parameter="format")
            size = tilesize_value(ctx.settings, tilesize)
            version = ctx.store.current().version
            colormap_name = request.query_params.get("colormap_name")
            rendering = _class_rescale(spec, colormap_name, render_params)
            key = tile_key(
                layer=request.path_params["layer_id"],
                period=request.path_params["period"],
                z=z, x=x, y=y, fmt=format,
                params={
                    "tilesize": size,
                    "colormap_name": colormap_name or spec.colormap_name,
                    "rescale": rendering.rescale,
                    "color_formula": rendering.color_formula,
                },
                version=version,
            )  # fmt: skip

            def read(path: PathLike, *args: Any, **options: Any) -> ImageData:
                # GDAL options are per thread: set them in the thread that reads.
                with rasterio.Env(**env), unit_dataset(path, tms, x, y, z, size) as (ds, grid):
                    with self.reader(str(path), dataset=ds, tms=tms) as src:
                        return src.tile(*args, vrt_options=grid, **options)

            # which files, checked before a render slot is taken (a tile may be refused)
            paths = mosaic.sources(
                x, y, z, tms=tms, overview_max_zoom=ctx.settings.overview_max_zoom
            )

            def render() -> CachedTile:
                image = read_mosaic_tile(
                    paths, read, x, y, z, tilesize=size,
                    **layer_params.as_dict(), **dataset_params.as_dict(),
                )  # fmt: skip
                if image is None or image.array.mask.all():
                    return CachedTile(204, "", b"")
                # A NaN fill value would be cast to uint8 by rescale (numpy warns); masked
                # pixels stay masked whatever the fill value.
                image.array.fill_value = 0
                content, media_type = self.render_func(
                    image, output_format=ImageType.png, colormap=colormap, **rendering.as_dict()
                )
                return CachedTile(200, media_type, content)

            arrived = arrival(request)
            return cached_response(
                ctx.cache, key, render, fresh=v == version,
                slot=lambda: ctx.limiter.slot(arrived),
            )  # fmt: skip
