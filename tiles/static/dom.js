// Small DOM helpers shared by the page's modules.
"use strict";

export const $ = (id) => document.getElementById(id);

/** A new element with properties and children. */
export function element(tag, props, children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children || []) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// The SVG namespace, taken from an <svg> the HTML parser creates (it knows the namespace).
export const SVG_NS = new DOMParser().parseFromString("<svg></svg>", "text/html").querySelector("svg").namespaceURI;

/** A new SVG element with attributes and children. */
export function svg(tag, attrs, children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children || []) if (child !== null && child !== undefined) node.append(child);
  return node;
}
