// One endpoint: percentiles and traffic over time, status codes and error types, sizes, exceptions, and
// in detailed mode auth / rate-limit / DB figures, normalized error messages, 5xx samples and trace
// exemplars (linked through the [api] metrics_ui_trace_url template).
import { extent, seconds, timeChart } from './charts.js';
import { get, traceTemplate } from './client.js';
import {
  detailRequest,
  fill,
  fmtBytes,
  fmtInt,
  fmtMs,
  fmtNum,
  fmtPct,
  fmtTime,
  h,
  notice,
  panel,
  table,
  traceLink,
} from './dom.js';

const kv = (pairs) =>
  table(
    [
      { label: 'figure', value: (p) => p[0] },
      { label: 'value', num: true, value: (p) => p[1] },
    ],
    pairs,
  );

function sizes(e) {
  const row = (label, s) => [
    label,
    s ? `mean ${fmtBytes(s.mean)} · max ${fmtBytes(s.max)} · total ${fmtBytes(s.total)}` : '–',
  ];
  return kv([row('request body', e.request_bytes), row('response body', e.response_bytes)]);
}

function detailPanels(d) {
  const out = [];
  const auth = d.auth ?? {};
  const rl = d.rate_limit ?? {};
  const db = d.db ?? {};
  out.push(
    panel(
      'Auth, rate limits, database',
      kv([
        ['auth attempts', fmtInt(auth.attempts)],
        ['auth failures', `${fmtInt(auth.failures)} (${fmtPct(auth.failure_rate)})`],
        ['rate-limited', fmtInt(rl.limited)],
        [
          'quota (limit / remaining)',
          rl.limit === null || rl.limit === undefined ? '–' : `${fmtInt(rl.limit)} / ${fmtInt(rl.remaining)}`,
        ],
        ['DB queries', fmtInt(db.queries)],
        ['DB time', fmtMs(db.query_ms)],
        ['queries per request', fmtNum(db.queries_per_request_mean)],
      ]),
    ),
  );
  out.push(
    panel(
      'Error messages (normalized)',
      table(
        [
          { label: 'class', value: (m) => m.class },
          { label: 'message', cls: 'route', value: (m) => m.message },
          { label: 'count', num: true, value: (m) => fmtInt(m.count) },
          { label: 'last', value: (m) => fmtTime(m.last_at) },
        ],
        d.error_messages ?? [],
      ),
    ),
  );
  out.push(
    panel(
      '5xx samples',
      table(
        [
          { label: 'at', value: (s) => fmtTime(s.at) },
          { label: 'status', num: true, value: (s) => s.status },
          {
            label: 'error',
            cls: 'route',
            value: (s) =>
              h(
                'div',
                {},
                h('strong', {}, s.class ?? ''),
                ' ',
                s.message ?? '',
                h('pre', { className: 'frames' }, (s.frames ?? []).join('\n')),
              ),
          },
          { label: 'trace', value: (s) => (s.trace_id ? traceLink(traceTemplate, s.trace_id) : '–') },
        ],
        d.error_samples ?? [],
      ),
    ),
  );
  out.push(
    panel(
      'Trace exemplars',
      table(
        [
          { label: 'latency', num: true, value: (x) => fmtMs(x.value_ms) },
          { label: 'trace', value: (x) => traceLink(traceTemplate, x.trace_id, x.span_id) },
          { label: 'at', value: (x) => fmtTime(x.at) },
        ],
        d.exemplars ?? [],
      ),
    ),
  );
  return out;
}

export function endpointView(root, name) {
  const title = h('h1', { id: 'endpoint-title' }, name);
  const line = h('p', { className: 'muted' });
  const cards = h('div', { className: 'cards' });
  const pPanel = panel('Latency percentiles');
  const tPanel = panel('Requests and errors per second');
  const rest = h('div', { className: 'grid2' });
  const extra = h('div', { className: 'grid2' });
  root.append(
    h('p', {}, h('a', { href: '#/endpoints' }, '‹ all endpoints')),
    title,
    line,
    cards,
    h('div', { className: 'grid2' }, pPanel, tPanel),
    rest,
    extra,
  );
  const percentiles = timeChart(pPanel, { format: fmtMs });
  const traffic = timeChart(tPanel, { format: (v) => fmtNum(v, 2) });

  return {
    async refresh({ window }) {
      const answer = await get(...detailRequest(name, { window }));
      if (answer.status === 404) {
        fill(rest, notice(`Nothing recorded for ${name} (yet).`));
        return;
      }
      if (answer.status !== 200) throw new Error(answer.body?.detail ?? `HTTP ${answer.status}`);
      const e = answer.body;
      fill(line, `${(e.methods ?? []).join(', ')} · ${e.range.source} · step ${e.series.step_seconds} s`);
      const card = (label, value) =>
        h(
          'div',
          { className: 'card' },
          h('div', { className: 'label' }, label),
          h('div', { className: 'value' }, value),
        );
      fill(
        cards,
        card('Requests', fmtInt(e.count)),
        card('Rate/s', fmtNum(e.rate_per_second)),
        card('5xx', fmtPct(e.error_rate_5xx)),
        card('4xx', fmtPct(e.error_rate_4xx)),
        card('p50', fmtMs(e.latency_ms?.p50)),
        card('p95', fmtMs(e.latency_ms?.p95)),
        card('p99', fmtMs(e.latency_ms?.p99)),
      );
      const points = e.series.points;
      const times = points.map((p) => seconds(p.start));
      const step = e.series.step_seconds;
      percentiles.update(
        times,
        [
          { label: 'p50', values: points.map((p) => p.p50) },
          { label: 'p95', values: points.map((p) => p.p95) },
          { label: 'p99', values: points.map((p) => p.p99) },
        ],
        extent(e.range),
      );
      traffic.update(
        times,
        [
          { label: 'requests/s', values: points.map((p) => p.count / step) },
          { label: 'errors/s', values: points.map((p) => p.errors / step) },
        ],
        extent(e.range),
      );
      const codes = Object.entries(e.status_codes ?? {}).map(([code, count]) => [code, fmtInt(count)]);
      const types = Object.entries(e.error_types ?? {}).map(([type, count]) => [type, fmtInt(count)]);
      fill(
        rest,
        panel('Status codes', kv(codes)),
        panel('Error types', kv(types)),
        panel('Sizes', sizes(e)),
        panel(
          'Exceptions (since start-up)',
          table(
            [
              { label: 'class', value: (x) => x.class },
              { label: 'count', num: true, value: (x) => fmtInt(x.count) },
              { label: 'last message', cls: 'route', value: (x) => x.last_message ?? '' },
              { label: 'last', value: (x) => fmtTime(x.last_at) },
            ],
            e.exceptions ?? [],
          ),
        ),
      );
      fill(
        extra,
        e.detail
          ? detailPanels(e.detail)
          : h(
              'p',
              { className: 'muted' },
              'Auth, rate-limit and DB figures, error samples and exemplars need detailed mode ([api] metrics_detailed).',
            ),
      );
    },
    restyle() {
      percentiles.restyle();
      traffic.restyle();
    },
    destroy() {
      percentiles.destroy();
      traffic.destroy();
    },
  };
}
