import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import type { MeterOptions } from '../src/core/meter.js';
import { ErrorKind, OVERFLOW_ROUTE, UNMATCHED_ROUTE } from '../src/core/record.js';
import { LATENCY_SKETCH, relativeErrorBound } from '../src/core/sketch.js';
import { exactQuantile, lognormal, rng } from './helpers/datasets.js';

const bound = relativeErrorBound(LATENCY_SKETCH);

function meterWith(options: MeterOptions = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const meter = createMeter({ iniPath: false, env: {}, clock, ...options });
  return { meter, clock };
}

function within(got: number | null, exact: number, tolerance = bound): void {
  assert.ok(got !== null, 'value missing');
  assert.ok(Math.abs(got - exact) <= tolerance * exact * (1 + 1e-9), `got ${got}, exact ${exact}`);
}

test('counts per status code, class and exclusive error type', () => {
  const { meter } = meterWith();
  const ep = meter.endpoint('GET', '/dags/{dag_id}')!;
  const plan: [number, ErrorKind, number][] = [
    [200, ErrorKind.None, 50],
    [201, ErrorKind.None, 5],
    [404, ErrorKind.None, 7],
    [400, ErrorKind.Validation, 3],
    [500, ErrorKind.Exception, 4],
    [503, ErrorKind.None, 2],
    [200, ErrorKind.Aborted, 6],
  ];
  for (const [status, kind, n] of plan) {
    for (let i = 0; i < n; i++)
      meter.record(ep, status, 10, 0, 100, kind, kind === ErrorKind.Exception ? 'DbError' : undefined, 'x');
  }
  const s = meter.endpointSnapshot('GET', '/dags/{dag_id}')!;
  assert.equal(s.count, 77);
  assert.deepEqual(s.statusCodes, { '200': 50, '201': 5, '400': 3, '404': 7, '499': 6, '500': 4, '503': 2 });
  assert.deepEqual(s.statusClasses, { '1xx': 0, '2xx': 55, '3xx': 0, '4xx': 16, '5xx': 6 });
  assert.deepEqual(s.errorTypes, { server_error: 2, client_error: 7, exception: 4, validation: 3, aborted: 6 });
  assert.equal(s.errors, 22);
  assert.equal(s.errorRate, 22 / 77);
  assert.deepEqual(
    s.exceptions.map((e) => [e.class, e.count, e.lastMessage]),
    [['DbError', 4, 'x']],
  );
});

test('latency percentiles and sizes match exact values', () => {
  const { meter } = meterWith();
  const ep = meter.endpoint('POST', '/dags/{dag_id}/dagRuns')!;
  const r = rng(11);
  const values = Array.from({ length: 5000 }, () => lognormal(r, 40, 0.9));
  let reqTotal = 0;
  values.forEach((v, i) => {
    reqTotal += i;
    meter.record(ep, 200, v, i, i % 3 === 0 ? -1 : 2 * i, ErrorKind.None);
  });
  const s = meter.endpointSnapshot('POST', '/dags/{dag_id}/dagRuns')!;
  const sorted = [...values].sort((a, b) => a - b);
  within(s.latencyMs.p50, exactQuantile(sorted, 0.5));
  within(s.latencyMs.p90, exactQuantile(sorted, 0.9));
  within(s.latencyMs.p95, exactQuantile(sorted, 0.95));
  within(s.latencyMs.p99, exactQuantile(sorted, 0.99));
  assert.equal(s.latencyMs.max, sorted[sorted.length - 1]);
  assert.equal(s.latencyMs.min, sorted[0]);
  within(s.latencyMs.mean, values.reduce((a, b) => a + b, 0) / values.length, 1e-9);
  assert.equal(s.requestBytes.totalBytes, reqTotal);
  assert.equal(s.requestBytes.count, 5000);
  assert.equal(s.requestBytes.max, 4999);
  assert.equal(s.responseBytes.count, 5000 - Math.ceil(5000 / 3));
});

test('windows merge only the slots inside them; old slots fall out of the ring', () => {
  const { meter, clock } = meterWith();
  const ep = meter.endpoint('GET', '/x')!;
  // 2 hours of traffic: minute m gets m+1 requests of (m+1) ms.
  for (let m = 0; m < 120; m++) {
    for (let i = 0; i <= m; i++) meter.record(ep, 200, m + 1, -1, -1, ErrorKind.None);
    clock.advance(60_000);
  }
  // Now at the start of minute 120 (nothing recorded in it yet).
  const w = (name: '1m' | '5m' | '15m' | '1h' | 'all') => meter.endpointSnapshot('GET', '/x', name)!;
  const sumRange = (from: number, to: number) => {
    let s = 0;
    for (let m = from; m <= to; m++) s += m + 1;
    return s;
  };
  assert.equal(w('all').count, sumRange(0, 119));
  // Coarse windows cover the current (empty) minute and n−1 before it.
  assert.equal(w('5m').count, sumRange(116, 119));
  assert.equal(w('15m').count, sumRange(106, 119));
  assert.equal(w('1h').count, sumRange(61, 119));
  // 1m uses 10 s slots: the current one and 5 before it, all in the empty minute 120 except none.
  assert.equal(w('1m').count, 0);
  clock.advance(-1); // last millisecond of minute 119: 1m window holds 6 fine slots of minute 119
  assert.equal(w('1m').count, 120);
  assert.equal(w('1m').latencyMs.max, 120);
  clock.advance(1);
  within(w('5m').latencyMs.p50, 119);
  assert.equal(w('1h').latencyMs.min, 62);
});

test('rates use the time the window actually covers, and moving averages follow a steady rate', () => {
  const { meter, clock } = meterWith();
  const ep = meter.endpoint('GET', '/steady')!;
  // 10 req/s for 30 minutes, one record every 100 ms.
  for (let i = 0; i < 30 * 60 * 10; i++) {
    meter.record(ep, 200, 5, -1, -1, ErrorKind.None);
    clock.advance(100);
  }
  const s = meter.endpointSnapshot('GET', '/steady', '5m')!;
  within(s.ratePerSecond, 10, 0.01);
  within(meter.endpointSnapshot('GET', '/steady', 'all')!.ratePerSecond, 10, 0.001);
  within(s.movingAverages.rate1m, 10, 0.01);
  within(s.movingAverages.rate5m, 10, 0.01);
  // The 15-minute average is still converging after 30 minutes: 1 − e^(−2) ≈ 86 % of the rate.
  within(s.movingAverages.rate15m, 10 * (1 - Math.exp(-29 / 15)), 0.02);
});

test('sampling keeps counts exact and feeds the sketch an unbiased sample', () => {
  const { meter } = meterWith({ metricsSampleRate: 0.25, random: rng(5) });
  const ep = meter.endpoint('GET', '/sampled')!;
  const r = rng(9);
  const values = Array.from({ length: 40_000 }, () => lognormal(r, 20, 0.7));
  for (const v of values) meter.record(ep, v > 60 ? 500 : 200, v, 10, 10, ErrorKind.None);
  const s = meter.endpointSnapshot('GET', '/sampled')!;
  assert.equal(s.count, 40_000);
  assert.equal(s.statusCodes['500'] + s.statusCodes['200'], 40_000);
  assert.equal(s.errorTypes.server_error, values.filter((v) => v > 60).length);
  assert.equal(s.requestBytes.totalBytes, 400_000);
  // About a quarter went into the sketch; its percentiles estimate the full distribution.
  assert.ok(Math.abs(s.latencyMs.count - 10_000) < 400, `sampled ${s.latencyMs.count}`);
  const sorted = [...values].sort((a, b) => a - b);
  within(s.latencyMs.p50, exactQuantile(sorted, 0.5), 0.03);
  within(s.latencyMs.p95, exactQuantile(sorted, 0.95), 0.05);
});

test('cardinality cap folds new endpoints into the overflow endpoint of their method and counts its records', () => {
  const { meter } = meterWith({ metricsMaxEndpoints: 10 });
  for (let i = 0; i < 25; i++) {
    const ep = meter.endpoint('GET', `/r/${i}`)!;
    meter.record(ep, 200, 1, -1, -1, ErrorKind.None);
    meter.record(ep, 200, 1, -1, -1, ErrorKind.None);
  }
  assert.equal(meter.registry.size, 11); // 10 + the overflow endpoint
  assert.equal(meter.registry.overflowedRecords, 30);
  assert.equal(meter.registry.overflowedEndpoints, 15);
  assert.equal(meter.endpointSnapshot('GET', OVERFLOW_ROUTE)!.count, 30);
  assert.equal(meter.summary().count, 50);
  // Unmatched requests do not consume the cap either.
  const un = meter.unmatched('GET', '/nope')!;
  assert.equal(un.route, UNMATCHED_ROUTE);
  assert.equal(meter.registry.size, 12);
});

test('endpoints resolved but never recorded are not listed and do not use the cap', () => {
  const { meter } = meterWith({ metricsMaxEndpoints: 2 });
  const handles = Array.from({ length: 20 }, (_, i) => meter.endpoint('HEAD', `/h/${i}`)!);
  assert.equal(meter.registry.size, 0);
  assert.equal(meter.snapshot().length, 0);
  meter.record(handles[7], 200, 1, -1, -1, ErrorKind.None);
  meter.record(handles[9], 200, 1, -1, -1, ErrorKind.None);
  meter.record(handles[11], 200, 1, -1, -1, ErrorKind.None);
  assert.deepEqual(
    meter.snapshot().map((e) => [e.route, e.count]),
    [
      ['/h/7', 1],
      ['/h/9', 1],
      [OVERFLOW_ROUTE, 1],
    ],
  );
  // In-flight on a refused endpoint goes to the overflow endpoint and comes back.
  meter.begin(handles[11]);
  assert.equal(meter.endpointSnapshot('HEAD', OVERFLOW_ROUTE)!.inflight, 1);
  meter.end(handles[11]);
  assert.equal(meter.endpointSnapshot('HEAD', OVERFLOW_ROUTE)!.inflight, 0);
});

test('declared endpoints keep their place in the cap; invented ones share the rest; overflow keeps the method', () => {
  const { meter } = meterWith({ metricsMaxEndpoints: 5 });
  const a = meter.endpoint('GET', '/a', true)!;
  const b = meter.endpoint('POST', '/b', true)!;
  assert.equal(meter.snapshot().length, 0); // reserved, not listed before their first record
  for (let i = 0; i < 10; i++) meter.record(meter.endpoint('GET', `/x/${i}`)!, 200, 1, -1, -1, ErrorKind.None);
  for (let i = 0; i < 2; i++) meter.record(meter.endpoint('POST', `/p/${i}`)!, 201, 1, -1, -1, ErrorKind.None);
  meter.record(a, 200, 1, -1, -1, ErrorKind.None);
  meter.record(b, 201, 1, -1, -1, ErrorKind.None);
  // Declared after the cap is full (an any-method route's new method): still its own endpoint.
  const late = meter.endpoint('PUT', '/late', true)!;
  meter.record(late, 204, 1, -1, -1, ErrorKind.None);
  assert.deepEqual(
    meter
      .snapshot()
      .map((e) => `${e.method} ${e.route} ${e.count}`)
      .sort(),
    [
      'GET /a 1',
      'GET /x/0 1',
      'GET /x/1 1',
      'GET /x/2 1',
      `GET ${OVERFLOW_ROUTE} 7`,
      'POST /b 1',
      `POST ${OVERFLOW_ROUTE} 2`,
      'PUT /late 1',
    ],
  );
  assert.equal(meter.registry.overflowedEndpoints, 9);
  // An invented template refused by the cap and declared later records as itself from then on.
  const refused = meter.endpoint('GET', '/x/9', true)!;
  meter.record(refused, 200, 1, -1, -1, ErrorKind.None);
  assert.equal(meter.endpointSnapshot('GET', '/x/9')!.count, 1);
  assert.equal(meter.endpointSnapshot('GET', OVERFLOW_ROUTE)!.count, 7);
});

test('unused handles are bounded too: past 4 x cap + 16 new pairs get the overflow endpoint', () => {
  const { meter } = meterWith({ metricsMaxEndpoints: 10 });
  const handles = Array.from({ length: 1000 }, (_, i) => meter.endpoint('GET', `/raw/${i}`)!);
  assert.equal(new Set(handles).size, 57); // 56 distinct handles, then the overflow one
  assert.equal(handles[999].route, OVERFLOW_ROUTE);
  assert.equal(meter.registry.overflowedEndpoints, 1000 - 56);
});

test('exclusions match templates exactly or as whole-segment prefixes', () => {
  const { meter } = meterWith({ metricsExcludedEndpoints: ['/health', '/api/v2/metrics'] });
  assert.equal(meter.endpoint('GET', '/health'), null);
  assert.equal(meter.endpoint('GET', '/api/v2/metrics/summary'), null);
  assert.equal(meter.endpoint('GET', '/api/v2/metrics'), null);
  assert.notEqual(meter.endpoint('GET', '/healthz'), null);
  assert.notEqual(meter.endpoint('GET', '/api/v2/metricsx'), null);
  assert.equal(meter.unmatched('GET', '/health?verbose=1'), null);
  assert.notEqual(meter.unmatched('GET', '/other'), null);
});

test('unknown methods become _OTHER; lower-case known methods are normalised', () => {
  const { meter } = meterWith();
  assert.equal(meter.endpoint('FOO', '/a')!.method, '_OTHER');
  assert.equal(meter.endpoint('get', '/a')!.method, 'GET');
  assert.equal(meter.endpoint('X'.repeat(10_000), '/a'), meter.endpoint('BREW', '/a'));
  assert.equal(meter.endpoint('GET', '/a'), meter.endpoint('get', '/a'));
});

test('in-flight gauge, and metrics_enabled=false records nothing', () => {
  const { meter } = meterWith();
  const ep = meter.endpoint('GET', '/slow')!;
  meter.begin(ep);
  meter.begin(ep);
  assert.equal(meter.endpointSnapshot('GET', '/slow')!.inflight, 2);
  meter.end(ep);
  meter.end(ep);
  meter.end(ep);
  assert.equal(meter.endpointSnapshot('GET', '/slow')!.inflight, 0);
  const off = meterWith({ metricsEnabled: false }).meter;
  assert.equal(off.endpoint('GET', '/slow'), null);
  assert.equal(off.unmatched('GET', '/x'), null);
});

test('summary merges sketches across endpoints instead of averaging percentiles', () => {
  const { meter } = meterWith();
  const fast = meter.endpoint('GET', '/fast')!;
  const slow = meter.endpoint('GET', '/slow')!;
  const all: number[] = [];
  for (let i = 1; i <= 900; i++) {
    meter.record(fast, 200, i / 100, -1, -1, ErrorKind.None);
    all.push(i / 100);
  }
  for (let i = 1; i <= 100; i++) {
    meter.record(slow, 503, 1000 + i, -1, -1, ErrorKind.None);
    all.push(1000 + i);
  }
  const s = meter.summary();
  all.sort((a, b) => a - b);
  assert.equal(s.count, 1000);
  assert.equal(s.availability, 0.9, 'availability is a fraction: 900 of 1,000 not 5xx');
  within(s.latencyMs.p50, exactQuantile(all, 0.5));
  within(s.latencyMs.p95, exactQuantile(all, 0.95));
});

test('recordRequest resolves by strings and never throws on odd input', () => {
  const { meter } = meterWith();
  meter.recordRequest({ method: 'GET', route: '/a', status: 200, durationMs: 3 });
  meter.recordRequest({ method: 'BREW', route: undefined, status: 999, durationMs: NaN, requestBytes: -7 });
  meter.recordRequest({ method: 'GET', route: '/a', status: 0, durationMs: -1, responseBytes: Infinity });
  assert.equal(meter.endpointSnapshot('GET', '/a')!.count, 2);
  const un = meter.endpointSnapshot('_OTHER', UNMATCHED_ROUTE)!;
  assert.equal(un.count, 1);
  assert.equal(un.requestBytes.count, 0);
  assert.deepEqual(un.statusCodes, { '999': 1 });
});
