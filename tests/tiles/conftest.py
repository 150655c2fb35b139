"""A small products directory per docs/products.md, built once per session, and clients.

Layout built in a temporary folder:

* ``villages.parquet``: 20 real DI Yogyakarta villages (12 kelurahan of Kota Yogyakarta,
  8 desa of Sleman; polygons from ``shared/data/boundaries/desa_kel_34_diy.parquet``) x two
  periods ``2023`` and ``2024``, with seeded statistics columns; the ``_change`` columns are
  NaN in 2023, and Semaki has no built-up fraction in 2024 (a village without a value).
* ``composites/<period>/``: ndvi/ndbi/mndwi/bsi float32 (NaN nodata), built_up uint8 (percent),
  clear_count uint8 and rgb uint16 COGs in EPSG:32749 at 20 m with overviews (rio-cogeo).
* ``indicators/idm.parquet``: the real IDM 2024 rows of the 8 desa (kelurahan have none);
  ``indicators/poverty.parquet``: real 2021 kab/kota poverty rows (4-digit codes).
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from tiles.app import create_app
from tiles.settings import TilesSettings

#: Third-party warnings the tile tests tolerate (all others are errors), with the reason.
THIRD_PARTY_WARNINGS = (
    # rasterio.transform.from_bounds, called inside rio-tiler, multiplies Affine objects with
    # `*`, which affine >= 3 marks as pending deprecation; not our code to change.
    "ignore:Use `@` matmul instead of `*` mul operator:PendingDeprecationWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Apply :data:`THIRD_PARTY_WARNINGS` to the tests of this folder only."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            for spec in THIRD_PARTY_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


PERIODS = ("2023", "2024")
KELURAHAN = (
    "3471031003 3471031005 3471031001 3471031002 3471031004 3471021002 "
    "3471041003 3471011002 3471021003 3471041002 3471131001 3471041001"
).split()
DESA = "3404072001 3404072003 3404062001 3404122002 3404072002 3404012005 3404122001 3404062002"
DESA = DESA.split()
#: A village with no built-up fraction in 2024 (drawn hatched grey).
NO_VALUE_KODE = "3471131001"
INDICES = ("ndvi", "ndbi", "mndwi", "bsi")
RES = 20.0
UTM = "EPSG:32749"
#: The one work unit of the hand-built products (docs/products.md layout).
UNIT = "32749_x0021_y0446"


def write_cog(path: Path, data: np.ndarray, *, transform, nodata) -> None:
    profile = {
        "driver": "GTiff",
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "dtype": data.dtype.name,
        "crs": UTM,
        "transform": transform,
        "nodata": nodata,
    }
    cog = cog_profiles.get("deflate") | {"blockxsize": 256, "blockysize": 256}
    with MemoryFile() as mem:
        with mem.open(**profile) as src:
            src.write(data)
        with mem.open() as src:
            cog_translate(src, str(path), cog, overview_resampling="nearest", quiet=True)


def _statistics(kodes: list[str], period_index: int, rng: np.random.Generator) -> pd.DataFrame:
    n = len(kodes)
    urban = np.array([k.startswith("3471") for k in kodes])
    cols: dict[str, np.ndarray] = {}
    for name in INDICES:
        mean = rng.uniform(-0.3, 0.7, n)
        cols.update(
            {
                f"{name}_mean": mean,
                f"{name}_median": mean + rng.normal(0, 0.02, n),
                f"{name}_std": rng.uniform(0.01, 0.2, n),
                f"{name}_p10": mean - 0.1,
                f"{name}_p90": mean + 0.1,
            }
        )
    built = np.clip(np.where(urban, 0.7, 0.25) + 0.05 * period_index + rng.normal(0, 0.1, n), 0, 1)
    cols["built_up_fraction"] = built
    cols["valid_fraction"] = rng.uniform(0.6, 1.0, n)
    cols["n_obs"] = rng.integers(3, 30, n).astype("int64")
    return pd.DataFrame(cols, index=pd.Index(kodes, name="kode"))


def build_products(root: Path, shared: Path) -> Path:
    """Write the fixture products directory into ``root``."""
    rng = np.random.default_rng(20240601)
    boundaries = gpd.read_parquet(shared / "boundaries" / "desa_kel_34_diy.parquet")
    chosen = boundaries[boundaries["kode_10"].isin(KELURAHAN + DESA)]
    chosen = chosen[["kode_10", "nama", "geometry"]].rename(columns={"kode_10": "kode"})
    chosen = chosen.sort_values("kode").reset_index(drop=True)
    kodes = chosen["kode"].tolist()

    frames, previous = [], None
    for i, period in enumerate(PERIODS):
        stats = _statistics(kodes, i, rng)
        if period == "2024":
            stats.loc[NO_VALUE_KODE, "built_up_fraction"] = np.nan
        base = list(stats.columns)
        for col in base:
            stats[f"{col}_change"] = np.nan if previous is None else stats[col] - previous[col]
        previous = stats[base]
        frame = chosen.merge(stats.reset_index(), on="kode")
        frame.insert(2, "period", period)
        frames.append(frame)
    villages = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    villages.to_parquet(root / "villages.parquet")
    villages.drop(columns="geometry").to_csv(root / "villages.csv", index=False)

    left, bottom, right, top = villages.to_crs(UTM).total_bounds
    left, top = np.floor(left / RES) * RES - 300, np.ceil(top / RES) * RES + 300
    width = int(np.ceil((right - left + 300) / RES))
    height = int(np.ceil((top - bottom + 300) / RES))
    transform = from_origin(left, top, RES, RES)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    for i, period in enumerate(PERIODS):
        folder = root / "composites" / period / UNIT
        folder.mkdir(parents=True)
        for j, name in enumerate(INDICES):
            value = np.sin(6 * xx + j) * np.cos(5 * yy) * 0.6 + 0.05 * i
            value = value.astype("float32")[None]
            value[:, :40, :40] = np.nan  # a corner without data
            write_cog(folder / f"{name}.tif", value, transform=transform, nodata=np.nan)
        built = np.clip(50 + 60 * np.sin(9 * xx) * np.cos(7 * yy), 0, 100).astype("uint8")[None]
        built[:, :40, :40] = 255
        write_cog(folder / "built_up.tif", built, transform=transform, nodata=255)
        clear = rng.integers(0, 30, (1, height, width)).astype("uint8")
        write_cog(folder / "clear_count.tif", clear, transform=transform, nodata=None)
        rgb = (rng.integers(200, 2800, (3, height, width)) + 300 * i).astype("uint16")
        rgb[:, :40, :40] = 0
        write_cog(folder / "rgb.tif", rgb, transform=transform, nodata=0)

    indicators = root / "indicators"
    indicators.mkdir()
    idm = pd.read_csv(shared / "indicators" / "idm_2024_desa_34_diy.csv", dtype={"kode_desa": str})
    idm = idm[idm["kode_desa"].isin(DESA)]
    idm = idm.rename(columns={"kode_desa": "kode"}).assign(level="desa")
    cols = ["kode", "level", "nama_desa", "nilai_idm_2024", "status_idm_2024", "iks_2024"]
    idm[cols].to_parquet(indicators / "idm.parquet", index=False)
    poverty = pd.read_csv(
        shared
        / "indicators"
        / "poverty_kabkota_2021"
        / "poverty_ipm_kabkota_2021_with_kemendagri_code.csv",
        dtype={"kode_kab": str},
    )
    poverty = poverty[poverty["kode_kab"].str.startswith("34")]
    poverty = poverty.rename(columns={"kode_kab": "kode"}).assign(level="kabkota")
    cols = ["kode", "level", "p0_persen_2021", "rls_tahun", "klasifikasi_kemiskinan"]
    poverty[cols].to_parquet(indicators / "poverty.parquet", index=False)
    return root


@pytest.fixture(scope="session")
def products_dir(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The session's read-only products directory."""
    return build_products(tmp_path_factory.mktemp("products"), shared_data)


@pytest.fixture(scope="session")
def client(products_dir: Path) -> TestClient:
    """A client of an app over :func:`products_dir` (re-scanning on every request)."""
    app = create_app(TilesSettings(products_dir=products_dir, rescan_interval=0))
    return TestClient(app)


@pytest.fixture
def mutable_products(products_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the products a test may change."""
    return Path(shutil.copytree(products_dir, tmp_path / "products"))


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Build clients over other directories or settings."""

    def make(products: Path, **settings: object) -> TestClient:
        options = {"rescan_interval": 0, **settings}
        return TestClient(create_app(TilesSettings(products_dir=products, **options)))

    yield make


def png(content: bytes) -> np.ndarray:
    """Decode a PNG body into a (bands, rows, cols) array."""
    with warnings.catch_warnings():
        # A PNG has no georeferencing by nature.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile(content) as mem, mem.open() as src:
            assert src.driver == "PNG"
            return src.read()


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """z, x, y of the WebMercatorQuad tile holding a point."""
    import morecantile

    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, z)
    return z, t.x, t.y


#: Real values of every path parameter over the tile tests' products, per layer family (the
#: merged OpenAPI operations serve both): what the SSRF and query-parameter tests fill in.
PATH_BASELINES = tuple(
    {"layer_id": layer, "period": "2024", "z": z, "x": x, "y": y, "format": fmt, "kode": kode}
    for (z, x, y) in [tile_of(110.385, -7.76, 13)]
    for layer, fmt, kode in (
        ("raster.ndvi", "png", "3471031001"),
        ("choropleth.built_up_fraction", "pbf", "3471"),
    )
)


def village_point(products: Path, kode: str) -> tuple[float, float]:
    """A point well inside a village (lon, lat)."""
    frame = gpd.read_parquet(products / "villages.parquet")
    geom = frame.loc[frame["kode"] == kode, "geometry"].iloc[0]
    inner = geom.buffer(-0.0015)
    point = (inner if not inner.is_empty else geom).representative_point()
    return point.x, point.y


def pixel_of(lon: float, lat: float, z: int, x: int, y: int, size: int = 256) -> tuple[int, int]:
    """Row, col of a lon/lat point inside tile z/x/y."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    b = tms.xy_bounds(x, y, z)
    px, py = tms.xy(lon, lat)
    col = int((px - b.left) / (b.right - b.left) * size)
    row = int((b.top - py) / (b.top - b.bottom) * size)
    return row, col
