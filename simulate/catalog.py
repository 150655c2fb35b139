"""The simulated scenes as a static, self-contained STAC catalog shaped like Earth Search v1.

Items copy the structure of real ``sentinel-2-l2a`` items of Earth Search v1 (properties,
asset keys, ``raster:bands`` scale/offset, ``eo:bands``), plus ``pantau:simulated: true``.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import geopandas as gpd
import pystac
import shapely
from pystac.stac_io import DefaultStacIO

from geo.atomic import atomic_target
from geo.sentinel2 import BANDS, REFLECTANCE_SCALE
from simulate.grid import Grid
from simulate.plan import ScenePlan
from simulate.scenes import BANDS_10M, SceneStats

__all__ = ["AtomicStacIO", "new_catalog", "make_item", "item_id", "COLLECTION_ID"]

COLLECTION_ID = "sentinel-2-l2a"
SIMULATION_SOFTWARE = "pantau-simulate"

_EXTENSIONS = [
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
    "https://stac-extensions.github.io/grid/v1.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
]
# full width at half maximum (um) as Earth Search lists it
_FWHM = {
    "blue": 0.098,
    "green": 0.045,
    "red": 0.038,
    "nir": 0.145,
    "swir16": 0.143,
    "swir22": 0.242,
}
_TITLES = {
    "blue": "Blue (band 2)",
    "green": "Green (band 3)",
    "red": "Red (band 4)",
    "nir": "NIR 1 (band 8)",
    "swir16": "SWIR 1 (band 11)",
    "swir22": "SWIR 2 (band 12)",
}
_SCL_PERCENTAGES = {
    "s2:saturated_defective_pixel_percentage": 1,
    "s2:dark_features_percentage": 2,
    "s2:cloud_shadow_percentage": 3,
    "s2:vegetation_percentage": 4,
    "s2:not_vegetated_percentage": 5,
    "s2:water_percentage": 6,
    "s2:unclassified_percentage": 7,
    "s2:medium_proba_clouds_percentage": 8,
    "s2:high_proba_clouds_percentage": 9,
    "s2:thin_cirrus_percentage": 10,
    "s2:snow_ice_percentage": 11,
}
_S2A_LAUNCH = date(2015, 6, 23)
_RELATIVE_ORBIT = "R032"


class AtomicStacIO(DefaultStacIO):
    """pystac I/O that writes every JSON document to a temporary name, then renames it."""

    def write_text_to_href(self, href: str, txt: str) -> None:
        path = Path(href)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_target(path) as tmp:
            tmp.write_text(txt, encoding="utf-8")


def _acquired(plan: ScenePlan) -> datetime:
    # Sentinel-2 crosses Java at ~10:30 local solar time, ~02:58 UTC
    return datetime.combine(plan.date, time(2, 58, 0), tzinfo=UTC) + timedelta(
        seconds=(plan.index * 37) % 60, microseconds=276_000
    )


def item_id(plan: ScenePlan, tile: tuple[int, str, str]) -> str:
    """An Earth Search v1 style id, e.g. ``S2B_49MDM_20210315_0_L2A``."""
    zone, band, square = tile
    return f"S2{plan.platform[-1].upper()}_{zone}{band}{square}_{plan.date:%Y%m%d}_0_L2A"


def _to_lonlat(geometry: shapely.Geometry, epsg: int) -> shapely.Geometry:
    # a few vertices per edge, like real footprints, yet close to the curved UTM edges
    dense = shapely.segmentize(geometry, 25_000.0)
    return gpd.GeoSeries([dense], crs=epsg).to_crs(4326).iloc[0]


def new_catalog(
    scenes_dir: Path, grid: Grid, plans: tuple[ScenePlan, ...]
) -> tuple[pystac.Catalog, pystac.Collection]:
    """The root catalog and the ``sentinel-2-l2a`` collection, hrefs set under ``scenes_dir``."""
    catalog = pystac.Catalog(
        id="pantau-simulated-scenes",
        description=(
            "SIMULATED Sentinel-2 L2A scenes written by `pantau demo` (simulate). Not real imagery."
        ),
        title="Pantau simulated scenes",
        catalog_type=pystac.CatalogType.SELF_CONTAINED,
    )
    catalog.set_self_href(str(scenes_dir / "catalog.json"))
    footprint = _to_lonlat(shapely.box(*grid.bounds), grid.epsg)
    times = [_acquired(p) for p in plans]
    collection = pystac.Collection(
        id=COLLECTION_ID,
        title="Sentinel-2 Level-2A (SIMULATED)",
        description=(
            "SIMULATED scenes mimicking the Earth Search v1 `sentinel-2-l2a` collection: same "
            "asset keys, properties and radiometric conventions, synthetic pixels over planted "
            "land cover. Every item carries `pantau:simulated: true`. Not real data."
        ),
        extent=pystac.Extent(
            pystac.SpatialExtent([list(footprint.bounds)]),
            pystac.TemporalExtent([[min(times), max(times)]]),
        ),
        license="CC0-1.0",
        providers=[
            pystac.Provider(name="Pantau (simulation)", roles=[pystac.ProviderRole.PROCESSOR])
        ],
        extra_fields={"pantau:simulated": True},
    )
    catalog.add_child(collection)
    collection.set_self_href(str(scenes_dir / COLLECTION_ID / "collection.json"))
    return catalog, collection


def make_item(
    plan: ScenePlan,
    stats: SceneStats,
    grid: Grid,
    tile: tuple[int, str, str],
    folder: Path,
    *,
    version: str,
) -> pystac.Item:
    """The STAC item of a rendered scene whose COGs are ``folder/<asset key>.tif``."""
    zone, lat_band, square = tile
    acquired = _acquired(plan)
    generated = acquired + timedelta(hours=3, minutes=12)
    sat = f"S2{plan.platform[-1].upper()}"
    n = plan.baseline.replace(".", "")
    orbit = int((plan.date - _S2A_LAUNCH).days * 14.3)
    doy = plan.date.timetuple().tm_yday
    sun_distance = 1.0 - 0.01672 * math.cos(2.0 * math.pi * (doy - 4) / 365.256)
    geometry = _to_lonlat(stats.footprint, grid.epsg)
    properties = {
        "created": f"{generated:%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z",
        "platform": plan.platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": round(stats.cloud_cover, 6),
        "proj:epsg": grid.epsg,
        "mgrs:utm_zone": zone,
        "mgrs:latitude_band": lat_band,
        "mgrs:grid_square": square,
        "grid:code": f"MGRS-{zone}{lat_band}{square}",
        "view:sun_azimuth": round(stats.sun_azimuth, 6),
        "view:sun_elevation": round(stats.sun_elevation, 6),
        "s2:degraded_msi_data_percentage": 0,
        "s2:nodata_pixel_percentage": round(stats.nodata_percentage, 6),
        **{key: round(stats.percentage(v), 6) for key, v in _SCL_PERCENTAGES.items()},
        "s2:product_type": "S2MSI2A",
        "s2:processing_baseline": plan.baseline,
        "s2:product_uri": (
            f"{sat}_MSIL2A_{acquired:%Y%m%dT%H%M%S}_N{n}_{_RELATIVE_ORBIT}_T{zone}{lat_band}"
            f"{square}_{generated:%Y%m%dT%H%M%S}.SAFE"
        ),
        "s2:generation_time": f"{generated:%Y-%m-%dT%H:%M:%S.%f}Z",
        "s2:datatake_id": f"G{sat}_{acquired:%Y%m%dT%H%M%S}_{orbit:06d}_N{plan.baseline}",
        "s2:datatake_type": "INS-NOBS",
        "s2:granule_id": (
            f"{sat}_OPER_MSI_L2A_TL_SIML_{generated:%Y%m%dT%H%M%S}_A{orbit:06d}_T{zone}"
            f"{lat_band}{square}_N{plan.baseline}"
        ),
        "s2:reflectance_conversion_factor": round(1.0 / sun_distance**2, 12),
        "s2:sequence": "0",
        "earthsearch:boa_offset_applied": plan.boa_offset_applied,
        "processing:software": {SIMULATION_SOFTWARE: version},
        "updated": f"{generated:%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z",
        "pantau:simulated": True,
    }
    item = pystac.Item(
        id=item_id(plan, tile),
        geometry=shapely.geometry.mapping(geometry),
        bbox=list(geometry.bounds),
        datetime=acquired,
        properties=properties,
        stac_extensions=list(_EXTENSIONS),
        collection=COLLECTION_ID,
    )
    for key in (*BANDS_10M, "swir16", "swir22"):
        res = BANDS[key].resolution
        item.add_asset(key, _band_asset(key, res, grid, plan.raster_offset))
    item.add_asset(
        "scl",
        pystac.Asset(
            href="./scl.tif",
            media_type=pystac.MediaType.COG,
            title="Scene classification map (SCL)",
            roles=["data", "reflectance"],
            extra_fields={
                "proj:shape": list(grid.shape20),
                "proj:transform": list(grid.transform(20))[:6],
                "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}],
            },
        ),
    )
    item.set_self_href(str(folder / f"{item.id}.json"))
    return item


def _band_asset(key: str, res: int, grid: Grid, offset: float) -> pystac.Asset:
    band = BANDS[key]
    shape = grid.shape if res == 10 else grid.shape20
    return pystac.Asset(
        href=f"./{key}.tif",
        media_type=pystac.MediaType.COG,
        title=f"{_TITLES[key]} - {res}m",
        roles=["data", "reflectance"],
        extra_fields={
            "eo:bands": [
                {
                    "name": key,
                    "common_name": key,
                    "description": _TITLES[key],
                    "center_wavelength": band.center_um,
                    "full_width_half_max": _FWHM[key],
                }
            ],
            "gsd": res,
            "proj:shape": list(shape),
            "proj:transform": list(grid.transform(res))[:6],
            "raster:bands": [
                {
                    "nodata": 0,
                    "data_type": "uint16",
                    "bits_per_sample": 15,
                    "spatial_resolution": res,
                    "scale": REFLECTANCE_SCALE,
                    "offset": round(offset, 10) if offset else 0,
                }
            ],
        },
    )
