// Inventory: every declared operation against the calls of the window (used, never called, deprecated
// but called), and the undocumented candidates, from the API's /inventory.
import { csvUrl, getOk } from './client.js';
import { endpointLink, fill, fmtInt, fmtTime, h, table } from './dom.js';

const STATUSES = [
  ['', 'every status'],
  ['deprecated_but_called', 'deprecated but called'],
  ['never_called', 'never called'],
  ['used', 'used'],
  ['undocumented', 'undocumented'],
];
const BADGE = { used: 'ok', never_called: 'warn', deprecated_but_called: 'bad', undocumented: 'warn' };
const label = (status) => STATUSES.find(([s]) => s === status)?.[1] ?? status;

const card = (name, value) =>
  h('div', { className: 'card' }, h('div', { className: 'label' }, name), h('div', { className: 'value' }, value));

const ENDPOINT_COLUMNS = [
  { label: 'Status', value: (e) => h('span', { className: `badge ${BADGE[e.status] ?? ''}` }, label(e.status)) },
  // Only an endpoint that recorded has a detail page; * routes have one per method.
  {
    label: 'Endpoint',
    cls: 'route',
    value: (e) => (e.calls > 0 && e.method !== '*' ? endpointLink(e) : `${e.method} ${e.route}`),
  },
  { label: 'operationId', value: (e) => e.operation_id ?? '' },
  { label: 'Calls', num: true, value: (e) => fmtInt(e.calls) },
  { label: 'Last called', value: (e) => (e.last_called === null ? '–' : fmtTime(e.last_called)) },
  {
    label: 'Called by',
    value: (e) =>
      e.consumers === null ? '' : e.consumers.map((c) => `${c.consumer} (${fmtInt(c.requests)})`).join(', '),
  },
];

const UNDOCUMENTED_COLUMNS = [
  { label: 'Method', value: (u) => u.method },
  { label: 'Template', cls: 'route', value: (u) => u.template },
  { label: 'Calls', num: true, value: (u) => fmtInt(u.calls) },
  { label: 'Last seen', value: (u) => (u.last_called === null ? '–' : fmtTime(u.last_called)) },
  { label: 'From', value: (u) => (u.origin === 'unmatched' ? 'unmatched requests' : 'an endpoint') },
];

export function inventoryView(root) {
  let rendered = null;
  const q = { status: '' };
  const cards = h('div', { className: 'cards', id: 'inventory-totals' });
  const declared = h('div', { id: 'inventory-table' });
  const undocumented = h('div', { id: 'inventory-undocumented' });
  const note = h('p', { className: 'muted', id: 'inventory-note' });
  const csv = h('a', { className: 'btn', id: 'inventory-csv', attrs: { download: 'inventory.csv' } }, 'Download CSV');
  const status = h(
    'select',
    { id: 'inventory-status', attrs: { 'aria-label': 'Status' } },
    STATUSES.map(([value, text]) => h('option', { value }, text)),
  );
  let refreshNow = () => {};
  status.addEventListener('change', () => {
    q.status = status.value;
    refreshNow();
  });
  root.append(
    h('h1', {}, 'Inventory'),
    cards,
    h('div', { className: 'filters' }, status, csv),
    h('section', { className: 'panel' }, h('h2', {}, 'Declared operations'), declared),
    h('section', { className: 'panel' }, h('h2', {}, 'Undocumented candidates'), note, undocumented),
  );

  return {
    async refresh(state) {
      refreshNow = () => void this.refresh(state);
      const params = { window: state.window, status: q.status };
      const body = await getOk('/inventory', params);
      csv.href = csvUrl('/inventory', params);
      const t = body.totals;
      fill(
        cards,
        card('declared', fmtInt(t.declared)),
        card('used', fmtInt(t.used)),
        card('never called', fmtInt(t.never_called)),
        card('deprecated but called', fmtInt(t.deprecated_but_called)),
        card('undocumented', fmtInt(t.undocumented)),
      );
      fill(declared, table(ENDPOINT_COLUMNS, body.endpoints, 'no declared operation'));
      fill(undocumented, table(UNDOCUMENTED_COLUMNS, body.undocumented, 'none'));
      note.textContent =
        `${fmtInt(body.unmatched_calls)} requests matched no route in the window` +
        (body.undocumented_since === null
          ? '.'
          : `; unmatched requests are grouped by template since ${fmtTime(body.undocumented_since)}.`);
      rendered = body;
    },
    destroy() {
      rendered = null;
    },
    get data() {
      return rendered;
    },
  };
}
