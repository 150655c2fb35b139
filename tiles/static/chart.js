// A small trend chart in plain SVG: one statistic over the periods for a village or region,
// with its kab/kota and province for comparison, the change between periods as text, and a
// legend. Lines differ by dash and marker shape too, so the chart reads in black and white.
"use strict";

import { element, svg } from "./dom.js";
import { formatChange, formatNumber, t } from "./i18n.js";

const WIDTH = 300;
const HEIGHT = 150;
const MARGIN = { left: 46, right: 12, top: 10, bottom: 24 };

// Per series: colour, dash pattern and marker (the place itself always first).
export const SERIES_STYLE = {
  self: { color: "#1d4e89", dash: null, marker: "circle", width: 2.5 },
  kab: { color: "#a04000", dash: "6 3", marker: "square", width: 2 },
  province: { color: "#404040", dash: "2 3", marker: "diamond", width: 2 },
};

function marker(shape, x, y, style, attrs) {
  const common = { fill: style.color, stroke: "#ffffff", "stroke-width": 1, ...attrs };
  if (shape === "square") return svg("rect", { x: x - 3.5, y: y - 3.5, width: 7, height: 7, ...common });
  if (shape === "diamond") return svg("path", { d: `M${x} ${y - 4.5}L${x + 4.5} ${y}L${x} ${y + 4.5}L${x - 4.5} ${y}Z`, ...common });
  return svg("circle", { cx: x, cy: y, r: 4, ...common });
}

function domain(values) {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 0.1;
    lo -= pad;
    hi += pad;
  }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}

/** Line segments through the values that exist (a missing value breaks the line). */
function segments(points) {
  const out = [];
  let current = [];
  for (const p of points) {
    if (p) current.push(p);
    else if (current.length) {
      out.push(current);
      current = [];
    }
  }
  if (current.length) out.push(current);
  return out;
}

/**
 * The trend of one statistic as a <figure>: SVG chart, legend, changes between periods.
 *
 * Args: periods (ordered labels); series: [{key: "self"|"kab"|"province", label,
 * values: {period: number|null}}] with the place itself first; statistic: its title.
 */
export function trendChart({ periods, series, statistic }) {
  const figure = element("figure", { className: "trend" });
  const own = series[0];
  const ownValues = periods.map((p) => own.values[p]).filter((v) => Number.isFinite(v));
  if (!ownValues.length) {
    figure.append(element("p", { className: "trend-note", textContent: t("chart.noValues") }));
    return figure;
  }
  const all = series.flatMap((s) => periods.map((p) => s.values[p])).filter((v) => Number.isFinite(v));
  const [lo, hi] = domain(all);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (i) => MARGIN.left + (periods.length === 1 ? plotW / 2 : (i * plotW) / (periods.length - 1));
  const y = (v) => MARGIN.top + ((hi - v) / (hi - lo)) * plotH;

  const described = periods.map((p) => `${p}: ${formatNumber(own.values[p])}`).join("; ");
  const label = t("chart.label", { stat: statistic, values: described });
  const chart = svg("svg", {
    class: "trend-chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label,
    preserveAspectRatio: "xMidYMid meet",
  }, [svg("title", {}, [label])]);

  // Axes: three value ticks with light grid lines, one label per period.
  const axis = svg("g", { class: "trend-axis" });
  for (const v of [lo, (lo + hi) / 2, hi]) {
    axis.append(
      svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(v), y2: y(v), class: "trend-grid" }),
      svg("text", { x: MARGIN.left - 5, y: y(v) + 3.5, "text-anchor": "end" }, [formatNumber(v, { maximumSignificantDigits: 3 })]),
    );
  }
  periods.forEach((p, i) => axis.append(svg("text", { x: x(i), y: HEIGHT - 6, "text-anchor": "middle" }, [p])));
  chart.append(axis);

  // Comparison lines first, the place itself on top.
  for (const s of [...series].reverse()) {
    const style = SERIES_STYLE[s.key] || SERIES_STYLE.self;
    const points = periods.map((p, i) => (Number.isFinite(s.values[p]) ? [x(i), y(s.values[p]), p] : null));
    const group = svg("g", { class: `trend-series trend-${s.key}`, "data-series": s.key });
    for (const seg of segments(points)) {
      if (seg.length < 2) continue;
      group.append(svg("polyline", {
        points: seg.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" "),
        fill: "none", stroke: style.color, "stroke-width": style.width, "stroke-dasharray": style.dash,
        "stroke-linejoin": "round",
      }));
    }
    for (const point of points) {
      if (!point) continue;
      const [px, py, period] = point;
      const dot = marker(style.marker, px, py, style, { class: "trend-point", "data-series": s.key, "data-period": period });
      dot.append(svg("title", {}, [`${s.label}, ${period}: ${formatNumber(s.values[period])}`]));
      group.append(dot);
    }
    chart.append(group);
  }
  figure.append(chart);

  // Legend: line samples drawn like the lines.
  const legend = element("ul", { className: "trend-legend" });
  for (const s of series) {
    const style = SERIES_STYLE[s.key] || SERIES_STYLE.self;
    const sample = svg("svg", { width: 28, height: 10, viewBox: "0 0 28 10", "aria-hidden": "true", class: "trend-key" }, [
      svg("line", { x1: 1, x2: 27, y1: 5, y2: 5, stroke: style.color, "stroke-width": style.width, "stroke-dasharray": style.dash }),
      marker(style.marker, 14, 5, style, {}),
    ]);
    legend.append(element("li", { className: `trend-legend-${s.key}` }, [sample, element("span", { textContent: s.label })]));
  }
  figure.append(legend);

  // Changes between consecutive periods, as text.
  const caption = element("figcaption", { className: "trend-changes" });
  if (periods.length < 2) {
    caption.append(element("p", { textContent: t("chart.onePeriod") }));
  } else {
    caption.append(element("p", { className: "trend-changes-title", textContent: t("chart.changes") }));
    const list = element("ul");
    for (let i = 1; i < periods.length; i += 1) {
      const a = own.values[periods[i - 1]];
      const b = own.values[periods[i]];
      const delta = Number.isFinite(a) && Number.isFinite(b) ? b - a : null;
      const direction = delta === null ? "–" : delta > 0 ? t("chart.up") : delta < 0 ? t("chart.down") : t("chart.same");
      list.append(element("li", {
        className: "trend-change",
        textContent: t("chart.change", { from: periods[i - 1], to: periods[i], delta: formatChange(delta), direction }),
      }));
    }
    caption.append(list);
  }
  figure.append(caption);
  return figure;
}
