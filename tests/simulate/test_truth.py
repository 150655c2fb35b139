"""The planted truth: a built-up share per village and year, equal to the land cover's."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from geo.spectra import CLASSES
from simulate import LandCover, simulate_scenes

from .conftest import read


def test_truth_is_a_share_with_planted_growth(sim, small_villages) -> None:
    truth = sim.truth
    assert list(truth.columns) == ["kode", "year", "built_up_fraction_true"]
    assert len(truth) == 2 * len(small_villages)
    assert set(truth["kode"]) == set(small_villages["kode"])
    assert truth["year"].dtype == np.int64 and set(truth["year"]) == {2021, 2022}
    assert truth["built_up_fraction_true"].between(0, 1).all()
    wide = truth.pivot(index="kode", columns="year", values="built_up_fraction_true")
    change = wide[2022] - wide[2021]
    assert (change >= -1e-12).all()  # built-up only grows
    assert (change > 0.10).sum() >= 3
    kelurahan = wide.index.str[6] == "1"
    assert wide.loc[kelurahan, 2021].mean() > wide.loc[~kelurahan, 2021].mean()
    saved = pd.read_parquet(sim.catalog_dir / "truth.parquet")
    pd.testing.assert_frame_equal(saved, truth)


def test_truth_is_the_mean_impervious_share_of_pixel_aligned_squares(tmp_path: Path) -> None:
    """Truth = mean over the village of each pixel's impervious area share (its mixture's)."""
    # 3 x 3 squares of 410 m x 330 m, corners on the 10 m grid, given in the UTM CRS
    x0, y0, w, h = 430_000, 9_140_000, 410, 330
    squares = [
        shapely.box(x0 + i * w, y0 + j * h, x0 + (i + 1) * w, y0 + (j + 1) * h)
        for j in range(3)
        for i in range(3)
    ]
    codes = [f"9901{k // 5 + 1:02d}{1 if k < 2 else 2}{k:03d}" for k in range(9)]
    villages = gpd.GeoDataFrame({"kode": codes}, geometry=squares, crs=32749)
    result = simulate_scenes(villages, tmp_path, scenes_per_year=1, seed=4, progress=False)
    with rasterio.open(result.catalog_dir / "land_cover_2021.tif") as src:
        west, north = src.transform.c, src.transform.f
    palette = json.loads((result.catalog_dir / "palette.json").read_text())
    impervious_share = np.asarray(palette["shares"])[:, CLASSES.index("impervious")]
    for year in (2021, 2022):
        land_cover = read(result.catalog_dir / f"land_cover_{year}.tif")
        materials = read(result.catalog_dir / f"materials_{year}.tif")
        stored = read(result.catalog_dir / f"impervious_{year}.tif")
        assert set(np.unique(land_cover)) <= {1, 2, 3, 4}
        np.testing.assert_allclose(stored / 200, impervious_share[materials], atol=1e-12)
        for code, square in zip(codes, squares, strict=True):
            x0_, y0_, x1_, y1_ = square.bounds
            rows = slice(round((north - y1_) / 10), round((north - y0_) / 10))
            cols = slice(round((x0_ - west) / 10), round((x1_ - west) / 10))
            window = materials[rows, cols]
            assert window.shape == (h // 10, w // 10)
            share = float(impervious_share[window].mean())
            built_pixels = float((land_cover[rows, cols] == LandCover.BUILT).mean())
            truth = result.truth
            got = truth.loc[(truth["kode"] == code) & (truth["year"] == year)]
            got = got["built_up_fraction_true"]
            assert got.item() == pytest.approx(share, abs=1e-9)
            # built pixels are mixtures: at least 45 % and at most 100 % impervious
            assert 0.45 * built_pixels - 1e-9 <= share <= built_pixels + 1e-9
