"""Simulated Sentinel-2 L2A scenes over village polygons, with a planted truth (``pantau demo``).

No real imagery over Indonesia is available offline, so the demo draws land cover per village
and year, fills each pixel with a mixture of real measured spectra held out from the
built-up methods' calibration, renders Sentinel-2 L2A scenes of it (clouds, shadows, SCL,
the baseline-04.00 radiometric offset and its Earth Search metadata) as a local static STAC
catalog, and keeps the per-village true impervious share as truth the pipeline must recover.
"""

from __future__ import annotations

from simulate.errors import SimulationError
from simulate.run import MANIFEST_NAME, SimulationResult, simulate_scenes
from simulate.spectra import LandCover, MaterialPalette, draw_palette
from simulate.villages import simulate_villages

__all__ = [
    "simulate_villages",
    "simulate_scenes",
    "SimulationResult",
    "LandCover",
    "MaterialPalette",
    "draw_palette",
    "MANIFEST_NAME",
    "SimulationError",
]
