"""Pantau domain layer: villages, codes, spectral indices, masking, compositing, zonal stats.

Pure code over numpy/xarray/geopandas objects; imports nothing else of Pantau's.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from geo.errors import PantauError

if TYPE_CHECKING:  # type checkers see the real names; at run time they load lazily
    from geo.codes import (
        code_level,
        is_valid_village_code,
        kemendagri_codes,
        normalize_code,
        normalize_codes,
        village_kind,
    )
    from geo.indicators import (
        IndicatorInfo,
        JoinReport,
        add_indicator_table,
        joined_indicators,
        list_indicators,
    )
    from geo.villages import BoundaryReport, VillageSet, load_villages

__all__ = [
    "PantauError",
    # geo.codes
    "code_level",
    "is_valid_village_code",
    "normalize_code",
    "normalize_codes",
    "village_kind",
    "kemendagri_codes",
    # geo.villages
    "BoundaryReport",
    "VillageSet",
    "load_villages",
    # geo.indicators
    "IndicatorInfo",
    "JoinReport",
    "add_indicator_table",
    "joined_indicators",
    "list_indicators",
]

# Re-exports are imported on first use, so `import geo.errors` stays free of geopandas.
_LAZY = {
    "code_level": "geo.codes",
    "is_valid_village_code": "geo.codes",
    "normalize_code": "geo.codes",
    "normalize_codes": "geo.codes",
    "village_kind": "geo.codes",
    "kemendagri_codes": "geo.codes",
    "BoundaryReport": "geo.villages",
    "VillageSet": "geo.villages",
    "load_villages": "geo.villages",
    "IndicatorInfo": "geo.indicators",
    "JoinReport": "geo.indicators",
    "add_indicator_table": "geo.indicators",
    "joined_indicators": "geo.indicators",
    "list_indicators": "geo.indicators",
}


def __getattr__(name: str) -> Any:
    """Import a re-exported name from its module on first use."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'geo' has no attribute {name!r}")
