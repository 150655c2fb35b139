"""The pictures of ``quality.html``: inline SVG, drawn from the run's tables, no scripts.

Three pictures: a choropleth of clear observations per village (geometries projected
simply, simplified to half a drawing unit and rounded to whole units, so the file stays a
few MB even for every village of Indonesia), a histogram of valid fractions and the scenes
per month with their cloud cover. Each returns SVG markup with numbers only: the page's captions
say in words (two languages) what is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, Final

import numpy as np
import pandas as pd
import shapely

__all__ = [
    "CLEAR_CLASSES",
    "MAP_SIZE",
    "TITLE_LIMIT",
    "clear_class",
    "histogram_counts",
    "month_counts",
    "svg_histogram",
    "svg_map",
    "svg_months",
    "village_paths",
]

#: The longer side of the map in drawing units (coordinates are whole units).
MAP_SIZE: Final = 1000
#: Simplification tolerance in drawing units: finer detail is invisible at MAP_SIZE.
TOLERANCE: Final = 0.5
#: Width the map is shown at, in CSS pixels (it scales with the page below that).
MAP_WIDTH: Final = 720
#: Villages get a hover title (code, name, value) only up to this many: titles cost bytes.
TITLE_LIMIT: Final = 20_000
NO_DATA_COLOUR: Final = "#cccccc"


@dataclass(frozen=True)
class ClearClass:
    """A class of the clear-observation map: values in [low, high)."""

    low: float
    high: float
    colour: str

    @property
    def label(self) -> str:
        """``"< 1"``, ``"2–4"``, ``"≥ 32"``."""
        if self.low <= 0:
            return f"< {self.high:g}"
        if math.isinf(self.high):
            return f"≥ {self.low:g}"
        return f"{self.low:g}–{self.high:g}"


# Median clear observations per pixel: under one is a village the composite barely sees.
CLEAR_CLASSES: Final = tuple(
    ClearClass(lo, hi, c)
    for lo, hi, c in zip(
        (0, 1, 2, 4, 8, 16, 32),
        (1, 2, 4, 8, 16, 32, math.inf),
        ("#d73027", "#fc8d59", "#fee090", "#e0f3f8", "#91bfdb", "#4575b4", "#313695"),
        strict=True,
    )
)


def clear_class(values: np.ndarray) -> np.ndarray:
    """Index into :data:`CLEAR_CLASSES` per value; -1 for missing values."""
    values = np.asarray(values, dtype="float64")
    edges = np.array([c.high for c in CLEAR_CLASSES[:-1]])
    index = np.searchsorted(edges, np.maximum(values, 0), side="right")
    return np.where(np.isfinite(values), index, -1)


# ---------- map ----------


def _project(geoms: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Lon/lat to drawing units: equirectangular at the mean latitude, north up."""
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    k = math.cos(math.radians((ymin + ymax) / 2))
    span = max((xmax - xmin) * k, ymax - ymin) or 1.0
    scale = MAP_SIZE / span

    def to_units(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(((xy[:, 0] - xmin) * k * scale, (ymax - xy[:, 1]) * scale))

    width = max(1, math.ceil((xmax - xmin) * k * scale))
    height = max(1, math.ceil((ymax - ymin) * scale))
    return shapely.transform(geoms, to_units), width, height


def village_paths(geoms: np.ndarray) -> list[str]:
    """SVG path data per (multi)polygon in drawing units: ``M x y l dx dy ... z`` per ring.

    Coordinates are rounded to whole units (relative steps after the first point); rings
    left without area are dropped, and a polygon left with none becomes a one-unit square,
    so every village keeps a visible path. Vectorised over all rings: ~1 s per 100,000.
    """
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    xy = np.rint(xy).astype(np.int64)
    first = np.ones(len(xy), dtype=bool)
    first[1:] = ring_of[1:] != ring_of[:-1]
    last = np.roll(first, -1)  # rings are closed: the last point repeats the first
    moved = np.ones(len(xy), dtype=bool)
    moved[1:] = np.any(xy[1:] != xy[:-1], axis=1)
    keep = (first | moved) & ~last
    xy, ring_of = xy[keep], ring_of[keep]
    paths = [""] * len(geoms)
    if len(xy):
        starts = np.flatnonzero(np.r_[True, ring_of[1:] != ring_of[:-1]])
        counts = np.diff(np.r_[starts, len(xy)])
        begin = np.repeat(starts, counts)
        following = np.arange(len(xy)) + 1
        following = np.where(following < begin + np.repeat(counts, counts), following, begin)
        cross = xy[:, 0] * xy[following, 1] - xy[following, 0] * xy[:, 1]
        twice_area = np.add.reduceat(cross, starts)
        steps = np.diff(xy, axis=0, prepend=xy[:1])
        is_first = np.zeros(len(xy), dtype=bool)
        is_first[starts] = True
        points = zip(is_first.tolist(), xy.tolist(), steps.tolist(), strict=True)
        tokens = [f"M{x} {y}l" if f else f"{dx} {dy} " for f, (x, y), (dx, dy) in points]
        village_of = part_of[ring_part[ring_of[starts]]]
        for s, n, area, village in zip(starts, counts, twice_area, village_of, strict=True):
            if n >= 3 and area != 0:
                paths[village] += "".join(tokens[s : s + n]).rstrip() + "z"
    empty = [i for i, d in enumerate(paths) if not d]
    if empty:
        dots = np.rint(shapely.get_coordinates(shapely.point_on_surface(geoms[empty])))
        for i, (x, y) in zip(empty, dots.astype(int).tolist(), strict=True):
            paths[i] = f"M{x} {y}h1v1h-1z"
    return [d.replace(" -", "-") for d in paths]


def svg_map(villages: pd.DataFrame, *, value: str = "n_obs", name: str = "nama") -> str:
    """Choropleth of ``value`` per village: one ``<path>`` per village, grouped by class.

    ``villages`` has one row per village (``kode``, ``geometry`` in EPSG:4326, ``value``,
    optionally ``name``). Missing values are drawn grey.
    """
    geoms = shapely.make_valid(np.asarray(villages.geometry.values, dtype=object))
    projected, width, height = _project(geoms)
    simple = shapely.simplify(projected, TOLERANCE, preserve_topology=True)
    classes = clear_class(villages[value].to_numpy(dtype="float64"))
    titles = len(villages) <= TITLE_LIMIT
    codes = villages["kode"].astype(str).to_numpy()
    names = villages[name].astype(str).to_numpy() if name in villages.columns else None
    values = villages[value].to_numpy(dtype="float64")
    groups: dict[int, list[str]] = {}
    for i, d in enumerate(village_paths(simple)):
        if titles:
            label = codes[i] + (f" {names[i]}" if names is not None else "")
            shown = "–" if not np.isfinite(values[i]) else f"{values[i]:.1f}"
            groups.setdefault(int(classes[i]), []).append(
                f'<path d="{d}"><title>{escape(label)}: {shown}</title></path>'
            )
        else:
            groups.setdefault(int(classes[i]), []).append(f'<path d="{d}"/>')
    body = []
    # no data at the bottom, then best to worst: the fewest clear observations drawn on top
    for index in sorted(groups, key=lambda i: (i >= 0, -i)):
        colour = NO_DATA_COLOUR if index < 0 else CLEAR_CLASSES[index].colour
        body.append(f'<g fill="{colour}" data-class="{index}">{"".join(groups[index])}</g>')
    ratio = MAP_WIDTH / MAP_SIZE
    # village outlines: thin against the villages' size, or they wash out a national map
    typical = float(np.median(np.sqrt(shapely.area(projected)))) if len(projected) else 0.0
    stroke = round(min(0.3, 0.03 * typical), 3)
    return (
        f'<svg class="map" id="clear-map" viewBox="-2 -2 {width + 4} {height + 4}" '
        f'width="{round((width + 4) * ratio)}" height="{round((height + 4) * ratio)}" '
        f'role="img" data-villages="{len(villages)}">'
        f'<g stroke="#ffffff" stroke-width="{stroke}" fill-rule="evenodd">{"".join(body)}</g></svg>'
    )


# ---------- histogram ----------


def histogram_counts(values: np.ndarray, *, bins: int = 10) -> tuple[list[int], int]:
    """Counts of values in ``bins`` equal bins over [0, 1] (1 in the last), and missing."""
    values = np.asarray(values, dtype="float64")
    finite = values[np.isfinite(values)]
    index = np.clip((np.clip(finite, 0, 1) * bins).astype(int), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    return [int(c) for c in counts], int(len(values) - len(finite))


def svg_histogram(values: np.ndarray, *, threshold: float, period: str, bins: int = 10) -> str:
    """Bars of villages per valid-fraction bin; bins under ``threshold`` in orange."""
    counts, missing = histogram_counts(values, bins=bins)
    bars = [*counts, missing] if missing else counts
    top = max(max(bars), 1)
    w, h, left, bottom, bar = 360, 160, 34, 16, 30
    plot_h = h - bottom - 18
    parts = []
    for i, count in enumerate(bars):
        x = left + i * bar
        bh = plot_h * count / top
        low = i < len(counts) and (i + 1) / bins <= threshold + 1e-9
        colour = "#999999" if i >= len(counts) else ("#e66101" if low else "#3b75af")
        bin_label = "n/a" if i >= len(counts) else f"{i / bins:.1f}–{(i + 1) / bins:.1f}"
        parts.append(
            f'<rect class="bin" x="{x + 1}" y="{h - bottom - bh:.1f}" width="{bar - 2}" '
            f'height="{max(bh, 0.5):.1f}" fill="{colour}" data-count="{count}">'
            f"<title>{bin_label}: {count}</title></rect>"
        )
        if count:
            parts.append(
                f'<text x="{x + bar / 2}" y="{h - bottom - bh - 3:.1f}" '
                f'text-anchor="middle">{count}</text>'
            )
    tx = left + threshold * bins * bar
    parts.append(
        f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="10" y2="{h - bottom}" stroke="#333" '
        'stroke-dasharray="3 2"/>'
    )
    axis_y = h - bottom + 12
    for v in (0, 0.5, 1):
        parts.append(
            f'<text x="{left + v * bins * bar}" y="{axis_y}" text-anchor="middle">{v:g}</text>'
        )
    if missing:
        parts.append(
            f'<text x="{left + bins * bar + bar / 2}" y="{axis_y}" text-anchor="middle">n/a</text>'
        )
    parts.append(f'<text x="2" y="12">{top}</text>')
    total = sum(bars)
    return (
        f'<svg class="hist" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'data-period="{escape(period)}" data-villages="{total}">'
        f'<line x1="{left}" x2="{left + len(bars) * bar}" y1="{h - bottom}" y2="{h - bottom}" '
        f'stroke="#333"/>{"".join(parts)}</svg>'
    )


# ---------- scenes per month ----------


def month_counts(
    scenes: Sequence[Mapping[str, Any]], excluded: set[str]
) -> list[tuple[str, int, int, float | None]]:
    """(YYYY-MM, scenes used, scenes excluded, mean cloud cover %) for every month spanned."""
    by_month: dict[str, list[Mapping[str, Any]]] = {}
    for scene in scenes:
        by_month.setdefault(str(scene["datetime"])[:7], []).append(scene)
    if not by_month:
        return []
    months = pd.period_range(min(by_month), max(by_month), freq="M").strftime("%Y-%m")
    rows = []
    for month in months:
        mine = by_month.get(month, [])
        out = sum(1 for s in mine if s["id"] in excluded)
        clouds = [float(s["cloud_cover"]) for s in mine if s.get("cloud_cover") is not None]
        rows.append((month, len(mine) - out, out, sum(clouds) / len(clouds) if clouds else None))
    return rows


def svg_months(scenes: Sequence[Mapping[str, Any]], excluded: set[str]) -> str:
    """Stacked bars of scenes per month (used blue, excluded red), mean cloud cover as dots."""
    rows = month_counts(scenes, excluded)
    if not rows:
        return ""
    step = 24 if len(rows) <= 48 else 12
    left, right, top_pad, bottom = 30, 34, 12, 34
    w = left + right + step * len(rows)
    h = 190
    plot_h = h - bottom - top_pad
    most = max(max(u + e for _, u, e, _ in rows), 1)
    base = h - bottom
    parts, dots, cloud = [], [], []
    for i, (month, used, out, cover) in enumerate(rows):
        x = left + i * step
        uh, eh = plot_h * used / most, plot_h * out / most
        tip = f"{month}: {used + out} ({out} excluded)" + (
            f", cloud {cover:.0f}%" if cover is not None else ""
        )
        if used:
            parts.append(
                f'<rect class="used" x="{x + 2}" y="{base - uh:.1f}" width="{step - 4}" '
                f'height="{uh:.1f}" fill="#3b75af" data-count="{used}"><title>{tip}</title></rect>'
            )
        if out:
            parts.append(
                f'<rect class="excluded" x="{x + 2}" y="{base - uh - eh:.1f}" width="{step - 4}" '
                f'height="{eh:.1f}" fill="#d7191c" data-count="{out}"><title>{tip}</title></rect>'
            )
        if cover is not None:
            cy = base - plot_h * cover / 100
            cloud.append(f"{x + step / 2:.1f},{cy:.1f}")
            dots.append(
                f'<circle cx="{x + step / 2:.1f}" cy="{cy:.1f}" r="3" fill="#555">'
                f"<title>{tip}</title></circle>"
            )
        if step >= 24:  # month numbers, the year under the first month and each January
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{base + 12}" text-anchor="middle">'
                f"{month[5:]}</text>"
            )
        if i == 0 or month.endswith("-01"):
            parts.append(f'<text x="{x + 2:.1f}" y="{base + 25}">{month[:4]}</text>')
    line = (
        f'<polyline points="{" ".join(cloud)}" fill="none" stroke="#555" stroke-width="1"/>'
        if len(cloud) > 1
        else ""
    )
    axes = (
        f'<line x1="{left}" x2="{w - right}" y1="{base}" y2="{base}" stroke="#333"/>'
        f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end">{most}</text>'
        f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>'
        f'<text x="{w - right + 4}" y="{top_pad + 4}">100%</text>'
        f'<text x="{w - right + 4}" y="{base}">0%</text>'
    )
    return (
        f'<svg class="months" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'data-months="{len(rows)}">{axes}{"".join(parts)}{line}{"".join(dots)}</svg>'
    )
