import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMeter, ErrorKind, LATENCY_SKETCH, ManualClock, relativeErrorBound } from '../src/index.js';
import type { EndpointSnapshot, Meter, MeterSummary, WindowName } from '../src/index.js';
import type { EndpointDetailJson, EndpointListJson, EndpointStatsJson, SummaryJson } from '../src/api/index.js';
import { exactQuantile, lognormal, rng } from './helpers/datasets.js';
import { get, serveApi } from './helpers/api.js';
import type { Served } from './helpers/api.js';

/*
 * One suite over both readers of the snapshot model: the same generated traffic is checked, window by
 * window, through `meter.snapshot()` / `meter.summary()` and through `GET /endpoints`,
 * `GET /endpoints/{endpoint}` and `GET /summary`, each against what the test itself recorded.
 */

const P = '/api/v2/metrics';
const MIN = 60_000;
const T0 = Date.parse('2025-06-02T10:00:00Z');
const NOW = T0 + 50 * MIN + 30_000;
const BOUND = relativeErrorBound(LATENCY_SKETCH);
const ROUTES = [
  ['GET', '/dags'],
  ['POST', '/dags'],
  ['GET', '/dags/{dag_id}'],
] as const;
// Traffic groups placed well inside or outside each window, so which requests a window holds is known by
// construction: 1m = the current 10-second slot and the 5 before it (from 10:49:40 here), 5m = the
// current minute and the 4 before it (from 10:46), 15m from 10:36, 1h and all since start-up (10:00).
const GROUPS = [T0 + MIN, T0 + 20 * MIN, T0 + 40 * MIN, T0 + 47 * MIN, T0 + 50 * MIN + 25_000];
const WINDOW_FROM: Record<Exclude<WindowName, 'all'> | 'all', number> = {
  '1m': T0 + 49 * MIN + 40_000,
  '5m': T0 + 46 * MIN,
  '15m': T0 + 36 * MIN,
  '1h': T0,
  all: T0,
};
const STATUSES = [200, 200, 200, 201, 204, 301, 400, 404, 404, 429, 499, 500, 503];

interface Sent {
  at: number;
  method: string;
  route: string;
  status: number;
  ms: number;
  requestBytes: number;
  responseBytes: number;
}

interface Exact {
  count: number;
  errors: number;
  rate5xx: number;
  rate4xx: number;
  availability: number;
  codes: Record<string, number>;
  classes: Record<string, number>;
  sorted: number[];
  responseTotal: number;
  responseMax: number | null;
}

function exactOf(sent: readonly Sent[]): Exact {
  const count = sent.length;
  const n = (lo: number) => sent.filter((s) => s.status >= lo && s.status < lo + 100).length;
  const codes: Record<string, number> = {};
  for (const s of sent) codes[String(s.status)] = (codes[String(s.status)] ?? 0) + 1;
  const classes: Record<string, number> = {};
  for (const k of [1, 2, 3, 4, 5]) classes[`${k}xx`] = n(k * 100);
  return {
    count,
    errors: sent.filter((s) => s.status >= 400).length,
    rate5xx: count === 0 ? 0 : n(500) / count,
    rate4xx: count === 0 ? 0 : n(400) / count,
    availability: count === 0 ? 1 : (count - n(500)) / count,
    codes,
    classes,
    sorted: sent.map((s) => s.ms).sort((a, b) => a - b),
    responseTotal: sent.reduce((a, s) => a + s.responseBytes, 0),
    responseMax: count === 0 ? null : Math.max(...sent.map((s) => s.responseBytes)),
  };
}

function near(actual: number | null, expected: number, bound: number, what: string): void {
  assert.ok(actual !== null, `${what}: null, expected ${expected}`);
  assert.ok(Math.abs(actual - expected) <= bound * Math.abs(expected) + 1e-9, `${what}: ${actual} vs ${expected}`);
}

/** The figures both readers share, in core's names: the API's answer is mapped back to them by hand. */
interface Common {
  count: number;
  errors: number;
  errorRate5xx: number;
  errorRate4xx: number;
  statusCodes: Record<string, number>;
  statusClasses: Record<string, number>;
  latency: { min: number | null; max: number | null; p50: number | null; p95: number | null; p99: number | null };
  responseTotal: number;
  responseMax: number | null;
  ratePerSecond: number;
}

const fromSnapshot = (s: EndpointSnapshot): Common => ({
  count: s.count,
  errors: s.errors,
  errorRate5xx: s.errorRate5xx,
  errorRate4xx: s.errorRate4xx,
  statusCodes: s.statusCodes,
  statusClasses: s.statusClasses,
  latency: s.latencyMs,
  responseTotal: s.responseBytes.totalBytes,
  responseMax: s.responseBytes.max,
  ratePerSecond: s.ratePerSecond,
});

const fromJson = (s: Omit<EndpointStatsJson, 'method'>): Common => ({
  count: s.count,
  errors: s.errors,
  errorRate5xx: s.error_rate_5xx,
  errorRate4xx: s.error_rate_4xx,
  statusCodes: s.status_codes,
  statusClasses: s.status_classes,
  latency: s.latency_ms,
  responseTotal: s.response_bytes.total,
  responseMax: s.response_bytes.max,
  ratePerSecond: s.rate_per_second,
});

function check(c: Common, e: Exact, seconds: number, what: string): void {
  assert.equal(c.count, e.count, `${what} count`);
  assert.equal(c.errors, e.errors, `${what} errors`);
  near(c.errorRate5xx, e.rate5xx, 1e-12, `${what} 5xx share`);
  near(c.errorRate4xx, e.rate4xx, 1e-12, `${what} 4xx share`);
  assert.deepEqual(c.statusCodes, e.codes, `${what} status codes`);
  assert.deepEqual({ ...c.statusClasses }, e.classes, `${what} status classes`);
  assert.equal(c.latency.min, e.sorted[0] ?? null, `${what} min`);
  assert.equal(c.latency.max, e.sorted.at(-1) ?? null, `${what} max`);
  for (const q of [0.5, 0.95, 0.99]) {
    const key = `p${Math.round(q * 100)}` as 'p50' | 'p95' | 'p99';
    near(c.latency[key], exactQuantile(e.sorted, q), BOUND, `${what} ${key}`);
  }
  assert.equal(c.responseTotal, e.responseTotal, `${what} response bytes`);
  assert.equal(c.responseMax, e.responseMax, `${what} largest response`);
  near(c.ratePerSecond, e.count / seconds, 1e-12, `${what} rate`);
}

describe('one snapshot model: meter.snapshot() and the metrics API agree with the traffic sent', () => {
  let meter: Meter;
  let served: Served;
  const sent: Sent[] = [];

  before(async () => {
    const clock = new ManualClock(T0);
    meter = createMeter({ iniPath: false, env: {}, clock });
    const r = rng(20);
    for (const [g, at] of GROUPS.entries()) {
      clock.set(at);
      for (const [k, [method, route]] of ROUTES.entries()) {
        const ep = meter.endpoint(method, route)!;
        for (let i = 0; i < 40 + 17 * k + 5 * g; i++) {
          const status = STATUSES[Math.floor(r() * STATUSES.length)];
          const ms = Math.round(lognormal(r, 20 + 30 * k, 0.8) * 1000) / 1000;
          const responseBytes = Math.floor(r() * 5000);
          const kind = status === 499 ? ErrorKind.Aborted : ErrorKind.None;
          meter.record(ep, status, ms, -1, responseBytes, kind);
          sent.push({ at, method, route, status, ms, requestBytes: -1, responseBytes });
        }
      }
    }
    clock.set(NOW);
    served = await serveApi({ meter, cacheSeconds: 0 });
  });
  after(() => served?.close());

  for (const window of ['1m', '5m', '15m', '1h', 'all'] as const) {
    test(`window=${window}: every endpoint, the route detail and the summary`, async () => {
      const inWindow = sent.filter((s) => s.at >= WINDOW_FROM[window]);
      const seconds = (NOW - WINDOW_FROM[window]) / 1000;
      const list = await get<EndpointListJson>(`${served.base}${P}/endpoints?window=${window}&limit=1000`);
      assert.equal(list.status, 200, list.text);
      assert.equal(list.json.range.seconds, seconds, 'the API covers the window');
      const snaps = meter.snapshot(window);
      assert.equal(list.json.endpoints.length, ROUTES.length);
      assert.equal(snaps.length, ROUTES.length);
      for (const [method, route] of ROUTES) {
        const e = exactOf(inWindow.filter((s) => s.method === method && s.route === route));
        const what = `${window} ${method} ${route}`;
        const snap = snaps.find((s) => s.method === method && s.route === route)!;
        assert.equal(snap.windowSeconds, seconds, `${what}: snapshot covers the window`);
        check(fromSnapshot(snap), e, seconds, `${what} snapshot`);
        near(snap.availability, e.availability, 1e-12, `${what} snapshot availability`);
        const row = list.json.endpoints.find((s) => s.method === method && s.route === route)!;
        check(fromJson(row), e, seconds, `${what} /endpoints`);
        const one = await get<EndpointDetailJson>(
          `${served.base}${P}/endpoints/${encodeURIComponent(route)}?window=${window}&method=${method}`,
        );
        assert.equal(one.status, 200, one.text);
        check(fromJson(one.json), e, seconds, `${what} /endpoints/{endpoint}`);
        assert.equal(
          one.json.series.points.reduce((n, p) => n + p.count, 0),
          e.count,
          `${what}: the series adds up to the count`,
        );
      }

      const all = exactOf(inWindow);
      const summary: MeterSummary = meter.summary(window);
      const api = await get<SummaryJson>(`${served.base}${P}/summary?window=${window}`);
      assert.equal(api.status, 200, api.text);
      for (const [what, s] of [
        ['meter.summary', { ...summary, rate5xx: summary.errorRate5xx, rate4xx: summary.errorRate4xx }],
        ['/summary', { ...api.json, rate5xx: api.json.error_rate_5xx, rate4xx: api.json.error_rate_4xx }],
      ] as const) {
        assert.equal(s.count, all.count, `${window} ${what} count`);
        assert.equal(s.errors, all.errors, `${window} ${what} errors`);
        near(s.rate5xx, all.rate5xx, 1e-12, `${window} ${what} 5xx share`);
        near(s.rate4xx, all.rate4xx, 1e-12, `${window} ${what} 4xx share`);
        near(s.availability, all.availability, 1e-12, `${window} ${what} availability (a fraction)`);
      }
      near(summary.ratePerSecond, all.count / seconds, 1e-12, `${window} meter.summary rate`);
      near(api.json.rate_per_second, all.count / seconds, 1e-12, `${window} /summary rate`);
      for (const q of [0.5, 0.95, 0.99]) {
        const key = `p${Math.round(q * 100)}` as 'p50' | 'p95' | 'p99';
        near(summary.latencyMs[key], exactQuantile(all.sorted, q), BOUND, `${window} meter.summary ${key}`);
        near(api.json.latency_ms[key], exactQuantile(all.sorted, q), BOUND, `${window} /summary ${key}`);
      }
    });
  }
});
