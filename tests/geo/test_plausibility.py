"""The per-scene radiometry plausibility check flags metadata that contradicts pixels."""

from __future__ import annotations

import numpy as np

from geo.plausibility import scene_plausibility

rng = np.random.default_rng(0)
N = 2000
SCL = np.where(np.arange(N) % 4 == 0, 6, np.where(np.arange(N) % 2 == 0, 4, 5))
# true reflectance: vegetation red ~0.035, bare/built ~0.12, water 0.05
RED = np.where(SCL == 4, 0.035, np.where(SCL == 5, 0.12, 0.05)) + rng.normal(0, 0.005, N)
BLUE = np.where(SCL == 4, 0.03, np.where(SCL == 5, 0.09, 0.06)) + rng.normal(0, 0.005, N)


def test_right_offset_is_plausible() -> None:
    assert scene_plausibility(RED, BLUE, SCL).plausible


def test_offset_subtracted_twice_is_flagged() -> None:
    r = scene_plausibility(RED - 0.1, BLUE - 0.1, SCL)
    assert not r.plausible and "twice" in r.reason and r.negative_share > 0.5


def test_missing_offset_is_flagged() -> None:
    r = scene_plausibility(RED + 0.1, BLUE + 0.1, SCL)
    assert not r.plausible and "not removed" in r.reason


def test_too_few_pixels_is_no_verdict() -> None:
    r = scene_plausibility(RED[:50] - 0.1, BLUE[:50] - 0.1, SCL[:50])
    assert r.plausible
