"""Colours, classes and legends: one source for the tiles and for the legend a client draws.

A classification turns one value per village into a small integer code per village
(0 = no value, 1..n = class) and a legend (label, colour, count per class). The PNG renderer,
the MVT encoder and ``GET /layers`` all use the same :class:`Classes`, so the colour of a
village in a tile is always the colour the legend shows for its class.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "NO_DATA_COLOR",
    "HATCH_COLOR",
    "SUPPRESSED_CODE",
    "SUPPRESSED_COLOR",
    "SUPPRESSED_HATCH_COLOR",
    "BIVARIATE_PALETTE",
    "ClassParams",
    "Classes",
    "palette_for",
    "classify_numeric",
    "classify_categorical",
    "classify_bivariate",
    "category_order",
    "hex_to_rgba",
    "format_number",
    "suppressed_entry",
]

#: Villages without a value: light grey with darker hatching.
NO_DATA_COLOR = "#d9d9d9"
HATCH_COLOR = "#969696"
NO_DATA_LABEL = "no data"
#: Villages and regions of a sensitive table whose values are suppressed (geo.privacy): a
#: class of their own, mid grey with darker cross-hatching, never coloured as a value.
SUPPRESSED_CODE = 254
SUPPRESSED_COLOR = "#b3b3b3"
SUPPRESSED_HATCH_COLOR = "#6e6e6e"
SUPPRESSED_TITLES = {
    "id": "disembunyikan untuk melindungi privasi",
    "en": "suppressed to protect privacy",
}

# ColorBrewer 9-class schemes (Cynthia Brewer, Apache-2.0 style licence).
_SEQUENTIAL = {
    "ylorrd": "ffffcc ffeda0 fed976 feb24c fd8d3c fc4e2a e31a1c bd0026 800026",
    "ylgn": "ffffe5 f7fcb9 d9f0a3 addd8e 78c679 41ab5d 238443 006837 004529",
    "blues": "f7fbff deebf7 c6dbef 9ecae1 6baed6 4292c6 2171b5 08519c 08306b",
    "purples": "fcfbfd efedf5 dadaeb bcbddc 9e9ac8 807dba 6a51a3 54278f 3f007d",
    "ylgnbu": "ffffd9 edf8b1 c7e9b4 7fcdbb 41b6c4 1d91c0 225ea8 253494 081d58",
    "oranges": "fff5eb fee6ce fdd0a2 fdae6b fd8d3c f16913 d94801 a63603 7f2704",
}
_DIVERGING = {
    "rdbu_r": "2166ac 4393c3 92c5de d1e5f0 f7f7f7 fddbc7 f4a582 d6604d b2182b",
    "brbg": "8c510a bf812d dfc27d f6e8c3 f5f5f5 c7eae5 80cdc1 35978f 01665e",
    "puor": "b35806 e08214 fdb863 fee0b6 f7f7f7 d8daeb b2abd2 8073ac 542788",
}
# Tableau 10 + 2, for categories without a natural order (repeated past the 12th).
_QUALITATIVE = (
    "#4e79a7 #f28e2b #e15759 #76b7b2 #59a14f #edc948 #b07aa1 #ff9da7 #9c755f #bab0ac "
    "#1f78b4 #33a02c"
).split()

#: Joshua Stevens' 3x3 bivariate scheme; index = y_class * 3 + x_class (0 = low).
BIVARIATE_PALETTE = (
    "#e8e8e8",
    "#ace4e4",
    "#5ac8c8",
    "#dfb0d6",
    "#a5add3",
    "#5698b9",
    "#be64ac",
    "#8c62aa",
    "#3b4994",
)

#: Categories Pantau knows the natural order of (best first), with their colours.
_KNOWN_ORDERS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("MANDIRI", "MAJU", "BERKEMBANG", "TERTINGGAL", "SANGAT TERTINGGAL"),
        ("#1a9641", "#a6d96a", "#ffffbf", "#fdae61", "#d7191c"),
    ),
)


def _ramp(name: str, n: int) -> list[str]:
    if name in _DIVERGING:
        colours = _DIVERGING[name].split()
        picks = np.linspace(0, 8, n)
    else:
        colours = _SEQUENTIAL[name].split()
        picks = np.linspace(1, 8, n)  # skip the near-white first colour
    return ["#" + colours[int(round(i))] for i in picks]


def palette_for(column_id: str, n: int) -> list[str]:
    """``n`` colours (low to high) for a numeric column, chosen from its name."""
    name = column_id.lower()
    if name.endswith("_change"):
        if re.search(r"ndvi|mndwi|valid", name):
            return _ramp("brbg", n)
        if re.search(r"built|ndbi|bsi", name):
            return _ramp("rdbu_r", n)
        return _ramp("puor", n)
    for pattern, ramp in (
        (r"built|ndbi", "ylorrd"),
        (r"bsi", "oranges"),
        (r"mndwi", "blues"),
        (r"ndvi|idm|iks|ike|ikl", "ylgn"),
        (r"valid|n_obs|clear", "purples"),
        (r"p0|miskin|poverty", "oranges"),
    ):
        if re.search(pattern, name):
            return _ramp(ramp, n)
    return _ramp("ylgnbu", n)


def hex_to_rgba(color: str) -> tuple[int, int, int, int]:
    """``#rrggbb`` or ``#rrggbbaa`` -> RGBA tuple."""
    h = color.lstrip("#")
    alpha = int(h[6:8], 16) if len(h) == 8 else 255
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha


def format_number(value: float) -> str:
    """Short human label for a class bound."""
    if not math.isfinite(value):
        return str(value)
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 1 or a == 0:
        return f"{value:.2f}"
    return f"{value:.3f}"


@dataclass(frozen=True)
class ClassParams:
    """How to classify a numeric column; normalised, hashable, part of the cache key."""

    method: Literal["quantile", "equal_interval", "breaks"]
    n_classes: int
    breaks: tuple[float, ...] = ()

    def query(self) -> list[tuple[str, str]]:
        """The query parameters that reproduce this classification."""
        if self.method == "breaks":
            return [("breaks", ",".join(repr(b) for b in self.breaks))]
        return [("classification", self.method), ("n_classes", str(self.n_classes))]


@dataclass(frozen=True)
class Classes:
    """Classes of one column: legend entries and a colour per code (0 = no value)."""

    kind: Literal["numeric", "categorical", "bivariate"]
    labels: tuple[str, ...]
    colors: tuple[str, ...]
    breaks: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    x_breaks: tuple[float, ...] = ()
    y_breaks: tuple[float, ...] = ()

    @property
    def n(self) -> int:
        """Number of classes (codes 1..n)."""
        return len(self.colors)

    def codes(self, values: pd.Series | np.ndarray, y: pd.Series | None = None) -> np.ndarray:
        """uint8 code per value: 0 no value, 1..n the class."""
        if self.kind == "categorical":
            lookup = {c: i + 1 for i, c in enumerate(self.categories)}
            series = pd.Series(values, dtype=object)
            return np.array(
                [lookup.get(str(v), 0) if pd.notna(v) else 0 for v in series], dtype=np.uint8
            )
        x = np.asarray(values, dtype="float64")
        if self.kind == "numeric":
            codes = np.digitize(x, self.breaks, right=True) + 1
            return np.where(np.isfinite(x), codes, 0).astype(np.uint8)
        yv = np.asarray(y, dtype="float64")
        xc = np.digitize(x, self.x_breaks, right=True)
        yc = np.digitize(yv, self.y_breaks, right=True)
        ok = np.isfinite(x) & np.isfinite(yv)
        return np.where(ok, 1 + yc * 3 + xc, 0).astype(np.uint8)

    def legend(self, codes: np.ndarray | None = None) -> list[dict]:
        """Legend entries; with ``codes``, each entry counts its villages."""
        entries: list[dict] = []
        for i, (label, color) in enumerate(zip(self.labels, self.colors, strict=True)):
            entry: dict = {"label": label, "color": color}
            if self.kind == "bivariate":
                entry["x_class"], entry["y_class"] = i % 3, i // 3
            if codes is not None:
                entry["count"] = int(np.count_nonzero(codes == i + 1))
            entries.append(entry)
        no_data: dict = {"label": NO_DATA_LABEL, "color": NO_DATA_COLOR, "pattern": "hatch"}
        if codes is not None:
            no_data["count"] = int(np.count_nonzero(codes == 0))
        entries.append(no_data)
        return entries


def suppressed_entry(codes: np.ndarray | None = None) -> dict:
    """The legend entry of the suppressed class (with its count when ``codes`` are given)."""
    entry: dict = {
        "label": "suppressed",
        "titles": dict(SUPPRESSED_TITLES),
        "color": SUPPRESSED_COLOR,
        "pattern": "crosshatch",
        "suppressed": True,
    }
    if codes is not None:
        entry["count"] = int(np.count_nonzero(codes == SUPPRESSED_CODE))
    return entry


def _quantile_breaks(values: np.ndarray, n: int) -> tuple[float, ...]:
    qs = np.quantile(values, np.arange(1, n) / n)
    return tuple(float(b) for b in np.unique(qs) if b < values.max())


def _range_labels(breaks: Sequence[float], lo: float, hi: float) -> list[str]:
    bounds = [lo, *breaks, hi]
    return [
        f"{format_number(a)} – {format_number(b)}" for a, b in zip(bounds, bounds[1:], strict=False)
    ]


def classify_numeric(values: np.ndarray, column_id: str, params: ClassParams) -> Classes:
    """Classes of a numeric column from all its values (every period pooled)."""
    v = np.asarray(values, dtype="float64")
    v = v[np.isfinite(v)]
    if params.method == "breaks":
        breaks = params.breaks
        labels = [f"≤ {format_number(breaks[0])}"]
        labels += _range_labels(breaks, breaks[0], breaks[-1])[1:-1]
        labels.append(f"> {format_number(breaks[-1])}")
    elif v.size == 0:
        breaks, labels = (), ["all values"]
    else:
        lo, hi = float(v.min()), float(v.max())
        if params.method == "quantile":
            breaks = _quantile_breaks(v, params.n_classes)
        else:
            edges = np.linspace(lo, hi, params.n_classes + 1)[1:-1]
            breaks = tuple(float(b) for b in edges if lo < b < hi)
        labels = _range_labels(breaks, lo, hi)
    colors = palette_for(column_id, len(labels))
    return Classes("numeric", tuple(labels), tuple(colors), breaks=tuple(breaks))


def category_order(values: pd.Series) -> tuple[str, ...]:
    """Distinct categories: natural order when recognised, else most frequent first."""
    present = [str(v) for v in values.dropna().unique()]
    for order, _ in _KNOWN_ORDERS:
        if present and set(present) <= set(order):
            return tuple(c for c in order if c in present)
    counts = values.dropna().astype(str).value_counts()
    return tuple(sorted(counts.index, key=lambda c: (-counts[c], c)))


def classify_categorical(categories: Sequence[str]) -> Classes:
    """One colour per category; known orders keep their own colours."""
    cats = tuple(categories)
    for order, colors in _KNOWN_ORDERS:
        if set(cats) <= set(order):
            lookup = dict(zip(order, colors, strict=True))
            return Classes("categorical", cats, tuple(lookup[c] for c in cats), categories=cats)
    colors = tuple(_QUALITATIVE[i % len(_QUALITATIVE)] for i in range(len(cats)))
    return Classes("categorical", cats, colors, categories=cats)


def _terciles(values: np.ndarray) -> tuple[float, float]:
    v = np.asarray(values, dtype="float64")
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (0.0, 0.0)
    a, b = np.quantile(v, [1 / 3, 2 / 3])
    return float(a), float(b)


def classify_bivariate(x_values: np.ndarray, y_values: np.ndarray) -> Classes:
    """3x3 classes by terciles of x and of y (Stevens palette)."""
    xb, yb = _terciles(x_values), _terciles(y_values)
    names = ("low", "mid", "high")
    labels = tuple(f"x {names[i % 3]}, y {names[i // 3]}" for i in range(9))
    return Classes("bivariate", labels, BIVARIATE_PALETTE, x_breaks=xb, y_breaks=yb)
