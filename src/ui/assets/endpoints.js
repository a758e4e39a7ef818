// Endpoints table: every endpoint with its figures, sorted, filtered and paged by the API itself
// (order_by, method, status, search, limit/offset), so 1,000 endpoints cost one page of rows.
import { csvUrl, getOk } from './client.js';
import { endpointLink, fill, fmtBytes, fmtInt, fmtMs, fmtNum, fmtPct, h } from './dom.js';

const COLUMNS = [
  { key: 'method', label: 'Method', value: (e) => e.method },
  { key: 'route', label: 'Endpoint', cls: 'route', value: endpointLink },
  { key: 'count', label: 'Count', num: true, value: (e) => fmtInt(e.count) },
  { key: 'rate_per_second', label: 'Rate/s', num: true, value: (e) => fmtNum(e.rate_per_second) },
  { key: 'error_rate_5xx', label: '5xx %', num: true, value: (e) => fmtPct(e.error_rate_5xx) },
  { key: 'error_rate_4xx', label: '4xx %', num: true, value: (e) => fmtPct(e.error_rate_4xx) },
  { key: 'p50', label: 'p50', num: true, value: (e) => fmtMs(e.latency_ms?.p50) },
  { key: 'p95', label: 'p95', num: true, value: (e) => fmtMs(e.latency_ms?.p95) },
  { key: 'p99', label: 'p99', num: true, value: (e) => fmtMs(e.latency_ms?.p99) },
  { key: 'request_bytes_mean', label: 'Req. size', num: true, value: (e) => fmtBytes(e.request_bytes?.mean) },
  { key: 'response_bytes_mean', label: 'Resp. size', num: true, value: (e) => fmtBytes(e.response_bytes?.mean) },
];
const METHODS = ['', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const PAGE_SIZES = [50, 100, 250, 1000];

export function endpointsView(root) {
  const q = { order_by: '-count', method: '', status: '', search: '', limit: 50, offset: 0 };
  let rendered = null;
  const heads = COLUMNS.map((c) => {
    const button = h('button', { type: 'button', on: { click: () => sortBy(c.key) } }, c.label);
    return h('th', { className: c.num ? 'num' : '', attrs: { scope: 'col', 'data-key': c.key } }, button);
  });
  const tbody = h('tbody', {});
  const info = h('span', { className: 'muted', attrs: { 'aria-live': 'polite' }, id: 'endpoints-info' });
  const prev = h('button', { type: 'button', className: 'btn', on: { click: () => page(-1) } }, '‹ Previous');
  const next = h('button', { type: 'button', className: 'btn', on: { click: () => page(1) } }, 'Next ›');
  const csv = h('a', { className: 'btn', id: 'csv-link', attrs: { download: 'endpoints.csv' } }, 'Download CSV');
  const search = h('input', {
    type: 'search',
    placeholder: 'search route…',
    id: 'filter-search',
    attrs: { 'aria-label': 'Search routes' },
  });
  const status = h('input', {
    type: 'text',
    placeholder: 'status (5xx,404)',
    size: 14,
    id: 'filter-status',
    attrs: { 'aria-label': 'Status codes or classes' },
  });
  const method = h(
    'select',
    { id: 'filter-method', attrs: { 'aria-label': 'Method' } },
    METHODS.map((m) => h('option', { value: m }, m || 'any method')),
  );
  const size = h(
    'select',
    { id: 'page-size', attrs: { 'aria-label': 'Rows per page' } },
    PAGE_SIZES.map((n) => h('option', { value: String(n) }, `${n} per page`)),
  );
  let refreshNow = () => {};
  let debounce = null;
  const changed = () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      q.search = search.value.trim();
      q.status = status.value.trim();
      q.method = method.value;
      q.limit = Number(size.value);
      q.offset = 0;
      refreshNow();
    }, 250);
  };
  for (const input of [search, status]) input.addEventListener('input', changed);
  for (const select of [method, size]) select.addEventListener('change', changed);

  root.append(
    h('h1', {}, 'Endpoints'),
    h('div', { className: 'filters' }, search, method, status, size, csv),
    h(
      'div',
      { className: 'panel table-wrap' },
      h('table', { id: 'endpoints-table' }, h('thead', {}, h('tr', {}, heads)), tbody),
    ),
    h('div', { className: 'pager' }, prev, next, info),
  );

  function sortBy(key) {
    const numeric = COLUMNS.find((c) => c.key === key)?.num;
    const desc = q.order_by === `-${key}` ? false : q.order_by === key ? true : numeric;
    q.order_by = desc ? `-${key}` : key;
    q.offset = 0;
    refreshNow();
  }
  function page(delta) {
    q.offset = Math.max(0, q.offset + delta * q.limit);
    refreshNow();
  }

  return {
    async refresh(state) {
      refreshNow = () => void this.refresh(state);
      const params = {
        window: state.window,
        order_by: q.order_by,
        method: q.method,
        status: q.status,
        search: q.search,
        limit: q.limit,
        offset: q.offset,
      };
      const body = await getOk('/endpoints', params);
      csv.href = csvUrl('/endpoints', { ...params, limit: 1000, offset: 0 });
      const key = q.order_by.replace(/^-/, '');
      for (const th of heads) {
        if (th.getAttribute('data-key') === key)
          th.setAttribute('aria-sort', q.order_by.startsWith('-') ? 'descending' : 'ascending');
        else th.removeAttribute('aria-sort');
      }
      const rows = body.endpoints.map((e) =>
        h(
          'tr',
          {},
          COLUMNS.map((c) => h('td', { className: c.num ? 'num' : (c.cls ?? '') }, c.value(e))),
        ),
      );
      if (rows.length === 0)
        rows.push(h('tr', {}, h('td', { colSpan: COLUMNS.length, className: 'muted' }, 'no endpoint matches')));
      fill(tbody, rows);
      rendered = body;
      const from = body.total_entries === 0 ? 0 : body.offset + 1;
      info.textContent = `${from}–${body.offset + body.endpoints.length} of ${body.total_entries}`;
      prev.disabled = body.offset === 0;
      next.disabled = body.offset + body.endpoints.length >= body.total_entries;
    },
    destroy() {
      clearTimeout(debounce);
      rendered = null;
    },
    get data() {
      return rendered;
    },
  };
}
