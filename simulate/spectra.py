"""Land-cover classes of the simulation and the real spectra their pixels are mixed from.

Every 10 m pixel's surface reflectance is a linear, area-weighted mixture of **real measured
spectra held out from the built-up methods' calibration** (:func:`geo.spectra.
validation_spectra`: Santa Barbara roofs, roads and pavements of the city east of 119.75 W;
ICRAF-ISRIC soils of tropical Asia/Oceania and Santa Barbara field soils; USGS spruce needles;
USGS and earthlib litter and dry grass; USGS turbid water), band-averaged with the
Sentinel-2A responses. Nothing the unmixing was fitted on is used here.

A :class:`MaterialPalette` holds ``PALETTE_SIZE`` mixtures per land-cover class, each drawn
once per simulation from the library with its own spectra, shares and illumination:

* built-up (a kampung pixel): impervious U(0.45, 1.0) of the area (roofs and roads of one or
  two library spectra), the rest tree canopy, bare yard and litter;
* vegetation: canopy U(0.7, 1.0), the rest litter and soil;
* bare: soil U(0.6, 1.0) (one or two soil spectra), the rest vegetation and litter;
* water: turbid water U(0.85, 1.0), the rest floating or bank vegetation.

Each village uses a window of ``VILLAGE_MATERIALS`` consecutive mixtures of each class, so
villages differ in their roofs and soils; each pixel draws one mixture from its village's
window. The **true impervious fraction** of a pixel is the impervious area share of its
mixture (quantized to 1/``IMPERVIOUS_LEVELS``); a village's truth is the coverage-weighted
mean of it (``simulate.landcover.measure_truth``). Linear mixing (no multiple scattering,
no adjacency effect) is the assumption that makes "area share" the right truth.

Weak points: the held-out library has one green-vegetation spectrum (spruce needles: every
canopy is that spectrum x illumination x season, mixed with litter and soil), two waters,
and urban materials of one Californian city, not Javanese terracotta roofs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from enum import IntEnum
from types import MappingProxyType

import numpy as np

from geo.spectra import CLASSES, SIX_BANDS, validation_spectra

__all__ = [
    "LandCover",
    "REFLECTANCE_BANDS",
    "MaterialPalette",
    "draw_palette",
    "material_code",
    "PALETTE_SIZE",
    "VILLAGE_MATERIALS",
    "IMPERVIOUS_LEVELS",
    "CLOUD_BAND_FACTOR",
    "CIRRUS_BAND_FACTOR",
    "NOISE_REL",
    "GAIN_JITTER",
    "BAND_GAIN_JITTER",
    "SHADOW_FACTOR",
    "wet_season_weight",
]


class LandCover(IntEnum):
    """Land-cover classes of the simulated 10 m truth rasters (0 is no data)."""

    WATER = 1
    VEGETATION = 2
    BARE = 3
    BUILT = 4


# The reflectance bands the simulation writes, in Earth Search v1 asset keys.
REFLECTANCE_BANDS: tuple[str, ...] = SIX_BANDS

#: Mixtures per land-cover class; material codes 1 + (class - 1) * PALETTE_SIZE + m fit uint8.
PALETTE_SIZE = 63
#: Consecutive mixtures of each class one village draws its pixels from.
VILLAGE_MATERIALS = 16
#: The true impervious share of a mixture is a multiple of 1 / IMPERVIOUS_LEVELS (uint8).
IMPERVIOUS_LEVELS = 200

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
_ILLUMINATION = (0.9, 1.1)  # per mixture: slope, roof pitch, canopy shading

# Seasonal response of a component to the wet-season weight w in [-1, 1] (1 = mid-February,
# wettest in Java; -1 = mid-August): greener canopy, moister (darker) soil. Factor 1 + k * w.
_SEASONAL = {
    "vegetation": (-0.03, 0.03, -0.12, 0.06, -0.05, -0.08),
    "soil": (-0.04,) * 6,
}
_IMP, _SOIL, _VEG, _NPV, _WATER = (CLASSES.index(c) for c in CLASSES)


def wet_season_weight(day: date) -> float:
    """1 at the wet-season peak (mid-February), -1 at the dry-season peak (mid-August)."""
    doy = day.timetuple().tm_yday
    return math.cos(2.0 * math.pi * (doy - 45) / 365.25)


def material_code(cls: LandCover | np.ndarray, m: int | np.ndarray) -> np.ndarray:
    """uint8 material code of mixture ``m`` (0..PALETTE_SIZE-1) of land-cover class ``cls``."""
    return (1 + (np.asarray(cls, np.intp) - 1) * PALETTE_SIZE + m).astype(np.uint8)


@dataclass(frozen=True)
class MaterialPalette:
    """Every mixture of the simulation, indexed by material code (0 = no data).

    ``shares`` (codes, 5) are area shares of the classes of :data:`geo.spectra.CLASSES`;
    ``spectra`` (codes, 5, 6) each component's spectrum: the mean of one or two library
    spectra times the mixture's ``illumination`` (codes,); ``sources`` (codes, 5, 2) their
    indices in the component's class of ``validation_spectra()`` (-1: none).
    """

    shares: np.ndarray
    spectra: np.ndarray
    sources: np.ndarray
    illumination: np.ndarray

    @property
    def impervious(self) -> np.ndarray:
        """True impervious share per code, uint8 in 1/IMPERVIOUS_LEVELS (LUT for truth)."""
        return np.rint(self.shares[:, _IMP] * IMPERVIOUS_LEVELS).astype(np.uint8)

    def reflectance(self, day: date) -> np.ndarray:
        """(codes, 6) noise-free surface reflectance of every mixture on ``day``."""
        w = wet_season_weight(day)
        season = np.ones((len(CLASSES), len(SIX_BANDS)))
        for cls, k in _SEASONAL.items():
            season[CLASSES.index(cls)] += w * np.asarray(k)
        return np.einsum("nc,ncb,cb->nb", self.shares, self.spectra, season)

    def to_dict(self) -> dict[str, list]:
        """JSON-friendly form (``palette.json`` of a simulation)."""
        keys = ("shares", "spectra", "sources", "illumination")
        return {k: getattr(self, k).tolist() for k in keys}

    @classmethod
    def from_dict(cls, data: dict[str, list]) -> MaterialPalette:
        """The palette saved by :meth:`to_dict`."""
        return cls(
            shares=np.asarray(data["shares"], dtype=np.float64),
            spectra=np.asarray(data["spectra"], dtype=np.float64),
            sources=np.asarray(data["sources"], dtype=np.int32),
            illumination=np.asarray(data["illumination"], dtype=np.float64),
        )

    def lut(self, day: date, band: str, gain: float) -> np.ndarray:
        """Lookup table code -> DN-scaled reflectance (x 10000, times ``gain``), float32."""
        return (self.reflectance(day)[:, SIX_BANDS.index(band)] * 1e4 * gain).astype(np.float32)


def draw_palette(rng: np.random.Generator) -> MaterialPalette:
    """``PALETTE_SIZE`` mixtures per class drawn from the held-out real spectra."""
    library = validation_spectra()
    n = 1 + len(LandCover) * PALETTE_SIZE
    shares = np.zeros((n, len(CLASSES)))
    spectra = np.zeros((n, len(CLASSES), len(SIX_BANDS)))
    sources = np.full((n, len(CLASSES), 2), -1, dtype=np.int32)
    illumination = np.ones(n)
    for cls in LandCover:
        rows = material_code(cls, np.arange(PALETTE_SIZE)).astype(np.intp)
        u = rng.uniform(size=(PALETTE_SIZE, 4))
        sh = np.zeros((PALETTE_SIZE, len(CLASSES)))
        if cls is LandCover.BUILT:
            sh[:, _IMP] = np.rint(rng.uniform(0.45, 1.0, PALETTE_SIZE) * IMPERVIOUS_LEVELS)
            sh[:, _IMP] /= IMPERVIOUS_LEVELS
            rest = 1.0 - sh[:, _IMP]
            sh[:, _VEG] = rest * u[:, 0] * 0.9
            sh[:, _SOIL] = (rest - sh[:, _VEG]) * u[:, 1]
            sh[:, _NPV] = rest - sh[:, _VEG] - sh[:, _SOIL]
        elif cls is LandCover.VEGETATION:
            sh[:, _VEG] = rng.uniform(0.7, 1.0, PALETTE_SIZE)
            sh[:, _NPV] = (1.0 - sh[:, _VEG]) * u[:, 0]
            sh[:, _SOIL] = 1.0 - sh[:, _VEG] - sh[:, _NPV]
        elif cls is LandCover.BARE:
            sh[:, _SOIL] = rng.uniform(0.6, 1.0, PALETTE_SIZE)
            sh[:, _VEG] = (1.0 - sh[:, _SOIL]) * u[:, 0]
            sh[:, _NPV] = 1.0 - sh[:, _SOIL] - sh[:, _VEG]
        else:
            sh[:, _WATER] = rng.uniform(0.85, 1.0, PALETTE_SIZE)
            sh[:, _VEG] = 1.0 - sh[:, _WATER]
        shares[rows] = sh
        for c, name in enumerate(CLASSES):
            pick = rng.integers(len(library[name]), size=PALETTE_SIZE)
            sources[rows, c, 0] = np.where(sh[:, c] > 0, pick, -1)
            spectra[rows, c] = library[name][pick]
        if cls in (LandCover.BUILT, LandCover.BARE):
            # half of the roofs (soils) are two materials: the mean of two library spectra
            c = _IMP if cls is LandCover.BUILT else _SOIL
            pool = library[CLASSES[c]]
            other = rng.integers(len(pool), size=PALETTE_SIZE)
            two = u[:, 2] < 0.5
            spectra[rows[two], c] = 0.5 * (spectra[rows[two], c] + pool[other[two]])
            sources[rows[two], c, 1] = other[two]
        illumination[rows] = rng.uniform(*_ILLUMINATION, PALETTE_SIZE)
    spectra *= illumination[:, None, None]
    return MaterialPalette(shares, spectra, sources, illumination)
