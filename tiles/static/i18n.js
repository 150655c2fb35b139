// Every text of the page in Bahasa Indonesia (the default) and English, the language choice,
// and numbers formatted for the language (0,25 in Indonesian, 0.25 in English).
"use strict";

export const LANGUAGES = ["id", "en"];

const MESSAGES = {
  id: {
    "page.title": "Pantau – indikator desa",
    "page.subtitle": "Indikator desa/kelurahan dari citra Sentinel-2",
    "panel.label": "Kontrol peta",
    "lang.label": "Bahasa · Language",
    "search.label": "Cari desa atau wilayah",
    "search.placeholder": "Nama atau kode, mis. Condongcatur",
    "search.hint": "Ketik nama atau kode, pilih dengan panah atas/bawah lalu Enter.",
    "search.searching": "Mencari…",
    "search.none": "Tidak ada desa atau wilayah yang cocok dengan “{q}”.",
    "search.count": "{n} hasil. Pilih dengan panah atas/bawah lalu Enter.",
    "search.error": "Pencarian gagal: {error}",
    "search.results": "Hasil pencarian",
    "level.village": "Desa/Kelurahan",
    "level.kecamatan": "Kecamatan",
    "level.kabkota": "Kabupaten/Kota",
    "level.province": "Provinsi",
    "where.kecamatan": "Kec. {name}",
    "layer.label": "Lapisan",
    "layer.loading": "Memuat lapisan…",
    "group.choropleth": "Indikator desa (koroplet)",
    "group.bivariate": "Dua indikator sekaligus (bivariat)",
    "group.raster": "Piksel satelit (Sentinel-2)",
    "group.vector": "Batas desa",
    "period.label": "Periode",
    "opacity.label": "Opasitas",
    "context.title": "Konteks peta",
    "context.truecolour": "Citra warna asli di bawah lapisan",
    "context.truecolourMissing": "Produk tidak memuat citra warna asli.",
    "legend.title": "Legenda",
    "legend.none": "Tidak ada legenda untuk lapisan ini.",
    "legend.vector": "Batas desa, tanpa nilai.",
    "legend.count": "{label} ({n} desa)",
    "legend.countRegions": "{label} ({n} wilayah)",
    "legend.noData": "tanpa data",
    "legend.ramp": "gradasi warna dari {from} sampai {to}",
    "legend.cell": "{x}: {xc}; {y}: {yc}",
    "class.low": "rendah",
    "class.mid": "sedang",
    "class.high": "tinggi",
    "downloads.title": "Unduh",
    "downloads.tableView": "Tabel area terlihat (CSV)",
    "downloads.tableRegion": "Tabel wilayah terpilih (CSV)",
    "downloads.png": "Gambar peta (PNG)",
    "downloads.legend": "Kelas legenda (CSV)",
    "downloads.villageOnly": "Tabel hanya tersedia untuk lapisan desa (koroplet, bivariat, batas).",
    "downloads.needRegion": "Pilih desa atau wilayah dulu (cari atau klik peta).",
    "downloads.started": "Unduhan dimulai: {name}",
    "downloads.failed": "Unduhan gagal: {error}",
    "status.loadingLayers": "Memuat daftar lapisan…",
    "status.layersFailed": "Daftar lapisan tidak dapat dimuat: {error}",
    "status.noLayers": "Server belum punya lapisan: jalankan `pantau run` untuk menulis produk.",
    "status.tiles": "Sebagian ubin peta tidak dapat dimuat (HTTP {status}).",
    "status.mapError": "Kesalahan peta: {message}",
    "map.label": "Peta desa",
    "map.title": "Peta",
    "map.zoomIn": "Perbesar",
    "map.zoomOut": "Perkecil",
    "map.attribution": "Tampilkan atau sembunyikan atribusi",
    "card.close": "Tutup kartu",
    "card.code": "Kode",
    "card.loading": "Memuat…",
    "card.loadingStats": "Memuat statistik…",
    "card.failed": "Data ini tidak dapat dimuat: {error}",
    "card.unnamed": "(tanpa nama)",
    "card.stats": "Statistik per periode",
    "card.statistic": "Statistik",
    "card.noStats": "Tidak ada statistik.",
    "card.indicators": "Indikator terkait",
    "card.noIndicators": "Tidak ada indikator terkait.",
    "card.trend": "Tren: {stat}",
    "card.children": "Terdiri dari {n} {level}.",
    "card.in": "{level} {name}",
    "chart.label": "Tren {stat}: {values}",
    "chart.village": "Desa ini",
    "chart.region": "Wilayah ini",
    "chart.kab": "Kab/Kota: {name}",
    "chart.province": "Provinsi: {name}",
    "chart.change": "{from} → {to}: {delta} ({direction})",
    "chart.up": "naik",
    "chart.down": "turun",
    "chart.same": "tetap",
    "chart.onePeriod": "Baru satu periode: perubahan belum dapat dihitung.",
    "chart.noValues": "Tidak ada nilai untuk statistik ini.",
    "chart.single": "Indikator ini hanya punya satu nilai (bukan per periode): {value}.",
    "chart.noComparison": "Nilai kab/kota dan provinsi tidak tersedia (produk tanpa regions.parquet).",
    "chart.changes": "Perubahan antarperiode",
    "export.period": "Periode {period}",
    "export.legend": "Legenda",
    "error.http": "HTTP {status}",
    "error.network": "server tidak menjawab",
  },
  en: {
    "page.title": "Pantau – village indicators",
    "page.subtitle": "Village (desa/kelurahan) indicators from Sentinel-2",
    "panel.label": "Map controls",
    "lang.label": "Bahasa · Language",
    "search.label": "Find a village or region",
    "search.placeholder": "Name or code, e.g. Condongcatur",
    "search.hint": "Type a name or a code, choose with the up/down arrows and Enter.",
    "search.searching": "Searching…",
    "search.none": "No village or region matches “{q}”.",
    "search.count": "{n} results. Choose with the up/down arrows and Enter.",
    "search.error": "Search failed: {error}",
    "search.results": "Search results",
    "level.village": "Village",
    "level.kecamatan": "District (kecamatan)",
    "level.kabkota": "Regency/city (kab/kota)",
    "level.province": "Province",
    "where.kecamatan": "Kec. {name}",
    "layer.label": "Layer",
    "layer.loading": "Loading layers…",
    "group.choropleth": "Village indicators (choropleth)",
    "group.bivariate": "Two indicators together (bivariate)",
    "group.raster": "Satellite pixels (Sentinel-2)",
    "group.vector": "Village boundaries",
    "period.label": "Period",
    "opacity.label": "Opacity",
    "context.title": "Map context",
    "context.truecolour": "True-colour image under the layer",
    "context.truecolourMissing": "The products have no true-colour image.",
    "legend.title": "Legend",
    "legend.none": "No legend for this layer.",
    "legend.vector": "Village boundaries, no values.",
    "legend.count": "{label} ({n} {villages})",
    "legend.countRegions": "{label} ({n} {regions})",
    "legend.noData": "no data",
    "legend.ramp": "colour ramp from {from} to {to}",
    "legend.cell": "{x}: {xc}; {y}: {yc}",
    "class.low": "low",
    "class.mid": "middle",
    "class.high": "high",
    "downloads.title": "Download",
    "downloads.tableView": "Table of the visible area (CSV)",
    "downloads.tableRegion": "Table of the selected region (CSV)",
    "downloads.png": "Map image (PNG)",
    "downloads.legend": "Legend classes (CSV)",
    "downloads.villageOnly": "Tables exist for village layers only (choropleth, bivariate, boundaries).",
    "downloads.needRegion": "Choose a village or region first (search or click the map).",
    "downloads.started": "Download started: {name}",
    "downloads.failed": "Download failed: {error}",
    "status.loadingLayers": "Loading the layer list…",
    "status.layersFailed": "Could not load the layer list: {error}",
    "status.noLayers": "The server has no layers yet: run `pantau run` to write products.",
    "status.tiles": "Some tiles could not be loaded (HTTP {status}).",
    "status.mapError": "Map error: {message}",
    "map.label": "Map of villages",
    "map.title": "Map",
    "map.zoomIn": "Zoom in",
    "map.zoomOut": "Zoom out",
    "map.attribution": "Toggle attribution",
    "card.close": "Close the card",
    "card.code": "Code (kode)",
    "card.loading": "Loading…",
    "card.loadingStats": "Loading statistics…",
    "card.failed": "Could not load this: {error}",
    "card.unnamed": "(unnamed)",
    "card.stats": "Statistics by period",
    "card.statistic": "Statistic",
    "card.noStats": "No statistics.",
    "card.indicators": "Joined indicators",
    "card.noIndicators": "No joined indicators.",
    "card.trend": "Trend: {stat}",
    "card.children": "Made of {n} {level}.",
    "card.in": "{level} {name}",
    "chart.label": "Trend of {stat}: {values}",
    "chart.village": "This village",
    "chart.region": "This region",
    "chart.kab": "Kab/kota: {name}",
    "chart.province": "Province: {name}",
    "chart.change": "{from} → {to}: {delta} ({direction})",
    "chart.up": "up",
    "chart.down": "down",
    "chart.same": "unchanged",
    "chart.onePeriod": "One period only: no change to show yet.",
    "chart.noValues": "No values for this statistic.",
    "chart.single": "This indicator has one value (not per period): {value}.",
    "chart.noComparison": "No kab/kota or province values (the products have no regions.parquet).",
    "chart.changes": "Change between periods",
    "export.period": "Period {period}",
    "export.legend": "Legend",
    "error.http": "HTTP {status}",
    "error.network": "the server did not answer",
  },
};

// English plurals the messages above need ({villages}, {regions}); Indonesian has none.
const PLURALS = { villages: ["village", "villages"], regions: ["region", "regions"] };

let current = "id";
const listeners = [];

/** The language in use ("id" or "en"). */
export function language() {
  return current;
}

/**
 * The language to start in: English when the browser asks for English and not Indonesian
 * ("in" is Indonesian's old code) anywhere in its list; otherwise Indonesian.
 */
export function preferredLanguage(languages) {
  const bases = (languages || []).map((tag) => String(tag).toLowerCase().split("-")[0]);
  if (bases.includes("id") || bases.includes("in")) return "id";
  return bases.includes("en") ? "en" : "id";
}

/** The message `key` in the current language, with {name} placeholders filled from `vars`. */
export function t(key, vars) {
  const text = MESSAGES[current][key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    if (vars && name in vars) return String(vars[name]);
    if (name in PLURALS && vars && "n" in vars) return PLURALS[name][Number(vars.n) === 1 ? 0 : 1];
    return whole;
  });
}

/** The text of a {"id": ..., "en": ...} object (layer titles), else `fallback`. */
export function pick(texts, fallback) {
  if (texts && typeof texts === "object") return texts[current] || texts.en || texts.id || fallback;
  return fallback;
}

/** Switch language: <html lang>, every marked text of the page, then the listeners. */
export function setLanguage(lang) {
  current = LANGUAGES.includes(lang) ? lang : "id";
  document.documentElement.lang = current;
  document.title = t("page.title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  // data-i18n-attr="aria-label:key;placeholder:key2"
  for (const node of document.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) node.setAttribute(attr.trim(), t(key.trim()));
    }
  }
  for (const listener of listeners) listener(current);
}

/** Call `listener(lang)` after every language switch. */
export function onLanguage(listener) {
  listeners.push(listener);
}

// ---------- numbers ----------

const formats = new Map();

function formatter(options) {
  const key = current + JSON.stringify(options || {});
  if (!formats.has(key)) formats.set(key, new Intl.NumberFormat(current === "id" ? "id-ID" : "en", options));
  return formats.get(key);
}

/** A number for reading: integers whole, others with up to 3 decimals (3 significant digits when tiny). */
export function formatNumber(value, options) {
  if (value === null || value === undefined || (typeof value === "number" && !Number.isFinite(value))) return "–";
  if (typeof value !== "number") return String(value);
  if (options) return formatter(options).format(value);
  if (Number.isInteger(value)) return formatter({ maximumFractionDigits: 0 }).format(value);
  if (Math.abs(value) < 0.01) return formatter({ maximumSignificantDigits: 3 }).format(value);
  return formatter({ maximumFractionDigits: 3 }).format(value);
}

/** A signed difference (+0,052 / −0,013), for changes between periods. */
export function formatChange(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const digits = Number.isInteger(value) ? 0 : 3;
  return formatter({ maximumFractionDigits: digits, signDisplay: "exceptZero" }).format(value);
}

const NUMBER = /^-?\d+(?:\.\d+)?$/;

/** A number written by the server ("0.079", "14.0") in the current language, same decimals. */
export function formatWritten(text) {
  const s = String(text).trim();
  if (!NUMBER.test(s)) return text;
  const decimals = (s.split(".")[1] || "").length;
  return formatter({ minimumFractionDigits: decimals, maximumFractionDigits: decimals }).format(Number(s));
}

/**
 * A legend label of the server in the current language: "0.079 – 0.268" and "14.0" get the
 * language's decimal mark, "no data" is translated, anything else (categories) is kept.
 */
export function legendLabel(label, { numeric = true } = {}) {
  const text = String(label ?? "");
  if (text.trim().toLowerCase() === "no data") return t("legend.noData");
  if (!numeric) return text;
  const range = text.split(/\s+[–-]\s+/);
  if (range.length === 2 && range.every((part) => NUMBER.test(part.trim()))) {
    return `${formatWritten(range[0])} – ${formatWritten(range[1])}`;
  }
  return NUMBER.test(text.trim()) ? formatWritten(text) : text;
}
