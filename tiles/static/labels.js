// Region names over the map as HTML labels (MapLibre's symbol layers would need glyph files
// that this server does not have): kab/kota names from GET /regions?level=kabkota, province
// names when zoomed out; only the labels on screen, none overlapping another.
"use strict";

import { getJSON } from "./api.js";
import { element } from "./dom.js";

// Zoom below which province names are shown instead of kab/kota names.
const PROVINCE_BELOW = 7;
const PAD = 4; // px kept free around a label

export class RegionLabels {
  constructor(map) {
    this.map = map;
    // In MapLibre's canvas container (where its markers go): over the map, under its controls.
    // Decorative for screen readers: the search finds every region by name.
    this.box = element("div", { id: "map-labels", className: "map-labels" });
    this.box.setAttribute("aria-hidden", "true");
    map.getCanvasContainer().append(this.box);
    this.places = { kabkota: null, province: null };
    this.loading = {};
    this.frame = null;
    map.on("move", () => this.schedule());
    map.on("resize", () => this.schedule());
  }

  /** Fetch the names of a level once (an empty list when the server has none). */
  load(level) {
    if (this.places[level] || this.loading[level]) return;
    this.loading[level] = getJSON(`regions?level=${level}`)
      .then((list) => {
        this.places[level] = Array.isArray(list) ? list.filter((p) => Array.isArray(p.center) && p.name) : [];
      })
      .catch((error) => {
        console.warn(`region names (${level}):`, error.message);
        this.places[level] = [];
      })
      .finally(() => this.update());
  }

  schedule() {
    // Placed synchronously with the camera so labels never lag behind the map.
    this.update();
  }

  /** Place the labels of the current view. */
  update() {
    const level = this.map.getZoom() < PROVINCE_BELOW ? "province" : "kabkota";
    this.load(level);
    const places = this.places[level] || [];
    const canvas = this.map.getCanvas();
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    const taken = [];
    const nodes = [];
    for (const place of places) {
      const p = this.map.project(place.center);
      if (p.x < 0 || p.y < 0 || p.x > width || p.y > height) continue;
      // Estimated box (label text at 13px bold ≈ 7.5 px per character), centred on the point.
      const w = place.name.length * 7.5 + 2 * PAD;
      const h = 18 + 2 * PAD;
      const box = [p.x - w / 2, p.y - h / 2, p.x + w / 2, p.y + h / 2];
      if (taken.some((b) => box[0] < b[2] && box[2] > b[0] && box[1] < b[3] && box[3] > b[1])) continue;
      taken.push(box);
      const node = element("div", { className: `map-label map-label-${level}`, textContent: place.name });
      node.style.transform = `translate(${Math.round(p.x)}px, ${Math.round(p.y)}px) translate(-50%, -50%)`;
      node.dataset.kode = place.kode;
      nodes.push(node);
    }
    this.box.replaceChildren(...nodes);
  }

  /** The labels on screen, for drawing them on the PNG export: [{text, x, y, level}]. */
  drawn() {
    const origin = this.box.getBoundingClientRect();
    return [...this.box.children].map((node) => {
      const r = node.getBoundingClientRect();
      return {
        text: node.textContent,
        x: r.left - origin.left + r.width / 2,
        y: r.top - origin.top + r.height / 2,
        level: node.classList.contains("map-label-province") ? "province" : "kabkota",
      };
    });
  }
}
