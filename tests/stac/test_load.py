"""Loading pixels: real recorded items with hrefs rewritten to local COGs, read lazily."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dask.array as da
import numpy as np
import pystac
import pytest
from odc.geo.geobox import GeoBox
from rasterio.transform import from_origin

from geo.cog import write_cog
from stac.errors import StacError
from stac.load import load_stack

ES_MULTI = "test_item_search/test_multiple_collections.yaml"
ES_ID = "S2A_13TDE_20231008_0_L2A"  # real Earth Search v1 sentinel-2-l2a item (13TDE)
ORIGIN = (399960.0, 4500000.0)  # the tile's upper-left corner (proj:transform)
BANDS = ("red", "nir", "swir16", "scl")


def _localize(item: pystac.Item, folder: Path, dn: int) -> pystac.Item:
    """Rewrite the item's band hrefs to small local COGs at the tile's corner."""
    folder.mkdir(parents=True, exist_ok=True)
    item.set_self_href(None)  # hrefs are absolute local paths now, not relative to the API
    for band in BANDS:
        res = 10 if band in ("red", "nir") else 20
        n = 200 // (res // 10)
        value = 4 if band == "scl" else dn + (100 if band == "nir" else 0)
        arr = np.full((n, n), value, dtype=np.uint16 if band != "scl" else np.uint8)
        path = write_cog(
            arr,
            folder / f"{band}.tif",
            crs="EPSG:32613",
            transform=from_origin(*ORIGIN, res, res),
            nodata=0,
        )
        item.assets[band].href = str(path)
    return item


@pytest.fixture
def items(recorded_item: Callable[[str, str], pystac.Item], tmp_path: Path) -> list[pystac.Item]:
    applied = _localize(recorded_item(ES_MULTI, ES_ID), tmp_path / "a", dn=3000)
    raw = recorded_item(ES_MULTI, ES_ID)
    raw.id = "S2A_13TDE_20231018_0_L2A"
    raw.datetime = applied.datetime.replace(day=18)
    raw.properties["earthsearch:boa_offset_applied"] = False
    raw = _localize(raw, tmp_path / "b", dn=4000)
    return [raw, applied]


def _geobox() -> GeoBox:
    x0, y0 = ORIGIN
    return GeoBox.from_bbox((x0 + 200, y0 - 1200, x0 + 1200, y0 - 200), "EPSG:32613", resolution=10)


def test_load_is_lazy_and_in_time_order(items: list[pystac.Item]) -> None:
    stack = load_stack(items, bands=BANDS, geobox=_geobox(), chunk=64)
    assert isinstance(stack.data["red"].data, da.Array)
    assert stack.data["red"].shape == (2, 100, 100)
    assert stack.item_ids == ((ES_ID,), ("S2A_13TDE_20231018_0_L2A",))


def test_load_carries_each_items_offset(items: list[pystac.Item]) -> None:
    stack = load_stack(items, bands=BANDS, geobox=_geobox(), chunk=64)
    # boa_offset_applied: true -> pixels already corrected; false on baseline 05.09 -> -0.1
    np.testing.assert_allclose(stack.offset, [0.0, -0.1])
    np.testing.assert_allclose(stack.scale, [1e-4, 1e-4])


def test_loaded_pixels_are_the_files_pixels(items: list[pystac.Item]) -> None:
    stack = load_stack(items, bands=BANDS, geobox=_geobox(), chunk=64)
    data = stack.data.compute(scheduler="sync")
    assert (data["red"].values[0] == 3000).all() and (data["red"].values[1] == 4000).all()
    assert (data["nir"].values[1] == 4100).all()
    # 20 m bands are resampled to the 10 m grid
    assert data["swir16"].shape == (2, 100, 100) and (data["scl"].values == 4).all()
    # both scenes give the same reflectance once each offset is applied
    refl = data["red"].values * stack.scale[:, None, None] + stack.offset[:, None, None]
    np.testing.assert_allclose(refl[0], refl[1])


def test_missing_band_is_a_clear_error(items: list[pystac.Item]) -> None:
    del items[0].assets["swir16"]
    with pytest.raises(StacError, match="no asset for band.*swir16"):
        load_stack(items, bands=BANDS, geobox=_geobox())


@pytest.mark.parametrize("shift", [0.0, 10.0], ids=["aligned", "half-a-20m-pixel"])
def test_20m_bands_read_natively_equal_the_warped_read(
    recorded_item: Callable[[str, str], pystac.Item],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shift: float,
) -> None:
    """Coarse bands read at 20 m and repeated 2 x 2 give exactly GDAL's nearest warp; a grid
    whose edges are not on the 20 m grid takes the warped path (and still the same pixels)."""
    import stac.load

    item = _localize(recorded_item(ES_MULTI, ES_ID), tmp_path / "a", dn=3000)
    rng = np.random.default_rng(5)
    for band in ("swir16", "scl"):  # varied pixels, so a shifted copy could not pass
        arr = rng.integers(1, 250, (100, 100)).astype(np.uint16 if band != "scl" else np.uint8)
        write_cog(arr, Path(item.assets[band].href), crs="EPSG:32613",
                  transform=from_origin(*ORIGIN, 20, 20), nodata=0)  # fmt: skip
    x0, y0 = ORIGIN
    geobox = GeoBox.from_bbox(
        (x0 + 200 + shift, y0 - 1400 - shift, x0 + 1480 + shift, y0 - 120 - shift),
        "EPSG:32613",
        resolution=10,
    )
    native = stac.load._native_factors([item], BANDS, geobox, 64)
    assert native == ({"swir16": 2, "scl": 2} if shift == 0 else {})
    fast = load_stack([item], bands=BANDS, geobox=geobox, chunk=64).data.compute(scheduler="sync")
    monkeypatch.setattr(stac.load, "_native_factors", lambda *a: {})
    warped = load_stack([item], bands=BANDS, geobox=geobox, chunk=64).data
    warped = warped.compute(scheduler="sync")
    for band in BANDS:
        np.testing.assert_array_equal(fast[band].values, warped[band].values, err_msg=band)
    assert len(np.unique(fast["swir16"].values)) > 100
    assert fast["scl"].odc.geobox == warped["scl"].odc.geobox == geobox
