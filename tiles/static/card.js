// The village/region card: name, code, the trend of the layer's statistic over the periods
// (with its kab/kota and province), statistics by period, joined indicators.
"use strict";

import { describe, enc, getJSON } from "./api.js";
import { columnTitle, statisticOf } from "./catalog.js";
import { trendChart } from "./chart.js";
import { $, element } from "./dom.js";
import { formatNumber, t } from "./i18n.js";
import { dottedCode, levelOfCode, whereOf } from "./places.js";

// Statistics shown in the card's table, in this order, when the place has them.
const CARD_STATS = [
  "built_up_fraction", "built_up_fraction_change", "ndvi_mean", "ndbi_mean", "mndwi_mean",
  "bsi_mean", "valid_fraction", "n_obs",
];
// The tile server's region level names -> the names of /search and /regions?level=.
const PUBLIC_LEVEL = { kab: "kabkota" };

const placeCache = new Map();

/** JSON of a place: /villages/{kode} for a village, /regions/{kode} for a region (cached). */
export function fetchPlace(kode) {
  if (!placeCache.has(kode)) {
    const path = kode.length === 10 ? `villages/${enc(kode)}` : `regions/${enc(kode)}`;
    const request = getJSON(path);
    request.catch(() => placeCache.delete(kode));
    placeCache.set(kode, request);
  }
  return placeCache.get(kode);
}

const whereCache = new Map();

/** Where a place lies (its /search entry: kecamatan, kab/kota, province names), or null. */
function fetchWhere(kode) {
  if (!whereCache.has(kode)) {
    const request = getJSON(`search?q=${enc(kode)}&limit=1`)
      .then((body) => (body.results || []).find((r) => r.kode === kode) || null)
      .catch(() => null);
    whereCache.set(kode, request);
  }
  return whereCache.get(kode);
}

/** Statistics by period of a place's JSON ({period: {column: value}}). */
function byPeriod(place) {
  return (place && (place.periods || place.statistics)) || {};
}

export class Card {
  /**
   * Args: getLayers() -> the /layers list; getLayer() -> the layer shown (its statistic is
   * drawn); regionLevels() -> the region levels the products have (Set).
   */
  constructor({ getLayers, getLayer, regionLevels }) {
    this.getLayers = getLayers;
    this.getLayer = getLayer;
    this.regionLevels = regionLevels;
    this.kode = null;
    this.place = null;
    this.error = null;
    this.comparisons = [];
    this.where = null;
    this.token = 0;
  }

  get open() {
    return !$("village-card").hidden;
  }

  /** Open the card of `kode`; resolves with the place's JSON (null when it failed). */
  async show(kode) {
    const token = ++this.token;
    this.kode = kode;
    this.place = null;
    this.error = null;
    this.comparisons = [];
    this.where = null;
    $("village-card").hidden = false;
    this.render();
    const comparisons = this.comparisonCodes(kode).map(({ key, code }) =>
      fetchPlace(code).then((place) => ({ key, code, place })).catch(() => null));
    const where = fetchWhere(kode);
    try {
      const place = await fetchPlace(kode);
      const found = (await Promise.all(comparisons)).filter(Boolean);
      const entry = await where;
      if (token !== this.token) return null;
      this.place = place;
      this.comparisons = found;
      this.where = entry;
      this.render();
      return place;
    } catch (error) {
      if (token !== this.token) return null;
      console.warn(`card ${kode}:`, error.message);
      this.error = error;
      this.render();
      return null;
    }
  }

  /** Kab/kota and province codes to compare with, when the products have those levels. */
  comparisonCodes(kode) {
    const levels = this.regionLevels();
    const out = [];
    if (kode.length > 4 && levels.has("kab")) out.push({ key: "kab", code: kode.slice(0, 4) });
    if (kode.length > 2 && levels.has("province")) out.push({ key: "province", code: kode.slice(0, 2) });
    return out;
  }

  hide() {
    this.token += 1;
    this.kode = null;
    this.place = null;
    $("village-card").hidden = true;
  }

  /** Draw the card again (new data, another layer's statistic, another language). */
  render() {
    if (!this.kode) return;
    const kode = this.kode;
    const level = this.place && this.place.level ? PUBLIC_LEVEL[this.place.level] || this.place.level : levelOfCode(kode);
    $("card-level").textContent = t(`level.${level}`);
    $("village-kode").textContent = dottedCode(kode);
    $("village-kode").dataset.kode = kode;
    const body = $("village-body");
    const where = $("card-where");
    if (this.error) {
      $("village-name").textContent = kode;
      where.hidden = true;
      body.replaceChildren(element("p", { className: "status error", textContent: t("card.failed", { error: describe(this.error) }) }));
      return;
    }
    if (!this.place) {
      $("village-name").textContent = t("card.loading");
      where.hidden = true;
      body.replaceChildren(element("p", { textContent: t("card.loadingStats") }));
      return;
    }
    const place = this.place;
    $("village-name").textContent = place.nama || place.name || t("card.unnamed");
    where.textContent = whereOf(this.where, { full: true });
    where.hidden = !where.textContent;
    body.replaceChildren(
      ...this.trend(place),
      element("h3", { textContent: t("card.stats") }),
      statisticsTable(byPeriod(place), this.getLayers()),
      ...childrenBlock(place),
      element("h3", { textContent: t("card.indicators") }),
      indicatorsBlock(place.indicators, this.getLayers()),
    );
  }

  /** Heading and chart of the layer's statistic over the periods. */
  trend(place) {
    const layers = this.getLayers();
    const stats = byPeriod(place);
    const periods = Object.keys(stats).sort();
    const present = new Set(periods.flatMap((p) => Object.keys(stats[p] || {})));
    let column = statisticOf(this.getLayer());
    if (column.includes(".")) {
      // An indicator: one value, not a series.
      const title = columnTitle(layers, column);
      const value = (place.indicators || {})[column];
      return [
        element("h3", { textContent: t("card.trend", { stat: title }) }),
        element("p", { className: "trend-note", textContent: t("chart.single", { value: formatNumber(value) }) }),
      ];
    }
    if (!present.has(column)) column = CARD_STATS.find((c) => present.has(c)) || column;
    const title = columnTitle(layers, column);
    const values = (p) => (Object.prototype.hasOwnProperty.call(p, column) ? p[column] : null);
    const series = [{
      key: "self",
      label: t(this.kode.length === 10 ? "chart.village" : "chart.region"),
      values: Object.fromEntries(periods.map((p) => [p, values(stats[p] || {})])),
    }];
    for (const c of this.comparisons) {
      const theirs = byPeriod(c.place);
      series.push({
        key: c.key,
        label: t(c.key === "kab" ? "chart.kab" : "chart.province", { name: c.place.nama || c.place.name || c.code }),
        values: Object.fromEntries(periods.map((p) => [p, values(theirs[p] || {})])),
      });
    }
    const out = [element("h3", { textContent: t("card.trend", { stat: title }) }), trendChart({ periods, series, statistic: title })];
    if (!this.comparisons.length && this.kode.length > 2 && !this.regionLevels().size) {
      out.push(element("p", { className: "trend-note", textContent: t("chart.noComparison") }));
    }
    return out;
  }
}

function statisticsTable(stats, layers) {
  const periods = Object.keys(stats).sort();
  if (!periods.length) return element("p", { textContent: t("card.noStats") });
  const present = new Set(periods.flatMap((p) => Object.keys(stats[p] || {})));
  let columns = CARD_STATS.filter((c) => present.has(c));
  if (!columns.length) columns = [...present].slice(0, 10);
  // Statistics down the side, periods across: few periods, several statistics.
  const head = element("tr", {}, [element("th", { scope: "col", textContent: t("card.statistic") })]);
  for (const p of periods) head.append(element("th", { scope: "col", textContent: p }));
  const body = element("tbody");
  for (const column of columns) {
    const row = element("tr", {}, [element("th", { scope: "row", textContent: columnTitle(layers, column) })]);
    for (const p of periods) row.append(element("td", { textContent: formatNumber((stats[p] || {})[column]) }));
    body.append(row);
  }
  return element("table", { className: "stats" }, [
    element("caption", { className: "visually-hidden", textContent: t("card.stats") }),
    element("thead", {}, [head]),
    body,
  ]);
}

function childrenBlock(place) {
  const children = place.children;
  if (!children || !children.count) return [];
  const level = PUBLIC_LEVEL[children.level] || children.level;
  return [element("p", { className: "card-children", textContent: t("card.children", { n: formatNumber(children.count), level: t(`level.${level}`) }) })];
}

// Indicators come as {"<table>.<column>": value}, titled like their choropleth layers.
function indicatorsBlock(indicators, layers) {
  const entries = Object.entries(indicators || {});
  if (!entries.length) return element("p", { textContent: t("card.noIndicators") });
  const list = element("dl", { className: "indicators" });
  for (const [key, value] of entries) {
    list.append(
      element("dt", { textContent: columnTitle(layers, key) }),
      element("dd", { textContent: formatNumber(value) }),
    );
  }
  return list;
}
