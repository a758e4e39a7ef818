/**
 * apimeter's own OpenTelemetry pipeline against real loopback sinks: gRPC (a @grpc/grpc-js server),
 * the standard OTEL_* variables, the semantic-convention attributes, attaching to an application's
 * global MeterProvider, and the exponential histogram's quantile error at the bucket limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { ExponentialHistogram, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import Fastify from 'fastify';
import { apimeter } from '../src/adapters/fastify.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { otlpEndpoint, readOtelEnv, startOtelExporter } from '../src/exporters/otel.js';
import { startExporters } from '../src/exporters/start.js';
import { eventually, otlpAttributes, startOtlpGrpcReceiver, startOtlpReceiver } from './helpers/exporters.js';
import { pipelineGets } from './helpers/http.js';
import { ExponentialMemoryExporter, readProducerOnce } from './helpers/otel-read.js';

const quiet = () => undefined;

function trafficMeter(env: Record<string, string> = {}): Meter {
  const m = createMeter({ iniPath: false, env, otelOn: true });
  const ok = m.endpoint('GET', '/users/{id}')!;
  for (let i = 0; i < 30; i++) m.record(ok, 200, 5 + i, -1, 10, ErrorKind.None);
  for (let i = 0; i < 4; i++) m.record(ok, 503, 50, -1, 10, ErrorKind.None);
  m.record(m.unmatched('GET', '/nope')!, 404, 1, -1, 0, ErrorKind.None);
  return m;
}

const metricOf = (rm: ResourceMetrics, name: string) =>
  rm.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);

test('gRPC: OTEL_EXPORTER_OTLP_PROTOCOL=grpc sends through the official exporter to a real gRPC receiver', async () => {
  const receiver = await startOtlpGrpcReceiver();
  const m = trafficMeter();
  try {
    const otel = await startOtelExporter(m, {
      intervalMs: 3_600_000,
      env: {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url,
      },
      onStateChange: quiet,
    });
    assert.equal(otel.protocol, 'grpc');
    await otel.forceFlush();
    await eventually(() => receiver.bodies.length > 0, 'a gRPC Export call');
    const ms = receiver.bodies[0].resourceMetrics[0].scopeMetrics.flatMap((s) => s.metrics);
    const duration = ms.find((x) => x.name === 'http.server.request.duration')!;
    const points = duration.histogram!.dataPoints.map((p) => [otlpAttributes(p.attributes), Number(p.count)]);
    assert.deepEqual(points, [
      [
        {
          'http.request.method': 'GET',
          'url.scheme': 'http',
          'http.route': '/users/{id}',
          'http.response.status_code': 200,
        },
        30,
      ],
      [
        {
          'http.request.method': 'GET',
          'url.scheme': 'http',
          'http.route': '/users/{id}',
          'http.response.status_code': 503,
          'error.type': '503',
        },
        4,
      ],
      // Unmatched: no http.route at all (semconv), and 404 is not an error.
      [{ 'http.request.method': 'GET', 'url.scheme': 'http', 'http.response.status_code': 404 }, 1],
    ]);
    assert.equal(otel.health().counters!.exports, 1);
    await otel.close();
  } finally {
    await receiver.close();
  }
});

test('OTLP endpoints per protocol: /v1/metrics for HTTP, as given for gRPC, 4317 for gRPC by default', () => {
  const config = createMeter({ iniPath: false, env: {}, otelHost: 'collector' }).config;
  assert.equal(otlpEndpoint(config, {}).url, 'http://collector:4318/v1/metrics');
  assert.equal(otlpEndpoint(config, {}, 'grpc').url, 'http://collector:4317');
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://agent:4317/' };
  assert.equal(otlpEndpoint(config, env, 'grpc').url, 'http://agent:4317/');
  assert.equal(otlpEndpoint(config, env, 'http/json').url, 'http://agent:4317/v1/metrics');
});

test('the standard variables: interval, timeouts, protocol, exporters', () => {
  const e = readOtelEnv({
    OTEL_METRIC_EXPORT_INTERVAL: '15000',
    OTEL_METRIC_EXPORT_TIMEOUT: '5000',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc',
    OTEL_METRICS_EXPORTER: 'otlp, console, prometheus',
  });
  assert.deepEqual(
    [e.intervalMs, e.exportTimeoutMs, e.protocol, e.exporters, e.unsupportedExporters],
    [15000, 5000, 'grpc', ['otlp', 'console'], ['prometheus']],
  );
  assert.deepEqual(readOtelEnv({ OTEL_METRICS_EXPORTER: 'none' }).exporters, []);
  assert.equal(readOtelEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' }).badProtocol, 'thrift');
  assert.equal(readOtelEnv({ OTEL_SDK_DISABLED: 'TRUE' }).sdkDisabled, true);
});

test('OTEL_METRIC_EXPORT_INTERVAL drives the export timer; OTEL_METRIC_EXPORT_TIMEOUT the reader', async () => {
  const receiver = await startOtlpReceiver();
  const m = trafficMeter();
  try {
    const otel = await startOtelExporter(m, {
      url: receiver.url,
      env: { OTEL_METRIC_EXPORT_INTERVAL: '200', OTEL_METRIC_EXPORT_TIMEOUT: '150' },
      onStateChange: quiet,
    });
    // Without the variable the interval would be otel_interval_milliseconds (60 s): two exports arrive by themselves.
    await eventually(() => receiver.bodies.length >= 2, 'two periodic exports', 20_000);
    const reader = otel.reader as unknown as { _exportInterval: number; _exportTimeout: number };
    assert.deepEqual([reader._exportInterval, reader._exportTimeout], [200, 150]);
    await otel.close();
  } finally {
    await receiver.close();
  }
});

test('OTEL_SDK_DISABLED and OTEL_METRICS_EXPORTER=none: startExporters builds no OpenTelemetry pipeline', async () => {
  for (const env of [{ OTEL_SDK_DISABLED: 'true' }, { OTEL_METRICS_EXPORTER: 'none' }]) {
    const told: string[] = [];
    const m = createMeter({ iniPath: false, env: {}, otelOn: true });
    const exporters = await startExporters(m, { otel: { env, onStateChange: (s: string) => told.push(s) } });
    assert.equal(exporters.otel, null, JSON.stringify(env));
    assert.match(told.join('\n'), /no OpenTelemetry export/);
    await exporters.close();
  }
});

test('OTEL_METRICS_EXPORTER=console: a console reader alongside, no OTLP when otlp is not listed', async () => {
  const m = trafficMeter();
  const lines: unknown[] = [];
  const saved = console.dir;
  console.dir = (value: unknown) => void lines.push(value);
  try {
    const otel = await startOtelExporter(m, { intervalMs: 3_600_000, env: { OTEL_METRICS_EXPORTER: 'console' } });
    assert.equal(otel.protocol, null);
    await otel.forceFlush();
    await otel.close();
  } finally {
    console.dir = saved;
  }
  assert.ok(
    lines.some((l) => (l as { descriptor?: { name?: string } }).descriptor?.name === 'http.server.request.duration'),
  );
});

test('global MeterProvider: apimeter attaches its producer to the application reader, builds no provider of its own', async () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const appProvider = new MeterProvider({ readers: [reader] });
  assert.equal(metrics.setGlobalMeterProvider(appProvider), true);
  try {
    appProvider.getMeter('app').createCounter('orders.created').add(3);
    const m = trafficMeter();
    const otel = await startOtelExporter(m, { onStateChange: quiet });
    assert.equal(otel.mode, 'attached');
    assert.equal(otel.provider, appProvider);
    otel.stats.count('jobs.done', 2, 1, {});
    await reader.forceFlush();
    const rm = exporter.getMetrics().at(-1)!;
    // The application's own metric and apimeter's arrive in the one export of the application's reader.
    const names = rm.scopeMetrics.flatMap((s) => s.metrics.map((x) => x.descriptor.name));
    assert.ok(names.includes('orders.created'), names.join());
    assert.ok(names.includes('http.server.request.duration'), names.join());
    assert.ok(names.includes('apimeter.jobs.done'), names.join());
    assert.equal(otel.health().counters!.attachedReaders, 1);
    await otel.close();
    exporter.reset();
    await reader.forceFlush();
    const after = exporter.getMetrics().at(-1)!;
    assert.equal(metricOf(after, 'http.server.request.duration'), undefined, 'detached on close');
    assert.ok(metricOf(after, 'orders.created'), 'the application provider keeps working');
    // Opting out builds apimeter's own pipeline even so.
    const own = await startOtelExporter(m, {
      globalProvider: 'ignore',
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      intervalMs: 3_600_000,
    });
    assert.equal(own.mode, 'own');
    assert.notEqual(own.provider, appProvider);
    await own.close();
  } finally {
    metrics.disable();
    await appProvider.shutdown();
  }
});

test('OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS replaces the known methods (case-sensitive); others are _OTHER', () => {
  const m = createMeter({ iniPath: false, env: { OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS: 'GET,PURGE, QUERY' } });
  assert.equal(m.endpoint('PURGE', '/cache')!.method, 'PURGE');
  assert.equal(m.endpoint('QUERY', '/search')!.method, 'QUERY');
  assert.equal(m.endpoint('POST', '/cache')!.method, '_OTHER');
  assert.equal(m.endpoint('get', '/cache')!.method, '_OTHER');
  const plain = createMeter({ iniPath: false, env: {} });
  assert.equal(plain.endpoint('PURGE', '/cache')!.method, '_OTHER');
  assert.equal(plain.endpoint('POST', '/cache')!.method, 'POST');
});

/** One cumulative collection with exponential histograms. */
const collect = (m: Meter, options: Parameters<typeof readProducerOnce>[2] = {}) =>
  readProducerOnce(m, new ExponentialMemoryExporter(AggregationTemporality.CUMULATIVE), options);

test('http.route in the framework format (Fastify /users/:id), OpenAPI style on request, omitted for unmatched', async () => {
  const app = Fastify({ logger: false });
  const m = createMeter({ iniPath: false, env: {}, otelOn: true });
  await app.register(apimeter, { meter: m });
  app.get('/users/:id', async () => 'ok');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  try {
    await pipelineGets(port, 5, (i) => `/users/${i}`, 2);
    await pipelineGets(port, 2, () => '/missing/x', 1);
    for (const [style, route] of [
      ['framework', '/users/:id'],
      ['openapi', '/users/{id}'],
    ] as const) {
      const rm = await collect(m, { routeStyle: style });
      const points = metricOf(rm, 'http.server.request.duration')!.dataPoints;
      const routes = points.map((p) => p.attributes['http.route']);
      assert.deepEqual(routes, [route, undefined], style);
      assert.ok(
        points.every((p) => p.attributes['url.scheme'] === 'http'),
        'url.scheme on every point',
      );
    }
  } finally {
    await app.close();
  }
});

/** Relative error of quantile q read from an OTLP exponential histogram point (seconds) against the sorted truth. */
function quantileError(h: ExponentialHistogram, sorted: number[], q: number): number {
  const base = 2 ** (2 ** -h.scale);
  const rank = q * (h.count - 1);
  let seen = h.zeroCount;
  let estimate = 0;
  const counts = h.positive.bucketCounts;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i];
    if (seen > rank) {
      // Bucket (L, U] = (base^k, base^(k+1)]: 2LU/(L+U) errs by at most (base-1)/(base+1) either way.
      const k = h.positive.offset + i;
      estimate = 2 / (base ** -k + base ** -(k + 1));
      break;
    }
  }
  const truth = sorted[Math.round(rank)];
  return Math.abs(estimate - truth) / truth;
}

test('exponential histogram bucket limit: 0.1 ms – 60 s quantiles within 1 % at the default, not at 160', async () => {
  // Log-uniform latencies over the whole 0.1 ms – 60 s span: the widest the bound is promised for.
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const values: number[] = [];
  for (let i = 0; i < 20_000; i++) values.push(0.1 * 600_000 ** rnd());
  values.push(0.1, 60_000);
  const m = createMeter({ iniPath: false, env: {}, otelOn: true });
  const ep = m.endpoint('GET', '/wide')!;
  for (const v of values) m.record(ep, 200, v, -1, -1, ErrorKind.None);
  const sorted = values.map((v) => v / 1000).sort((a, b) => a - b);
  const qs = [0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];
  const worst = async (maxBuckets?: number) => {
    const rm = await collect(m, maxBuckets === undefined ? {} : { maxBuckets });
    const h = metricOf(rm, 'http.server.request.duration')!.dataPoints[0].value as ExponentialHistogram;
    return {
      scale: h.scale,
      buckets: h.positive.bucketCounts.length,
      error: Math.max(...qs.map((q) => quantileError(h, sorted, q))),
    };
  };
  const chosen = await worst();
  const sdkDefault = await worst(160);
  assert.equal(chosen.scale, 6, JSON.stringify(chosen));
  assert.ok(chosen.buckets <= 1280, JSON.stringify(chosen));
  assert.ok(chosen.error < 0.01, `default limit: ${JSON.stringify(chosen)}`);
  assert.ok(sdkDefault.scale <= 3 && sdkDefault.error > 0.01, `160 buckets: ${JSON.stringify(sdkDefault)}`);
  console.log(`# bucket limit: default ${JSON.stringify(chosen)}, 160 ${JSON.stringify(sdkDefault)}`);
});
