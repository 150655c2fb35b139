"""Reference land cover per village (``pantau run --reference``) and its agreement report.

Three steps, each called from the engine with a few lines:

1. the driver plans once: :func:`plan_reference` searches the reference collection over the
   run's area and picks, per period, the map of the nearest year (a small picklable
   :class:`ReferenceJob` per period);
2. each unit task calls :func:`reference_columns` with the period's job, its grid and its
   coverage weights: one ``lc_<group>_fraction`` row per home village, exact with the same
   partial-pixel weights as every other statistic;
3. the assembly calls :func:`agreement` on the final table: Pearson r, MAE and bias between
   Pantau's ``built_up_fraction`` and the reference's ``lc_built_fraction``, overall, per
   period and per kab/kota, for ``quality.json``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pystac
import shapely
from odc.geo.geobox import GeoBox

from geo.landcover import GROUPS, class_shares, fraction_column
from geo.zonal import CoverageWeights
from stac.reference import (
    closest_year,
    get_reference,
    load_reference,
    reference_source,
    search_reference_years,
)
from stac.source import StacSource

__all__ = [
    "REFERENCE_COLUMNS",
    "ReferenceJob",
    "plan_reference",
    "reference_columns",
    "agreement",
]

#: Columns :func:`reference_columns` returns, whichever the reference.
REFERENCE_COLUMNS: tuple[str, ...] = tuple(fraction_column(g) for g in GROUPS)


@dataclass(frozen=True)
class ReferenceJob:
    """One period's reference map: which reference, which year, its items; picklable."""

    name: str
    year: int
    items: tuple[dict[str, Any], ...]
    patch_url: Callable[[str], str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """What quality.json / the fingerprint should record: name, year, item ids."""
        return {"name": self.name, "year": self.year, "items": sorted(i["id"] for i in self.items)}


def plan_reference(
    name: str,
    source: str | StacSource | None,
    bbox: Sequence[float],
    periods: Sequence[str],
) -> dict[str, ReferenceJob]:
    """Per period label (``2023``, ``2023-Q1``, ``2023-01``), the reference map to use.

    Args:
        name: a reference of ``stac.reference.REFERENCES``.
        source: ``--reference-stac`` (service name, API URL, catalog folder), a resolved
            StacSource, or None for Planetary Computer.
        bbox: the run's area, EPSG:4326.
        periods: the run's period labels.

    The collection is searched once; each period gets the year nearest its own (the later
    one on a tie).
    """
    if not isinstance(source, StacSource):
        source = reference_source(name, source)
    by_year = search_reference_years(name, source, bbox)
    jobs = {}
    for period in periods:
        year = closest_year(sorted(by_year), _period_year(period))
        jobs[period] = ReferenceJob(
            name=name,
            year=year,
            items=tuple(i.to_dict() for i in by_year[year]),
            patch_url=source.patch_url,
        )
    return jobs


def _period_year(period: str) -> int:
    try:
        return int(str(period)[:4])
    except ValueError:
        raise ValueError(f"period label {period!r} does not start with a year") from None


def reference_columns(
    reference: ReferenceJob,
    geobox: GeoBox,
    weights: CoverageWeights,
    *,
    threads: int = 1,
    chunk: int = 1024,
) -> pd.DataFrame:
    """``lc_<group>_fraction`` of every village of ``weights`` (same order), from the map.

    Loads the reference items that overlap the unit onto ``geobox`` (nearest, the map's
    own nodata) with a local threaded scheduler, then computes exact class shares. A unit no
    item covers gets NaN rows.
    """

    ref = get_reference(reference.name)
    if tuple(geobox.shape.yx) != tuple(weights.shape):
        raise ValueError(
            f"geobox shape {tuple(geobox.shape.yx)} is not the weights' grid {weights.shape}"
        )
    extent = shapely.box(*geobox.extent.to_crs("EPSG:4326").boundingbox)
    items = [pystac.Item.from_dict(d) for d in reference.items]
    over = [i for i in items if i.bbox is None or shapely.box(*i.bbox).intersects(extent)]
    if not over:
        nan = np.full(weights.n_villages, np.nan)
        return pd.DataFrame({c: nan.copy() for c in REFERENCE_COLUMNS})
    lazy = load_reference(over, geobox, reference=ref, patch_url=reference.patch_url, chunk=chunk)
    # The threaded scheduler, never the distributed one: a unit runs wholly on its worker.
    # (an argument, not dask.config.set: that config is process-global across worker threads)
    classes = np.asarray(lazy.data.compute(scheduler="threads", num_workers=threads))
    shares = class_shares(weights, classes, ref.scheme)
    return pd.DataFrame({c: shares[c] for c in REFERENCE_COLUMNS})


def agreement(
    table: pd.DataFrame,
    *,
    built_column: str = "built_up_fraction",
    reference_column: str = "lc_built_fraction",
    reference: ReferenceJob | dict[str, ReferenceJob] | None = None,
) -> dict[str, Any]:
    """How Pantau's built-up fraction agrees with the reference's, for quality.json.

    Over village x period rows where both values are known: ``n``, Pearson ``r`` (None when
    fewer than two rows or either side is constant), ``mae`` (mean absolute difference) and
    ``bias`` (mean of Pantau minus reference); ``overall``, ``by_period`` and ``by_kabkota``
    (first four digits of ``kode``). JSON-able: no NaN, only numbers and None.
    """
    for column in (built_column, reference_column, "kode"):
        if column not in table.columns:
            raise KeyError(f"agreement needs column {column!r}; the table has {list(table)}")
    pantau = pd.to_numeric(table[built_column], errors="coerce").to_numpy(np.float64)
    ref = pd.to_numeric(table[reference_column], errors="coerce").to_numpy(np.float64)
    both = np.isfinite(pantau) & np.isfinite(ref)
    kab = table["kode"].astype(str).str[:4].to_numpy()
    report: dict[str, Any] = {
        "built_column": built_column,
        "reference_column": reference_column,
        "rows": int(len(table)),
        "rows_missing": int((~both).sum()),
        "overall": _metrics(pantau[both], ref[both]),
    }
    if "period" in table.columns:
        period = table["period"].astype(str).to_numpy()
        report["by_period"] = {
            p: _metrics(pantau[both & (period == p)], ref[both & (period == p)])
            for p in sorted(set(period))
        }
    report["by_kabkota"] = {
        k: _metrics(pantau[both & (kab == k)], ref[both & (kab == k)]) for k in sorted(set(kab))
    }
    if isinstance(reference, ReferenceJob):
        report["reference"] = reference.to_dict()
    elif reference:
        report["reference"] = {p: j.to_dict() for p, j in sorted(reference.items())}
    return report


def _metrics(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    n = int(a.size)
    if n == 0:
        return {"n": 0, "pearson_r": None, "mae": None, "bias": None}
    diff = a - b
    r = None
    if n >= 2:
        da, db = a - a.mean(), b - b.mean()
        denom = math.sqrt(float(da @ da) * float(db @ db))
        if denom > 0:
            r = float(da @ db) / denom
    return {
        "n": n,
        "pearson_r": None if r is None else round(r, 6),
        "mae": round(float(np.abs(diff).mean()), 6),
        "bias": round(float(diff.mean()), 6),
    }
