"""What the quality-report tests share: a products folder with recorded problems, a parser.

:func:`diy_products` writes, without running the pipeline, the files the report reads: a
``villages.parquet`` of the 438 real DI Yogyakarta villages (polygons from
``shared/data/boundaries/desa_kel_34_diy.parquet``) x two periods with seeded clear
observations and valid fractions, and a ``quality.json`` shaped like a run's whose scenes,
exclusions, code problems and geometry repairs are made up (see :func:`planted_quality`).
"""

from __future__ import annotations

from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

PERIODS = ("2023", "2024")
EXCLUDED = "S2B_49MDM_20240312_0_L2A"
EXCLUDED_REASON = "85% of clear land pixels have negative red/blue reflectance <planted>"
FLAGGED = "S2A_49MDM_20230704_0_L2A"
UNREADABLE = "S2A_49MDM_20231130_0_L2A"
UNREADABLE_REASON = "scene S2A_49MDM_20231130_0_L2A: asset red timed out after 3 attempts"
REPAIRED = ("3404012005", "3471031003")
DROPPED = ("3404122099",)
INVALID = ("34.04.01.20O1", "340401")
DUPLICATE = ("3402012001",)


def diy_villages(shared: Path) -> gpd.GeoDataFrame:
    """The 438 DIY villages x :data:`PERIODS` with seeded ``n_obs`` and ``valid_fraction``."""
    rng = np.random.default_rng(11)
    boundaries = gpd.read_parquet(shared / "boundaries" / "desa_kel_34_diy.parquet")
    base = boundaries[["kode_10", "nama", "geometry"]].rename(columns={"kode_10": "kode"})
    frames = []
    for period in PERIODS:
        n = len(base)
        frame = base.assign(
            period=period,
            n_obs=rng.gamma(2.0, 3.0, n),
            valid_fraction=rng.beta(5, 1.2, n),
        )
        frame.loc[frame.index[:3], "n_obs"] = [0.0, np.nan, 40.0]
        frame.loc[frame.index[3], "valid_fraction"] = np.nan
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(table, geometry="geometry", crs=boundaries.crs)


def _scene(scene_id: str, day: str, cloud: float, plausible: bool, reason: str = "") -> dict:
    return {
        "id": scene_id,
        "datetime": f"{day}T02:58:00+00:00",
        "cloud_cover": cloud,
        "processing_baseline": "05.10",
        "scale": 0.0001,
        "offset": -0.1,
        "radiometry_rule": "planted",
        "plausibility": {"plausible": plausible, "reason": reason},
    }


def planted_quality(villages: pd.DataFrame, *, threshold: float = 0.5) -> dict[str, Any]:
    """A quality.json for ``villages`` with an implausible and an unreadable scene excluded, a
    flagged one used, two invalid codes, a duplicate code, two repaired and one dropped
    geometry."""
    days = {"2023": ("2023-01-14", "2023-04-03", "2023-07-04", "2023-07-19", "2023-11-30"),
            "2024": ("2024-02-08", "2024-03-12", "2024-06-21", "2024-09-09")}  # fmt: skip
    periods = []
    for period, dates in days.items():
        scenes = []
        for i, day in enumerate(dates):
            sid = f"S2{'AB'[i % 2]}_49MDM_{day.replace('-', '')}_0_L2A"
            if sid == EXCLUDED:
                scenes.append(_scene(sid, day, 12.5, False, EXCLUDED_REASON))
            elif sid == FLAGGED:
                scenes.append(_scene(sid, day, 30.0, False, "flagged <but used>"))
            elif sid == UNREADABLE:  # as workflows.checks records a read that kept failing
                scene = _scene(sid, day, 5.0, True)
                scene["plausibility"] = {"readable": False, "reason": UNREADABLE_REASON}
                scenes.append(scene)
            else:
                scenes.append(_scene(sid, day, 10.0 + 7 * i, True))
        excluded = [EXCLUDED] if period == "2024" else [UNREADABLE]
        periods.append(
            {
                "period": period,
                "scenes": scenes,
                "scenes_used": len(scenes) - len(excluded),
                "scenes_excluded": excluded,
                "clear_observations": {"mean": 4.25, "share_never_clear": 0.031},
                "seconds": 12.0,
            }
        )
    low = villages[villages["valid_fraction"] < threshold]
    return {
        "periods": periods,
        "units": [{"unit": "32749_x0021_y0446", "period": p} for p in PERIODS],
        "throughput": {},
        "scenes_excluded": [UNREADABLE, EXCLUDED],
        "low_coverage_villages": {
            "threshold": threshold,
            "count": len(low),
            "villages": [
                {"kode": k, "period": p, "valid_fraction": round(float(v), 4)}
                for k, p, v in low[["kode", "period", "valid_fraction"]].itertuples(index=False)
            ],
        },
        "boundaries": {
            "source": "desa_kel_34_diy.parquet",
            "n_features_read": len(villages) // len(PERIODS) + 4,
            "n_villages": len(villages) // len(PERIODS),
            "code_column": "kode_10",
            "name_column": "nama",
            "crs": "EPSG:4326",
            "region": None,
            "invalid_codes": {"count": len(INVALID), "examples": list(INVALID)},
            "outside_region": 0,
            "duplicate_codes": list(DUPLICATE),
            "repaired_geometries": list(REPAIRED),
            "dropped_geometries": list(DROPPED),
        },
        "built_up_rule": None,
        "built_up_method": "regression",
        "driver": {"peak_rss_mb": 100.0},
    }


def diy_products(root: Path, shared: Path) -> Path:
    """Write villages.parquet and quality.json of the planted DIY run into ``root``."""
    import json

    root.mkdir(parents=True, exist_ok=True)
    villages = diy_villages(shared)
    villages.to_parquet(root / "villages.parquet")
    (root / "quality.json").write_text(json.dumps(planted_quality(villages), indent=1))
    return root


class Page(HTMLParser):
    """The parts of quality.html the tests look at: attributes, SVGs and their elements."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.attributes: list[tuple[str, str, str]] = []  # (tag, name, value)
        self.svgs: list[dict[str, Any]] = []  # attrs + "children": {tag: [attrs]}
        self.text: list[str] = []
        self._svg: dict[str, Any] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.attributes += [(tag, k, v) for k, v in found.items()]
        if tag == "svg":
            self._svg = {**found, "children": defaultdict(list)}
            self.svgs.append(self._svg)
        elif self._svg is not None:
            self._svg["children"][tag].append(found)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def svg(self, cls: str) -> list[dict[str, Any]]:
        """The SVGs of a class (``map``, ``hist``, ``months``)."""
        return [s for s in self.svgs if s.get("class") == cls]

    @property
    def words(self) -> str:
        """The page's text with whitespace collapsed."""
        return " ".join(" ".join(self.text).split())
