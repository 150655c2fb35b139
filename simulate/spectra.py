"""Land-cover classes of the simulation and their surface-reflectance spectra.

The values are typical Sentinel-2 band-averaged L2A surface reflectances read from published
spectra, not convolutions of library spectra with the Sentinel-2 spectral response functions:

* vegetation / rice paddy: green-leaf spectra of the ECOSTRESS spectral library (Meerdink et
  al. 2019, Remote Sensing of Environment 230:111196) and the USGS splib07 (Kokaly et al. 2017,
  USGS Data Series 1035): low blue/red, green peak, NIR plateau 0.3-0.5, water absorption
  lowering SWIR 1.6 to ~0.2 and SWIR 2.2 to ~0.1.
* bare soil: ECOSTRESS soil spectra (Entisols/Inceptisols, brown loams): reflectance rising
  monotonically from ~0.07 (blue) to ~0.35 (1.6 um), slightly lower at 2.2 um.
* built-up: Small (2005), "A global analysis of urban reflectance", Int. J. Remote Sens.
  26(4):661-681: urban pixels at 10-30 m are mixtures of high-albedo (concrete, zinc roofs),
  dark (asphalt, shade) and some vegetation; the mixture is flat-to-rising from the visible to
  SWIR 1.6 with SWIR 1.6 above NIR, which is what NDBI (Zha, Gao & Ni 2003, Int. J. Remote Sens.
  24(3):583-594) relies on.
* water: turbid inland water (rivers, fish ponds): 0.05-0.07 in the visible, absorbing strongly
  from the NIR on; MNDWI (Xu 2006, Int. J. Remote Sens. 27(14):3025-3033) is clearly positive.

The classes are chosen to be separable by the pipeline's built-up rule (NDBI > 0, NDVI < 0.2,
MNDWI < 0, BSI < 0.2; BSI after Rikimaru, Roy & Miyatake 2002, Tropical Ecology 43(1):39-47)
with margins of several noise standard deviations. Noiseless values:

============  =====  =====  =====  =====
class         NDBI   NDVI   MNDWI  BSI
============  =====  =====  =====  =====
water         -0.33  -0.25  +0.65  -0.16
vegetation    -0.32  +0.82  -0.50  -0.28
bare soil     +0.24  +0.16  -0.57  +0.28  (fails BSI < 0.2)
built-up      +0.15  +0.12  -0.31  +0.13  (passes all four)
============  =====  =====  =====  =====

Real Javanese settlements (kampung under tree cover, terracotta roofs) are greener and redder
than this mixture; the simulation keeps the textbook case so the demo can test the pipeline's
mechanics, not the rule.
"""

from __future__ import annotations

import math
from datetime import date
from enum import IntEnum
from types import MappingProxyType

import numpy as np

__all__ = [
    "LandCover",
    "REFLECTANCE_BANDS",
    "CLASS_SPECTRA",
    "CLOUD_BAND_FACTOR",
    "CIRRUS_BAND_FACTOR",
    "NOISE_REL",
    "GAIN_JITTER",
    "BAND_GAIN_JITTER",
    "SHADOW_FACTOR",
    "class_reflectance",
    "reflectance_lut",
    "wet_season_weight",
]


class LandCover(IntEnum):
    """Land-cover classes of the simulated 10 m truth rasters (0 is no data)."""

    WATER = 1
    VEGETATION = 2
    BARE = 3
    BUILT = 4


# The reflectance bands the simulation writes, in Earth Search v1 asset keys.
REFLECTANCE_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir16", "swir22")

# Surface reflectance (0-1) per class and band; see the module docstring for sources.
CLASS_SPECTRA: MappingProxyType[LandCover, MappingProxyType[str, float]] = MappingProxyType(
    {
        cls: MappingProxyType(dict(zip(REFLECTANCE_BANDS, values, strict=True)))
        for cls, values in (
            (LandCover.WATER, (0.060, 0.070, 0.050, 0.030, 0.015, 0.010)),
            (LandCover.VEGETATION, (0.030, 0.060, 0.035, 0.350, 0.180, 0.090)),
            (LandCover.BARE, (0.070, 0.100, 0.160, 0.220, 0.360, 0.310)),
            (LandCover.BUILT, (0.090, 0.100, 0.110, 0.140, 0.190, 0.170)),
        )
    }
)

# Opaque water clouds are white in the visible/NIR and somewhat darker in the SWIR (ice and
# droplet absorption); cloud-top reflectance is drawn in 0.38-0.58 and multiplied by these.
CLOUD_BAND_FACTOR: MappingProxyType[str, float] = MappingProxyType(
    {"blue": 1.0, "green": 1.0, "red": 1.0, "nir": 0.97, "swir16": 0.85, "swir22": 0.75}
)
# Thin cirrus adds a haze of 0.02-0.06 that scatters more at short wavelengths.
CIRRUS_BAND_FACTOR: MappingProxyType[str, float] = MappingProxyType(
    {"blue": 1.0, "green": 0.95, "red": 0.9, "nir": 0.85, "swir16": 0.7, "swir22": 0.6}
)

NOISE_REL = 0.025  # per-pixel, per-band multiplicative noise (1 sigma)
GAIN_JITTER = 0.03  # per-scene gain, uniform in 1 +- this
BAND_GAIN_JITTER = 0.01  # per-scene, per-band gain on top, uniform in 1 +- this
SHADOW_FACTOR = 0.35  # cloud-shadow darkening under an opaque cloud

# Seasonal response to the wet-season weight w in [-1, 1] (1 = mid-February, wettest in
# Java; -1 = mid-August): greener vegetation, moister (darker) soil. Factor = 1 + k * w.
_SEASONAL = {
    LandCover.VEGETATION: {
        "blue": -0.03,
        "green": 0.03,
        "red": -0.12,
        "nir": 0.06,
        "swir16": -0.05,
        "swir22": -0.08,
    },
    LandCover.BARE: dict.fromkeys(REFLECTANCE_BANDS, -0.04),
}


def wet_season_weight(day: date) -> float:
    """1 at the wet-season peak (mid-February), -1 at the dry-season peak (mid-August)."""
    doy = day.timetuple().tm_yday
    return math.cos(2.0 * math.pi * (doy - 45) / 365.25)


def class_reflectance(day: date) -> dict[LandCover, dict[str, float]]:
    """Noise-free surface reflectance of every class on ``day`` (before gain and noise)."""
    w = wet_season_weight(day)
    out: dict[LandCover, dict[str, float]] = {}
    for cls, spectrum in CLASS_SPECTRA.items():
        k = _SEASONAL.get(cls, {})
        out[cls] = {b: v * (1.0 + k.get(b, 0.0) * w) for b, v in spectrum.items()}
    return out


def reflectance_lut(day: date, band: str, gain: float) -> np.ndarray:
    """Lookup table class value -> DN-scaled reflectance (x 10000, times ``gain``), float32."""
    lut = np.zeros(len(LandCover) + 1, dtype=np.float32)
    for cls, spectrum in class_reflectance(day).items():
        lut[int(cls)] = spectrum[band] * 1e4 * gain
    return lut
