"""geo.overview: one web-mercator COG from many unit COGs (synthetic units, EPSG:32749)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from rio_cogeo.cogeo import cog_validate

import geo.overview
from geo.cog import write_cog
from geo.errors import GeoError
from geo.overview import WEB_MERCATOR, ZOOM_TAG, build_overview, zoom_resolution
from geo.products import BUILT_UP_METHODS, PRODUCTS

UTM = "EPSG:32749"
X0, Y0 = 430080.0, 9141760.0  # top-left of unit A; units are 256 px of 10 m = 2560 m
ORIGIN = 20037508.342789244


def _unit(
    path: Path, value: Any, *, x0: float = X0, y0: float = Y0, size: int = 256, product=None
) -> Path:
    product = product or PRODUCTS["ndvi"]
    shape = (product.n_bands, size, size) if product.n_bands > 1 else (size, size)
    data = value if isinstance(value, np.ndarray) else np.full(shape, value)
    write_cog(
        data.astype(product.dtype), path, crs=UTM, transform=Affine(10, 0, x0, 0, -10, y0),
        nodata=product.nodata, resampling=product.overview_resampling,
    )  # fmt: skip
    return path


def _pixel_centres_utm(src: rasterio.DatasetReader) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0 : src.height, 0 : src.width]
    xs, ys = rasterio.transform.xy(src.transform, rows.ravel(), cols.ravel())
    to_utm = Transformer.from_crs(3857, 32749, always_xy=True)
    ux, uy = to_utm.transform(np.asarray(xs), np.asarray(ys))
    return ux.reshape(rows.shape), uy.reshape(rows.shape)


def test_zoom_resolution_is_the_web_mercator_pixel_size() -> None:
    assert zoom_resolution(0) == pytest.approx(156543.03392804097)
    assert zoom_resolution(9) == pytest.approx(305.748113140705)
    with pytest.raises(GeoError, match="between 0 and 24"):
        zoom_resolution(30)


def test_overview_is_a_valid_cog_on_the_zoom_grid(tmp_path: Path) -> None:
    a = _unit(tmp_path / "a.tif", 0.25)
    dst = build_overview([a], tmp_path / "ov" / "ndvi.tif", PRODUCTS["ndvi"], zoom=12)
    valid, errors, _ = cog_validate(str(dst), quiet=True)
    assert valid, errors
    res = 2 * ORIGIN / (256 * 2**12)
    with rasterio.open(dst) as src:
        assert src.crs == WEB_MERCATOR
        assert src.res == pytest.approx((res, res))
        # the corner lies on the zoom's pixel grid
        assert ((src.transform.c + ORIGIN) / res) == pytest.approx(
            round((src.transform.c + ORIGIN) / res), abs=1e-6
        )
        assert ((ORIGIN - src.transform.f) / res) == pytest.approx(
            round((ORIGIN - src.transform.f) / res), abs=1e-6
        )
        assert src.tags()[ZOOM_TAG] == "12"
        assert np.isnan(src.nodata)
    assert not list(tmp_path.joinpath("ov").glob(".*"))  # no temporary file left


def test_units_keep_their_values_and_the_rest_is_nodata(tmp_path: Path) -> None:
    a = _unit(tmp_path / "a.tif", 0.25)
    b = _unit(tmp_path / "b.tif", 0.5, x0=X0 + 2560, y0=Y0 - 2560)  # diagonal: two gaps
    dst = build_overview([a, b], tmp_path / "ndvi.tif", PRODUCTS["ndvi"], zoom=12)
    with rasterio.open(dst) as src:
        data = src.read(1)
        ux, uy = _pixel_centres_utm(src)
    margin = 40.0  # one overview pixel (38 m): a pixel whose centre is deeper is all inside
    top = (uy < Y0 - margin) & (uy > Y0 - 2560 + margin)
    bottom = (uy < Y0 - 2560 - margin) & (uy > Y0 - 5120 + margin)
    left = (ux > X0 + margin) & (ux < X0 + 2560 - margin)
    right = (ux > X0 + 2560 + margin) & (ux < X0 + 5120 - margin)
    in_a, in_b = top & left, bottom & right
    outside = (top & right) | (bottom & left)
    assert in_a.sum() > 100 and in_b.sum() > 100 and outside.any()
    np.testing.assert_allclose(data[in_a], 0.25, rtol=1e-6)
    np.testing.assert_allclose(data[in_b], 0.5, rtol=1e-6)
    assert np.isnan(data[outside]).all()


@pytest.mark.parametrize(("order", "expected"), [("ab", 0.25), ("ba", 0.5)])
def test_first_unit_with_a_value_wins_where_they_overlap(
    tmp_path: Path, order: str, expected: float
) -> None:
    units = {
        "a": _unit(tmp_path / "a.tif", 0.25),
        "b": _unit(tmp_path / "b.tif", 0.5, x0=X0 + 1280),
    }
    dst = build_overview([units[k] for k in order], tmp_path / "o.tif", PRODUCTS["ndvi"], zoom=12)
    with rasterio.open(dst) as src:
        data = src.read(1)
        ux, uy = _pixel_centres_utm(src)
    overlap = (ux > X0 + 1320) & (ux < X0 + 2520) & (uy < Y0 - 40) & (uy > Y0 - 2520)
    assert overlap.sum() > 50
    np.testing.assert_allclose(data[overlap], expected, rtol=1e-6)


def test_class_product_keeps_its_classes(tmp_path: Path) -> None:
    rule = BUILT_UP_METHODS["rule"]  # 0/1 classes, nodata 255, nearest overviews
    rng = np.random.default_rng(1)
    classes = rng.integers(0, 2, (512, 512)).astype("uint8")
    classes[:100] = 255
    a = _unit(tmp_path / "a.tif", classes, size=512, product=rule)
    dst = build_overview([a], tmp_path / "b.tif", rule, zoom=13)
    with rasterio.open(dst) as src:
        values = set(np.unique(src.read(1)).tolist())
    assert values == {0, 1, 255}


def test_product_without_nodata_gets_a_mask(tmp_path: Path) -> None:
    product = PRODUCTS["clear_count"]
    assert product.nodata is None
    a = _unit(tmp_path / "a.tif", 0, product=product)  # never clear: 0 is a value, not nodata
    b = _unit(tmp_path / "b.tif", 3, x0=X0 + 2560, y0=Y0 - 2560, product=product)
    dst = build_overview([a, b], tmp_path / "c.tif", product, zoom=12)
    with rasterio.open(dst) as src:
        mask = src.dataset_mask()
        data = src.read(1)
        ux, uy = _pixel_centres_utm(src)
    inside = (ux > X0 + 40) & (ux < X0 + 2520) & (uy < Y0 - 40) & (uy > Y0 - 2520)
    outside = (ux > X0 + 2600) & (uy > Y0 - 2520)  # the empty north-east quarter
    assert (mask[inside] == 255).all() and (data[inside] == 0).all()
    assert outside.any() and (mask[outside] == 0).all()


def test_windows_do_not_change_the_result(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    a = _unit(tmp_path / "a.tif", rng.uniform(-1, 1, (256, 256)))
    b = _unit(tmp_path / "b.tif", rng.uniform(-1, 1, (256, 256)), x0=X0 + 2000)
    whole = build_overview([a, b], tmp_path / "w.tif", PRODUCTS["ndvi"], zoom=14)
    tiled = build_overview([a, b], tmp_path / "t.tif", PRODUCTS["ndvi"], zoom=14, window=256)
    with rasterio.open(whole) as w, rasterio.open(tiled) as t:
        assert w.width > 256  # more than one window
        a_, b_ = w.read(), t.read()
    # the same pixels have values; values agree up to the float rounding of warp positions
    np.testing.assert_array_equal(np.isnan(a_), np.isnan(b_))
    np.testing.assert_allclose(a_, b_, atol=5e-3)


def test_multiband_product(tmp_path: Path) -> None:
    rgb = PRODUCTS["rgb"]
    a = _unit(tmp_path / "a.tif", np.stack([np.full((256, 256), v) for v in (100, 200, 300)]),
              product=rgb)  # fmt: skip
    dst = build_overview([a], tmp_path / "rgb.tif", rgb, zoom=12)
    with rasterio.open(dst) as src:
        data = src.read()
        assert src.descriptions == ("red", "green", "blue")
    valid = data[0] != 0
    assert valid.any()
    assert [set(np.unique(band[valid]).tolist()) for band in data] == [{100}, {200}, {300}]


def test_units_are_read_at_their_matching_overview_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _unit(tmp_path / "a.tif", 0.25, size=2048)  # internal overviews x2, x4, x8
    opened: list[dict[str, Any]] = []
    real = rasterio.open

    def spy(path: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append({"path": Path(str(path)), **kwargs})
        return real(path, *args, **kwargs)

    monkeypatch.setattr(geo.overview.rasterio, "open", spy)
    build_overview([a], tmp_path / "o.tif", PRODUCTS["ndvi"], zoom=9)
    reads = [o for o in opened if o["path"] == a]
    assert {o["driver"] for o in opened if o["path"].suffix == ".tif"} == {"GTiff"}
    # z9 pixels span ~303 m on the ground at 7.8 S: the x8 level (80 m) is the coarsest
    # finer than that, index 2 of (x2, x4, x8)
    ground = zoom_resolution(9) * math.cos(math.radians(7.77))
    assert 10 * 8 <= ground  # and x8 is the last level of a 2048 px unit
    assert [o.get("overview_level") for o in reads if "overview_level" in o] == [2]


def test_no_sources_or_wrong_product_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GeoError, match="no unit COGs of 'ndvi'"):
        build_overview([], tmp_path / "o.tif", PRODUCTS["ndvi"])
    a = _unit(tmp_path / "a.tif", 0.25)
    with pytest.raises(GeoError, match="product 'rgb' stores 3 of uint16"):
        build_overview([a], tmp_path / "o.tif", PRODUCTS["rgb"])
    assert not (tmp_path / "o.tif").exists()
