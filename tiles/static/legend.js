// The legend of a layer in a period: one model (classes, colour ramp or 3x3 bivariate grid)
// drawn in the panel, written as CSV and painted onto the PNG export.
"use strict";

import { columnTitle, layerTitle } from "./catalog.js";
import { formatNumber, legendLabel, t } from "./i18n.js";
import { element } from "./dom.js";

export const HATCH = "#969696";
const CLASS_NAMES = ["low", "mid", "high"];

function countOf(entry, period) {
  const count = entry.counts ? entry.counts[period] : entry.count;
  return count === undefined || count === null ? null : count;
}

/**
 * The legend of `layer` in `period`, in the page's language:
 * {title, kind: "classes"|"ramp"|"bivariate"|"none", entries, note}. Class entries carry
 * label, color, pattern, count and, for numeric classes, their lower and upper bounds.
 */
export function legendModel(layer, period, layers) {
  const title = layerTitle(layer);
  const legend = layer.legend;
  if (layer.kind === "bivariate" && legend && legend.cells) {
    const xTitle = legend.x ? columnTitle(layers, legend.x.column, legend.x.title) : "x";
    const yTitle = legend.y ? columnTitle(layers, legend.y.column, legend.y.title) : "y";
    const cells = [];
    legend.cells.forEach((row, y) => row.forEach((cell, x) => {
      const xc = cell.x_class ?? x;
      const yc = cell.y_class ?? y;
      const label = t("legend.cell", { x: xTitle, xc: t(`class.${CLASS_NAMES[xc]}`), y: yTitle, yc: t(`class.${CLASS_NAMES[yc]}`) });
      cells.push({ x: xc, y: yc, color: cell.color, label, count: countOf(cell, period) });
    }));
    const noData = legend.no_data
      ? [{ label: legendLabel(legend.no_data.label), color: legend.no_data.color, pattern: legend.no_data.pattern, count: countOf(legend.no_data, period) }]
      : [];
    return { title, kind: "bivariate", xTitle, yTitle, cells, entries: noData, xBreaks: legend.x?.breaks, yBreaks: legend.y?.breaks };
  }
  if (Array.isArray(legend) && legend.length) {
    const numeric = !layer.categories;
    const continuous = layer.kind === "raster" && legend.every((e) => typeof e.value === "number") && legend.length > 2;
    if (continuous) {
      const stops = legend.map((e) => ({ label: legendLabel(e.label), color: e.color, value: e.value }));
      return { title, kind: "ramp", entries: stops };
    }
    // Numeric classes: bounds are the layer's range around its inner breaks.
    const edges = numeric && Array.isArray(layer.breaks) && Array.isArray(layer.range)
      ? [layer.range[0], ...layer.breaks, layer.range[1]] : null;
    let index = 0;
    const entries = legend.map((e) => {
      const entry = { label: legendLabel(e.label, { numeric }), color: e.color, pattern: e.pattern, count: countOf(e, period) };
      const isNoData = e.pattern === "hatch" || String(e.label).toLowerCase() === "no data";
      if (edges && !isNoData && index + 1 < edges.length) {
        entry.lower = edges[index];
        entry.upper = edges[index + 1];
        index += 1;
      }
      if (isNoData) entry.noData = true;
      return entry;
    });
    return { title, kind: "classes", entries };
  }
  return { title, kind: "none", entries: [], note: layer.kind === "vector" ? t("legend.vector") : t("legend.none") };
}

/** "label (n desa)" for a class. */
export function withCount(entry) {
  if (entry.count === null || entry.count === undefined) return entry.label;
  return t("legend.count", { label: entry.label, n: formatNumber(entry.count), villages: entry.count === 1 ? "village" : "villages" });
}

export function swatchBackground(entry) {
  return entry.pattern === "hatch"
    ? `repeating-linear-gradient(45deg, ${entry.color} 0 3px, ${HATCH} 3px 4px)`
    : entry.color;
}

function swatch(entry) {
  const node = element("span", { className: "swatch" });
  node.style.background = swatchBackground(entry);
  return node;
}

function classList(entries) {
  const list = element("ul", { className: "legend-list" });
  for (const entry of entries) list.append(element("li", {}, [swatch(entry), element("span", { textContent: withCount(entry) })]));
  return list;
}

/** Draw the legend model into `box` (replacing what was there). */
export function renderLegend(box, model) {
  box.replaceChildren(element("p", { className: "legend-title", textContent: model.title }));
  if (model.kind === "classes") {
    box.append(classList(model.entries));
  } else if (model.kind === "ramp") {
    const stops = model.entries;
    const bar = element("div", { className: "legend-gradient", role: "img" });
    bar.style.background = `linear-gradient(to right, ${stops.map((e) => e.color).join(", ")})`;
    bar.setAttribute("aria-label", t("legend.ramp", { from: stops[0].label, to: stops[stops.length - 1].label }));
    const labels = element("div", { className: "legend-ramp-labels" });
    for (const stop of stops) labels.append(element("span", { textContent: stop.label }));
    box.append(bar, labels);
  } else if (model.kind === "bivariate") {
    // 3x3 grid: x grows to the right, y grows upwards.
    const grid = element("div", { className: "legend-bivariate", role: "img" });
    for (const cell of model.cells) {
      const node = swatch(cell);
      node.style.gridRow = String(3 - cell.y);
      node.style.gridColumn = String(1 + cell.x);
      node.title = withCount(cell);
      grid.append(node);
    }
    grid.setAttribute("aria-label", model.cells.map(withCount).join("; "));
    box.append(
      element("div", { className: "legend-bivariate-wrap" }, [
        element("span", { className: "legend-axis-y", textContent: `${model.yTitle} →` }),
        grid,
      ]),
      element("p", { className: "legend-axes", textContent: `${model.xTitle} →` }),
    );
    if (model.entries.length) box.append(classList(model.entries));
  } else {
    box.append(element("p", { textContent: model.note }));
  }
}

// ---------- CSV ----------

function csvCell(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The legend's classes as CSV text (with a BOM so spreadsheet programs read UTF-8). */
export function legendCSV(model, { layerId, period }) {
  const rows = [];
  if (model.kind === "classes") {
    rows.push(["layer", "period", "class", "lower", "upper", "label", "color", "pattern", "count"]);
    model.entries.forEach((e, i) => rows.push([
      layerId, period, e.noData ? "no_data" : i + 1, e.lower, e.upper, e.label, e.color, e.pattern || "", e.count,
    ]));
  } else if (model.kind === "ramp") {
    rows.push(["layer", "period", "stop", "value", "label", "color"]);
    model.entries.forEach((e, i) => rows.push([layerId, period, i + 1, e.value, e.label, e.color]));
  } else if (model.kind === "bivariate") {
    rows.push(["layer", "period", "x_class", "y_class", "x_breaks", "y_breaks", "label", "color", "count"]);
    const xb = (model.xBreaks || []).join(" ");
    const yb = (model.yBreaks || []).join(" ");
    for (const c of model.cells) rows.push([layerId, period, c.x, c.y, xb, yb, c.label, c.color, c.count]);
    for (const e of model.entries) rows.push([layerId, period, "", "", xb, yb, e.label, e.color, e.count]);
  } else {
    rows.push(["layer", "period", "note"], [layerId, period, model.note]);
  }
  return "\ufeff" + rows.map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}
