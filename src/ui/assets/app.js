// The page: a header (views, time window, live refresh, sign out) and one view at a time, chosen by the
// URL's hash (#/overview, #/endpoints, #/endpoint/<METHOD route>, #/inventory, #/alerts). Views refresh every few
// seconds while the tab is visible.
import { alertsView } from './alerts.js';
import { consumersView } from './consumers.js';
import { logout } from './client.js';
import { h, notice } from './dom.js';
import { endpointView } from './endpoint.js';
import { endpointsView } from './endpoints.js';
import { inventoryView } from './inventory.js';
import { overviewView } from './overview.js';

const REFRESH_MS = 5000;
const WINDOWS = [
  ['1m', 'last minute'],
  ['5m', 'last 5 minutes'],
  ['15m', 'last 15 minutes'],
  ['1h', 'last hour'],
  ['6h', 'last 6 hours (history)'],
  ['24h', 'last 24 hours (history)'],
  ['7d', 'last 7 days (history)'],
  ['30d', 'last 30 days (history)'],
];
const VIEWS = [
  ['overview', 'Overview'],
  ['endpoints', 'Endpoints'],
  ['inventory', 'Inventory'],
  ['consumers', 'Consumers'],
  ['alerts', 'Alerts & SLOs'],
];

const state = { window: sessionStorage.getItem('apimeter.window') ?? '5m', live: true };
const main = h('main', { id: 'main' });
const status = h('span', { className: 'muted', attrs: { 'aria-live': 'polite' } });
const windowSelect = h(
  'select',
  { attrs: { 'aria-label': 'Time window' }, id: 'window' },
  WINDOWS.map(([value, label]) => h('option', { value, selected: value === state.window }, label)),
);
const liveBox = h('input', { type: 'checkbox', checked: true, id: 'live' });
const links = VIEWS.map(([id, label]) => h('a', { href: `#/${id}`, attrs: { 'data-view': id } }, label));
document.body.append(
  h(
    'header',
    { className: 'top' },
    h('span', { className: 'brand' }, 'apimeter'),
    h('nav', { className: 'views', attrs: { 'aria-label': 'Views' } }, links),
    h(
      'div',
      { className: 'controls' },
      windowSelect,
      h('label', {}, liveBox, ' live'),
      status,
      h('button', { className: 'btn', type: 'button', on: { click: () => void logout() } }, 'Sign out'),
    ),
  ),
  main,
);

let current = null;
let timer = null;
let running = false;

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  if (hash.startsWith('endpoint/')) return { id: 'endpoint', arg: decodeURIComponent(hash.slice('endpoint/'.length)) };
  if (hash.startsWith('consumers/'))
    return { id: 'consumers', arg: decodeURIComponent(hash.slice('consumers/'.length)) };
  if (hash === 'endpoints' || hash === 'alerts' || hash === 'consumers' || hash === 'inventory') return { id: hash };
  return { id: 'overview' };
}

const FACTORIES = {
  overview: overviewView,
  endpoints: endpointsView,
  endpoint: endpointView,
  alerts: alertsView,
  inventory: inventoryView,
  consumers: consumersView,
};

async function refresh() {
  if (current === null || running) return;
  running = true;
  try {
    await current.refresh(state);
    main.querySelector(':scope > .notice.error')?.remove();
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    status.textContent = 'update failed';
    current.error?.(String(error?.message ?? error));
  } finally {
    running = false;
  }
}

function show() {
  current?.destroy();
  const r = route();
  for (const a of links) {
    const on = a.getAttribute('data-view') === (r.id === 'endpoint' ? 'endpoints' : r.id);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  const box = h('div', {});
  main.append(box);
  current = FACTORIES[r.id](box, r.arg);
  current.error = (text) => {
    const old = main.querySelector(':scope > .notice.error');
    if (old) old.remove();
    main.prepend(notice(text, true));
  };
  void refresh();
}

function schedule() {
  clearInterval(timer);
  timer = null;
  if (state.live && !document.hidden) timer = setInterval(() => void refresh(), REFRESH_MS);
}

windowSelect.addEventListener('change', () => {
  state.window = windowSelect.value;
  sessionStorage.setItem('apimeter.window', state.window);
  main.querySelector(':scope > .notice.error')?.remove();
  void refresh();
});
liveBox.addEventListener('change', () => {
  state.live = liveBox.checked;
  schedule();
});
document.addEventListener('visibilitychange', () => {
  schedule();
  if (!document.hidden && state.live) void refresh();
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => current?.restyle?.());
window.addEventListener('hashchange', show);

if (!WINDOWS.some(([w]) => w === state.window)) state.window = '5m';
show();
schedule();
