// Places as people name them: dotted Kemendagri codes, levels by code length, and where a
// place lies (its kecamatan, kab/kota, province) from its /search entry.
"use strict";

import { t } from "./i18n.js";

/** The dotted form of a Kemendagri code: 3404072001 -> 34.04.07.2001. */
export function dottedCode(kode) {
  const k = String(kode || "").replace(/\./g, "");
  const parts = [k.slice(0, 2), k.slice(2, 4), k.slice(4, 6), k.slice(6)].filter(Boolean);
  return parts.join(".");
}

/** The level of a code by its length: province 2, kab/kota 4, kecamatan 6, village 10. */
export function levelOfCode(kode) {
  return { 2: "province", 4: "kabkota", 6: "kecamatan", 10: "village" }[String(kode).length] || "village";
}

/**
 * Where a /search entry lies: "Kec. Depok, Kabupaten Sleman" for a village, its kab/kota for
 * a kecamatan, its province for a kab/kota; `full` adds the province to villages and kecamatan.
 */
export function whereOf(entry, { full = false } = {}) {
  if (!entry) return "";
  const parts = [];
  if (entry.level === "village" && entry.kecamatan) parts.push(t("where.kecamatan", { name: entry.kecamatan }));
  if ((entry.level === "village" || entry.level === "kecamatan") && entry.kabkota) parts.push(entry.kabkota);
  if (entry.province && (entry.level === "kabkota" || (full && entry.level !== "province"))) parts.push(entry.province);
  return parts.join(", ");
}
