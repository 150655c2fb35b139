// Requests to the server that served this page (never anywhere else), kept as "busy" while
// pending, with errors turned into messages a person can read.
"use strict";

import { track } from "./busy.js";
import { t } from "./i18n.js";

export const enc = encodeURIComponent;

/** An absolute URL on this server for a path relative to the page. */
export function absolute(path) {
  return new URL(path, document.baseURI).href;
}

/** A failed request: HTTP status and the server's `detail`. */
export class RequestError extends Error {
  constructor(status, detail) {
    super(status ? `${status} ${detail}` : detail);
    this.status = status;
    this.detail = detail;
  }

  /** Short text for the person in front of the page, in the page's language. */
  describe() {
    return this.status ? t("error.http", { status: this.status }) : t("error.network");
  }
}

/** GET a JSON document; rejects with a {@link RequestError}. */
export function getJSON(path, { signal } = {}) {
  return track(
    (async () => {
      let response;
      try {
        response = await fetch(absolute(path), { signal, headers: { Accept: "application/json" } });
      } catch (error) {
        if (error.name === "AbortError") throw error;
        throw new RequestError(0, error.message);
      }
      if (!response.ok) {
        let detail = response.statusText;
        try {
          detail = (await response.json()).detail || detail;
        } catch (_) {
          // not JSON: keep the status text
        }
        throw new RequestError(response.status, detail);
      }
      return response.json();
    })(),
  );
}

/** Text of an error for a message: our errors translated, others as they are. */
export function describe(error) {
  if (error instanceof RequestError) return error.describe();
  return error && error.message ? error.message : String(error);
}

/** Save a Blob under `name` through a temporary link (the browser's download). */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  saveURL(url, name);
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Download a URL of this server (or a blob: URL) as a file. */
export function saveURL(url, name) {
  const link = document.createElement("a");
  link.href = url;
  link.download = name || "";
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}
