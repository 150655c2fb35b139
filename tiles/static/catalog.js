// What the page reads from the layer list of GET /layers: titles in the page's language, the
// statistic a layer shows, the true-colour layer, the village boundaries, the region levels.
"use strict";

import { pick } from "./i18n.js";

const ACRONYMS = /\b(ndvi|ndbi|mndwi|bsi|idm|iks|ike|ikl|p0|p10|p90|rls)\b/gi;
// Raster products whose village statistic is named differently from the product.
const RASTER_STATISTIC = { built_up: "built_up_fraction", clear_count: "n_obs" };
const VILLAGE_KINDS = new Set(["choropleth", "bivariate", "vector"]);

/** A column id as words ("ndvi_mean" -> "NDVI mean"), when the server gives no title. */
export function prettyName(name) {
  const text = String(name).replace(/[_.]/g, " ");
  return text.replace(/^./, (c) => c.toUpperCase()).replace(ACRONYMS, (m) => m.toUpperCase());
}

/** A layer's title in the page's language (server `titles`, else `title`, else its id). */
export function layerTitle(layer) {
  return layer ? pick(layer.titles, layer.title || layer.id) : "";
}

/** A layer's description in the page's language, or "". */
export function layerDescription(layer) {
  return layer ? pick(layer.descriptions, layer.description || "") : "";
}

/** Village layers have per-village tables (CSV) and region levels. */
export function isVillageLayer(layer) {
  return Boolean(layer && VILLAGE_KINDS.has(layer.kind));
}

/** The true-colour composite layer (raster.rgb), when the products serve one. */
export function trueColourLayer(layers) {
  return layers.find((l) => l.id === "raster.rgb") || layers.find((l) => l.kind === "raster" && /rgb|true/i.test(l.id)) || null;
}

/** The village boundaries layer (vector tiles of every village). */
export function villagesLayer(layers) {
  return layers.find((l) => l.kind === "vector") || null;
}

/** Region levels the products have statistics for ("province", "kab", "kecamatan"). */
export function regionLevels(layers) {
  const levels = new Set();
  for (const layer of layers) for (const level of layer.levels || []) if (level !== "village") levels.add(level);
  return levels;
}

/** The village statistic a layer shows, for the card's trend ("built_up_fraction"). */
export function statisticOf(layer) {
  if (!layer) return "built_up_fraction";
  const [kind, ...rest] = layer.id.split(".");
  const name = rest.join(".");
  if (kind === "choropleth") return name.replace(/_change$/, "");
  if (kind === "bivariate") return String(layer.x || name.split("__")[0]).replace(/_change$/, "");
  if (kind === "raster") return RASTER_STATISTIC[name] || `${name}_mean`;
  return "built_up_fraction";
}

/** Title of a statistic or indicator column, from the choropleth layer of that column. */
export function columnTitle(layers, column, fallback) {
  const layer = layers.find((l) => l.id === `choropleth.${column}`);
  return layer ? layerTitle(layer) : fallback || prettyName(column);
}
