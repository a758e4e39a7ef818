// Overview: summary cards with the previous period's change, the whole API's request-rate and
// p50/p95/p99 latency charts (the series of /summary), the top lists, and health (checks, exporters and
// stores, process).
import { extent, seconds, timeChart } from './charts.js';
import { getOk } from './client.js';
import { endpointLink, fill, fmtInt, fmtMs, fmtNum, fmtPct, h, notice, panel, table } from './dom.js';

/** "+12.3 % vs previous", coloured by whether the change is for the worse. */
function change(comparison, key, higherIsWorse) {
  const c = comparison?.change?.[key];
  if (!c || c.percent === null || c.percent === undefined) {
    return h('div', { className: 'change' }, comparison?.reason ? 'no previous period' : '');
  }
  const worse = higherIsWorse ? c.absolute > 0 : c.absolute < 0;
  const cls = c.absolute === 0 ? '' : worse ? 'worse' : 'better';
  const sign = c.percent > 0 ? '+' : '';
  return h('div', { className: `change ${cls}` }, `${sign}${c.percent.toFixed(1)} % vs previous period`);
}

function card(label, value, sub) {
  return h(
    'div',
    { className: 'card' },
    h('div', { className: 'label' }, label),
    h('div', { className: 'value' }, value),
    sub,
  );
}

const TOP_COLUMNS = (extra) => [
  { label: 'endpoint', cls: 'route', value: endpointLink },
  { label: 'count', num: true, value: (e) => fmtInt(e.count) },
  extra,
];

function health(body) {
  const checks = Object.entries(body.checks ?? {}).map(([name, c]) => ({ name, ...c }));
  return [
    h(
      'p',
      {},
      'Status: ',
      h('span', { className: `badge ${body.status}` }, body.status),
      ' ',
      (body.reasons ?? []).join('; '),
    ),
    table(
      [
        { label: 'check', value: (c) => c.name },
        { label: 'value', num: true, value: (c) => (c.name.startsWith('p95') ? fmtMs(c.value) : fmtPct(c.value)) },
        { label: 'status', value: (c) => h('span', { className: `badge ${c.status}` }, c.status) },
      ],
      checks,
    ),
    h('h2', {}, 'Exporters and stores'),
    table(
      [
        { label: 'component', value: (c) => c.name ?? c.id ?? '–' },
        {
          label: 'state',
          value: (c) => h('span', { className: `badge ${c.status ?? c.state}` }, c.status ?? c.state ?? '–'),
        },
        { label: 'detail', cls: 'route', value: (c) => c.detail ?? c.last_error ?? c.message ?? '' },
      ],
      body.components ?? [],
      'no exporter or store reports its state',
    ),
    h(
      'p',
      { className: 'muted' },
      `process: CPU ${fmtNum(body.process?.cpu_percent, 1)} %, RSS ${fmtInt((body.process?.rss_bytes ?? NaN) / 1e6)} MB, ` +
        `event-loop p99 ${fmtMs(body.process?.event_loop_delay_p99_ms)}, endpoints ${fmtInt(body.meter?.endpoints)}`,
    ),
  ];
}

export function overviewView(root) {
  const cards = h('div', { className: 'cards', id: 'summary-cards' });
  const ratePanel = panel('Requests per second, whole API');
  const latencyPanel = panel('Latency, whole API');
  const tops = h('div', { className: 'grid3' });
  const healthBox = h('div', {});
  const rangeLine = h('p', { className: 'muted' });
  root.append(
    h('h1', {}, 'Overview'),
    rangeLine,
    cards,
    h('div', { className: 'grid2' }, ratePanel, latencyPanel),
    tops,
    panel('Health', healthBox),
  );
  const rate = timeChart(ratePanel, { format: (v) => fmtNum(v, 1) });
  const latency = timeChart(latencyPanel, { format: fmtMs });

  return {
    async refresh({ window }) {
      const [summary, healthBody] = await Promise.all([
        getOk('/summary', { window, top: 5 }),
        getOk('/health', { window: ['1m', '5m', '15m', '1h'].includes(window) ? window : '1h' }).catch((e) => ({
          error: String(e.message),
        })),
      ]);
      const cmp = summary.comparison;
      const r = summary.range;
      fill(
        rangeLine,
        `${summary.active_endpoints} of ${summary.endpoints} endpoints active · ${r.source} · ${new Date(r.from).toLocaleString()} – ${new Date(r.to).toLocaleTimeString()}`,
      );
      fill(
        cards,
        card(
          'Requests',
          fmtInt(summary.count),
          h(
            'div',
            {},
            h('span', { className: 'muted' }, `${fmtNum(summary.rate_per_second, 1)}/s `),
            change(cmp, 'rate_per_second', false),
          ),
        ),
        card('5xx error rate', fmtPct(summary.error_rate_5xx), change(cmp, 'error_rate_5xx', true)),
        card('4xx error rate', fmtPct(summary.error_rate_4xx), change(cmp, 'error_rate_4xx', true)),
        card('Availability', fmtPct(summary.availability, 3), change(cmp, 'availability', false)),
        card('p95 latency', fmtMs(summary.latency_ms?.p95), change(cmp, 'p95', true)),
      );
      const top = summary.top ?? {};
      fill(
        tops,
        panel(
          'Top by traffic',
          table(TOP_COLUMNS({ label: 'p95', num: true, value: (e) => fmtMs(e.p95) }), top.by_count ?? []),
        ),
        panel(
          'Top by errors',
          table(TOP_COLUMNS({ label: 'errors', num: true, value: (e) => fmtInt(e.errors) }), top.by_errors ?? []),
        ),
        panel(
          'Top by p95',
          table(TOP_COLUMNS({ label: 'p95', num: true, value: (e) => fmtMs(e.p95) }), top.by_p95 ?? []),
        ),
      );
      fill(healthBox, healthBody.error ? notice(healthBody.error, true) : health(healthBody));

      // The whole API per slot: every endpoint merged by the API (sketches merged, never averaged).
      const points = summary.series?.points ?? [];
      if (points.length === 0) return;
      const times = points.map((p) => seconds(p.start));
      // The first slot may start before the range does (the meter started inside it): show it anyway.
      const span = extent(summary.range);
      if (span !== null) span[0] = Math.min(span[0], times[0]);
      rate.update(times, [{ label: 'requests/s', values: points.map((p) => p.rate_per_second) }], span);
      latency.update(
        times,
        ['p50', 'p95', 'p99'].map((key) => ({ label: key, values: points.map((p) => p[key] ?? null) })),
        span,
      );
    },
    restyle() {
      rate.restyle();
      latency.restyle();
    },
    destroy() {
      rate.destroy();
      latency.destroy();
    },
  };
}
