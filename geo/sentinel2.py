"""One declarative description of Sentinel-2 L2A: bands, provider asset keys, SCL classes.

Every other module names bands by the canonical names here (Earth Search v1 asset keys),
never by a provider's keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "Band",
    "BANDS",
    "ASSET_ALIASES",
    "SCL_CLASSES",
    "SCL_MASKED",
    "SCL_CLEAR",
    "REFLECTANCE_SCALE",
    "BOA_ADD_OFFSET_DN",
    "BASELINE_WITH_OFFSET",
    "canonical_band",
]


@dataclass(frozen=True)
class Band:
    """A Sentinel-2 L2A band: canonical name, ESA band id, native resolution, wavelength."""

    name: str
    esa: str
    resolution: int
    center_um: float | None
    description: str


BANDS: MappingProxyType[str, Band] = MappingProxyType(
    {
        b.name: b
        for b in (
            Band("coastal", "B01", 60, 0.443, "Coastal aerosol"),
            Band("blue", "B02", 10, 0.490, "Blue"),
            Band("green", "B03", 10, 0.560, "Green"),
            Band("red", "B04", 10, 0.665, "Red"),
            Band("rededge1", "B05", 20, 0.704, "Vegetation red edge 1"),
            Band("rededge2", "B06", 20, 0.740, "Vegetation red edge 2"),
            Band("rededge3", "B07", 20, 0.783, "Vegetation red edge 3"),
            Band("nir", "B08", 10, 0.842, "Near infrared"),
            Band("nir08", "B8A", 20, 0.865, "Narrow near infrared"),
            Band("nir09", "B09", 60, 0.945, "Water vapour"),
            Band("swir16", "B11", 20, 1.610, "Short-wave infrared 1.6 um"),
            Band("swir22", "B12", 20, 2.190, "Short-wave infrared 2.2 um"),
            Band("scl", "SCL", 20, None, "Scene classification"),
        )
    }
)

# Asset keys seen in the wild -> canonical name. Earth Search v1 uses the canonical names;
# Planetary Computer and the SAFE product use ESA ids.
ASSET_ALIASES: MappingProxyType[str, str] = MappingProxyType(
    {
        **{b.name: b.name for b in BANDS.values()},
        **{b.esa: b.name for b in BANDS.values()},
        **{b.esa.lower(): b.name for b in BANDS.values()},
        "B8a": "nir08",
        "nir08": "nir08",
    }
)

# Scene classification (SCL) values of the L2A product (ESA Sen2Cor documentation).
SCL_CLASSES: MappingProxyType[int, str] = MappingProxyType(
    {
        0: "no_data",
        1: "saturated_or_defective",
        2: "dark_area_pixels",
        3: "cloud_shadows",
        4: "vegetation",
        5: "not_vegetated",
        6: "water",
        7: "unclassified",
        8: "cloud_medium_probability",
        9: "cloud_high_probability",
        10: "thin_cirrus",
        11: "snow",
    }
)
# Classes removed before compositing: no data, saturated/defective, cloud shadow, cloud
# (medium, high), thin cirrus, snow.
SCL_MASKED: frozenset[int] = frozenset({0, 1, 3, 8, 9, 10, 11})
SCL_CLEAR: frozenset[int] = frozenset(set(SCL_CLASSES) - SCL_MASKED)

# Reflectance = DN * REFLECTANCE_SCALE + offset; since processing baseline 04.00 the L2A
# product adds BOA_ADD_OFFSET_DN to every DN, so offset = -BOA_ADD_OFFSET_DN * scale.
REFLECTANCE_SCALE = 1e-4
BOA_ADD_OFFSET_DN = 1000
BASELINE_WITH_OFFSET = (4, 0)


def canonical_band(key: str) -> str | None:
    """The canonical band name of a provider asset key, or None if it is not a band."""
    return ASSET_ALIASES.get(key)
