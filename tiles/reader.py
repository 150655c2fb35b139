"""How the tile server opens product files: GeoTIFF driver only, GDAL without network.

Used by the scanner (raster bounds) and by the raster tiles (rio-tiler reads), so both open
files the same safe way.
"""

from __future__ import annotations

import attr
import rasterio
from rio_tiler.io import Reader

__all__ = ["ALLOWED_DRIVER", "ProductReader", "gdal_environment"]

#: The only GDAL driver a product file is opened with (GDAL "allowed drivers").
ALLOWED_DRIVER = "GTiff"


def gdal_environment() -> dict[str, str]:
    """GDAL options for every read: no network, no Python in VRTs, no directory listing.

    VRT inputs are refused by opening products with the GeoTIFF driver only
    (:data:`ALLOWED_DRIVER`), not with ``GDAL_SKIP=VRT``: rasterio's reprojection, which
    rio-tiler uses for every tile, builds VRTs internally, and a process whose first GDAL
    environment skips the VRT driver fails every reprojected read.
    """
    return {
        "GDAL_VRT_ENABLE_PYTHON": "NO",
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".pantau-network-disabled",
        "GDAL_HTTP_MAX_RETRY": "0",
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "VSI_CACHE": "TRUE",
    }


@attr.s
class ProductReader(Reader):
    """rio-tiler Reader that opens local GeoTIFFs only."""

    def __attrs_post_init__(self) -> None:
        """Open with the GeoTIFF driver alone, then let rio-tiler read the metadata."""
        if self.dataset is None:
            self.dataset = self._ctx_stack.enter_context(
                rasterio.open(self.input, driver=ALLOWED_DRIVER)
            )
        super().__attrs_post_init__()
