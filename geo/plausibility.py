"""Per-scene radiometric plausibility: does an item's offset metadata fit its pixels?

Two robust symptoms over land pixels that Sen2Cor itself classified as clear:

* offset applied twice (metadata says "raw" but the pixels were already shifted): red and
  blue reflectance of vegetation and bare land become negative, which real L2A land pixels
  are not; we flag a scene when more than ``max_negative_share`` of its clear land pixels
  (SCL 4, 5) have red or blue below zero;
* offset missing (metadata says "shifted" but the pixels were raw): every reflectance is
  0.1 too high and vegetation (SCL 4) red, normally 0.02-0.08, lies above 0.1; we flag a scene
  when the median red reflectance of its vegetation pixels exceeds ``max_vegetation_red``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["PlausibilityResult", "scene_plausibility"]

MIN_PIXELS = 200


@dataclass(frozen=True)
class PlausibilityResult:
    """Pixel evidence for one scene and the verdict."""

    n_land: int
    negative_share: float
    n_vegetation: int
    vegetation_red_median: float
    plausible: bool
    reason: str

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form for quality.json."""
        return asdict(self)


def scene_plausibility(
    red: np.ndarray,
    blue: np.ndarray,
    scl: np.ndarray,
    *,
    max_negative_share: float = 0.05,
    max_vegetation_red: float = 0.10,
) -> PlausibilityResult:
    """Judge one scene from its red/blue reflectance (after the metadata's offset) and SCL."""
    land = ((scl == 4) | (scl == 5)) & np.isfinite(red) & np.isfinite(blue)
    n_land = int(land.sum())
    neg = float(((red < 0) | (blue < 0))[land].mean()) if n_land else float("nan")
    veg = (scl == 4) & np.isfinite(red)
    n_veg = int(veg.sum())
    veg_red = float(np.median(red[veg])) if n_veg else float("nan")
    reasons = []
    if n_land >= MIN_PIXELS and neg > max_negative_share:
        reasons.append(
            f"{neg:.0%} of clear land pixels have negative red/blue reflectance: "
            "the +1000 DN offset seems to be subtracted twice (metadata says raw pixels, "
            "pixels look already corrected)"
        )
    if n_veg >= MIN_PIXELS and veg_red > max_vegetation_red:
        reasons.append(
            f"vegetation red reflectance median {veg_red:.3f} > {max_vegetation_red}: "
            "the +1000 DN offset seems not removed (metadata says corrected, pixels look raw)"
        )
    return PlausibilityResult(
        n_land=n_land,
        negative_share=neg,
        n_vegetation=n_veg,
        vegetation_red_median=veg_red,
        plausible=not reasons,
        reason="; ".join(reasons),
    )
