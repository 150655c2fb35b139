"""A simulated reference land-cover collection with the real class codes (``--reference``).

The simulator keeps the planted 10 m land cover of every year (``land_cover_<year>.tif``
next to its scenes). This module turns it into what a reference collection would hold for
the same ground: the real collection id, asset key, class codes, nodata and item layout of
ESA WorldCover or Impact Observatory's annual LULC, one item per year as a static STAC
catalog that ``--reference-stac FOLDER`` reads. So the agreement between Pantau's built-up
fraction and the reference is measured against a map that follows the same truth, with
the mistakes a real map makes:

* vegetation is split into tree cover and cropland by a smooth random field (with a little
  grass/rangeland), water partly into wetland, bare soil stays bare;
* ``omission`` of the built-up pixels are labelled as the vegetation around them and
  ``commission`` of the vegetation pixels as built-up (per-pixel, seeded);
* Impact Observatory maps get a few *Clouds* pixels, and every map a nodata strip at its
  western edge (a tile seam), so nodata handling is exercised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pystac
import rasterio
import shapely
from affine import Affine

from geo.atomic import write_json
from geo.cog import write_cog
from geo.landcover import ClassScheme
from simulate.catalog import AtomicStacIO
from simulate.errors import SimulationError
from simulate.fields import SmoothField
from simulate.run import MANIFEST_NAME
from simulate.spectra import LandCover
from stac.reference import Reference, get_reference

__all__ = ["SimulatedReference", "simulate_reference", "REFERENCE_MANIFEST"]

REFERENCE_MANIFEST = "reference.json"
_VERSION = 1
_ROWS = 512  # rows per strip: bounded memory on province-sized grids
_NODATA_COLUMNS = 6  # width of the western nodata strip, in pixels
_CLOUD_SHARE = 0.004  # share of pixels an IO map labels Clouds


@dataclass(frozen=True)
class SimulatedReference:
    """Where a simulated reference collection is, and what it holds."""

    catalog_dir: Path
    name: str
    years: tuple[int, ...]
    item_ids: tuple[str, ...]


def simulate_reference(
    scenes_dir: Path,
    out: Path,
    *,
    reference: str = "esa-worldcover",
    seed: int = 0,
    omission: float = 0.08,
    commission: float = 0.02,
) -> SimulatedReference:
    """Write the reference ``reference`` for the land cover simulated in ``scenes_dir``.

    Args:
        scenes_dir: the folder of a finished ``simulate_scenes`` run (holds its manifest).
        out: the catalog folder to write (``catalog.json``, one item folder per year).
        reference: a name of ``stac.reference.REFERENCES``.
        seed: seed of the class split and the errors.
        omission: share of built-up pixels the map misses.
        commission: share of vegetation pixels the map calls built-up.

    Reruns with the same inputs reuse the catalog; everything is written atomically, the
    manifest last.
    """
    ref = get_reference(reference)
    if not (0 <= omission < 1 and 0 <= commission < 1):
        raise SimulationError("omission and commission must be shares in [0, 1)")
    manifest = _read(Path(scenes_dir) / MANIFEST_NAME)
    if not manifest.get("land_cover"):
        raise SimulationError(
            f"{scenes_dir} holds no finished simulation ({MANIFEST_NAME} with land_cover); "
            "run simulate_scenes (pantau demo) first"
        )
    out = Path(out)
    params = {
        "version": _VERSION,
        "reference": ref.name,
        "seed": seed,
        "omission": omission,
        "commission": commission,
        "simulation": manifest.get("fingerprint"),
    }
    previous = _read(out / REFERENCE_MANIFEST)
    if previous.get("parameters") == params and (out / "catalog.json").is_file():
        return SimulatedReference(
            out, ref.name, tuple(previous["years"]), tuple(previous["item_ids"])
        )
    epsg = int(manifest["epsg"])
    years = tuple(sorted(int(y) for y in manifest["land_cover"]))
    catalog = pystac.Catalog(
        id=f"pantau-simulated-{ref.name}",
        description=f"SIMULATED {ref.title} written by Pantau's simulator. Not real data.",
        catalog_type=pystac.CatalogType.SELF_CONTAINED,
    )
    catalog.set_self_href(str(out / "catalog.json"))
    collection: pystac.Collection | None = None
    ids = []
    for year in years:
        source = Path(scenes_dir) / manifest["land_cover"][str(year)]
        with rasterio.open(source) as src:
            planted = src.read(1)
            transform = src.transform
        rng = np.random.default_rng([seed, year, 0x726566])
        classes = _classify(planted, ref.scheme, rng, omission, commission)
        footprint = _footprint(planted.shape, transform, epsg)
        item = _item(ref, year, footprint, planted.shape, transform, epsg, manifest)
        folder = out / ref.collection / item.id
        write_cog(
            classes,
            folder / f"{ref.asset}.tif",
            crs=f"EPSG:{epsg}",
            transform=transform,
            nodata=ref.nodata,
            resampling="nearest",  # classes: overviews keep class values
        )
        if collection is None:
            collection = _collection(ref, footprint, years)
            catalog.add_child(collection)
            collection.set_self_href(str(out / ref.collection / "collection.json"))
        collection.add_item(item)
        ids.append(item.id)
    stac_io = AtomicStacIO()
    catalog.normalize_hrefs(str(out))
    catalog.save(stac_io=stac_io)
    write_json(out / REFERENCE_MANIFEST, {"parameters": params, "years": years, "item_ids": ids})
    return SimulatedReference(out, ref.name, years, tuple(ids))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _classify(
    planted: np.ndarray,
    scheme: ClassScheme,
    rng: np.random.Generator,
    omission: float,
    commission: float,
) -> np.ndarray:
    """The reference classes of the planted land cover, strip by strip."""
    code = {g: scheme.code(g) for g in ("built", "tree", "crop", "water", "wetland", "bare")}
    grass = next(c.value for c in scheme.classes if c.name in ("Grassland", "Rangeland"))
    unknown = [c.value for c in scheme.classes if not c.known]
    height, width = planted.shape
    split = SmoothField(rng, planted.shape, scale_px=30.0)  # where trees vs crops lie
    out = np.empty(planted.shape, dtype=np.dtype(scheme.dtype))
    for r0 in range(0, height, _ROWS):
        r1 = min(r0 + _ROWS, height)
        lc = planted[r0:r1]
        field = split.rows(r0, r1)
        u = rng.random(lc.shape, dtype=np.float32)
        veg = np.where(field > 0, code["tree"][0], code["crop"][0])
        veg = np.where(np.abs(field) > 2.2, grass, veg)  # grass / rangeland patches
        strip = np.full(lc.shape, scheme.nodata, dtype=out.dtype)
        strip[lc == LandCover.VEGETATION] = veg[lc == LandCover.VEGETATION]
        strip[lc == LandCover.BARE] = code["bare"][0]
        water = lc == LandCover.WATER
        strip[water] = code["water"][0]
        strip[water & (u < 0.05)] = code["wetland"][0]
        built = lc == LandCover.BUILT
        strip[built] = np.where(u[built] < omission, veg[built], code["built"][0])
        false_built = (lc == LandCover.VEGETATION) & (u < commission)
        strip[false_built] = code["built"][0]
        if unknown:
            strip[rng.random(lc.shape, dtype=np.float32) < _CLOUD_SHARE] = unknown[0]
        strip[:, :_NODATA_COLUMNS] = scheme.nodata
        out[r0:r1] = strip
    return out


def _footprint(shape: tuple[int, int], transform: Affine, epsg: int) -> shapely.Geometry:
    height, width = shape
    west, north = transform.c, transform.f
    box = shapely.box(west, north + height * transform.e, west + width * transform.a, north)
    dense = shapely.segmentize(box, 25_000.0)
    return gpd.GeoSeries([dense], crs=epsg).to_crs(4326).iloc[0]


def _item_id(ref: Reference, year: int, footprint: shapely.Geometry, mgrs: str) -> str:
    """Ids shaped like the real ones: ``ESA_WorldCover_10m_2021_v200_S09E108``, ``49M-2021``."""
    if ref.name == "esa-worldcover":
        lon, lat = footprint.bounds[0], footprint.bounds[1]
        south, west = int(np.floor(lat / 3) * 3), int(np.floor(lon / 3) * 3)
        tile = f"{'N' if south >= 0 else 'S'}{abs(south):02d}{'E' if west >= 0 else 'W'}"
        return f"ESA_WorldCover_10m_{year}_v{100 if year <= 2020 else 200}_{tile}{abs(west):03d}"
    return f"{mgrs[:3]}-{year}"


def _item(
    ref: Reference,
    year: int,
    footprint: shapely.Geometry,
    shape: tuple[int, int],
    transform: Affine,
    epsg: int,
    manifest: dict[str, Any],
) -> pystac.Item:
    item = pystac.Item(
        id=_item_id(ref, year, footprint, str(manifest.get("mgrs_tile", "00X"))),
        geometry=shapely.geometry.mapping(footprint),
        bbox=list(footprint.bounds),
        datetime=None,
        properties={
            "start_datetime": f"{year}-01-01T00:00:00Z",
            "end_datetime": f"{year}-12-31T23:59:59Z",
            "proj:epsg": epsg,
            "pantau:simulated": True,
        },
        stac_extensions=[
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            "https://stac-extensions.github.io/classification/v1.0.0/schema.json",
        ],
        collection=ref.collection,
    )
    item.add_asset(ref.asset, _asset(ref, shape, transform))
    return item


def _asset(ref: Reference, shape: tuple[int, int], transform: Affine) -> pystac.Asset:
    scheme = ref.scheme
    if ref.name == "esa-worldcover":  # classification extension, as Planetary Computer
        classes: dict[str, Any] = {
            "classification:classes": [
                {"value": c.value, "description": c.name} for c in scheme.classes
            ]
        }
    else:  # file:values, as Planetary Computer lists io-lulc-annual-v02
        classes = {
            "file:values": [{"values": [scheme.nodata], "summary": "No Data"}]
            + [{"values": [c.value], "summary": c.name} for c in scheme.classes]
        }
    return pystac.Asset(
        href=f"./{ref.asset}.tif",
        media_type=pystac.MediaType.COG,
        title="Land cover classes (SIMULATED)",
        roles=["data"],
        extra_fields={
            "proj:shape": list(shape),
            "proj:transform": list(transform)[:6],
            "raster:bands": [
                {"nodata": scheme.nodata, "data_type": scheme.dtype, "spatial_resolution": 10}
            ],
            **classes,
        },
    )


def _collection(
    ref: Reference, footprint: shapely.Geometry, years: tuple[int, ...]
) -> pystac.Collection:
    return pystac.Collection(
        id=ref.collection,
        title=f"{ref.title} (SIMULATED)",
        description=(
            f"SIMULATED stand-in for the Planetary Computer collection `{ref.collection}`: "
            "same asset key, class codes and nodata, classes derived from the simulator's "
            "planted land cover with omission and commission errors. Not real data."
        ),
        extent=pystac.Extent(
            pystac.SpatialExtent([list(footprint.bounds)]),
            pystac.TemporalExtent(
                [[datetime(years[0], 1, 1, tzinfo=UTC), datetime(years[-1], 12, 31, tzinfo=UTC)]]
            ),
        ),
        license=ref.license,
        extra_fields={"pantau:simulated": True},
    )
