/**
 * The OpenTelemetry producer and exporter: the SDK's own InMemoryMetricExporter reading through our
 * producer, and an OTLP/HTTP receiver decoding what the real OTLPMetricExporter sends.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData, MetricReader, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { apimeter } from '../src/adapters/fastify.js';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import {
  attachOtelProducer,
  createOtelProducer,
  DURATION_BOUNDARIES_S,
  otlpEndpoint,
  startOtelExporter,
} from '../src/exporters/otel.js';
import { startExporters } from '../src/exporters/start.js';
import { ValueType } from '@opentelemetry/api';
import { datasets } from './helpers/datasets.js';
import { detailTraffic, plainTraffic, send } from './helpers/detail-traffic.js';
import { eventually, otlpAttributes, startDogStatsdReceiver, startOtlpReceiver } from './helpers/exporters.js';
import type { OtlpMetric } from './helpers/exporters.js';
import { pipelineGets } from './helpers/http.js';
import { ExponentialMemoryExporter, producerReader, readProducerOnce } from './helpers/otel-read.js';

let app: FastifyInstance;
let meter: Meter;
let port: number;
/** What the app itself saw: elapsed ms per route, and status codes. */
const seen = new Map<string, number[]>();

before(async () => {
  meter = createMeter({ iniPath: false, env: {}, otelOn: true });
  app = Fastify({ logger: false });
  await app.register(apimeter, { meter });
  app.get('/orders/:id', async (req) => {
    await sleep(Number((req.params as { id: string }).id) % 12);
    return { ok: true };
  });
  app.get('/teapot', async (_req, reply) => reply.code(418).send('short and stout'));
  app.get('/crash', async () => {
    throw new RangeError('bad range');
  });
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    seen.set(route, [...(seen.get(route) ?? []), reply.elapsedTime]);
    done();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
  assert.deepEqual([...(await pipelineGets(port, 240, (i) => `/orders/${i}`, 8))], [[200, 240]]);
  assert.deepEqual([...(await pipelineGets(port, 17, () => '/teapot', 2))], [[418, 17]]);
  assert.deepEqual([...(await pipelineGets(port, 9, () => '/crash', 2))], [[500, 9]]);
});

after(async () => {
  await app.close();
});

const metric = (rm: ResourceMetrics, name: string): MetricData | undefined =>
  rm.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);

const pointsBy = (m: MetricData | undefined, key: (a: DataPoint<unknown>['attributes']) => string) =>
  new Map((m?.dataPoints ?? []).map((p) => [key(p.attributes), p as DataPoint<unknown>]));

const readOnce = readProducerOnce;

test('InMemoryMetricExporter: semantic-convention metrics with counts matching the traffic', async () => {
  const rm = await readOnce(meter, new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE));
  const duration = metric(rm, 'http.server.request.duration')!;
  assert.equal(duration.descriptor.unit, 's');
  assert.equal(duration.dataPointType, DataPointType.HISTOGRAM);
  assert.equal(duration.aggregationTemporality, AggregationTemporality.CUMULATIVE);
  const byRoute = pointsBy(duration, (a) => `${String(a['http.request.method'])} ${String(a['http.route'])}`);
  const orders = byRoute.get('GET /orders/:id')!.value as Histogram;
  assert.equal(orders.count, 240);
  assert.equal((byRoute.get('GET /teapot')!.value as Histogram).count, 17);
  assert.equal((byRoute.get('GET /crash')!.value as Histogram).count, 9);
  assert.deepEqual(orders.buckets.boundaries, DURATION_BOUNDARIES_S);
  assert.equal(
    orders.buckets.counts.reduce((a, b) => a + b, 0),
    240,
  );
  // Bucket by bucket against the durations the app saw; only values within one sketch bucket (1.1 %)
  // of a boundary — plus the µs between the adapter's and this test's reading — may land next door.
  const truth = seen.get('/orders/:id')!.map((ms) => ms / 1000);
  const exact = DURATION_BOUNDARIES_S.map(
    (b, k) => truth.filter((v) => v <= b && (k === 0 || v > DURATION_BOUNDARIES_S[k - 1])).length,
  );
  exact.push(truth.filter((v) => v > DURATION_BOUNDARIES_S.at(-1)!).length);
  const near = truth.filter((v) => DURATION_BOUNDARIES_S.some((b) => Math.abs(v - b) <= 0.012 * b + 1e-4)).length;
  const off = orders.buckets.counts.reduce((n, c, k) => n + Math.abs(c - exact[k]), 0);
  assert.ok(off <= 2 * near, `${off} values moved, ${near} near a boundary`);
  assert.ok(Math.abs(orders.sum! - truth.reduce((a, b) => a + b, 0)) < 0.01 * orders.sum!);

  const requests = pointsBy(
    metric(rm, 'apimeter.http.server.requests'),
    (a) => `${String(a['http.route'])} ${String(a['apimeter.http.response.status_class'])}`,
  );
  assert.deepEqual(Object.fromEntries([...requests].map(([k, p]) => [k, p.value])), {
    '/orders/:id 2xx': 240,
    '/teapot 4xx': 17,
    '/crash 5xx': 9,
  });
  const errors = pointsBy(
    metric(rm, 'apimeter.http.server.errors'),
    (a) => `${String(a['http.route'])} ${String(a['apimeter.error.type'])}`,
  );
  assert.deepEqual(Object.fromEntries([...errors].map(([k, p]) => [k, p.value])), {
    '/teapot client_error': 17,
    '/crash exception': 9,
  });
  const active = metric(rm, 'http.server.active_requests')!;
  assert.equal(active.dataPointType, DataPointType.SUM);
  assert.ok(active.dataPoints.every((p) => p.value === 0));
  const responseSize = pointsBy(metric(rm, 'http.server.response.body.size'), (a) => String(a['http.route']));
  assert.equal((responseSize.get('/teapot')!.value as Histogram).count, 17);
  assert.equal((responseSize.get('/teapot')!.value as Histogram).sum, 17 * 'short and stout'.length);
});

test('exponential histograms straight from the sketch: scale, offset and counts consistent, quantiles within the bound', async () => {
  for (const [name, values] of Object.entries(datasets())) {
    if (values.length === 0) continue;
    const m = createMeter({ iniPath: false, env: {}, otelOn: true });
    const ep = m.endpoint('GET', `/${name}`)!;
    for (const v of values) m.record(ep, 200, v, -1, -1, ErrorKind.None);
    const rm = await readOnce(m, new ExponentialMemoryExporter(AggregationTemporality.CUMULATIVE));
    const duration = metric(rm, 'http.server.request.duration')!;
    assert.equal(duration.dataPointType, DataPointType.EXPONENTIAL_HISTOGRAM, name);
    const h = duration.dataPoints[0].value;
    const { scale, zeroCount } = h;
    const { offset, bucketCounts } = h.positive;
    assert.ok(scale <= 6 && bucketCounts.length <= 1280, `${name}: scale ${scale}, ${bucketCounts.length} buckets`);
    assert.equal(bucketCounts.reduce((a, b) => a + b, 0) + zeroCount, values.length, name);
    assert.equal(h.count, values.length);
    assert.ok(bucketCounts[0] > 0 && bucketCounts.at(-1)! > 0, 'offset is the first non-empty bucket');
    const seconds = values.map((v) => v / 1000).sort((a, b) => a - b);
    assert.equal(h.min, seconds[0]);
    assert.equal(h.max, seconds.at(-1));
    assert.equal(zeroCount, seconds.filter((v) => v === 0).length);
    // Every value may sit at most half a scale-6 bucket (×2^(1/128)) outside the bucket it was put in:
    // so up to each bucket's upper bound u, the histogram holds between #(v ≤ u/slack) and #(v ≤ u·slack).
    const gamma = 2 ** (2 ** -scale);
    const slack = 2 ** (1 / 128) * (1 + 1e-12);
    const atMost = (x: number) => {
      let lo = 0;
      let hi = seconds.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (seconds[mid] <= x) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    let cumulative = zeroCount;
    bucketCounts.forEach((n, i) => {
      cumulative += n;
      const upper = gamma ** (offset + i + 1);
      assert.ok(
        atMost(upper / slack) <= cumulative && cumulative <= atMost(upper * slack),
        `${name}: bucket ${offset + i} at scale ${scale} holds ${cumulative} up to ${upper}`,
      );
    });
    // Quantiles read from the histogram (bucket midpoint) against exact ones.
    const bound = (gamma - 1) / (gamma + 1) + 0.0055;
    for (const q of [0.5, 0.9, 0.99]) {
      const rank = Math.floor(q * (seconds.length - 1));
      const want = seconds[rank];
      let seenCount = zeroCount;
      let got = 0;
      for (let i = 0; i < bucketCounts.length && seenCount <= rank; i++) {
        seenCount += bucketCounts[i];
        if (seenCount > rank) got = (2 * gamma ** (offset + i + 1)) / (gamma + 1);
      }
      if (want === 0) assert.equal(got, 0);
      else assert.ok(Math.abs(got - want) <= bound * want, `${name} q${q}: ${got} vs ${want} (scale ${scale})`);
    }
  }
});

test('delta temporality when the reader asks for it: each collection carries only what is new', async () => {
  const clock = new ManualClock();
  const m = createMeter({ iniPath: false, env: {}, clock, otelOn: true });
  const ep = m.endpoint('POST', '/jobs')!;
  const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const producer = createOtelProducer(m);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    metricProducers: [producer],
    exportIntervalMillis: 3_600_000,
  });
  producer.bindReader(reader);
  const provider = new MeterProvider({ readers: [reader] });
  for (let i = 0; i < 5; i++) m.record(ep, 202, 3, 10, 10, ErrorKind.None);
  await reader.forceFlush();
  clock.advance(30_000);
  for (let i = 0; i < 3; i++) m.record(ep, 202, 30, 10, 10, ErrorKind.None);
  m.record(ep, 500, 300, 10, 10, ErrorKind.None);
  await reader.forceFlush();
  clock.advance(30_000);
  await reader.forceFlush();
  const [first, second, third] = exporter.getMetrics();
  const count = (rm: ResourceMetrics) =>
    (metric(rm, 'http.server.request.duration')?.dataPoints ?? []).reduce(
      (n, p) => n + (p.value as Histogram).count,
      0,
    );
  assert.deepEqual([count(first), count(second), count(third)], [5, 4, 0]);
  // One duration point per status code; error.type only on the 5xx one.
  assert.deepEqual(
    metric(second, 'http.server.request.duration')!.dataPoints.map((p) => [
      p.attributes['http.response.status_code'],
      p.attributes['error.type'],
      (p.value as Histogram).count,
      Math.round((p.value as Histogram).sum! * 1e6) / 1e6,
    ]),
    [
      [202, undefined, 3, 0.09],
      [500, '500', 1, 0.3],
    ],
  );
  const requests = metric(second, 'apimeter.http.server.requests')!;
  assert.equal(requests.aggregationTemporality, AggregationTemporality.DELTA);
  assert.deepEqual(
    requests.dataPoints.map((p) => [p.attributes['apimeter.http.response.status_class'], p.value]),
    [
      ['2xx', 3],
      ['5xx', 1],
    ],
  );
  const h = metric(second, 'http.server.request.duration')!.dataPoints[0];
  assert.deepEqual(
    h.startTime,
    first.scopeMetrics[0].metrics[0].dataPoints[0].endTime,
    'delta points start where the last ended',
  );
  await provider.shutdown();
});

test('attachOtelProducer adds apimeter to a MeterProvider the application already has', async () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  provider.getMeter('shop').createCounter('shop.orders').add(3);
  attachOtelProducer(reader, createOtelProducer(meter));
  await reader.forceFlush();
  const rm = exporter.getMetrics()[0];
  assert.ok(metric(rm, 'shop.orders'), 'the app metric is still there');
  assert.ok(metric(rm, 'http.server.request.duration'), 'and apimeter joined it');
  await provider.shutdown();
  assert.throws(() => attachOtelProducer({} as unknown as MetricReader, createOtelProducer(meter)), {
    code: 'APIMETER_ERR_OTEL_READER',
  });
});

test('OTLP endpoint: the standard variables first, then otel_ssl_active/otel_host/otel_port', () => {
  const config = (o: Record<string, unknown>) => createMeter({ iniPath: false, env: {}, ...o }).config;
  assert.deepEqual(otlpEndpoint(config({}), {}), { url: 'http://localhost:4318/v1/metrics', explicit: true });
  assert.deepEqual(otlpEndpoint(config({ otelHost: '::1', otelPort: 4000, otelSslActive: true }), {}), {
    url: 'https://[::1]:4000/v1/metrics',
    explicit: true,
  });
  assert.deepEqual(otlpEndpoint(config({ otelHost: 'x' }), { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }), {
    url: 'http://c:4318/v1/metrics',
    explicit: false,
  });
  assert.equal(
    otlpEndpoint(config({}), {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:9/custom',
    }).url,
    'http://m:9/custom',
  );
});

function otlpMetrics(bodies: { resourceMetrics: { scopeMetrics: { metrics: OtlpMetric[] }[] }[] }[]): OtlpMetric[] {
  return bodies.flatMap((b) => b.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics)));
}

for (const [protocol, contentType] of [
  [undefined, 'application/x-protobuf'],
  ['http/json', 'application/json'],
] as const) {
  test(`OTLP/HTTP ${protocol ?? '(default: http/protobuf)'}: the real exporter's body, decoded, holds the traffic, semconv attributes and the resource`, async () => {
    const receiver = await startOtlpReceiver();
    const saved = { name: process.env.OTEL_SERVICE_NAME, attrs: process.env.OTEL_RESOURCE_ATTRIBUTES };
    process.env.OTEL_SERVICE_NAME = 'orders-api';
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment=test';
    try {
      const otel = await startOtelExporter(meter, {
        url: receiver.url,
        intervalMs: 3_600_000,
        env: {
          OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
          ...(protocol !== undefined && { OTEL_EXPORTER_OTLP_PROTOCOL: protocol }),
        },
      });
      assert.equal(otel.protocol, protocol ?? 'http/protobuf');
      await otel.forceFlush();
      await eventually(() => receiver.bodies.length > 0, 'an OTLP request');
      const body = receiver.bodies[0];
      assert.equal(receiver.headers[0]['content-type'], contentType);
      const resource = otlpAttributes(body.resourceMetrics[0].resource?.attributes);
      assert.equal(resource['service.name'], 'orders-api');
      assert.equal(resource['deployment.environment'], 'test');
      // Resource detectors: a per-process instance id, host and process attributes, never the command line.
      assert.match(String(resource['service.instance.id']), /^[0-9a-f-]{36}$/);
      assert.equal(resource['host.name'], os.hostname());
      assert.equal(resource['process.pid'], process.pid);
      assert.equal(resource['process.command_args'], undefined);
      assert.equal(resource['telemetry.sdk.language'], 'nodejs');
      const metrics = otlpMetrics(receiver.bodies);
      const duration = metrics.find((m) => m.name === 'http.server.request.duration')!;
      assert.equal(duration.unit, 's');
      const point = duration.exponentialHistogram!.dataPoints.find(
        (p) => otlpAttributes(p.attributes)['http.route'] === '/orders/:id',
      )!;
      assert.equal(Number(point.count), 240);
      assert.deepEqual(otlpAttributes(point.attributes), {
        'http.request.method': 'GET',
        'url.scheme': 'http',
        'http.route': '/orders/:id',
        'http.response.status_code': 200,
      });
      const crash = duration.exponentialHistogram!.dataPoints.find(
        (p) => otlpAttributes(p.attributes)['http.route'] === '/crash',
      )!;
      assert.equal(otlpAttributes(crash.attributes)['error.type'], '500');
      assert.equal(otlpAttributes(crash.attributes)['http.response.status_code'], 500);
      const teapot = duration.exponentialHistogram!.dataPoints.find(
        (p) => otlpAttributes(p.attributes)['http.route'] === '/teapot',
      )!;
      assert.equal(otlpAttributes(teapot.attributes)['error.type'], undefined, '4xx are not errors');
      const inBuckets = (point.positive?.bucketCounts ?? []).reduce<number>((a, b) => a + Number(b), 0);
      assert.equal(inBuckets + Number(point.zeroCount ?? 0), 240);
      const requests = metrics.find((m) => m.name === 'apimeter.http.server.requests')!;
      const byClass = new Map(
        requests.sum!.dataPoints.map((p) => {
          const a = otlpAttributes(p.attributes);
          return [`${String(a['http.route'])} ${String(a['apimeter.http.response.status_class'])}`, Number(p.asInt)];
        }),
      );
      assert.equal(byClass.get('/orders/:id 2xx'), 240);
      assert.equal(byClass.get('/teapot 4xx'), 17);
      assert.equal(byClass.get('/crash 5xx'), 9);
      assert.equal(otel.health().state, 'ok');
      assert.equal(otel.health().counters!.exports, 1);
      await otel.close();
      assert.equal(otel.health().state, 'off');
    } finally {
      process.env.OTEL_SERVICE_NAME = saved.name;
      process.env.OTEL_RESOURCE_ATTRIBUTES = saved.attrs;
      if (saved.name === undefined) delete process.env.OTEL_SERVICE_NAME;
      if (saved.attrs === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
      await receiver.close();
    }
  });
}

test('startExporters: StatsD and OpenTelemetry at once, the Stats facade reaching both', async () => {
  const dog = await startDogStatsdReceiver();
  const otlp = await startOtlpReceiver();
  const m = createMeter({
    iniPath: false,
    env: {},
    statsdOn: true,
    statsdDatadogEnabled: true,
    statsdHost: '127.0.0.1',
    statsdPort: dog.port,
    otelOn: true,
  });
  const ep = m.endpoint('GET', '/both')!;
  for (let i = 0; i < 7; i++) m.record(ep, 200, 4, -1, -1, ErrorKind.None);
  const exporters = await startExporters(m, { otel: { url: otlp.url, intervalMs: 3_600_000 } });
  try {
    exporters.stats.incr('jobs.done', 2, 1, { queue: 'q1' });
    exporters.stats.timing('jobs.time', 12);
    await exporters.statsd!.flush();
    await exporters.otel!.forceFlush();
    await eventually(() => dog.lines.some((l) => l.name === 'apimeter.jobs.done'), 'the DogStatsD line');
    await eventually(() => otlp.bodies.length > 0, 'the OTLP request');
    assert.ok(dog.lines.some((l) => l.name === 'apimeter.api.request.count' && l.value === 7));
    const metrics = otlpMetrics(otlp.bodies);
    const jobs = metrics.find((x) => x.name === 'apimeter.jobs.done')!;
    assert.equal(Number(jobs.sum!.dataPoints[0].asDouble ?? jobs.sum!.dataPoints[0].asInt), 2);
    assert.ok(metrics.some((x) => x.name === 'apimeter.jobs.time'));
    assert.deepEqual(
      m.componentHealth().map((h) => [h.name, h.state]),
      [
        ['dogstatsd', 'ok'],
        ['otel', 'ok'],
      ],
    );
  } finally {
    await exporters.close();
    await dog.close();
    await otlp.close();
  }
  assert.deepEqual(m.componentHealth(), [], 'health sources are removed on close');
});

/** Points of a metric as `attributes (sorted, route left out) → value`. */
function pointValues(m: MetricData | undefined): Record<string, unknown> {
  return Object.fromEntries(
    (m?.dataPoints ?? []).map((p) => [
      Object.entries(p.attributes)
        .filter(([k]) => k !== 'http.route' && k !== 'url.scheme')
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(','),
      p.value,
    ]),
  );
}

const DETAIL_METRICS = [
  'apimeter.auth.attempts',
  'apimeter.ratelimit.hits',
  'apimeter.db.client.queries',
  'apimeter.db.client.duration',
];

test('detailed mode: auth attempts by type and outcome, rate-limit hits, database queries and time', async () => {
  const { meter: m } = detailTraffic();
  const rm = await readOnce(m, new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE));
  const auth = metric(rm, 'apimeter.auth.attempts')!;
  assert.equal(auth.dataPointType, DataPointType.SUM);
  assert.equal((auth as { isMonotonic?: boolean }).isMonotonic, true);
  assert.equal(auth.descriptor.unit, '{attempt}');
  assert.ok(auth.dataPoints.every((p) => p.attributes['http.route'] === '/orders/{id}'));
  assert.ok(auth.dataPoints.every((p) => typeof p.attributes['apimeter.auth.success'] === 'boolean'));
  const m1 = 'http.request.method=GET';
  const m2 = 'http.request.method=POST';
  assert.deepEqual(pointValues(auth), {
    [`${m1},apimeter.auth.type=bearer,apimeter.auth.success=false`]: 2,
    [`${m1},apimeter.auth.type=bearer,apimeter.auth.success=true`]: 6,
    [`${m1},apimeter.auth.type=api_key,apimeter.auth.success=true`]: 1,
    [`${m2},apimeter.auth.type=basic,apimeter.auth.success=true`]: 3,
    [`${m2},apimeter.auth.type=session,apimeter.auth.success=false`]: 1,
  });
  assert.deepEqual(pointValues(metric(rm, 'apimeter.ratelimit.hits')), { [m1]: 1, [m2]: 1 });
  assert.deepEqual(pointValues(metric(rm, 'apimeter.db.client.queries')), { [m1]: 9, [m2]: 3 });
  const duration = metric(rm, 'apimeter.db.client.duration')!;
  assert.equal(duration.descriptor.unit, 's');
  assert.equal(duration.descriptor.valueType, ValueType.DOUBLE);
  assert.deepEqual(pointValues(duration), { [m1]: 0.024, [m2]: 0.003 });
});

test('detailed mode, delta temporality: each collection carries only what is new', async () => {
  const { meter: m, get, clock } = detailTraffic();
  const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const { reader, provider } = producerReader(m, exporter);
  await reader.forceFlush();
  clock.advance(30_000);
  send(m, get, { status: 401, ms: 2, headers: { authorization: 'Bearer x' }, queries: [1.5, 0.25] });
  await reader.forceFlush();
  clock.advance(30_000);
  await reader.forceFlush();
  const [first, second, third] = exporter.getMetrics();
  assert.equal(Object.keys(pointValues(metric(first, 'apimeter.auth.attempts'))).length, 5);
  const auth = metric(second, 'apimeter.auth.attempts')!;
  assert.equal(auth.aggregationTemporality, AggregationTemporality.DELTA);
  assert.deepEqual(pointValues(auth), {
    'http.request.method=GET,apimeter.auth.type=bearer,apimeter.auth.success=false': 1,
  });
  assert.deepEqual(pointValues(metric(second, 'apimeter.db.client.queries')), { 'http.request.method=GET': 2 });
  assert.deepEqual(pointValues(metric(second, 'apimeter.db.client.duration')), { 'http.request.method=GET': 0.00175 });
  assert.deepEqual(pointValues(metric(second, 'apimeter.ratelimit.hits')), {});
  for (const name of DETAIL_METRICS) assert.deepEqual(pointValues(metric(third, name)), {}, name);
  await provider.shutdown();
});

test('detailed mode off: none of the detailed metrics', async () => {
  const rm = await readOnce(plainTraffic(), new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE));
  const names = rm.scopeMetrics.flatMap((s) => s.metrics.map((x) => x.descriptor.name));
  assert.ok(names.includes('http.server.request.duration'));
  for (const name of DETAIL_METRICS) assert.ok(!names.includes(name), name);
});

test('OTLP/HTTP: the detailed metrics reach the receiver with typed attributes', async () => {
  const receiver = await startOtlpReceiver();
  const { meter: m } = detailTraffic();
  try {
    const otel = await startOtelExporter(m, { url: receiver.url, intervalMs: 3_600_000, env: {} });
    await otel.forceFlush();
    await eventually(() => receiver.bodies.length > 0, 'an OTLP request');
    await otel.close();
    const metrics = otlpMetrics(receiver.bodies);
    const auth = metrics.find((x) => x.name === 'apimeter.auth.attempts')!;
    assert.equal(auth.sum!.isMonotonic, true);
    const bearer = auth.sum!.dataPoints.filter((p) => {
      const a = otlpAttributes(p.attributes);
      return a['http.request.method'] === 'GET' && a['apimeter.auth.type'] === 'bearer';
    });
    assert.deepEqual(
      bearer.map((p) => [p.attributes?.find((a) => a.key === 'apimeter.auth.success')?.value, Number(p.asInt)]),
      [
        [{ boolValue: false }, 2],
        [{ boolValue: true }, 6],
      ],
    );
    const duration = metrics.find((x) => x.name === 'apimeter.db.client.duration')!;
    assert.equal(duration.unit, 's');
    assert.deepEqual(
      duration.sum!.dataPoints.map((p) => p.asDouble),
      [0.024, 0.003],
    );
  } finally {
    await receiver.close();
  }
});
