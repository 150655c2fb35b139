"""Pantau domain layer: villages, codes, spectral indices, masking, compositing, zonal stats.

Pure code over numpy/xarray/geopandas objects; imports nothing else of Pantau's.
"""

from __future__ import annotations

from geo.errors import PantauError

__all__ = ["PantauError"]
