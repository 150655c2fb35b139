// The MapLibre map and its layers: the data layer, the true-colour underlay, village
// outlines, region boundaries and the selected place. No online basemap: everything drawn
// comes from this server's tiles.
"use strict";

import { absolute, enc } from "./api.js";
import { mapChanged } from "./busy.js";
import { t } from "./i18n.js";

export const BACKGROUND = "#eef0f2";
const OUTLINE = "#4a5560";
const SELECTED = "#1f2933";
const VECTOR_FILL = "#9fb3c8";
const MVT_LAYER = "villages";
// Region outlines: level as the tile server names it, line colour and width (coarsest last so
// it is drawn on top).
const BOUNDARIES = [
  ["kab", "#3d4852", 1.4],
  ["province", "#1f2933", 2.4],
];

/** The map: a plain background, no rotation, its canvas kept for PNG export. */
export function createMap(container) {
  const map = new maplibregl.Map({
    container,
    style: {
      version: 8,
      sources: {},
      layers: [{ id: "background", type: "background", paint: { "background-color": BACKGROUND } }],
    },
    center: [117.0, -2.5], // Indonesia, until a layer or the link tells where to look
    zoom: 4,
    dragRotate: false,
    pitchWithRotate: false,
    touchPitch: false,
    // The PNG export copies the WebGL canvas: keep its pixels after each frame.
    canvasContextAttributes: { preserveDrawingBuffer: true },
    preserveDrawingBuffer: true,
    fadeDuration: 0,
    locale: mapLocale(),
  });
  map.touchZoomRotate.disableRotation();
  map.keyboard.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");
  return map;
}

function mapLocale() {
  return {
    "NavigationControl.ZoomIn": t("map.zoomIn"),
    "NavigationControl.ZoomOut": t("map.zoomOut"),
    "AttributionControl.ToggleAttribution": t("map.attribution"),
    "Map.Title": t("map.title"),
  };
}

/** Put MapLibre's own button and canvas labels in the page's language. */
export function relabelMap(map) {
  const container = map.getContainer();
  const set = (selector, text) => {
    for (const node of container.querySelectorAll(selector)) {
      node.setAttribute("aria-label", text);
      node.title = text;
    }
  };
  set(".maplibregl-ctrl-zoom-in", t("map.zoomIn"));
  set(".maplibregl-ctrl-zoom-out", t("map.zoomOut"));
  set(".maplibregl-ctrl-attrib-button", t("map.attribution"));
  map.getCanvas().setAttribute("aria-label", t("map.title"));
}

/** TileJSON URL of a layer in a period, with extra query parameters. */
export function tilejsonURL(layer, period, query) {
  const listed = !query && layer.tilejsons && layer.tilejsons[period];
  const path = `layers/${enc(layer.id)}/${enc(period)}/tilejson.json${query ? `?${query}` : ""}`;
  return listed || absolute(path);
}

function firstOf(map, ids) {
  return ids.find((id) => map.getLayer(id));
}

/** The layer ids above the data layer, lowest first; new layers go under the first present. */
const ABOVE_DATA = ["villages-hit", "villages-outline", "boundary-kab", "boundary-province", "selected-halo", "selected"];

/** Village outlines, an invisible fill to click villages, and the selected-place lines. */
export function addVillageOutlines(map, layer) {
  if (!layer || !layer.periods || !layer.periods.length) return;
  // Boundaries do not change between periods: the latest period's tiles serve as outlines.
  map.addSource("villages", { type: "vector", url: tilejsonURL(layer, layer.periods[layer.periods.length - 1]) });
  const common = { source: "villages", "source-layer": MVT_LAYER };
  map.addLayer({ id: "villages-hit", type: "fill", ...common, paint: { "fill-opacity": 0 } });
  map.addLayer({
    id: "villages-outline", type: "line", ...common,
    paint: { "line-color": OUTLINE, "line-width": 0.8, "line-opacity": 0.8 },
  });
  // The selected village: a dark line on a white halo, visible on any fill colour.
  for (const [id, color, width] of [["selected-halo", "#ffffff", 6], ["selected", SELECTED, 2.5]]) {
    map.addLayer({
      id, type: "line", ...common, filter: ["==", ["get", "kode"], ""],
      paint: { "line-color": color, "line-width": width },
    });
  }
}

/**
 * Kab/kota and province outlines from the village layer's tiles pinned to those levels
 * (`?level=kab`), when the products have region levels.
 */
export function addBoundaries(map, layer, levels) {
  if (!layer || !layer.periods || !layer.periods.length) return;
  const period = layer.periods[layer.periods.length - 1];
  for (const [level, color, width] of BOUNDARIES) {
    if (!levels.has(level) || !(layer.levels || []).includes(level)) continue;
    map.addSource(`boundary-${level}`, { type: "vector", url: tilejsonURL(layer, period, `level=${level}`) });
    map.addLayer({
      id: `boundary-${level}`, type: "line", source: `boundary-${level}`, "source-layer": MVT_LAYER,
      paint: { "line-color": color, "line-width": width, "line-opacity": 0.9 },
    }, firstOf(map, ["selected-halo", "selected"]));
    // Halo and line of a selected region of this level.
    for (const [suffix, c, w] of [["halo", "#ffffff", 6], ["line", SELECTED, 2.5]]) {
      map.addLayer({
        id: `boundary-${level}-selected-${suffix}`, type: "line", source: `boundary-${level}`, "source-layer": MVT_LAYER,
        filter: ["==", ["get", "kode"], ""], paint: { "line-color": c, "line-width": w },
      });
    }
  }
}

/** Outline the selected village or region (kab/kota, province) with a halo; null clears. */
export function highlight(map, kode) {
  const k = kode || "";
  const village = k.length === 10 ? k : "";
  for (const id of ["selected-halo", "selected"]) {
    if (map.getLayer(id)) map.setFilter(id, ["==", ["get", "kode"], village]);
  }
  for (const [level] of BOUNDARIES) {
    const wanted = (level === "kab" && k.length === 4) || (level === "province" && k.length === 2) ? k : "";
    for (const suffix of ["halo", "line"]) {
      const id = `boundary-${level}-selected-${suffix}`;
      if (map.getLayer(id)) map.setFilter(id, ["==", ["get", "kode"], wanted]);
    }
  }
  mapChanged(map);
}

function removeLayer(map, id) {
  if (map.getLayer(id)) map.removeLayer(id);
  if (map.getSource(id)) map.removeSource(id);
}

/** Show `layer` in `period` as the data layer, under the outlines. */
export function showData(map, layer, period, opacity) {
  removeLayer(map, "data");
  if (!layer || period === null) return;
  const url = tilejsonURL(layer, period);
  const below = firstOf(map, ABOVE_DATA);
  if (layer.kind === "vector") {
    // Village tiles of a choropleth carry their class colour; plain boundaries do not.
    map.addSource("data", { type: "vector", url });
    map.addLayer({
      id: "data", type: "fill", source: "data", "source-layer": MVT_LAYER,
      paint: { "fill-color": ["coalesce", ["get", "color"], VECTOR_FILL], "fill-opacity": opacity },
    }, below);
  } else {
    map.addSource("data", { type: "raster", url, tileSize: 256 });
    map.addLayer({
      id: "data", type: "raster", source: "data",
      paint: { "raster-opacity": opacity, "raster-fade-duration": 0 },
    }, below);
  }
  mapChanged(map);
}

export function setDataOpacity(map, layer, opacity) {
  if (!map.getLayer("data")) return;
  map.setPaintProperty("data", layer.kind === "vector" ? "fill-opacity" : "raster-opacity", opacity);
  mapChanged(map);
}

/** The period of `layer` to show with `period`: the same, else the latest before, else the first. */
export function matchingPeriod(layer, period) {
  const periods = (layer && layer.periods) || [];
  if (periods.includes(period)) return period;
  const before = periods.filter((p) => p <= String(period));
  return before.length ? before[before.length - 1] : periods[0] ?? null;
}

/** The true-colour composite of the period under the data layer (or nothing). */
export function showTrueColour(map, rgbLayer, period, on) {
  removeLayer(map, "truecolour");
  if (on && rgbLayer && period !== null) {
    const p = matchingPeriod(rgbLayer, period);
    if (p !== null) {
      map.addSource("truecolour", { type: "raster", url: tilejsonURL(rgbLayer, p), tileSize: 256 });
      map.addLayer({
        id: "truecolour", type: "raster", source: "truecolour",
        paint: { "raster-opacity": 1, "raster-fade-duration": 0 },
      }, firstOf(map, ["data", ...ABOVE_DATA]));
    }
  }
  mapChanged(map);
}

/** The village or region under a point of the map: its tile properties, or null. */
export function placeAt(map, point) {
  if (!map.getLayer("villages-hit")) return null;
  const features = map.queryRenderedFeatures(point, { layers: ["villages-hit"] });
  return features.length ? features[0].properties || {} : null;
}
