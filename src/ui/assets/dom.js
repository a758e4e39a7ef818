// DOM helpers. Every piece of data reaches the page as a text node or an attribute set through the DOM
// (never innerHTML), so a route or message containing markup is shown as text.

/** Creates an element: `props` are DOM properties (className, href, …) or `attrs`; children are nodes or text. */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'attrs') for (const [a, v] of Object.entries(value)) node.setAttribute(a, String(v));
    else if (key === 'on') for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const isNum = (n) => typeof n === 'number' && Number.isFinite(n);

export function fmtInt(n) {
  return isNum(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

export function fmtNum(n, digits = 2) {
  if (!isNum(n)) return '–';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(digits).replace(/\.?0+$/, '') || '0';
}

/** A share 0..1 as a percentage. */
export function fmtPct(share, digits = 2) {
  return isNum(share) ? `${(share * 100).toFixed(digits)} %` : '–';
}

export function fmtMs(ms) {
  if (!isNum(ms)) return '–';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(3)} ms`;
}

export function fmtBytes(b) {
  if (!isNum(b)) return '–';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (b >= 1000 && i < units.length - 1) {
    b /= 1000;
    i++;
  }
  return `${i === 0 ? Math.round(b) : b.toFixed(1)} ${units[i]}`;
}

export function fmtTime(iso) {
  if (typeof iso !== 'string') return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** "METHOD route", the endpoint's name in the API and in the page's links. */
export const endpointName = (e) => `${e.method} ${e.route}`;

/**
 * The detail route's path and query for "METHOD route": the route as one segment and the method as
 * `method=` (the form every version of the API takes).
 */
export function detailRequest(name, params = {}) {
  const space = name.indexOf(' ');
  const method = space > 0 ? name.slice(0, space) : undefined;
  const route = space > 0 ? name.slice(space + 1) : name;
  return [`/endpoints/${encodeURIComponent(route)}`, { ...params, method }];
}

export function endpointLink(e) {
  return h('a', { href: `#/endpoint/${encodeURIComponent(endpointName(e))}` }, endpointName(e));
}

/**
 * A link to a trace, from the `[api] metrics_ui_trace_url` template; only http(s) URLs become links,
 * so a template or trace id cannot make a `javascript:` link.
 */
export function traceLink(template, traceId, spanId) {
  const text = String(traceId ?? '–');
  if (!template || typeof traceId !== 'string') return h('code', {}, text);
  const url = template
    .replaceAll('{trace_id}', encodeURIComponent(traceId))
    .replaceAll('{span_id}', encodeURIComponent(String(spanId ?? '')));
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return h('code', {}, text);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return h('code', {}, text);
  return h('a', { href: parsed.href, target: '_blank', rel: 'noopener noreferrer' }, h('code', {}, text));
}

/** A simple table: columns `{ label, num?, value(row) → node|text }`. */
export function table(columns, rows, empty = 'none') {
  const head = h(
    'tr',
    {},
    columns.map((c) => h('th', { className: c.num ? 'num' : '', attrs: { scope: 'col' } }, c.label)),
  );
  const body =
    rows.length === 0
      ? [h('tr', {}, h('td', { className: 'muted', colSpan: columns.length }, empty))]
      : rows.map((r) =>
          h(
            'tr',
            {},
            columns.map((c) => h('td', { className: c.num ? 'num' : (c.cls ?? '') }, c.value(r))),
          ),
        );
  return h('div', { className: 'table-wrap' }, h('table', {}, h('thead', {}, head), h('tbody', {}, body)));
}

export function panel(title, ...children) {
  return h('section', { className: 'panel' }, h('h2', {}, title), ...children);
}

export function notice(text, error = false) {
  return h('div', { className: error ? 'notice error' : 'notice', attrs: { role: 'status' } }, text);
}
