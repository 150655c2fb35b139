"""The simulator's class spectra: plausible, and on the right side of the built-up rule."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from simulate import CLASS_SPECTRA, LandCover, class_reflectance
from simulate.spectra import BAND_GAIN_JITTER, GAIN_JITTER, NOISE_REL

from .conftest import REFLECTANCE, built_rule


@pytest.mark.parametrize(
    ("cls", "built"),
    [
        (LandCover.WATER, False),
        (LandCover.VEGETATION, False),
        (LandCover.BARE, False),
        (LandCover.BUILT, True),
    ],
)
def test_class_spectra_under_noise_follow_the_builtup_rule(cls: LandCover, built: bool) -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    days = [date.fromordinal(date(2021, 1, 1).toordinal() + d) for d in range(365)]
    day_of = rng.integers(0, 365, n)
    gain = rng.uniform(1 - GAIN_JITTER, 1 + GAIN_JITTER, n)
    noisy = {}
    for band in REFLECTANCE:
        seasonal = np.array([class_reflectance(d)[cls][band] for d in days])[day_of]
        band_gain = rng.uniform(1 - BAND_GAIN_JITTER, 1 + BAND_GAIN_JITTER, n)
        noise = 1 + NOISE_REL * rng.standard_normal(n)
        noisy[band] = seasonal * gain * band_gain * noise
    share = built_rule(noisy).mean()
    if built:
        assert share > 0.995
    else:
        assert share < 0.005
    # and without noise, with a margin
    clean = {b: np.array([CLASS_SPECTRA[cls][b]]) for b in REFLECTANCE}
    assert bool(built_rule(clean)[0]) is built


def test_class_spectra_are_plausible_reflectances() -> None:
    for spectrum in CLASS_SPECTRA.values():
        assert all(0.0 < v < 0.6 for v in spectrum.values())
    veg, water = CLASS_SPECTRA[LandCover.VEGETATION], CLASS_SPECTRA[LandCover.WATER]
    assert veg["nir"] > 4 * veg["red"]  # red edge
    assert water["nir"] < water["green"] and water["swir16"] < water["green"]
