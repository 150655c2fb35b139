"""What is decided about each simulated scene before a pixel is drawn.

Dates on a 5-day revisit, platform, processing baseline, and the radiometric convention of
each item (the trap the pipeline must handle): baseline 04.00 added BOA_ADD_OFFSET to L2A;
Earth Search v1 removes it from most items and says so, but not from all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from geo.sentinel2 import BASELINE_WITH_OFFSET, BOA_ADD_OFFSET_DN, REFLECTANCE_SCALE

__all__ = [
    "ScenePlan",
    "plan_scenes",
    "LEGACY",
    "CORRECTED",
    "RAW",
    "CONTRADICTING",
    "BASELINE_0400_START",
]

# ESA deployed processing baseline 04.00 (with BOA_ADD_OFFSET) on 2022-01-25 and 05.09 on
# 2022-12-06; the simulation files everything older as 03.01.
BASELINE_0400_START = date(2022, 1, 25)
BASELINE_0509_START = date(2022, 12, 6)
# One Sentinel-2A date of the simulated 5-day revisit (2A and 2B alternate); Sentinel-2C
# replaced 2A in the constellation on 2025-01-21.
_REVISIT_ANCHOR = date(2021, 1, 2)
_S2C_START = date(2025, 1, 21)

LEGACY, CORRECTED, RAW, CONTRADICTING = "legacy", "corrected", "raw", "contradicting"


@dataclass(frozen=True)
class ScenePlan:
    """Everything decided about one scene before a pixel is drawn."""

    index: int
    date: date
    platform: str  # "sentinel-2a"
    baseline: str  # "03.01", "04.00", "05.09"
    radiometry: str  # legacy | corrected | raw | contradicting
    cloud_target: float
    cirrus: bool
    swath_edge: bool

    @property
    def newer_baseline(self) -> bool:
        """True from processing baseline 04.00 on, when L2A adds BOA_ADD_OFFSET."""
        major, minor = (int(p) for p in self.baseline.split("."))
        return (major, minor) >= BASELINE_WITH_OFFSET

    @property
    def boa_offset_applied(self) -> bool:
        """The item's ``earthsearch:boa_offset_applied`` (what it claims, true or not)."""
        return self.radiometry == CORRECTED

    @property
    def dn_offset(self) -> int:
        """DN added to every pixel: only raw newer-baseline items keep the +1000."""
        return BOA_ADD_OFFSET_DN if self.radiometry == RAW else 0

    @property
    def raster_offset(self) -> float:
        """``raster:bands`` offset, as Earth Search lists it (even when already applied)."""
        return -BOA_ADD_OFFSET_DN * REFLECTANCE_SCALE if self.newer_baseline else 0.0


def _baseline(day: date) -> str:
    if day >= BASELINE_0509_START:
        return "05.09"
    return "04.00" if day >= BASELINE_0400_START else "03.01"


def _platform(day: date) -> str:
    slot = (day - _REVISIT_ANCHOR).days // 5
    if slot % 2:
        return "sentinel-2b"
    return "sentinel-2c" if day >= _S2C_START else "sentinel-2a"


def plan_scenes(start: date, end: date, per_year: int, seed: int) -> tuple[ScenePlan, ...]:
    """``per_year`` revisit dates spread over each year of [start, end] and their conditions.

    One scene in fewer than eight (two from eight on) is heavily clouded (72-90%), the others
    5-50%. Of the newer-baseline scenes exactly one (when there are two or more) is
    "contradicting" (says ``boa_offset_applied: false`` but its pixels are corrected), about
    a fifth (at least one) keep the raw +1000 DN, the rest are corrected and say so.
    """
    rng = np.random.default_rng([seed, 0x706C616E])
    dates: list[date] = []
    for year in range(start.year, end.year + 1):
        lo, hi = max(start, date(year, 1, 1)), min(end, date(year, 12, 31))
        span = (hi - lo).days + 1
        for k in range(per_year):
            target = lo + timedelta(days=span * (k + 0.5 + rng.uniform(-0.15, 0.15)) / per_year)
            shift = (target - _REVISIT_ANCHOR).days % 5
            day = target - timedelta(days=shift) if shift < 3 else target + timedelta(5 - shift)
            for candidate in (day, day - timedelta(5), day + timedelta(5)):
                if lo <= candidate <= hi and candidate not in dates:
                    dates.append(candidate)
                    break
    dates.sort()
    n = len(dates)

    years = sorted({d.year for d in dates})
    n_heavy = 0 if n < 3 else (1 if n < 8 else 2)
    heavy: set[int] = set()
    for year in rng.choice(years, size=min(n_heavy, len(years)), replace=False):
        heavy.add(int(rng.choice([i for i, d in enumerate(dates) if d.year == year])))
    cirrus = rng.random(n) < 0.4
    swath = rng.random(n) < 0.2
    if n >= 3:
        usable = [i for i in range(n) if i not in heavy]
        cirrus[rng.choice(usable)] = True
        swath[rng.choice(usable)] = True
    # eo:cloud_cover counts cirrus too: thick clouds get what cirrus leaves of the target
    clouds = []
    for i in range(n):
        total = rng.uniform(0.72, 0.90) if i in heavy else rng.uniform(0.05, 0.50)
        clouds.append(float(max(0.02, total - (0.1 if cirrus[i] else 0.0))))

    radiometry = [LEGACY] * n
    newer = [i for i, d in enumerate(dates) if _baseline(d) != "03.01"]
    rng.shuffle(newer)
    newer.sort(key=lambda i: i in heavy)  # keep the contradicting item a usable one
    if len(newer) >= 2:
        radiometry[newer.pop(0)] = CONTRADICTING
    n_raw = max(1, round(0.2 * (len(newer) + 1))) if newer else 0
    for i in newer:
        radiometry[i] = RAW if n_raw > 0 else CORRECTED
        n_raw -= 1

    return tuple(
        ScenePlan(
            index=i,
            date=d,
            platform=_platform(d),
            baseline=_baseline(d),
            radiometry=radiometry[i],
            cloud_target=clouds[i],
            cirrus=bool(cirrus[i]),
            swath_edge=bool(swath[i]),
        )
        for i, d in enumerate(dates)
    )
