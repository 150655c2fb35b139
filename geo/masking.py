"""SCL cloud/shadow masking and the DN -> surface reflectance conversion."""

from __future__ import annotations

from typing import Any

import numpy as np

from geo.sentinel2 import SCL_MASKED

__all__ = ["clear_mask", "to_reflectance"]

Array = Any

# lookup table: SCL value (uint8) -> clear?
_CLEAR_LUT = np.ones(256, dtype=bool)
_CLEAR_LUT[sorted(SCL_MASKED)] = False


def clear_mask(scl: Array) -> Array:
    """True where the SCL class is usable (not no-data, defective, shadow, cloud, cirrus, snow)."""
    if hasattr(scl, "map_blocks"):  # dask: stay lazy
        return scl.map_blocks(_clear_block, dtype=bool)
    return _clear_block(np.asarray(scl))


#: the same table over every uint16 value (values above 255 read as 255, as the clip does)
_CLEAR_LUT16 = _CLEAR_LUT[np.minimum(np.arange(2**16), 255)]


def _clear_block(scl: np.ndarray) -> np.ndarray:
    """One table lookup for uint8/uint16 SCL (no clipped copy); other types clipped first."""
    if scl.dtype == np.uint16:
        return _CLEAR_LUT16[scl]
    if scl.dtype == np.uint8:
        return _CLEAR_LUT[scl]
    return _CLEAR_LUT[np.clip(scl, 0, 255).astype(np.uint8, copy=False)]


def to_reflectance(dn: Array, *, scale: float, offset: float, valid: Array | None = None) -> Array:
    """Surface reflectance float32 = DN * scale + offset; NaN where DN is 0 or not ``valid``."""
    refl = dn.astype(np.float32) * np.float32(scale) + np.float32(offset)
    keep = dn != 0
    if valid is not None:
        keep = keep & valid
    return np.where(keep, refl, np.float32(np.nan))
