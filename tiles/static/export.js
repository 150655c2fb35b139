// Take it away: the layer's table (visible area or selected region) as CSV from the server,
// the map view as PNG with title, period, legend and attribution drawn on it, and the
// legend's classes as CSV.
"use strict";

import { RequestError, absolute, enc, saveBlob } from "./api.js";
import { track } from "./busy.js";
import { language, t } from "./i18n.js";
import { HATCH, legendCSV, withCount } from "./legend.js";

const round6 = (v) => Number(v.toFixed(6));

/** The visible area as "w,s,e,n" (clipped to valid degrees). */
export function visibleBBox(map) {
  const b = map.getBounds();
  const w = Math.max(b.getWest(), -180);
  const e = Math.min(b.getEast(), 180);
  const s = Math.max(b.getSouth(), -90);
  const n = Math.min(b.getNorth(), 90);
  return [w, s, e, n].map(round6).join(",");
}

/** URL of the layer's table for an area: {bbox} or {region}. */
export function tableURL(layer, period, area) {
  const where = area.region ? `region=${enc(area.region)}` : `bbox=${enc(area.bbox).replace(/%2C/gi, ",")}`;
  return absolute(`layers/${enc(layer.id)}/${enc(period)}/table.csv?${where}&lang=${language()}`);
}

function filenameOf(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header);
  return match ? decodeURIComponent(match[1]) : fallback;
}

/** Fetch the table and save it under the server's file name; resolves with that name. */
export function downloadTable(layer, period, area) {
  return track((async () => {
    const response = await fetch(tableURL(layer, period, area));
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = (await response.json()).detail || detail;
      } catch (_) {
        // not JSON
      }
      throw new RequestError(response.status, detail);
    }
    const name = filenameOf(response, `pantau-${layer.id}-${period}.csv`);
    saveBlob(await response.blob(), name);
    return name;
  })());
}

/** Save the legend's classes as CSV; resolves with the file name. */
export function downloadLegend(model, layer, period) {
  const name = `pantau-legend-${layer.id}-${period}.csv`.replace(/[^A-Za-z0-9_.-]+/g, "_");
  saveBlob(new Blob([legendCSV(model, { layerId: layer.id, period })], { type: "text/csv;charset=utf-8" }), name);
  return name;
}

// ---------- PNG ----------

const HEADER = 54;
const FOOTER = 24;
const LEGEND_WIDTH = 270;
const INK = "#1f2933";
const MUTED = "#3e4c59";
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif';

/** Lines of `text` that fit `width` on the context's current font. */
function wrap(ctx, text, width) {
  const lines = [];
  let line = "";
  for (const word of String(text).split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (line && ctx.measureText(next).width > width) {
      lines.push(line);
      line = word;
    } else {
      line = next;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function swatch(ctx, entry, x, y, size) {
  ctx.fillStyle = entry.color;
  ctx.fillRect(x, y, size, size);
  if (entry.pattern === "hatch") {
    ctx.save();
    ctx.beginPath();
    ctx.rect(x, y, size, size);
    ctx.clip();
    ctx.strokeStyle = HATCH;
    ctx.lineWidth = 1;
    for (let d = -size; d < size; d += 4) {
      ctx.beginPath();
      ctx.moveTo(x + d, y + size);
      ctx.lineTo(x + d + size, y);
      ctx.stroke();
    }
    ctx.restore();
  }
  ctx.strokeStyle = "rgba(0,0,0,0.35)";
  ctx.lineWidth = 1;
  ctx.strokeRect(x + 0.5, y + 0.5, size - 1, size - 1);
}

function drawText(ctx, text, x, y, width, lineHeight) {
  const lines = wrap(ctx, text, width);
  lines.forEach((line, i) => ctx.fillText(line, x, y + i * lineHeight));
  return lines.length * lineHeight;
}

/** Draw the legend model in a column starting at (x, y), `width` wide. */
function drawLegend(ctx, model, x, y, width) {
  ctx.fillStyle = INK;
  ctx.font = `600 15px ${FONT}`;
  ctx.textBaseline = "top";
  y += drawText(ctx, t("export.legend"), x, y, width, 19) + 6;
  ctx.font = `13px ${FONT}`;
  if (model.kind === "classes" || model.kind === "bivariate") {
    if (model.kind === "bivariate") {
      const cell = 26;
      ctx.font = `12px ${FONT}`;
      ctx.fillStyle = MUTED;
      y += drawText(ctx, `↑ ${model.yTitle}`, x, y, width, 15) + 4;
      for (const c of model.cells) swatch(ctx, c, x + c.x * cell, y + (2 - c.y) * cell, cell);
      y += 3 * cell + 4;
      ctx.fillStyle = MUTED;
      y += drawText(ctx, `${model.xTitle} →`, x, y, width, 15) + 8;
      ctx.font = `13px ${FONT}`;
    }
    for (const entry of model.entries) {
      swatch(ctx, entry, x, y, 16);
      ctx.fillStyle = INK;
      y += Math.max(drawText(ctx, withCount(entry), x + 24, y + 1, width - 24, 16), 16) + 6;
    }
  } else if (model.kind === "ramp") {
    const gradient = ctx.createLinearGradient(x, 0, x + width - 20, 0);
    model.entries.forEach((e, i) => gradient.addColorStop(i / (model.entries.length - 1), e.color));
    ctx.fillStyle = gradient;
    ctx.fillRect(x, y, width - 20, 16);
    y += 20;
    ctx.fillStyle = INK;
    ctx.font = `12px ${FONT}`;
    const step = (width - 20) / (model.entries.length - 1);
    model.entries.forEach((e, i) => {
      ctx.textAlign = i === 0 ? "left" : i === model.entries.length - 1 ? "right" : "center";
      ctx.fillText(e.label, x + i * step, y);
    });
    ctx.textAlign = "left";
    y += 18;
  } else {
    ctx.fillStyle = MUTED;
    y += drawText(ctx, model.note, x, y, width, 16);
  }
  return y;
}

/** Attribution of the map's sources (TileJSON `attribution`), without duplicates. */
export function attributionOf(map) {
  const texts = new Set();
  for (const id of Object.keys(map.getStyle().sources || {})) {
    const source = map.getSource(id);
    if (source && source.attribution) texts.add(String(source.attribution).replace(/<[^>]*>/g, ""));
  }
  return [...texts].join("; ");
}

/**
 * Compose the PNG: header (title, period), the map canvas with the region labels, the legend
 * beside it and the attribution under it; resolves with the file name once saved.
 */
export function downloadMapPNG({ map, model, layer, period, labels }) {
  return track(new Promise((resolve, reject) => {
    const source = map.getCanvas();
    const width = source.clientWidth;
    const height = source.clientHeight;
    const scale = source.width / width; // device pixels per CSS pixel
    const canvas = document.createElement("canvas");
    canvas.width = Math.round((width + LEGEND_WIDTH) * scale);
    canvas.height = Math.round((HEADER + height + FOOTER) * scale);
    const ctx = canvas.getContext("2d");
    ctx.scale(scale, scale);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, width + LEGEND_WIDTH, HEADER + height + FOOTER);

    ctx.textBaseline = "top";
    ctx.fillStyle = INK;
    ctx.font = `700 19px ${FONT}`;
    ctx.fillText(model.title, 14, 9, width + LEGEND_WIDTH - 28);
    ctx.font = `14px ${FONT}`;
    ctx.fillStyle = MUTED;
    ctx.fillText(`${t("export.period", { period })} · Pantau`, 14, 33);

    ctx.drawImage(source, 0, 0, source.width, source.height, 0, HEADER, width, height);
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const label of labels) {
      ctx.font = `${label.level === "province" ? 700 : 600} 13px ${FONT}`;
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.strokeText(label.text, label.x, HEADER + label.y);
      ctx.fillStyle = INK;
      ctx.fillText(label.text, label.x, HEADER + label.y);
    }
    ctx.textAlign = "left";
    ctx.strokeStyle = "#cbd2d9";
    ctx.lineWidth = 1;
    ctx.strokeRect(0.5, HEADER + 0.5, width - 1, height - 1);

    drawLegend(ctx, model, width + 16, HEADER + 4, LEGEND_WIDTH - 28);

    ctx.textBaseline = "middle";
    ctx.font = `12px ${FONT}`;
    ctx.fillStyle = MUTED;
    ctx.fillText(attributionOf(map) || "Contains modified Copernicus Sentinel data", 14, HEADER + height + FOOTER / 2, width + LEGEND_WIDTH - 28);

    const name = `pantau-${layer.id}-${period}.png`.replace(/[^A-Za-z0-9_.-]+/g, "_");
    canvas.toBlob((blob) => {
      if (!blob) {
        reject(new Error("toBlob"));
        return;
      }
      saveBlob(blob, name);
      resolve(name);
    }, "image/png");
  }));
}
