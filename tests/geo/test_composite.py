"""SCL masking, reflectance offsets on both baselines, and median composites."""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pytest

from geo.composite import composite_block, median_composite, nanmedian_axis0, period_labels
from geo.masking import clear_mask, to_reflectance
from geo.sentinel2 import SCL_CLASSES, SCL_MASKED


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int64])
@pytest.mark.parametrize("value", sorted(SCL_CLASSES))
def test_clear_mask_per_scl_class(value: int, dtype: type) -> None:
    assert bool(clear_mask(np.array([value], dtype=dtype))[0]) is (value not in SCL_MASKED)


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_clear_mask_out_of_range_values_read_as_255_or_0(dtype: type) -> None:
    # 255 is no class: clear, as values past it; negative values are no data (0)
    values = np.array([255, 256, 300, 65535], dtype=dtype)
    assert clear_mask(values).tolist() == [True] * 4
    if np.issubdtype(dtype, np.signedinteger):
        assert not clear_mask(np.array([-1], dtype=dtype))[0]


def test_masked_classes_are_the_documented_ones() -> None:
    assert SCL_MASKED == {0, 1, 3, 8, 9, 10, 11}


def test_clear_mask_is_lazy_on_dask() -> None:
    m = clear_mask(da.from_array(np.array([[4, 9], [3, 6]], dtype=np.uint16), chunks=1))
    assert isinstance(m, da.Array)
    assert m.compute().tolist() == [[True, False], [False, True]]


@pytest.mark.parametrize(
    ("dn", "offset", "expected"),
    [
        (3500, 0.0, 0.35),  # baseline < 04.00: reflectance = DN / 10000
        (4500, -0.1, 0.35),  # baseline >= 04.00, raw: (DN - 1000) / 10000
        (500, -0.1, -0.05),  # dark water after the offset may be slightly negative
    ],
)
def test_reflectance_offsets(dn: int, offset: float, expected: float) -> None:
    out = to_reflectance(np.array([dn], dtype=np.uint16), scale=1e-4, offset=offset)
    assert out[0] == pytest.approx(expected, abs=1e-6)


def test_reflectance_nodata_is_nan() -> None:
    out = to_reflectance(np.array([0, 100], dtype=np.uint16), scale=1e-4, offset=0.0)
    assert np.isnan(out[0]) and out[1] == pytest.approx(0.01)


def test_nanmedian_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((7, 30, 40)).astype(np.float32)
    a[rng.random(a.shape) < 0.4] = np.nan
    a[:, 0, 0] = np.nan
    ours, count = nanmedian_axis0(a)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        ref = np.nanmedian(a, axis=0)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, equal_nan=True)
    assert count[0, 0] == 0 and np.isnan(ours[0, 0])


def _stack(dn_per_time: list[int], scl_per_time: list[int]) -> np.ndarray:
    t = len(dn_per_time)
    stack = np.zeros((3, t, 2, 2), dtype=np.uint16)
    stack[0] = np.array(dn_per_time, dtype=np.uint16)[:, None, None]
    stack[1] = stack[0] + 100
    stack[2] = np.array(scl_per_time, dtype=np.uint16)[:, None, None]
    return stack


def test_composite_masks_clouds_and_applies_offsets_per_time() -> None:
    # t0 old baseline 0.30; t1 new baseline raw 0.32 (+1000); t2 cloud; t3 new 0.34
    stack = _stack([3000, 4200, 9000, 4400], [4, 4, 9, 5])
    out = composite_block(stack, scale=np.full(4, 1e-4), offset=np.array([0.0, -0.1, -0.1, -0.1]))
    assert out.shape == (3, 2, 2)
    assert out[0, 0, 0] == pytest.approx(0.32, abs=1e-6)  # median of 0.30, 0.32, 0.34
    assert out[1, 0, 0] == pytest.approx(0.33, abs=1e-6)
    assert out[2, 0, 0] == 3  # clear observations


def test_composite_never_clear_is_nan_with_zero_count() -> None:
    stack = _stack([3000, 3000], [8, 3])
    out = composite_block(stack, scale=np.full(2, 1e-4), offset=np.zeros(2))
    assert np.isnan(out[0]).all() and (out[-1] == 0).all()


def test_composite_drops_pixels_with_zero_dn() -> None:
    stack = _stack([3000, 5000], [4, 4])
    stack[1, 1] = 0  # second band has no data at t1
    out = composite_block(stack, scale=np.full(2, 1e-4), offset=np.zeros(2))
    assert out[0, 0, 0] == pytest.approx(0.30, abs=1e-6) and out[-1, 0, 0] == 1


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_composite_equals_nanmedian_of_masked_reflectance(steps: int, dtype: type) -> None:
    """Random DN, no-data zeros and every SCL class (and values past 255): the kernel's
    median and count equal numpy's nanmedian over the clear observations."""
    rng = np.random.default_rng(steps)
    stack = rng.integers(0, 6000, (4, steps, 40, 30)).astype(dtype)
    stack[:-1, :, :2] = 0  # rows without data
    stack[-1] = rng.integers(0, 12, (steps, 40, 30))
    stack[-1, :, -1, :] = 300  # past the class table: taken as class 255
    scale = rng.uniform(1e-4, 2e-4, steps)
    offset = rng.choice([0.0, -0.1], steps)
    out = composite_block(stack, scale=scale, offset=offset)
    usable = ~np.isin(np.clip(stack[-1], 0, 255), sorted(SCL_MASKED))
    clear = usable & (stack[:-1] != 0).all(axis=0)
    refl = stack[:-1].astype(np.float32) * scale.astype(np.float32)[:, None, None]
    refl += offset.astype(np.float32)[:, None, None]
    refl[:, ~clear] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
        expected = np.nanmedian(refl, axis=1)
    np.testing.assert_array_equal(out[-1], clear.sum(axis=0))
    assert 0 < (out[-1] == 0).mean() < 1
    np.testing.assert_allclose(out[:-1], expected, rtol=0, atol=1e-7)
    assert np.array_equal(np.isnan(out[:-1]), np.isnan(expected))


def test_median_composite_is_lazy_and_chunked() -> None:
    rng = np.random.default_rng(1)
    stack = rng.integers(1, 5000, (3, 5, 600, 500)).astype(np.uint16)
    stack[-1] = 4
    lazy = median_composite(
        da.from_array(stack, chunks=(1, 1, 256, 256)), np.full(5, 1e-4), np.zeros(5), chunk=256
    )
    assert isinstance(lazy, da.Array) and lazy.shape == (3, 600, 500)
    eager = composite_block(stack, scale=np.full(5, 1e-4), offset=np.zeros(5))
    np.testing.assert_array_equal(lazy.compute(scheduler="sync"), eager)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("year", ["2021", "2022"]),
        ("quarter", ["2021-Q1", "2022-Q4"]),
        ("month", ["2021-03", "2022-12"]),
    ],
)
def test_period_labels(period: str, expected: list[str]) -> None:
    assert period_labels(["2021-03-05T03:00:00Z", "2022-12-31T23:00:00Z"], period) == expected


@pytest.mark.parametrize("t", [1, 2, 5, 9, 17])
def test_composite_equals_numpy_nanmedian(t: int) -> None:
    rng = np.random.default_rng(t)
    stack = rng.integers(1, 6000, (3, t, 40, 50)).astype(np.uint16)
    stack[-1] = rng.choice([4, 5, 6, 8, 9, 3, 0], (t, 40, 50))
    offset = rng.choice([0.0, -0.1], t)
    out = composite_block(stack, scale=np.full(t, 1e-4), offset=offset)
    clear = np.isin(stack[-1], [4, 5, 6])
    for b in range(2):
        refl = (
            stack[b].astype(np.float32) * np.float32(1e-4)
            + offset.astype(np.float32)[:, None, None]
        )
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = np.nanmedian(np.where(clear, refl, np.nan), axis=0)
        np.testing.assert_allclose(out[b], ref, rtol=1e-6, atol=1e-7, equal_nan=True)
    np.testing.assert_array_equal(out[-1], clear.sum(axis=0))
