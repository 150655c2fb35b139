"""COG writing: valid, tiled, with overviews, atomic."""

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
