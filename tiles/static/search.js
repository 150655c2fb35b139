// The search box: an ARIA combobox (input + listbox) over GET /search?q=&limit=10.
// Keyboard: Down/Up move through the options, Enter chooses, Escape closes (then clears).
"use strict";

import { cancel, later } from "./busy.js";
import { describe, enc, getJSON } from "./api.js";
import { $, element } from "./dom.js";
import { t } from "./i18n.js";
import { dottedCode, whereOf } from "./places.js";

const DEBOUNCE_MS = 200;
const LIMIT = 10;

export class Search {
  /** `onChoose(result)` is called with the chosen /search result. */
  constructor({ onChoose }) {
    this.input = $("search-input");
    this.list = $("search-list");
    this.message = $("search-status");
    this.onChoose = onChoose;
    this.results = [];
    this.active = -1;
    this.query = "";
    this.timer = null;
    this.controller = null;
    this.input.addEventListener("input", () => this.typed());
    this.input.addEventListener("keydown", (e) => this.key(e));
    this.input.addEventListener("blur", () => this.close());
    // Keep the focus in the input when an option is clicked.
    this.list.addEventListener("mousedown", (e) => e.preventDefault());
    this.list.addEventListener("click", (e) => {
      const option = e.target.closest("[role=option]");
      if (option) this.choose(Number(option.dataset.index));
    });
  }

  typed() {
    cancel(this.timer);
    const q = this.input.value.trim();
    if (q.length < 2) {
      this.abort();
      this.results = [];
      this.list.replaceChildren();
      this.close();
      this.say("");
      return;
    }
    this.timer = later(() => {
      this.timer = null;
      this.fetch(q);
    }, DEBOUNCE_MS);
  }

  abort() {
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  async fetch(q) {
    this.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.query = q;
    this.say(t("search.searching"));
    try {
      const body = await getJSON(`search?q=${enc(q)}&limit=${LIMIT}`, { signal: controller.signal });
      if (controller !== this.controller) return;
      this.controller = null;
      this.results = Array.isArray(body.results) ? body.results : [];
      this.active = -1;
      this.render();
      this.say(this.results.length ? t("search.count", { n: this.results.length }) : t("search.none", { q }));
    } catch (error) {
      if (error.name === "AbortError" || controller !== this.controller) return;
      this.controller = null;
      this.results = [];
      this.close();
      console.warn("search:", error.message);
      this.say(t("search.error", { error: describe(error) }));
    }
  }

  say(text) {
    this.message.textContent = text;
  }

  render() {
    this.list.replaceChildren();
    this.results.forEach((result, i) => {
      const where = whereOf(result);
      // Name and code on the first line; level and where it lies under them.
      const option = element("li", { id: `search-option-${i}`, className: "search-option" }, [
        element("span", { className: "search-name", textContent: result.name || dottedCode(result.kode) }),
        element("span", { className: "search-code", textContent: dottedCode(result.kode) }),
        element("span", {
          className: "search-where",
          textContent: [t(`level.${result.level}`), where].filter(Boolean).join(" · "),
        }),
      ]);
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.dataset.index = String(i);
      option.dataset.kode = result.kode;
      this.list.append(option);
    });
    if (this.results.length && document.activeElement === this.input) this.openList();
    else this.close();
  }

  openList() {
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  close() {
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.active = -1;
    for (const option of this.list.children) option.setAttribute("aria-selected", "false");
  }

  move(step) {
    if (!this.results.length) return;
    if (this.list.hidden) this.openList();
    const n = this.results.length;
    this.active = this.active < 0 ? (step > 0 ? 0 : n - 1) : (this.active + step + n) % n;
    [...this.list.children].forEach((option, i) => {
      option.setAttribute("aria-selected", String(i === this.active));
      option.classList.toggle("active", i === this.active);
    });
    const option = this.list.children[this.active];
    this.input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  }

  key(event) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      this.move(1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      this.move(-1);
    } else if (event.key === "Enter") {
      if (this.list.hidden || !this.results.length) return;
      event.preventDefault();
      this.choose(this.active >= 0 ? this.active : 0);
    } else if (event.key === "Escape") {
      event.stopPropagation(); // the page's Escape closes the card; this one is the search's
      if (!this.list.hidden) this.close();
      else if (this.input.value) {
        this.input.value = "";
        this.results = [];
        this.say("");
      }
    }
  }

  choose(index) {
    const result = this.results[index];
    if (!result) return;
    this.input.value = result.name || dottedCode(result.kode);
    this.close();
    this.say("");
    this.onChoose(result);
  }

  /** Redraw the options in the new language (levels, "Kec."). */
  relabel() {
    const active = this.active;
    const open = !this.list.hidden;
    this.render();
    if (!open) this.close();
    else if (active >= 0) {
      this.active = active - 1;
      this.move(1);
    }
  }
}
