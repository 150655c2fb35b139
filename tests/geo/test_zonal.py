"""Zonal statistics: exact geometry on small cases, and equality with exactextract."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from rasterio.transform import from_origin

import geo.zonal
from geo.zonal import CoverageWeights, coverage_weights, weighted_quantiles, zonal_stats

TRANSFORM = from_origin(0, 100, 10, 10)  # 10 x 10 cells of 10 m, x 0..100, y 0..100


def _frame(*geoms: shapely.Geometry) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=list(geoms), crs="EPSG:32749")


def test_aligned_square_covers_whole_cells() -> None:
    w = coverage_weights(_frame(shapely.box(10, 70, 30, 90)), shape=(10, 10), transform=TRANSFORM)
    assert sorted(w.cell.tolist()) == [11, 12, 21, 22]  # rows 1-2, cols 1-2
    np.testing.assert_allclose(w.coverage, 1.0)


def test_partial_cells_weight_the_mean_exactly() -> None:
    # x 5..20 covers half of column 0 and all of column 1, one row (y 90..100)
    raster = np.zeros((10, 10), dtype=np.float32)
    raster[0, 0], raster[0, 1] = 1.0, 4.0
    w = coverage_weights(_frame(shapely.box(5, 90, 20, 100)), shape=(10, 10), transform=TRANSFORM)
    stats = zonal_stats(w, raster, stats=("mean", "std"))
    assert stats["mean"][0] == pytest.approx((0.5 * 1 + 1 * 4) / 1.5)
    mean = (0.5 * 1 + 4) / 1.5
    assert stats["std"][0] == pytest.approx(
        np.sqrt((0.5 * (1 - mean) ** 2 + (4 - mean) ** 2) / 1.5)
    )


def test_nan_cells_are_left_out_and_empty_village_is_nan() -> None:
    raster = np.full((10, 10), np.nan, dtype=np.float32)
    raster[0, :5] = 2.0
    w = coverage_weights(
        _frame(shapely.box(0, 90, 100, 100), shapely.box(0, 0, 50, 10)),
        shape=(10, 10),
        transform=TRANSFORM,
    )
    stats = zonal_stats(w, raster)
    assert stats["mean"][0] == 2.0 and stats["median"][0] == 2.0
    assert all(np.isnan(stats[s][1]) for s in stats)


def test_village_outside_the_grid_has_no_cells() -> None:
    w = coverage_weights(
        _frame(shapely.box(500, 500, 600, 600)), shape=(10, 10), transform=TRANSFORM
    )
    assert w.cell.size == 0
    assert np.isnan(zonal_stats(w, np.ones((10, 10), np.float32))["mean"][0])


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),  # R type 7 with equal weights
        ([1.0, 2.0, 3.0, 4.0], 0.1, 1.3),
        ([5.0], 0.9, 5.0),
        ([2.0, 2.0, 2.0, 8.0], 0.5, 5.0),  # duplicates merge: distinct 2 (w=3), 8 (w=1)
    ],
)
def test_weighted_quantiles_small_cases(values: list[float], q: float, expected: float) -> None:
    x = np.array(values, dtype=np.float32)
    out = weighted_quantiles(np.zeros(x.size, np.int64), x, np.ones(x.size, np.float32), [q], 1)
    assert out[0, 0] == pytest.approx(expected)


def _voronoi(n: int, seed: int, box: shapely.Polygon) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = box.bounds
    pts = shapely.points(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box))
    return _frame(*[shapely.intersection(c, box) for c in cells])


@pytest.fixture(params=["per_group", "global_sort"])
def quantile_path(request, monkeypatch) -> str:
    """Both quantile kernels: villages summarised one by one, and one sort of all entries."""
    monkeypatch.setattr(geo.zonal, "_PER_GROUP_MIN", 0 if request.param == "per_group" else 10**9)
    return request.param


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_exactextract_on_random_villages(seed: int, quantile_path: str) -> None:
    rng = np.random.default_rng(seed)
    h, w_ = 120, 150
    transform = from_origin(400_000, 9_150_000, 10, 10)
    raster = rng.normal(0.3, 0.2, (h, w_)).astype(np.float32)
    raster[rng.random((h, w_)) < 0.1] = np.nan
    raster[:20, :20] = 0.25  # ties
    box = shapely.box(400_005, 9_148_815, 401_495, 9_149_995)
    villages = _voronoi(25, seed, box)
    weights = coverage_weights(villages, shape=(h, w_), transform=transform)
    ours = zonal_stats(weights, raster)
    src = NumPyRasterSource(raster, 400_000, 9_148_800, 401_500, 9_150_000, nodata=np.nan)
    ref = exact_extract(
        src,
        villages,
        ["mean", "median", "stdev", "quantile(q=0.1)", "quantile(q=0.9)"],
        output="pandas",
    )
    pairs = {
        "mean": "mean",
        "median": "median",
        "std": "stdev",
        "p10": "quantile_10",
        "p90": "quantile_90",
    }
    for ours_name, ref_name in pairs.items():
        np.testing.assert_allclose(ours[ours_name], ref[ref_name], rtol=1e-6, atol=1e-6)


def test_weights_round_trip(tmp_path) -> None:
    w = coverage_weights(_frame(shapely.box(5, 5, 55, 45)), shape=(10, 10), transform=TRANSFORM)
    w.save(tmp_path / "w.npz")
    back = CoverageWeights.load(tmp_path / "w.npz")
    assert back.transform == w.transform and back.shape == w.shape
    np.testing.assert_array_equal(back.cell, w.cell)
    assert not list(tmp_path.glob("*.tmp*"))


def test_wrong_raster_shape_is_refused() -> None:
    w = coverage_weights(_frame(shapely.box(5, 5, 55, 45)), shape=(10, 10), transform=TRANSFORM)
    with pytest.raises(ValueError, match="grid shape"):
        zonal_stats(w, np.ones((5, 5), np.float32))


def test_batches_give_the_same_statistics() -> None:
    rng = np.random.default_rng(5)
    raster = rng.random((60, 80)).astype(np.float32)
    raster[rng.random(raster.shape) < 0.2] = np.nan
    villages = _voronoi(15, 5, shapely.box(3, 3, 797, 597))
    w = coverage_weights(villages, shape=(60, 80), transform=from_origin(0, 600, 10, 10))
    whole = zonal_stats(w, raster)
    batched = zonal_stats(w, raster, max_entries=100)
    for name in whole:
        np.testing.assert_array_equal(whole[name], batched[name])


def test_threaded_coverage_equals_single() -> None:
    villages = _voronoi(9, 2, shapely.box(3, 3, 797, 597))
    one = coverage_weights(villages, shape=(60, 80), transform=from_origin(0, 600, 10, 10))
    three = coverage_weights(
        villages, shape=(60, 80), transform=from_origin(0, 600, 10, 10), threads=3
    )
    for name in ("village", "cell", "coverage"):
        np.testing.assert_array_equal(getattr(one, name), getattr(three, name))


def test_small_integer_rasters_match_exactextract(quantile_path: str) -> None:
    """Counts take the histogram path; the quantiles must not change."""
    rng = np.random.default_rng(9)
    raster = rng.integers(0, 7, (120, 150)).astype(np.float32)
    villages = _voronoi(20, 9, shapely.box(400_005, 9_148_815, 401_495, 9_149_995))
    weights = coverage_weights(
        villages, shape=(120, 150), transform=from_origin(400_000, 9_150_000, 10, 10)
    )
    ours = zonal_stats(weights, raster)
    src = NumPyRasterSource(raster, 400_000, 9_148_800, 401_500, 9_150_000)
    ref = exact_extract(
        src, villages, ["median", "quantile(q=0.1)", "quantile(q=0.9)"], output="pandas"
    )
    for name, col in (("median", "median"), ("p10", "quantile_10"), ("p90", "quantile_90")):
        np.testing.assert_allclose(ours[name], ref[col], rtol=1e-6, atol=1e-6)


def test_both_quantile_paths_agree_with_partial_cells_ties_and_signed_zeros(monkeypatch) -> None:
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, 400, 40)
    group = np.repeat(np.arange(sizes.size), sizes)
    values = rng.choice(np.array([-0.0, 0.0, 0.5, 0.25], np.float32), group.size)
    values[::3] = rng.normal(size=values[::3].size).astype(np.float32)
    weights = np.where(rng.random(group.size) < 0.3, rng.random(group.size), 1).astype(np.float32)
    qs = [0.1, 0.5, 0.9]
    monkeypatch.setattr(geo.zonal, "_PER_GROUP_MIN", 0)
    per_group = weighted_quantiles(group, values, weights, qs, sizes.size + 1)
    monkeypatch.setattr(geo.zonal, "_PER_GROUP_MIN", 10**9)
    global_sort = weighted_quantiles(group, values, weights, qs, sizes.size + 1)
    np.testing.assert_allclose(per_group, global_sort, rtol=0, atol=1e-12)
    assert np.isnan(per_group[:, -1]).all()  # the last group has no entry
