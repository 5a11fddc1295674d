// Tiny DOM builders. User data only ever becomes text nodes or vetted
// attribute values: there is no innerHTML, insertAdjacentHTML or
// document.write anywhere in this UI.

import { linkify } from './format.js';

const FORBIDDEN_ATTR = /^(on|style$|href$|src$|srcdoc$|action$|formaction$)/i;

/**
 * h('div', {class: 'x', 'aria-label': name}, 'text', child) — creates an element.
 * Strings become text nodes. Event handlers, style and URL attributes are refused.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'text') el.textContent = String(value);
    else if (FORBIDDEN_ATTR.test(name)) throw new Error(`h(): attribute ${name} must be set explicitly`);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** Replaces all children of `el` (text or nodes). */
export function setChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * Message text as DOM: text nodes and, for http(s) URLs only, anchors that open
 * in a new tab without referrer or opener.
 */
export function richText(text) {
  const frag = document.createDocumentFragment();
  for (const seg of linkify(text)) {
    if (seg.href) {
      const a = document.createElement('a');
      a.href = seg.href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      a.textContent = seg.text;
      frag.append(a);
    } else {
      frag.append(document.createTextNode(seg.text));
    }
  }
  return frag;
}

/** An SVG icon from a fixed set (no user data involved). */
const ICONS = {
  clock: 'M12 7v5l3 2M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z',
  alert: 'M12 8v5m0 3.5v.5M10.3 3.9 2.4 18a2 2 0 0 0 1.7 3h15.8a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z',
  check: 'M5 12.5 10 17l9-10',
};

export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', `icon icon-${name}`);
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}
