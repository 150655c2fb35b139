// Links that reopen the view: the URL hash holds layer, period, opacity, map position,
// language, true-colour underlay and the open village/region, e.g.
//   #layer=choropleth.built_up_fraction&period=2022&opacity=80&map=12.5/-7.78/110.39&open=3404072001&lang=id
// Every change a person makes pushes a history entry, so Back walks back through them.
"use strict";

// Decimals kept in the link: 1e-5 degree is about 1 m, 1e-3 zoom is 0.07 % of scale; the map is
// moved to the rounded position when the link is written, so the link shows exactly that view.
const ZOOM_DECIMALS = 3;
const DEGREE_DECIMALS = 5;

const round = (value, decimals) => Number(Number(value).toFixed(decimals));

/** The camera rounded as the link keeps it: {zoom, lat, lon}. */
export function roundCamera(zoom, lat, lon) {
  return { zoom: round(zoom, ZOOM_DECIMALS), lat: round(lat, DEGREE_DECIMALS), lon: round(lon, DEGREE_DECIMALS) };
}

// Keep "/" and "," readable in the hash: they are legal there.
const part = (value) => encodeURIComponent(String(value)).replace(/%2F/gi, "/").replace(/%2C/gi, ",");

/** The hash ("#...") of a view; keys in a fixed order, empty values left out. */
export function encodeView(view) {
  const pairs = [];
  if (view.layer) pairs.push(["layer", view.layer]);
  if (view.period !== null && view.period !== undefined) pairs.push(["period", view.period]);
  if (Number.isFinite(view.opacity)) pairs.push(["opacity", Math.round(view.opacity * 100)]);
  if (view.map) pairs.push(["map", `${view.map.zoom}/${view.map.lat}/${view.map.lon}`]);
  if (view.base) pairs.push(["base", "rgb"]);
  if (view.open) pairs.push(["open", view.open]);
  if (view.lang) pairs.push(["lang", view.lang]);
  return "#" + pairs.map(([k, v]) => `${k}=${part(v)}`).join("&");
}

/** The view of a hash; missing or unreadable parts are null (the page keeps its own). */
export function decodeView(hash) {
  const params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  const view = { layer: null, period: null, opacity: null, map: null, base: null, open: null, lang: null };
  if (params.get("layer")) view.layer = params.get("layer");
  if (params.get("period")) view.period = params.get("period");
  const opacity = Number(params.get("opacity"));
  if (params.has("opacity") && Number.isFinite(opacity)) view.opacity = Math.min(Math.max(opacity, 0), 100) / 100;
  const camera = (params.get("map") || "").split("/").map(Number);
  if (camera.length === 3 && camera.every(Number.isFinite) && Math.abs(camera[1]) <= 90) {
    view.map = roundCamera(camera[0], camera[1], camera[2]);
  }
  if (params.has("base")) view.base = params.get("base") === "rgb";
  const open = (params.get("open") || "").replace(/\./g, "");
  if (/^(\d{2}|\d{4}|\d{6}|\d{10})$/.test(open)) view.open = open;
  if (params.get("lang")) view.lang = params.get("lang");
  return view;
}

/**
 * The browser history of the view.
 *
 * `read()` returns the current view; `push()` records it as a new entry, `replace()` rewrites
 * the current one. Map moves are recorded 500 ms after the map stops (`moved()`); moves that
 * end within a second of the last recorded one rewrite that entry instead of adding one per nudge.
 */
export class ViewHistory {
  constructor({ read, later, cancel }) {
    this.read = read;
    this.later = later;
    this.cancel = cancel;
    this.timer = null;
    this.moveEntryAt = -Infinity; // when a map-move entry was last written (ms)
    this.continuing = false; // the waiting move continues the last one: rewrite its entry
  }

  write(mode) {
    const hash = encodeView(this.read());
    if (hash === location.hash) return false;
    const url = location.pathname + location.search + hash;
    if (mode === "push") history.pushState(null, "", url);
    else history.replaceState(null, "", url);
    return true;
  }

  /** A person changed something other than the map position: a new entry. */
  push() {
    this.flushMove();
    this.moveEntryAt = -Infinity;
    this.write("push");
  }

  /** Rewrite the current entry (the page's own adjustments, the first load). */
  replace() {
    this.flushMove();
    this.write("replace");
  }

  /** The map stopped after a person moved it: record it once it has rested for 500 ms. */
  moved(beforeRecord) {
    this.cancel(this.timer);
    this.continuing = performance.now() - this.moveEntryAt < 1000;
    this.timer = this.later(() => {
      this.timer = null;
      if (beforeRecord) beforeRecord();
      if (this.write(this.continuing ? "replace" : "push")) this.moveEntryAt = performance.now();
    }, 500);
  }

  /** A move was waiting to be recorded: record it now, before another change. */
  flushMove() {
    if (this.timer === null) return;
    this.cancel(this.timer);
    this.timer = null;
    if (this.write(this.continuing ? "replace" : "push")) this.moveEntryAt = performance.now();
  }

  /** Forget a waiting move (the page moved the map itself, e.g. on Back). */
  dropMove() {
    this.cancel(this.timer);
    this.timer = null;
  }
}
