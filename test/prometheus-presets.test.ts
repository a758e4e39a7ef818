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
import { ErrorKind, UNMATCHED_ROUTE } from '../src/core/record.js';
import {
  DURATION_BOUNDS_SECONDS,
  preparePrometheus,
  PROM_CLIENT_DEFAULT_BUCKETS,
  renderPrometheus,
} from '../src/exporters/prometheus.js';
import type { PrometheusOptions } from '../src/exporters/prometheus.js';
import { parseExposition, seriesValues } from './helpers/prometheus.js';
import type { Family } from './helpers/prometheus.js';
import { PROMTOOL_SKIP, promtoolCheckMetrics } from './helpers/prometheus-server.js';

// A CommonJS package: its default export is the plugin at run time, which its types do not say under NodeNext.
const fastifyMetrics = fastifyMetricsModule as unknown as FastifyPluginAsync<Record<string, unknown>>;

// The preset's defaults are fastify-metrics' own: colon routes, prom-client's buckets.
const FASTIFY_METRICS_LIKE: PrometheusOptions = { naming: 'legacy' };

describe('legacy preset vs the real fastify-metrics', () => {
  /** One Fastify app measured by both: fastify-metrics' /fm-metrics and apimeter's legacy exposition. */
  async function bothOn(traffic: (app: ReturnType<typeof Fastify>) => Promise<void>, meterOptions = {}) {
    const meter = createMeter({ iniPath: false, env: {}, metricsExcludedEndpoints: ['/fm-metrics'], ...meterOptions });
    const app = Fastify({ logger: false });
    await app.register(fastifyMetrics, {
      endpoint: '/fm-metrics',
      defaultMetrics: { enabled: false },
      clearRegisterOnInit: true,
      // Its http_request_summary_seconds has no apimeter counterpart (docs/prometheus.md).
      routeMetrics: { enabled: { histogram: true, summary: false } },
    });
    await app.register(apimeter, { meter });
    app.get('/items/:id', async (req, reply) => {
      const id = (req.params as { id: string }).id;
      if (id === '404') return reply.code(404).send({});
      if (id === '500') return reply.code(500).send({});
      if (id === '503') return reply.code(503).send({});
      return { ok: true };
    });
    app.post('/items', async (_req, reply) => reply.code(201).send({ created: true }));
    app.delete('/items/:id', async (_req, reply) => reply.code(204).send());
    await app.ready();
    // What the API's /metrics does when it is created with the preset; a prometheus_naming = legacy meter needs nothing.
    if (!('prometheusNaming' in meterOptions)) preparePrometheus(meter, FASTIFY_METRICS_LIKE);
    try {
      await traffic(app);
      // prom-client separates families with an empty line, which the 0.0.4 format allows.
      const theirs = parseExposition((await app.inject({ url: '/fm-metrics' })).body.replace(/\n\n+/g, '\n'), 'text');
      const text = renderPrometheus(meter, FASTIFY_METRICS_LIKE);
      return { theirs, ours: parseExposition(text, 'text'), text, meter };
    } finally {
      await app.close();
    }
  }
  const severalCodes = async (app: ReturnType<typeof Fastify>) => {
    for (const id of ['1', '2', '404', '3', '500', '404', '503', '4', '500', '500'])
      await app.inject({ url: `/items/${id}` });
    for (let i = 0; i < 3; i++) await app.inject({ method: 'POST', url: '/items', payload: { a: i } });
    await app.inject({ method: 'DELETE', url: '/items/9' });
  };
  const name = 'http_request_duration_seconds';
  /** `_count` and `+Inf` per series, keyed by its labels in their order (`le` left out). */
  const series = (f: Family, sample: string) => seriesValues(f, name, sample);

  test('duration histogram per (method, route, status_code): same label names and order, series, counts and bounds', async () => {
    const { theirs, ours, text } = await bothOn(severalCodes);
    const t = theirs.get(name)!;
    const o = ours.get(name)!;
    assert.equal(o.type, t.type);
    // Label names in the order fastify-metrics writes them, on every sample; prom-client puts `le` first on
    // buckets, apimeter last (as Prometheus' Go client does): label order carries no meaning in the format.
    const orders = (f: Family) =>
      [
        ...new Set(
          f.samples.map((s) =>
            Object.keys(s.labels)
              .filter((k) => k !== 'le')
              .join(','),
          ),
        ),
      ].sort();
    assert.deepEqual(orders(o), orders(t));
    assert.deepEqual(orders(t), ['method,route,status_code']);
    const withLe = (f: Family) => [
      ...new Set(
        f.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => Object.keys(s.labels).sort().join(',')),
      ),
    ];
    assert.deepEqual(withLe(o), withLe(t));
    assert.deepEqual(withLe(t), ['le,method,route,status_code']);
    // Same le bounds, same order, in every series.
    const les = (f: Family) => [
      ...new Set(
        Object.keys(series(f, '_count')).map((key) =>
          f.samples
            .filter(
              (s) =>
                s.name === `${name}_bucket` &&
                `method=${s.labels.method},route=${s.labels.route},status_code=${s.labels.status_code}` === key,
            )
            .map((s) => s.labels.le)
            .join(' '),
        ),
      ),
    ];
    assert.deepEqual(les(o), les(t));
    assert.equal(les(t).length, 1);
    assert.deepEqual(series(o, '_count'), series(t, '_count'));
    assert.deepEqual(series(o, '_bucket'), series(t, '_bucket'));
    assert.deepEqual(series(t, '_count'), {
      'method=DELETE,route=/items/:id,status_code=204': 1,
      'method=GET,route=/items/:id,status_code=200': 4,
      'method=GET,route=/items/:id,status_code=404': 2,
      'method=GET,route=/items/:id,status_code=500': 3,
      'method=GET,route=/items/:id,status_code=503': 1,
      'method=POST,route=/items,status_code=201': 3,
    });
    // Buckets are cumulative and end at _count in each series; _sum is positive.
    for (const key of Object.keys(series(o, '_count'))) {
      const values = o.samples
        .filter(
          (s) =>
            s.name === `${name}_bucket` &&
            Object.entries(s.labels).some(([k, v]) => k === 'status_code' && key.endsWith(`=${v}`)),
        )
        .filter((s) => key === `method=${s.labels.method},route=${s.labels.route},status_code=${s.labels.status_code}`)
        .map((s) => s.value);
      assert.deepEqual(
        values,
        [...values].sort((a, b) => a - b),
        key,
      );
      assert.equal(values.at(-1), series(o, '_count')[key]);
    }
    assert.deepEqual(Object.keys(series(o, '_sum')), Object.keys(series(t, '_sum')));
    // The request counter carries the same (method, route, status_code) series as the histogram.
    const counter = ours.get('http_requests_total')!;
    assert.deepEqual(
      Object.fromEntries(
        counter.samples
          .map((s) => [
            `method=${s.labels.method},route=${s.labels.route},status_code=${s.labels.status_code}`,
            s.value,
          ])
          .sort(([a], [b]) => (a < b ? -1 : 1)),
      ),
      series(t, '_count'),
    );
    if (!PROMTOOL_SKIP) {
      const r = promtoolCheckMetrics(text);
      assert.equal(r.status, 0, r.output);
      assert.equal(r.output.trim(), '');
    }
  });

  test('the defaults are the explicit fastify-metrics options; openapi routes and other bounds on request', async () => {
    const { meter, text } = await bothOn(severalCodes);
    assert.equal(
      renderPrometheus(meter, { naming: 'legacy', routeFormat: 'colon', durationBuckets: PROM_CLIENT_DEFAULT_BUCKETS }),
      text,
    );
    const openapi = renderPrometheus(meter, { naming: 'legacy', routeFormat: 'openapi', durationBuckets: [0.1, 1] });
    assert.match(
      openapi,
      /^http_request_duration_seconds_bucket\{method="GET",route="\/items\/\{id\}",status_code="200",le="1"\} 4$/m,
    );
    assert.doesNotMatch(openapi, /:id/);
  });

  test('a meter with prometheus_naming = legacy keeps the per-status sketches from its first request', async () => {
    // The sketches start with the meter, so an exposition rendered for the first time after the traffic has it all.
    const { ours, theirs, meter } = await bothOn(severalCodes, { prometheusNaming: 'legacy' });
    assert.equal(meter.reader.statusLatency!.derivePrimary, true);
    assert.deepEqual(series(ours.get(name)!, '_count'), series(theirs.get(name)!, '_count'));
  });

  test('without it, the histogram starts at the first render: later requests only', async () => {
    const meter = createMeter({ iniPath: false, env: {} });
    const ep = meter.endpoint('GET', '/items/{id}')!;
    meter.record(ep, 200, 3, -1, -1, ErrorKind.None);
    assert.equal(meter.reader.statusLatency, null);
    const before = parseExposition(renderPrometheus(meter, FASTIFY_METRICS_LIKE), 'text');
    assert.deepEqual(before.get(name)!.samples, []);
    meter.record(ep, 200, 3, -1, -1, ErrorKind.None);
    meter.record(ep, 404, 3, -1, -1, ErrorKind.None);
    meter.record(ep, 499, 9, -1, -1, ErrorKind.Aborted);
    meter.record(ep, 499, 9, -1, -1, ErrorKind.None);
    const after = parseExposition(renderPrometheus(meter, FASTIFY_METRICS_LIKE), 'text');
    // Aborted requests are 499, merged with answered 499s into one series, as on the counter.
    assert.deepEqual(series(after.get(name)!, '_count'), {
      'method=GET,route=/items/:id,status_code=200': 1,
      'method=GET,route=/items/:id,status_code=404': 1,
      'method=GET,route=/items/:id,status_code=499': 2,
    });
    const sum = after.get(name)!.samples.find((s) => s.name === `${name}_sum` && s.labels.status_code === '499')!;
    assert.ok(Math.abs(sum.value - 0.018) < 1e-9, String(sum.value));
  });
});

describe('promtool check metrics on every preset', { skip: PROMTOOL_SKIP }, () => {
  const meter = createMeter({ iniPath: false, env: {}, metricsDetailed: true });
  // The legacy cases' duration histogram by status_code (aborted 499 included) is checked too.
  preparePrometheus(meter, { naming: 'legacy' });
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
    [
      'legacy with OpenAPI routes and the otel bounds',
      { naming: 'legacy', routeFormat: 'openapi', durationBuckets: DURATION_BOUNDS_SECONDS },
    ],
    [
      'legacy, express-prom-bundle flavour with method and path',
      { naming: 'legacy', legacy: { flavor: 'express-prom-bundle', includeMethod: true, includePath: true } },
    ],
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
      if (options.naming === 'legacy' && options.legacy === undefined)
        assert.match(
          text,
          /^http_request_duration_seconds_count\{method="POST",route="\/items",status_code="499"\} 1$/m,
        );
      if (options.legacy !== undefined)
        assert.match(
          text,
          /^http_request_duration_seconds_count\{status_code="499",method="POST",path="\/items"\} 1$/m,
        );
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
    // A request that matched no route: Airflow's middleware tags it route="unmatched".
    meter.record(meter.endpoint('GET', UNMATCHED_ROUTE)!, 404, 1, -1, -1, ErrorKind.None);
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
        ['GET', 'unmatched', '4xx', 1],
      ],
    );
    assert.doesNotMatch(text, /__unmatched__/);
    assert.match(renderPrometheus(meter, { naming: 'otel' }), /route="__unmatched__"/);
    assert.doesNotMatch(text, /0xx/);
    const h = families.get('http_request_duration_milliseconds')!;
    assert.equal(h.type, 'histogram');
    const all = [...durations, 2, 30, 8];
    const hist = (route: string) => h.samples.filter((s) => s.labels.route === route);
    assert.equal(hist('unmatched').find((s) => s.name.endsWith('_count'))!.value, 1);
    const buckets = hist('/api/v2/dags/{dag_id}').filter((s) => s.name.endsWith('_bucket'));
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
    const sum = hist('/api/v2/dags/{dag_id}').find((s) => s.name.endsWith('_sum'))!.value;
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
