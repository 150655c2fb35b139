"""Spectral indices against hand-computed values, and the built-up rule."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from geo.indices import BUILT_UP_RULE, INDICES, built_up_mask, compute_indices, required_bands

# A vegetation pixel, by hand: NDVI (0.35-0.035)/(0.35+0.035) = 0.818181...
PIXEL = {"blue": 0.03, "green": 0.06, "red": 0.035, "nir": 0.35, "swir16": 0.18, "swir22": 0.09}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ndvi", (0.35 - 0.035) / (0.35 + 0.035)),
        ("ndbi", (0.18 - 0.35) / (0.18 + 0.35)),
        ("mndwi", (0.06 - 0.18) / (0.06 + 0.18)),
        ("bsi", ((0.18 + 0.035) - (0.35 + 0.03)) / ((0.18 + 0.035) + (0.35 + 0.03))),
    ],
)
def test_index_matches_hand_value(name: str, expected: float) -> None:
    bands = {k: np.array([v], dtype=np.float32) for k, v in PIXEL.items()}
    assert compute_indices(bands)[name][0] == pytest.approx(expected, rel=1e-6)


def test_indices_stay_lazy_on_dask() -> None:
    bands = {k: da.full((4, 4), v, dtype=np.float32, chunks=2) for k, v in PIXEL.items()}
    out = compute_indices(bands)
    assert all(isinstance(v, da.Array) for v in out.values())
    assert float(out["ndvi"][0, 0].compute()) == pytest.approx(0.8181818, rel=1e-6)


def test_zero_denominator_gives_nan() -> None:
    zero = np.zeros(1, dtype=np.float32)
    with np.errstate(all="raise"):
        out = compute_indices({b: zero for b in PIXEL})
    assert np.isnan(out["ndvi"][0])


@pytest.mark.parametrize(
    ("spectrum", "built"),
    [
        # roofs/concrete/asphalt mix: flat spectrum
        (
            {"blue": 0.09, "green": 0.10, "red": 0.11, "nir": 0.15, "swir16": 0.20, "swir22": 0.18},
            True,
        ),
        # dry bare soil: reflectance rising into the SWIR -> BSI ~0.27
        (
            {"blue": 0.07, "green": 0.10, "red": 0.16, "nir": 0.22, "swir16": 0.34, "swir22": 0.30},
            False,
        ),
        (PIXEL, False),  # vegetation
        (
            {
                "blue": 0.06,
                "green": 0.07,
                "red": 0.05,
                "nir": 0.03,
                "swir16": 0.015,
                "swir22": 0.01,
            },
            False,
        ),
    ],
)
def test_built_up_rule_separates_classes(spectrum: dict[str, float], built: bool) -> None:
    bands = {k: np.array([v], dtype=np.float32) for k, v in spectrum.items()}
    assert bool(built_up_mask(compute_indices(bands))[0]) is built


def test_nan_is_never_built_up() -> None:
    nan = {n: np.array([np.nan], dtype=np.float32) for n in INDICES}
    assert not built_up_mask(nan)[0]


def test_rule_is_documented() -> None:
    assert "NDBI > 0" in str(BUILT_UP_RULE)


def test_required_bands() -> None:
    assert required_bands(("ndvi",)) == ("red", "nir")
    assert set(required_bands()) == {"blue", "green", "red", "nir", "swir16"}
