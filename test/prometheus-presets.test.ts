/**
 * Naming presets against the real packages they stand in for, and `promtool check metrics` on every
 * preset and format. fastify-metrics 12 (prom-client 15) and apimeter measure the same Fastify app and
 * the same requests; the two expositions are compared family by family.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import fastifyMetricsModule from 'fastify-metrics';
import type { FastifyPluginAsync } from 'fastify';
import { apimeter } from '../src/adapters/fastify.js';
import { createMeter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { PROM_CLIENT_DEFAULT_BUCKETS, renderPrometheus } from '../src/exporters/prometheus.js';
import type { PrometheusOptions } from '../src/exporters/prometheus.js';
import { parseExposition } from './helpers/prometheus.js';
import { PROMTOOL_SKIP, promtoolCheckMetrics } from './helpers/prometheus-server.js';

// A CommonJS package: its default export is the plugin at run time, which its types do not say under NodeNext.
const fastifyMetrics = fastifyMetricsModule as unknown as FastifyPluginAsync<Record<string, unknown>>;

const FASTIFY_METRICS_LIKE: PrometheusOptions = {
  naming: 'legacy',
  routeFormat: 'colon',
  durationBuckets: PROM_CLIENT_DEFAULT_BUCKETS,
};

describe('legacy preset vs the real fastify-metrics', () => {
  test('same family, type, route values (`:id`), methods, bucket bounds and counts for the same traffic', async () => {
    const meter = createMeter({ iniPath: false, env: {}, metricsExcludedEndpoints: ['/fm-metrics'] });
    const app = Fastify({ logger: false });
    await app.register(fastifyMetrics, {
      endpoint: '/fm-metrics',
      defaultMetrics: { enabled: false },
      clearRegisterOnInit: true,
      // Its http_request_summary_seconds has no apimeter counterpart (docs/prometheus.md).
      routeMetrics: { enabled: { histogram: true, summary: false } },
    });
    await app.register(apimeter, { meter });
    app.get('/items/:id', async (req, reply) =>
      (req.params as { id: string }).id === '404' ? reply.code(404).send({}) : { ok: true },
    );
    app.post('/items', async () => ({ created: true }));
    await app.ready();
    try {
      for (const url of ['/items/1', '/items/2', '/items/404']) await app.inject({ url });
      await app.inject({ method: 'POST', url: '/items', payload: { a: 1 } });
      // prom-client separates families with an empty line, which the 0.0.4 format allows.
      const theirs = parseExposition((await app.inject({ url: '/fm-metrics' })).body.replace(/\n\n+/g, '\n'), 'text');
      const ours = parseExposition(renderPrometheus(meter, FASTIFY_METRICS_LIKE), 'text');
      const name = 'http_request_duration_seconds';
      const t = theirs.get(name)!;
      const o = ours.get(name)!;
      assert.equal(o.type, t.type);
      const les = (f: typeof t) => [
        ...new Set(f.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.labels.le)),
      ];
      assert.deepEqual(les(o), les(t));
      // _count per (method, route): fastify-metrics splits by status_code, apimeter's histogram does not.
      const counts = (f: typeof t) => {
        const m = new Map<string, number>();
        for (const s of f.samples.filter((x) => x.name === `${name}_count`)) {
          const key = `${s.labels.method} ${s.labels.route}`;
          m.set(key, (m.get(key) ?? 0) + s.value);
        }
        return Object.fromEntries([...m].sort());
      };
      assert.deepEqual(counts(o), counts(t));
      assert.deepEqual(counts(o), { 'GET /items/:id': 3, 'POST /items': 1 });
      // The deliberate difference (docs/prometheus.md): no status_code on apimeter's histogram.
      const labelNames = (f: typeof t) => [...new Set(f.samples.flatMap((s) => Object.keys(s.labels)))].sort();
      assert.deepEqual(labelNames(t), ['le', 'method', 'route', 'status_code']);
      assert.deepEqual(labelNames(o), ['le', 'method', 'route']);
      // The request counter carries status_code with the same values fastify-metrics puts on its histogram.
      const codes = (f: typeof t, n: string) =>
        [
          ...new Set(
            f.samples
              .filter((s) => s.name === n)
              .map((s) => `${s.labels.method} ${s.labels.route} ${s.labels.status_code}`),
          ),
        ].sort();
      assert.deepEqual(codes(ours.get('http_requests_total')!, 'http_requests_total'), codes(t, `${name}_count`));
    } finally {
      await app.close();
    }
  });
});

describe('promtool check metrics on every preset', { skip: PROMTOOL_SKIP }, () => {
  const meter = createMeter({ iniPath: false, env: {}, metricsDetailed: true });
  const get = meter.endpoint('GET', '/items/{id}')!;
  const post = meter.endpoint('POST', '/items')!;
  for (const ms of [1, 4, 30, 200, 3000]) meter.record(get, 200, ms, -1, 512, ErrorKind.None);
  meter.record(get, 404, 2, -1, 20, ErrorKind.None);
  meter.record(post, 500, 12, 300, 40, ErrorKind.Exception);
  meter.record(post, 499, 7, 300, -1, ErrorKind.Aborted);
  // The one lint a preset may carry: Airflow's own name is in milliseconds, which promtool flags.
  const cases: [string, PrometheusOptions, string?][] = [
    ['otel', { naming: 'otel' }],
    ['otel + status label', { naming: 'otel', statusLabel: true }],
    ['legacy', { naming: 'legacy' }],
    ['legacy as fastify-metrics (colon routes, prom-client buckets)', FASTIFY_METRICS_LIKE],
    [
      'airflow',
      { naming: 'airflow' },
      'http_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"',
    ],
  ];
  // promtool 2.42 reads the 0.0.4 text format only (it takes OpenMetrics' `_total`-less counter
  // families for HELP-less ones); OpenMetrics is checked by the parser here and by the real scrapes.
  for (const [what, options, lint] of cases) {
    test(`${what}: promtool clean, OpenMetrics parses`, () => {
      const text = renderPrometheus(meter, options);
      parseExposition(text, 'text');
      parseExposition(renderPrometheus(meter, { ...options, format: 'openmetrics' }), 'openmetrics');
      const r = promtoolCheckMetrics(text);
      assert.equal(r.status, lint === undefined ? 0 : 3, r.output);
      assert.equal(r.output.trim(), lint ?? '', `promtool lint:\n${r.output}`);
    });
  }
});

describe('airflow preset', () => {
  test('http_requests_total{status_family} (aborted = 499 = 4xx, never 0xx) and http_request_duration_milliseconds', () => {
    const meter = createMeter({ iniPath: false, env: {} });
    const ep = meter.endpoint('GET', '/api/v2/dags/{dag_id}')!;
    const durations = [0.4, 3, 7.5, 12, 40, 99, 260, 900, 4000, 12_000];
    for (const ms of durations) meter.record(ep, 200, ms, -1, -1, ErrorKind.None);
    meter.record(ep, 404, 2, -1, -1, ErrorKind.None);
    meter.record(ep, 499, 30, -1, -1, ErrorKind.Aborted);
    meter.record(ep, 500, 8, -1, -1, ErrorKind.Exception);
    const text = renderPrometheus(meter, { naming: 'airflow' });
    const families = parseExposition(text, 'text');
    assert.deepEqual(
      families
        .get('http_requests_total')!
        .samples.map((s) => [s.labels.method, s.labels.route, s.labels.status_family, s.value]),
      [
        ['GET', '/api/v2/dags/{dag_id}', '2xx', 10],
        ['GET', '/api/v2/dags/{dag_id}', '4xx', 2],
        ['GET', '/api/v2/dags/{dag_id}', '5xx', 1],
      ],
    );
    assert.doesNotMatch(text, /0xx/);
    const h = families.get('http_request_duration_milliseconds')!;
    assert.equal(h.type, 'histogram');
    const all = [...durations, 2, 30, 8];
    const buckets = h.samples.filter((s) => s.name.endsWith('_bucket'));
    assert.deepEqual(
      buckets.map((s) => s.labels.le),
      ['5', '10', '25', '50', '75', '100', '250', '500', '750', '1000', '2500', '5000', '7500', '10000', '+Inf'],
    );
    const b = 2 ** (1 / 64);
    for (const s of buckets) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      const atMost = all.filter((d) => d <= le).length;
      const surely = all.filter((d) => d <= le / b).length;
      assert.ok(s.value >= surely && s.value <= atMost, `le=${le}: ${s.value} not in [${surely}, ${atMost}]`);
    }
    const sum = h.samples.find((s) => s.name.endsWith('_sum'))!.value;
    assert.ok(Math.abs(sum - all.reduce((a, x) => a + x, 0)) < 1e-9);
    assert.ok(!families.has('http_server_requests_total') && !families.has('http_server_request_duration_seconds'));
    // The other families keep their names.
    assert.ok(families.has('http_server_active_requests') && families.has('http_server_errors_total'));
    const om = renderPrometheus(meter, { naming: 'airflow', format: 'openmetrics' });
    assert.match(om, /^# UNIT http_request_duration_milliseconds milliseconds$/m);
    assert.match(
      om,
      /^http_request_duration_milliseconds_bucket\{method="GET",route="\/api\/v2\/dags\/\{dag_id\}",le="1000.0"\} \d+$/m,
    );
  });
});
