"""COG writing: valid, tiled, with overviews (average or nearest), nodata, atomic."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.errors import CRSError
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_validate

from geo.cog import write_cog


@pytest.mark.parametrize(
    ("array", "nodata"),
    [
        (np.random.default_rng(0).random((1100, 900)).astype(np.float32), np.nan),
        (np.random.default_rng(0).integers(0, 2, (3, 700, 600)).astype(np.uint16), 0),
    ],
)
def test_write_cog_is_valid(tmp_path, array: np.ndarray, nodata: float) -> None:
    path = write_cog(
        array,
        tmp_path / "x.tif",
        crs="EPSG:32749",
        transform=from_origin(400000, 9150000, 10, 10),
        nodata=nodata,
    )
    valid, errors, _ = cog_validate(path)
    assert valid, errors
    with rasterio.open(path) as ds:
        assert ds.overviews(1), "overviews expected"
        assert ds.crs.to_epsg() == 32749 and ds.res == (10.0, 10.0)
        data = ds.read()
    np.testing.assert_array_equal(data, array.reshape(data.shape))
    assert [p.name for p in tmp_path.iterdir()] == ["x.tif"]


def test_failed_write_leaves_nothing(tmp_path) -> None:
    with pytest.raises(CRSError):
        write_cog(
            np.zeros((10, 10), dtype=np.float32),
            tmp_path / "x.tif",
            crs="EPSG:999999",
            transform=from_origin(0, 0, 1, 1),
            nodata=None,
        )
    assert list(tmp_path.iterdir()) == []


def _checkerboard(size: int = 1024) -> np.ndarray:
    """Classes 10 and 20 in one-pixel squares: a 2x2 average is 15, neither class."""
    yy, xx = np.indices((size, size))
    return np.where((yy + xx) % 2 == 0, 10, 20).astype(np.uint8)


def _write(tmp_path, array: np.ndarray, **kwargs):
    options = {"crs": "EPSG:32749", "transform": from_origin(400000, 9150000, 10, 10)}
    options.setdefault("nodata", None)
    return write_cog(array, tmp_path / "x.tif", **(options | kwargs))


def _first_overview(path) -> np.ndarray:
    with rasterio.open(path, overview_level=0) as ds:
        return ds.read(1)


def test_average_overviews_blend_classes(tmp_path) -> None:
    overview = _first_overview(_write(tmp_path, _checkerboard(), resampling="average"))
    assert overview.shape == (512, 512)
    assert set(np.unique(overview)) == {15}


def test_nearest_overviews_keep_class_values(tmp_path) -> None:
    path = _write(tmp_path, _checkerboard(), resampling="nearest")
    with rasterio.open(path) as ds:
        assert ds.overviews(1) == [2, 4]
    assert set(np.unique(_first_overview(path))) <= {10, 20}


@pytest.mark.parametrize(("size", "factors"), [(300, []), (511, []), (512, [2]), (1100, [2, 4])])
def test_overviews_stop_at_about_one_tile(tmp_path, size: int, factors: list[int]) -> None:
    path = _write(tmp_path, np.ones((size // 2, size), dtype=np.uint8))
    with rasterio.open(path) as ds:
        assert ds.overviews(1) == factors
        assert ds.block_shapes[0] == (512, 512)
        assert ds.profile["compress"] == "zstd"


@pytest.mark.parametrize(
    ("dtype", "nodata"), [("float32", np.nan), ("uint16", 0), ("uint8", 255), ("int16", None)]
)
def test_nodata_is_kept(tmp_path, dtype: str, nodata: float | None) -> None:
    path = _write(tmp_path, np.ones((20, 30), dtype=dtype), nodata=nodata)
    with rasterio.open(path) as ds:
        if nodata is not None and np.isnan(nodata):
            assert np.isnan(ds.nodata)
        else:
            assert ds.nodata == nodata
        assert ds.dtypes == (dtype,)


def test_average_overviews_ignore_nodata(tmp_path) -> None:
    array = np.full((1024, 1024), 100, dtype=np.uint16)
    array[:, ::2] = 0  # every other column without data
    overview = _first_overview(_write(tmp_path, array, nodata=0, resampling="average"))
    assert set(np.unique(overview)) == {100}


def test_descriptions_and_tags(tmp_path) -> None:
    path = _write(
        tmp_path,
        np.zeros((2, 16, 16), dtype=np.float32),
        descriptions=("ndvi", "ndbi"),
        tags={"PANTAU_PRODUCT": "indices"},
    )
    with rasterio.open(path) as ds:
        assert ds.count == 2
        assert ds.descriptions == ("ndvi", "ndbi")
        assert ds.tags()["PANTAU_PRODUCT"] == "indices"


def test_failure_mid_write_leaves_no_file_and_no_temporary(tmp_path, monkeypatch) -> None:
    def copy_then_fail(src, dst, **kwargs):
        with open(dst, "wb") as f:
            f.write(b"half a tiff")
        raise OSError("disk full")

    monkeypatch.setattr(rasterio.shutil, "copy", copy_then_fail)
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path, np.ones((16, 16), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_file(tmp_path, monkeypatch) -> None:
    path = _write(tmp_path, np.full((16, 16), 7, dtype=np.uint8))

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(rasterio.shutil, "copy", fail)
    with pytest.raises(OSError):
        _write(tmp_path, np.full((16, 16), 8, dtype=np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["x.tif"]
    with rasterio.open(path) as ds:
        assert (ds.read(1) == 7).all()
