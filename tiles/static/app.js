// Pantau web map: layer picker, period slider, legend, opacity, and a village card on click.
// Plain JavaScript over MapLibre GL; every request goes to the server that served this page.
"use strict";

(function () {
  const BACKGROUND = "#eef0f2";
  const OUTLINE = "#4a5560";
  const SELECTED = "#1f2933";
  const VECTOR_FILL = "#9fb3c8";
  const HATCH = "#969696";
  const MVT_LAYER = "villages";
  const KIND_GROUPS = [
    ["choropleth", "Village indicators (choropleth)"],
    ["bivariate", "Two indicators together (bivariate)"],
    ["raster", "Satellite pixels (Sentinel-2)"],
    ["vector", "Village boundaries"],
  ];
  // The layer shown first, when the server has it.
  const DEFAULT_LAYERS = ["choropleth.built_up_fraction", "raster.ndvi"];
  // Statistics shown in the village card, in this order, when the server has them.
  const CARD_STATS = [
    "built_up_fraction", "built_up_fraction_change", "ndvi_mean", "ndbi_mean", "mndwi_mean",
    "bsi_mean", "valid_fraction", "n_obs",
  ];
  const ACRONYMS = /\b(ndvi|ndbi|mndwi|bsi|idm|iks|ike|ikl|p0|p10|p90|rls)\b/gi;

  const $ = (id) => document.getElementById(id);
  const absolute = (path) => new URL(path, document.baseURI).href;
  const enc = encodeURIComponent;

  const state = { layers: [], layer: null, period: null, opacity: 0.8, fitted: false };

  const map = new maplibregl.Map({
    container: "map",
    style: {
      version: 8,
      sources: {},
      layers: [{ id: "background", type: "background", paint: { "background-color": BACKGROUND } }],
    },
    center: [117.0, -2.5], // Indonesia, until the first layer tells its bounds
    zoom: 4,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");
  window.pantau = { map, state }; // for the console and the browser test

  // ---------- helpers ----------

  function status(message, isError) {
    const box = $("status");
    box.textContent = message || "";
    box.classList.toggle("error", Boolean(isError));
  }

  async function getJSON(path) {
    const response = await fetch(absolute(path));
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = (await response.json()).detail || detail;
      } catch (_) {
        // not JSON: keep the status text
      }
      throw new Error(`${response.status} ${detail}`);
    }
    return response.json();
  }

  function tilejsonURL(layer, period) {
    const listed = layer.tilejsons && layer.tilejsons[period];
    return listed || absolute(`layers/${enc(layer.id)}/${enc(period)}/tilejson.json`);
  }

  function formatValue(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    if (typeof value === "number") {
      return value.toLocaleString("en", { maximumFractionDigits: Number.isInteger(value) ? 0 : 3 });
    }
    return String(value);
  }

  function prettyName(name) {
    const text = String(name).replace(/[_.]/g, " ");
    return text.replace(/^./, (c) => c.toUpperCase()).replace(ACRONYMS, (m) => m.toUpperCase());
  }

  function element(tag, props, children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children || []) node.append(child);
    return node;
  }

  // ---------- map layers ----------

  function villagesLayer() {
    return state.layers.find((l) => l.kind === "vector") || null;
  }

  function addVillageOutlines() {
    const layer = villagesLayer();
    if (!layer || !layer.periods || !layer.periods.length) return;
    // Boundaries do not change between periods: the latest period's tiles serve as outlines.
    const url = tilejsonURL(layer, layer.periods[layer.periods.length - 1]);
    map.addSource("villages", { type: "vector", url });
    const common = { source: "villages", "source-layer": MVT_LAYER };
    // An invisible fill makes the whole village clickable, not only its outline.
    map.addLayer({ id: "villages-hit", type: "fill", ...common, paint: { "fill-opacity": 0 } });
    map.addLayer({
      id: "villages-outline", type: "line", ...common,
      paint: { "line-color": OUTLINE, "line-width": 0.8, "line-opacity": 0.8 },
    });
    // The selected village: a dark line on a white halo, visible on any fill colour.
    for (const [id, color, width] of [["villages-selected-halo", "#ffffff", 6], ["villages-selected", SELECTED, 2.5]]) {
      map.addLayer({
        id, type: "line", ...common, filter: ["==", ["get", "kode"], ""],
        paint: { "line-color": color, "line-width": width },
      });
    }
  }

  function highlightVillage(kode) {
    for (const id of ["villages-selected-halo", "villages-selected"]) {
      if (map.getLayer(id)) map.setFilter(id, ["==", ["get", "kode"], kode || ""]);
    }
  }

  function showData() {
    const { layer, period } = state;
    if (map.getLayer("data")) map.removeLayer("data");
    if (map.getSource("data")) map.removeSource("data");
    status("");
    if (!layer || period === null) return;
    const url = tilejsonURL(layer, period);
    const below = map.getLayer("villages-hit") ? "villages-hit" : undefined;
    if (layer.kind === "vector") {
      // Village tiles of a choropleth carry their class colour; plain boundaries do not.
      map.addSource("data", { type: "vector", url });
      map.addLayer({
        id: "data", type: "fill", source: "data", "source-layer": MVT_LAYER,
        paint: { "fill-color": ["coalesce", ["get", "color"], VECTOR_FILL], "fill-opacity": state.opacity },
      }, below);
    } else {
      map.addSource("data", { type: "raster", url, tileSize: 256 });
      map.addLayer({
        id: "data", type: "raster", source: "data",
        paint: { "raster-opacity": state.opacity, "raster-fade-duration": 0 },
      }, below);
    }
    if (!state.fitted) fitTo(layer.bounds);
  }

  function fitTo(bounds) {
    if (!Array.isArray(bounds) || bounds.length !== 4) return;
    state.fitted = true;
    map.fitBounds([[bounds[0], bounds[1]], [bounds[2], bounds[3]]], { padding: 20, animate: false });
  }

  function setOpacity(opacity) {
    state.opacity = opacity;
    $("opacity-label").textContent = `${Math.round(opacity * 100)}%`;
    if (!map.getLayer("data")) return;
    const property = state.layer.kind === "vector" ? "fill-opacity" : "raster-opacity";
    map.setPaintProperty("data", property, opacity);
  }

  // ---------- controls ----------

  function buildPicker(layers) {
    const select = $("layer-select");
    select.replaceChildren();
    for (const [kind, title] of KIND_GROUPS) {
      const members = layers.filter((l) => l.kind === kind);
      if (!members.length) continue;
      const group = element("optgroup", { label: title });
      for (const l of members) group.append(element("option", { value: l.id, textContent: l.title || l.id }));
      select.append(group);
    }
    select.disabled = !layers.length;
  }

  function selectLayer(id) {
    const layer = state.layers.find((l) => l.id === id);
    if (!layer) return;
    const periods = layer.periods || [];
    // Keep the period the user was looking at when the new layer has it; else the latest.
    const period = periods.includes(state.period) ? state.period : periods[periods.length - 1];
    state.layer = layer;
    state.period = period === undefined ? null : period;
    const slider = $("period-slider");
    slider.max = String(Math.max(periods.length - 1, 0));
    slider.value = String(Math.max(periods.indexOf(state.period), 0));
    slider.disabled = periods.length < 2;
    updatePeriod();
  }

  function updatePeriod() {
    const label = state.period === null ? "–" : String(state.period);
    $("period-label").textContent = label;
    $("period-slider").setAttribute("aria-valuetext", label);
    renderLegend(state.layer, state.period);
    showData();
  }

  function onPeriodInput(event) {
    const periods = state.layer ? state.layer.periods || [] : [];
    const period = periods[Number(event.target.value)];
    if (period === undefined || period === state.period) return;
    state.period = period;
    updatePeriod();
  }

  // ---------- legend ----------

  function swatch(entry) {
    const node = element("span", { className: "swatch" });
    node.style.background = entry.pattern === "hatch"
      ? `repeating-linear-gradient(45deg, ${entry.color} 0 3px, ${HATCH} 3px 4px)`
      : entry.color;
    return node;
  }

  function withCount(entry, period) {
    const count = entry.counts ? entry.counts[period] : entry.count;
    if (count === undefined || count === null) return entry.label;
    return `${entry.label} (${count} ${count === 1 ? "village" : "villages"})`;
  }

  function renderLegend(layer, period) {
    const box = $("legend");
    box.replaceChildren(element("p", { className: "legend-title", textContent: layer.title || layer.id }));
    const legend = layer.legend;
    if (layer.kind === "bivariate" && legend && legend.cells) {
      renderBivariate(box, legend, period);
    } else if (Array.isArray(legend) && legend.length) {
      // Raster colour ramps give stop values; village classes give ranges or categories.
      const continuous = legend.every((e) => typeof e.value === "number") && !layer.categories && legend.length > 2;
      if (continuous) renderRamp(box, legend);
      else renderClasses(box, legend, period);
    } else {
      const text = layer.kind === "vector" ? "Village boundaries, no values." : "No legend for this layer.";
      box.append(element("p", { textContent: text }));
    }
  }

  function renderClasses(box, legend, period) {
    const list = element("ul", { className: "legend-list" });
    for (const entry of legend) {
      list.append(element("li", {}, [swatch(entry), element("span", { textContent: withCount(entry, period) })]));
    }
    box.append(list);
  }

  // Continuous colour ramp: a gradient bar with the stop values under it.
  function renderRamp(box, legend) {
    const bar = element("div", { className: "legend-gradient", role: "img" });
    bar.style.background = `linear-gradient(to right, ${legend.map((e) => e.color).join(", ")})`;
    bar.setAttribute("aria-label", `colour ramp from ${legend[0].label} to ${legend[legend.length - 1].label}`);
    const labels = element("div", { className: "legend-ramp-labels" });
    for (const entry of legend) labels.append(element("span", { textContent: entry.label }));
    box.append(bar, labels);
  }

  // 3x3 grid: x grows to the right, y grows upwards (cells[y][x], 0 = low).
  function renderBivariate(box, legend, period) {
    const grid = element("div", { className: "legend-bivariate", role: "img" });
    const names = [];
    legend.cells.forEach((row, y) => row.forEach((cell, x) => {
      const node = swatch(cell);
      node.style.gridRow = String(3 - (cell.y_class ?? y));
      node.style.gridColumn = String(1 + (cell.x_class ?? x));
      node.title = withCount(cell, period);
      grid.append(node);
      names.push(node.title);
    }));
    grid.setAttribute("aria-label", names.join("; "));
    const xTitle = legend.x && legend.x.title ? legend.x.title : "x";
    const yTitle = legend.y && legend.y.title ? legend.y.title : "y";
    box.append(
      element("div", { className: "legend-bivariate-wrap" }, [
        element("span", { className: "legend-axis-y", textContent: `${yTitle} →` }),
        grid,
      ]),
      element("p", { className: "legend-axes", textContent: `${xTitle} →` }),
    );
    if (legend.no_data) renderClasses(box, [legend.no_data], period);
  }

  // ---------- village card ----------

  function statisticsTable(byPeriod) {
    const periods = Object.keys(byPeriod || {});
    if (!periods.length) return element("p", { textContent: "No statistics for this village." });
    const present = new Set(periods.flatMap((p) => Object.keys(byPeriod[p] || {})));
    let columns = CARD_STATS.filter((c) => present.has(c));
    if (!columns.length) columns = [...present].slice(0, 10);
    // Statistics down the side, periods across: few periods, several statistics.
    const head = element("tr", {}, [element("th", { scope: "col", textContent: "Statistic" })]);
    for (const p of periods) head.append(element("th", { scope: "col", textContent: p }));
    const body = element("tbody");
    for (const column of columns) {
      const row = element("tr", {}, [element("th", { scope: "row", textContent: prettyName(column) })]);
      for (const p of periods) row.append(element("td", { textContent: formatValue((byPeriod[p] || {})[column]) }));
      body.append(row);
    }
    return element("table", { className: "stats" }, [
      element("caption", { className: "visually-hidden", textContent: "Statistics by period" }),
      element("thead", {}, [head]),
      body,
    ]);
  }

  // Indicators come as {"<table>.<column>": value}: one small list per table.
  function indicatorsBlock(indicators) {
    const entries = Object.entries(indicators || {});
    if (!entries.length) return element("p", { textContent: "No joined indicators." });
    const groups = new Map();
    for (const [key, value] of entries) {
      const dot = key.indexOf(".");
      const table = dot > 0 ? key.slice(0, dot) : "";
      if (!groups.has(table)) groups.set(table, []);
      groups.get(table).push([dot > 0 ? key.slice(dot + 1) : key, value]);
    }
    const block = element("div");
    for (const [table, items] of groups) {
      if (table) block.append(element("h4", { textContent: prettyName(table) }));
      const list = element("dl", { className: "indicators" });
      for (const [name, value] of items) {
        list.append(element("dt", { textContent: prettyName(name) }), element("dd", { textContent: formatValue(value) }));
      }
      block.append(list);
    }
    return block;
  }

  async function showVillage(kode, fallbackName) {
    $("village-card").hidden = false;
    highlightVillage(kode);
    $("village-name").textContent = fallbackName || "Loading…";
    $("village-kode").textContent = kode;
    const body = $("village-body");
    body.replaceChildren(element("p", { textContent: "Loading statistics…" }));
    try {
      const village = await getJSON(`villages/${enc(kode)}`);
      $("village-name").textContent = village.nama || fallbackName || "(unnamed village)";
      $("village-kode").textContent = village.kode || kode;
      body.replaceChildren(
        element("h3", { textContent: "Statistics by period" }),
        statisticsTable(village.statistics || village.periods),
        element("h3", { textContent: "Joined indicators" }),
        indicatorsBlock(village.indicators),
      );
    } catch (error) {
      body.replaceChildren(element("p", { className: "status error", textContent: `Could not load this village: ${error.message}` }));
    }
  }

  function closeCard() {
    $("village-card").hidden = true;
    highlightVillage(null);
  }

  function villageAt(point) {
    if (!map.getLayer("villages-hit")) return null;
    const features = map.queryRenderedFeatures(point, { layers: ["villages-hit"] });
    return features.length ? features[0].properties || {} : null;
  }

  // ---------- start ----------

  async function start() {
    status("Loading layers…");
    try {
      state.layers = await getJSON("layers");
    } catch (error) {
      status(`Could not load the layer list: ${error.message}`, true);
      return;
    }
    if (!state.layers.length) {
      status("The server has no layers yet: run `pantau run` to write products.", true);
      return;
    }
    buildPicker(state.layers);
    addVillageOutlines();
    const ids = state.layers.map((l) => l.id);
    const first = DEFAULT_LAYERS.find((id) => ids.includes(id)) || ids[0];
    $("layer-select").value = first;
    selectLayer(first);
    status("");
  }

  $("layer-select").addEventListener("change", (e) => selectLayer(e.target.value));
  $("period-slider").addEventListener("input", onPeriodInput);
  $("opacity-slider").addEventListener("input", (e) => setOpacity(Number(e.target.value) / 100));
  $("card-close").addEventListener("click", closeCard);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("village-card").hidden) closeCard();
  });
  map.on("click", (event) => {
    const village = villageAt(event.point);
    if (village && village.kode !== undefined) showVillage(String(village.kode), village.nama);
  });
  map.on("mousemove", (event) => {
    map.getCanvas().style.cursor = villageAt(event.point) ? "pointer" : "";
  });
  map.on("error", (event) => {
    // Keep the error in the console too: it is where people (and the browser test) look.
    const error = event.error || {};
    console.error(error);
    status(error.status ? `Some tiles could not be loaded (HTTP ${error.status}).` : error.message || "Map error", true);
  });
  map.on("load", start);
})();
