// Whether the page has settled: <html data-state="idle"> when MapLibre has fired `idle`, no
// request of ours is pending and no delayed update (search, URL) is waiting; else "busy".
// Tests and scripts wait on it instead of sleeping; people never see it.
"use strict";

let pending = 0;
let mapIdle = false;
const timers = new Set();

function update() {
  const idle = pending === 0 && timers.size === 0 && mapIdle;
  document.documentElement.dataset.state = idle ? "idle" : "busy";
}

/** Count a request (or any promise) as pending until it settles; returns it. */
export function track(promise) {
  pending += 1;
  update();
  return promise.finally(() => {
    pending -= 1;
    update();
  });
}

/** A timeout that keeps the page busy until it has run (or was cancelled). */
export function later(fn, ms) {
  const id = setTimeout(() => {
    timers.delete(id);
    try {
      fn();
    } finally {
      update();
    }
  }, ms);
  timers.add(id);
  update();
  return id;
}

/** Cancel a {@link later} timeout. */
export function cancel(id) {
  if (id === null || id === undefined) return;
  clearTimeout(id);
  timers.delete(id);
  update();
}

/**
 * Follow a MapLibre map: busy from any render until the `idle` that follows it. MapLibre
 * fires `render` on every frame and `idle` after the last one, once every tile is loaded.
 */
export function watchMap(map) {
  map.on("render", () => {
    if (mapIdle) {
      mapIdle = false;
      update();
    }
  });
  map.on("idle", () => {
    mapIdle = true;
    update();
  });
}

/** The map was changed by us: busy now, and make sure a frame (then `idle`) follows. */
export function mapChanged(map) {
  mapIdle = false;
  update();
  map.triggerRepaint();
}

update();
