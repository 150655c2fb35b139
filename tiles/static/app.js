// Pantau web map: wires the page's parts together. Layer picker, period and opacity, legend,
// search, village/region card with its trend, true-colour underlay and region names,
// downloads, the link (URL hash) that reopens the view, and the language switch.
// Plain JavaScript modules over MapLibre GL; every request goes to the server of this page.
"use strict";

import { describe, getJSON } from "./api.js";
import { cancel, later, mapChanged, watchMap } from "./busy.js";
import { Card } from "./card.js";
import {
  layerDescription, layerTitle, regionLevels, trueColourLayer, villagesLayer,
} from "./catalog.js";
import { $, element } from "./dom.js";
import { downloadLegend, downloadMapPNG, downloadTable, visibleBBox } from "./export.js";
import { language, onLanguage, preferredLanguage, setLanguage, t } from "./i18n.js";
import { RegionLabels } from "./labels.js";
import { legendModel, renderLegend } from "./legend.js";
import {
  addBoundaries, addVillageOutlines, createMap, highlight, placeAt, relabelMap, setDataOpacity,
  showData, showTrueColour,
} from "./mapview.js";
import { Search } from "./search.js";
import { ViewHistory, decodeView, roundCamera } from "./url.js";

const KIND_GROUPS = ["choropleth", "bivariate", "raster", "vector"];
// The layer shown first, when the server has it.
const DEFAULT_LAYERS = ["choropleth.built_up_fraction", "raster.ndvi"];
const DEFAULT_OPACITY = 0.8;
const CARD_WIDTH = 360; // px of the map the card covers (on the right) when it is open
const FIT_MAX_ZOOM = 16;
const FIT_MARGIN = 56; // px

setLanguage(decodeView(location.hash).lang || preferredLanguage(navigator.languages));

const state = {
  layers: [], layer: null, period: null, opacity: DEFAULT_OPACITY, base: false, open: null,
  regions: new Set(),
};
const map = createMap("map");
watchMap(map);
window.pantau = { map, state }; // for the console and the browser tests

const card = new Card({
  getLayers: () => state.layers,
  getLayer: () => state.layer,
  regionLevels: () => state.regions,
});
const labels = new RegionLabels(map);
const link = new ViewHistory({ read: currentView, later, cancel });
const search = new Search({ onChoose: (result) => {
  openPlace(result.kode, { bounds: result.bounds, fit: true });
  link.push();
} });
let lastStatus = null;
let moving = 0; // > 0 while the page moves the map itself (not recorded as a person's move)

// ---------- status ----------

function status(key, vars, isError) {
  lastStatus = key ? { key, vars, isError } : null;
  const box = $("status");
  box.textContent = key ? t(key, vars) : "";
  box.classList.toggle("error", Boolean(isError));
}

// ---------- the view ----------

function currentView() {
  const c = map.getCenter();
  return {
    layer: state.layer ? state.layer.id : null,
    period: state.period,
    opacity: state.opacity,
    map: roundCamera(map.getZoom(), c.lat, c.lng),
    base: state.base,
    open: state.open,
    lang: language(),
  };
}

/** Move the map ourselves (a link, Back, a chosen place): not recorded as a person's move. */
function jump(camera) {
  moving += 1;
  try {
    map.jumpTo({ center: [camera.lon, camera.lat], zoom: camera.zoom });
  } finally {
    moving -= 1;
  }
  mapChanged(map);
}

function cardPadding() {
  const width = map.getCanvas().clientWidth;
  // Room around the place, so its neighbours show too; the card's width on the right.
  const right = state.open && width > 2 * CARD_WIDTH ? CARD_WIDTH + FIT_MARGIN : FIT_MARGIN;
  return { top: FIT_MARGIN, bottom: FIT_MARGIN, left: FIT_MARGIN, right };
}

/** Fit the map to [w, s, e, n], at a camera the link can hold exactly. */
function fitTo(bounds) {
  if (!Array.isArray(bounds) || bounds.length !== 4) return;
  const camera = map.cameraForBounds([[bounds[0], bounds[1]], [bounds[2], bounds[3]]], {
    padding: cardPadding(), maxZoom: FIT_MAX_ZOOM,
  });
  if (!camera) return;
  const center = maplibregl.LngLat.convert(camera.center);
  jump(roundCamera(camera.zoom, center.lat, center.lng));
}

/** After a person moved the map: snap it to the link's rounding, so the link shows it exactly. */
function snapToLink() {
  if (map.isMoving()) return;
  const c = map.getCenter();
  const camera = roundCamera(map.getZoom(), c.lat, c.lng);
  if (camera.zoom !== map.getZoom() || camera.lat !== c.lat || camera.lon !== c.lng) jump(camera);
}

// ---------- layers, period, opacity ----------

function buildPicker() {
  const select = $("layer-select");
  select.replaceChildren();
  for (const kind of KIND_GROUPS) {
    const members = state.layers.filter((l) => l.kind === kind);
    if (!members.length) continue;
    const group = element("optgroup", { label: t(`group.${kind}`) });
    for (const l of members) group.append(element("option", { value: l.id, textContent: layerTitle(l) }));
    select.append(group);
  }
  select.disabled = !state.layers.length;
  if (state.layer) select.value = state.layer.id;
}

function defaultLayerId() {
  const ids = state.layers.map((l) => l.id);
  return DEFAULT_LAYERS.find((id) => ids.includes(id)) || ids[0];
}

function selectLayer(id, period) {
  const layer = state.layers.find((l) => l.id === id);
  if (!layer) return;
  const periods = layer.periods || [];
  // The asked period, else the one the person was looking at, else the latest.
  const chosen = [period, state.period].find((p) => periods.includes(p)) ?? periods[periods.length - 1];
  state.layer = layer;
  state.period = chosen === undefined ? null : chosen;
  $("layer-select").value = layer.id;
  const slider = $("period-slider");
  slider.max = String(Math.max(periods.length - 1, 0));
  slider.value = String(Math.max(periods.indexOf(state.period), 0));
  slider.disabled = periods.length < 2;
  describeLayer();
  updatePeriod();
  card.render(); // the card's trend follows the layer's statistic
}

function describeLayer() {
  $("layer-description").textContent = layerDescription(state.layer);
}

function updatePeriod() {
  const label = state.period === null ? "–" : String(state.period);
  $("period-label").textContent = label;
  $("period-slider").setAttribute("aria-valuetext", label);
  drawLegend();
  showData(map, state.layer, state.period, state.opacity);
  showTrueColour(map, trueColourLayer(state.layers), state.period, state.base);
  updateDownloads();
}

function setPeriod(period) {
  if (!state.layer || !(state.layer.periods || []).includes(period) || period === state.period) return;
  state.period = period;
  $("period-slider").value = String(state.layer.periods.indexOf(period));
  updatePeriod();
}

function setOpacity(opacity) {
  state.opacity = opacity;
  $("opacity-slider").value = String(Math.round(opacity * 100));
  showOpacity();
  if (state.layer) setDataOpacity(map, state.layer, opacity);
}

function showOpacity() {
  const text = new Intl.NumberFormat(language() === "id" ? "id-ID" : "en", { style: "percent" }).format(state.opacity);
  $("opacity-label").textContent = text;
  $("opacity-slider").setAttribute("aria-valuetext", text);
}

function setTrueColour(on) {
  state.base = Boolean(on) && Boolean(trueColourLayer(state.layers));
  $("truecolour-toggle").checked = state.base;
  showTrueColour(map, trueColourLayer(state.layers), state.period, state.base);
}

function drawLegend() {
  if (state.layer) renderLegend($("legend"), legendModel(state.layer, state.period, state.layers));
}

// ---------- the open village or region ----------

function openPlace(kode, { bounds = null, fit = false } = {}) {
  state.open = kode;
  highlight(map, kode);
  updateDownloads();
  const shown = card.show(kode);
  if (!fit) return;
  if (bounds) {
    fitTo(bounds);
    return;
  }
  // No bounds yet (a link without a map position): fit once the place is known.
  shown.then((place) => {
    if (place && place.bounds && state.open === kode) {
      fitTo(place.bounds);
      link.replace();
    }
  });
}

function closePlace() {
  state.open = null;
  card.hide();
  highlight(map, null);
  updateDownloads();
}

// ---------- downloads ----------

function updateDownloads() {
  const ready = Boolean(state.layer && state.period !== null);
  for (const id of ["download-table-view", "download-png", "download-legend"]) $(id).disabled = !ready;
  $("download-table-region").disabled = !ready;
  $("download-table-region").setAttribute("aria-disabled", String(!state.open));
}

function failed(error) {
  const detail = error && error.detail ? ` – ${error.detail}` : "";
  console.warn("download:", error);
  status("downloads.failed", { error: describe(error) + detail }, true);
}

async function onTable(scope) {
  if (scope === "region" && !state.open) {
    status("downloads.needRegion", null, true);
    return;
  }
  const area = scope === "region" ? { region: state.open } : { bbox: visibleBBox(map) };
  try {
    const name = await downloadTable(state.layer, state.period, area);
    status("downloads.started", { name });
  } catch (error) {
    failed(error);
  }
}

async function onPNG() {
  try {
    const model = legendModel(state.layer, state.period, state.layers);
    const name = await downloadMapPNG({ map, model, layer: state.layer, period: state.period, labels: labels.drawn() });
    status("downloads.started", { name });
  } catch (error) {
    failed(error);
  }
}

function onLegendCSV() {
  const name = downloadLegend(legendModel(state.layer, state.period, state.layers), state.layer, state.period);
  status("downloads.started", { name });
}

// ---------- links and Back ----------

/** Show a view decoded from the URL; missing parts take their defaults. */
function applyView(view, { first = false } = {}) {
  if (view.lang && view.lang !== language()) setLanguage(view.lang);
  const known = view.layer && state.layers.some((l) => l.id === view.layer);
  const layerId = known ? view.layer : first || !state.layer ? defaultLayerId() : state.layer.id;
  if (!state.layer || layerId !== state.layer.id) selectLayer(layerId, view.period);
  else if (view.period) setPeriod(view.period);
  setOpacity(view.opacity ?? DEFAULT_OPACITY);
  setTrueColour(Boolean(view.base));
  if (view.map) {
    const current = currentView().map;
    if (current.zoom !== view.map.zoom || current.lat !== view.map.lat || current.lon !== view.map.lon) jump(view.map);
  } else if (first && !view.open) {
    fitTo(state.layer.bounds);
  }
  if (view.open !== state.open) {
    if (view.open) openPlace(view.open, { fit: first && !view.map });
    else closePlace();
  }
}

// ---------- language ----------

onLanguage(() => {
  $("lang-select").value = language();
  relabelMap(map);
  if (state.layers.length) buildPicker();
  describeLayer();
  showOpacity();
  drawLegend();
  card.render();
  search.relabel();
  if (lastStatus) status(lastStatus.key, lastStatus.vars, lastStatus.isError);
});

// ---------- start ----------

async function start() {
  relabelMap(map);
  status("status.loadingLayers");
  try {
    state.layers = await getJSON("layers");
  } catch (error) {
    status("status.layersFailed", { error: describe(error) }, true);
    return;
  }
  if (!state.layers.length) {
    status("status.noLayers", null, true);
    return;
  }
  state.regions = regionLevels(state.layers);
  buildPicker();
  const villages = villagesLayer(state.layers);
  addVillageOutlines(map, villages);
  addBoundaries(map, villages, state.regions);
  const hasTrueColour = Boolean(trueColourLayer(state.layers));
  $("truecolour-toggle").disabled = !hasTrueColour;
  $("truecolour-note").hidden = hasTrueColour;
  status(null);
  applyView(decodeView(location.hash), { first: true });
  labels.update();
  link.replace();
}

$("lang-select").value = language();
$("lang-select").addEventListener("change", (e) => {
  setLanguage(e.target.value);
  link.push();
});
$("layer-select").addEventListener("change", (e) => {
  selectLayer(e.target.value);
  link.push();
});
$("period-slider").addEventListener("input", (e) => {
  const periods = state.layer ? state.layer.periods || [] : [];
  const period = periods[Number(e.target.value)];
  if (period === undefined || period === state.period) return;
  setPeriod(period);
  link.push();
});
// Opacity follows the slider live; one history entry when it is let go.
$("opacity-slider").addEventListener("input", (e) => setOpacity(Number(e.target.value) / 100));
$("opacity-slider").addEventListener("change", () => link.push());
$("truecolour-toggle").addEventListener("change", (e) => {
  setTrueColour(e.target.checked);
  link.push();
});
$("card-close").addEventListener("click", () => {
  closePlace();
  link.push();
});
$("download-table-view").addEventListener("click", () => onTable("view"));
$("download-table-region").addEventListener("click", () => onTable("region"));
$("download-png").addEventListener("click", onPNG);
$("download-legend").addEventListener("click", onLegendCSV);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && card.open) {
    closePlace();
    link.push();
  }
});
window.addEventListener("popstate", () => {
  link.dropMove();
  applyView(decodeView(location.hash));
});

map.on("click", (event) => {
  const place = placeAt(map, event.point);
  if (place && place.kode !== undefined && place.kode !== null) {
    openPlace(String(place.kode));
    link.push();
  }
});
map.on("mousemove", (event) => {
  map.getCanvas().style.cursor = placeAt(map, event.point) ? "pointer" : "";
});
map.on("moveend", () => {
  if (!moving) link.moved(snapToLink);
});
map.on("error", (event) => {
  // Keep the error in the console too: it is where people (and the browser tests) look.
  const error = event.error || {};
  console.error(error);
  if (error.status) status("status.tiles", { status: error.status }, true);
  else status("status.mapError", { message: error.message || "?" }, true);
});
map.on("load", start);
