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
  const cases: [string, PrometheusOptions][] = [
    ['otel', { naming: 'otel' }],
    ['otel + status label', { naming: 'otel', statusLabel: true }],
    ['legacy', { naming: 'legacy' }],
    ['legacy as fastify-metrics (colon routes, prom-client buckets)', FASTIFY_METRICS_LIKE],
  ];
  // promtool 2.42 reads the 0.0.4 text format only (it takes OpenMetrics' `_total`-less counter
  // families for HELP-less ones); OpenMetrics is checked by the parser here and by the real scrapes.
  for (const [what, options] of cases) {
    test(`${what}: promtool clean, OpenMetrics parses`, () => {
      const text = renderPrometheus(meter, options);
      parseExposition(text, 'text');
      parseExposition(renderPrometheus(meter, { ...options, format: 'openmetrics' }), 'openmetrics');
      const r = promtoolCheckMetrics(text);
      assert.equal(r.status, 0, r.output);
      assert.equal(r.output.trim(), '', `promtool lint:\n${r.output}`);
    });
  }
});
