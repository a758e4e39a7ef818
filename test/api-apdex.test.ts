import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apdexTargetsOf, createMeter, ErrorKind, ManualClock, startAlerts } from '../src/index.js';
import type { Alerts, Meter } from '../src/index.js';
import type { EndpointDetailJson, EndpointListJson, SummaryJson } from '../src/api/index.js';
import { rng } from './helpers/datasets.js';
import { get, schemaValidator, serveApi } from './helpers/api.js';
import type { Served } from './helpers/api.js';

/*
 * Apdex through every reader of the snapshot model: `/endpoints` (JSON, CSV, order_by), `/endpoints/{e}`
 * (counts, by_method, series), `/summary`, `meter.snapshot()` and `meter.summary()`, at the default T, a
 * per-endpoint T from a rules file, and `apdex_t_ms=`. Expected figures come from the latencies the test
 * sent; none lies within 1.5 % of any T or 4T used, so the sketch's one straddling bucket never matters.
 */

const P = '/api/v2/metrics';
const MIN = 60_000;
const T0 = Date.parse('2025-06-02T10:00:00Z');
const NOW = T0 + 30 * MIN + 10_000;
const GROUPS = [T0 + 5 * MIN + 7_000, T0 + 20 * MIN + 3_000];
const DEFAULT_T = 500;
const REPORTS_T = 2000;
const OVERRIDE_T = 250;
const CONFIG_T = 1000;
// Every T used, and 4T of each: generated latencies keep clear of them.
const LIMITS = [DEFAULT_T, REPORTS_T, OVERRIDE_T, CONFIG_T].flatMap((t) => [t, 4 * t]);

/** Log-uniform latencies in [lo, hi], per endpoint. */
const TRAFFIC = [
  { method: 'GET', route: '/fast', lo: 5, hi: 700, n: 70 },
  { method: 'GET', route: '/mixed', lo: 50, hi: 5000, n: 90 },
  { method: 'GET', route: '/slow', lo: 300, hi: 20_000, n: 60 },
  { method: 'GET', route: '/reports/{id}', lo: 200, hi: 15_000, n: 80 },
  { method: 'POST', route: '/reports/{id}', lo: 20, hi: 3000, n: 50 },
] as const;
// Requests only before the 15m window: no requests there.
const EMPTY = { method: 'GET', route: '/old', at: T0 + MIN, values: [10, 600, 3000] } as const;
const RECENT = GROUPS[1] - 1;

interface Sent {
  at: number;
  method: string;
  route: string;
  ms: number;
}

interface Expected {
  score: number | null;
  satisfied: number;
  tolerating: number;
  frustrated: number;
}

/** Apdex counted from the values themselves. */
function expected(values: readonly number[], t: number): Expected {
  const satisfied = values.filter((v) => v <= t).length;
  const tolerating = values.filter((v) => v > t && v <= 4 * t).length;
  const frustrated = values.length - satisfied - tolerating;
  const score = values.length === 0 ? null : (satisfied + tolerating / 2) / values.length;
  return { score, satisfied, tolerating, frustrated };
}

function near(actual: number | null | undefined, want: number | null, what: string): void {
  if (want === null) return assert.equal(actual, null, `${what}: expected null`);
  assert.ok(typeof actual === 'number', `${what}: ${String(actual)}, expected ${want}`);
  assert.ok(Math.abs(actual - want) <= 1e-12, `${what}: ${actual} vs ${want}`);
}

const key = (method: string, route: string) => `${method} ${route}`;

describe('Apdex in the metrics API and meter.snapshot()', () => {
  let meter: Meter;
  let served: Served;
  let alerts: Alerts;
  let validate: (name: string, value: unknown) => void;
  let dir: string;
  const sent: Sent[] = [];
  const valuesOf = (method: string, route: string, from = -Infinity) =>
    sent.filter((s) => s.method === method && s.route === route && s.at >= from).map((s) => s.ms);
  const endpointT = (method: string, route: string) =>
    route === '/reports/{id}' && method === 'GET' ? REPORTS_T : DEFAULT_T;

  before(async () => {
    const clock = new ManualClock(T0);
    meter = createMeter({ iniPath: false, env: {}, clock });
    const r = rng(12);
    const latency = (lo: number, hi: number): number => {
      for (;;) {
        const ms = Math.round(lo * (hi / lo) ** r() * 1000) / 1000;
        if (LIMITS.every((l) => Math.abs(ms - l) > 0.015 * l)) return ms;
      }
    };
    const old = meter.endpoint(EMPTY.method, EMPTY.route)!;
    clock.set(EMPTY.at);
    for (const ms of EMPTY.values) {
      meter.record(old, 200, ms, -1, 100, ErrorKind.None);
      sent.push({ at: EMPTY.at, method: EMPTY.method, route: EMPTY.route, ms });
    }
    for (const [g, at] of GROUPS.entries()) {
      clock.set(at);
      for (const t of TRAFFIC) {
        const ep = meter.endpoint(t.method, t.route)!;
        for (let i = 0; i < t.n + 13 * g; i++) {
          const ms = latency(t.lo, t.hi);
          meter.record(ep, 200, ms, -1, 100, ErrorKind.None);
          sent.push({ at, method: t.method, route: t.route, ms });
        }
      }
    }
    clock.set(NOW);
    dir = mkdtempSync(join(tmpdir(), 'apimeter-apdex-'));
    const rulesFile = join(dir, 'rules.yaml');
    writeFileSync(rulesFile, `apdex:\n  - endpoints: 'GET /reports/*'\n    t_ms: ${REPORTS_T}\n`);
    alerts = startAlerts(meter, { rulesFile, intervalSeconds: 0 });
    served = await serveApi({ meter, cacheSeconds: 0 });
    validate = schemaValidator((await get<Record<string, unknown>>(`${served.base}${P}/openapi.json`)).json);
  });
  after(async () => {
    await served?.close();
    await alerts?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('the generated traffic has every kind of request on most endpoints (the test can fail)', () => {
    const e = expected(valuesOf('GET', '/mixed'), DEFAULT_T);
    assert.ok(e.satisfied > 5 && e.tolerating > 5 && e.frustrated > 5, JSON.stringify(e));
    const reports = expected(valuesOf('GET', '/reports/{id}'), REPORTS_T);
    assert.ok(reports.satisfied > 5 && reports.tolerating > 5 && reports.frustrated > 5, JSON.stringify(reports));
    // The rules file's T changes the answer: at the default T the endpoint scores differently.
    assert.notEqual(expected(valuesOf('GET', '/reports/{id}'), DEFAULT_T).score, reports.score);
  });

  for (const window of ['all', '15m'] as const) {
    test(`GET /endpoints?window=${window}: apdex at each endpoint's T (rules file, else default), null without requests`, async () => {
      const from = window === 'all' ? -Infinity : RECENT;
      const res = await get<EndpointListJson>(`${served.base}${P}/endpoints?window=${window}&limit=1000`);
      assert.equal(res.status, 200, res.text);
      validate('EndpointList', res.json);
      assert.equal(res.json.endpoints.length, TRAFFIC.length + 1);
      for (const t of TRAFFIC) {
        const row = res.json.endpoints.find((e) => e.method === t.method && e.route === t.route)!;
        const T = endpointT(t.method, t.route);
        assert.equal(row.apdex_t_ms, T, `${key(t.method, t.route)} T`);
        near(row.apdex, expected(valuesOf(t.method, t.route, from), T).score, `${window} ${key(t.method, t.route)}`);
      }
      const old = res.json.endpoints.find((e) => e.route === EMPTY.route)!;
      assert.equal(old.apdex_t_ms, DEFAULT_T);
      near(old.apdex, expected(valuesOf(EMPTY.method, EMPTY.route, from), DEFAULT_T).score, `${window} old`);
      if (window === '15m') assert.equal(old.count, 0);
    });
  }

  test('GET /endpoints?format=csv: apdex and apdex_t_ms columns with the same figures', async () => {
    const res = await get(`${served.base}${P}/endpoints?window=15m&format=csv&limit=1000`);
    assert.equal(res.status, 200, res.text);
    const [header, ...rows] = res.text
      .trimEnd()
      .split('\r\n')
      .map((line) => line.split(','));
    const col = (name: string) => {
      const i = header.indexOf(name);
      assert.ok(i >= 0, `column ${name} in ${header.join(',')}`);
      return i;
    };
    assert.equal(col('apdex_t_ms'), col('apdex') + 1);
    assert.equal(rows.length, TRAFFIC.length + 1);
    for (const t of TRAFFIC) {
      const row = rows.find((r) => r[col('method')] === t.method && r[col('route')] === t.route)!;
      const T = endpointT(t.method, t.route);
      assert.equal(Number(row[col('apdex_t_ms')]), T);
      near(
        Number(row[col('apdex')]),
        expected(valuesOf(t.method, t.route, RECENT), T).score,
        `csv ${key(t.method, t.route)}`,
      );
    }
    const empty = rows.find((r) => r[col('route')] === EMPTY.route)!;
    assert.equal(empty[col('apdex')], '', 'no requests: empty cell');
  });

  for (const order of ['-apdex', 'apdex'] as const) {
    test(`GET /endpoints?order_by=${order}: sorted by score, the endpoint without requests last`, async () => {
      const res = await get<EndpointListJson>(`${served.base}${P}/endpoints?window=15m&order_by=${order}`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.order_by, order);
      const want = TRAFFIC.map((t) => ({
        k: key(t.method, t.route),
        score: expected(valuesOf(t.method, t.route, RECENT), endpointT(t.method, t.route)).score!,
      }))
        .sort((a, b) => (order === '-apdex' ? b.score - a.score : a.score - b.score))
        .map((x) => x.k);
      // Distinct scores, so the order is the scores' alone.
      assert.equal(
        new Set(TRAFFIC.map((t) => expected(valuesOf(t.method, t.route, RECENT), endpointT(t.method, t.route)).score))
          .size,
        TRAFFIC.length,
      );
      assert.deepEqual(
        res.json.endpoints.map((e) => key(e.method, e.route)),
        [...want, key(EMPTY.method, EMPTY.route)],
      );
    });
  }

  test('GET /endpoints/{endpoint}: apdex with its counts and T, by method, and per series point', async () => {
    const route = '/reports/{id}';
    const one = await get<EndpointDetailJson>(
      `${served.base}${P}/endpoints/${encodeURIComponent(route)}?window=all&method=GET`,
    );
    assert.equal(one.status, 200, one.text);
    validate('EndpointDetail', one.json);
    const e = expected(valuesOf('GET', route), REPORTS_T);
    assert.equal(one.json.apdex_t_ms, REPORTS_T);
    near(one.json.apdex, e.score, 'GET detail score');
    assert.deepEqual(one.json.apdex_counts, {
      satisfied: e.satisfied,
      tolerating: e.tolerating,
      frustrated: e.frustrated,
    });
    // The series: one point per minute, each slot's own Apdex at the answer's T.
    let points = 0;
    for (const p of one.json.series.points) {
      const start = Date.parse(p.start);
      const inSlot = sent.filter((s) => s.method === 'GET' && s.route === route && s.at >= start && s.at < start + MIN);
      assert.equal(p.count, inSlot.length, `point ${p.start} count`);
      near(
        p.apdex,
        expected(
          inSlot.map((s) => s.ms),
          REPORTS_T,
        ).score,
        `point ${p.start} apdex`,
      );
      if (inSlot.length > 0) points++;
    }
    assert.equal(points, GROUPS.length, 'every group in its own point');

    // All methods merged: the strictest of their Ts; by_method gives each its own.
    const merged = await get<EndpointDetailJson>(
      `${served.base}${P}/endpoints/${encodeURIComponent(route)}?window=all`,
    );
    assert.equal(merged.status, 200, merged.text);
    validate('EndpointDetail', merged.json);
    const all = [...valuesOf('GET', route), ...valuesOf('POST', route)];
    const m = expected(all, DEFAULT_T);
    assert.equal(merged.json.apdex_t_ms, DEFAULT_T);
    near(merged.json.apdex, m.score, 'merged score');
    assert.deepEqual(merged.json.apdex_counts, {
      satisfied: m.satisfied,
      tolerating: m.tolerating,
      frustrated: m.frustrated,
    });
    for (const b of merged.json.by_method) {
      assert.equal(b.apdex_t_ms, endpointT(b.method, route), `${b.method} T`);
      near(b.apdex, expected(valuesOf(b.method, route), endpointT(b.method, route)).score, `${b.method} by_method`);
    }
    assert.equal(merged.json.by_method.length, 2);
  });

  test('GET /summary: overall Apdex at the default T from the merged sketch; top entries at their own T', async () => {
    const res = await get<SummaryJson>(`${served.base}${P}/summary?window=all&top=10`);
    assert.equal(res.status, 200, res.text);
    validate('Summary', res.json);
    const e = expected(
      sent.map((s) => s.ms),
      DEFAULT_T,
    );
    assert.equal(res.json.apdex_t_ms, DEFAULT_T);
    near(res.json.apdex, e.score, 'summary score');
    assert.deepEqual(res.json.apdex_counts, {
      satisfied: e.satisfied,
      tolerating: e.tolerating,
      frustrated: e.frustrated,
    });
    assert.equal(res.json.top.by_count.length, TRAFFIC.length + 1);
    for (const entry of res.json.top.by_count) {
      const T = endpointT(entry.method, entry.route);
      assert.equal(entry.apdex_t_ms, T);
      near(
        entry.apdex,
        expected(valuesOf(entry.method, entry.route), T).score,
        `top ${key(entry.method, entry.route)}`,
      );
    }
  });

  test('apdex_t_ms= overrides every T for the request: /endpoints, /endpoints/{e}, /summary', async () => {
    const list = await get<EndpointListJson>(`${served.base}${P}/endpoints?window=all&apdex_t_ms=${OVERRIDE_T}`);
    assert.equal(list.status, 200, list.text);
    for (const t of TRAFFIC) {
      const row = list.json.endpoints.find((e) => e.method === t.method && e.route === t.route)!;
      assert.equal(row.apdex_t_ms, OVERRIDE_T);
      near(row.apdex, expected(valuesOf(t.method, t.route), OVERRIDE_T).score, `override ${key(t.method, t.route)}`);
    }
    const one = await get<EndpointDetailJson>(
      `${served.base}${P}/endpoints/${encodeURIComponent('GET /reports/{id}')}?window=all&apdex_t_ms=${OVERRIDE_T}`,
    );
    assert.equal(one.status, 200, one.text);
    const e = expected(valuesOf('GET', '/reports/{id}'), OVERRIDE_T);
    assert.equal(one.json.apdex_t_ms, OVERRIDE_T);
    assert.deepEqual(one.json.apdex_counts, {
      satisfied: e.satisfied,
      tolerating: e.tolerating,
      frustrated: e.frustrated,
    });
    const summary = await get<SummaryJson>(`${served.base}${P}/summary?window=all&apdex_t_ms=${OVERRIDE_T}`);
    assert.equal(summary.status, 200, summary.text);
    assert.equal(summary.json.apdex_t_ms, OVERRIDE_T);
    near(
      summary.json.apdex,
      expected(
        sent.map((s) => s.ms),
        OVERRIDE_T,
      ).score,
      'override summary',
    );
    for (const entry of summary.json.top.by_count) assert.equal(entry.apdex_t_ms, OVERRIDE_T);
  });

  test('a bad apdex_t_ms is a 400 naming the parameter', async () => {
    for (const bad of ['0', '-5', 'abc', '1e3', '3600001', '']) {
      for (const path of ['/endpoints', '/endpoints/%2Ffast', '/summary']) {
        const res = await get<{ parameter: string }>(`${served.base}${P}${path}?apdex_t_ms=${encodeURIComponent(bad)}`);
        assert.equal(res.status, 400, `${path} apdex_t_ms=${bad}: ${res.text}`);
        assert.equal(res.json.parameter, 'apdex_t_ms');
      }
    }
  });

  test('meter.snapshot() and meter.summary(): the same figures; default T, or per endpoint with apdexTargetsOf', () => {
    const plain = meter.snapshot('all');
    const resolved = meter.snapshot('all', { apdexTMs: apdexTargetsOf(meter) });
    for (const t of TRAFFIC) {
      const a = plain.find((s) => s.method === t.method && s.route === t.route)!;
      const ea = expected(valuesOf(t.method, t.route), DEFAULT_T);
      assert.deepEqual(a.apdex, { tMs: DEFAULT_T, ...ea }, `snapshot ${key(t.method, t.route)} at the default T`);
      const b = resolved.find((s) => s.method === t.method && s.route === t.route)!;
      const T = endpointT(t.method, t.route);
      assert.deepEqual(
        b.apdex,
        { tMs: T, ...expected(valuesOf(t.method, t.route), T) },
        `resolved ${key(t.method, t.route)}`,
      );
    }
    const empty = meter.snapshot('15m').find((s) => s.route === EMPTY.route)!;
    assert.equal(empty.count, 0);
    assert.deepEqual(empty.apdex, { score: null, tMs: DEFAULT_T, satisfied: 0, tolerating: 0, frustrated: 0 });
    const one = meter.endpointSnapshot('GET', '/mixed', 'all', { apdexTMs: OVERRIDE_T })!;
    assert.deepEqual(one.apdex, { tMs: OVERRIDE_T, ...expected(valuesOf('GET', '/mixed'), OVERRIDE_T) });
    const summary = meter.summary('all');
    assert.deepEqual(summary.apdex, {
      tMs: DEFAULT_T,
      ...expected(
        sent.map((s) => s.ms),
        DEFAULT_T,
      ),
    });
  });
});

test('without alerts every endpoint uses [alerts] apdex_t_ms', async () => {
  const clock = new ManualClock(T0);
  const meter = createMeter({ iniPath: false, env: { APIMETER__ALERTS__APDEX_T_MS: String(CONFIG_T) }, clock });
  const values = [10, 900, 1100, 3000, 4100, 9000, 30];
  const ep = meter.endpoint('GET', '/reports/{id}')!;
  for (const ms of values) meter.record(ep, 200, ms, -1, -1, ErrorKind.None);
  clock.set(T0 + 10_000);
  const served = await serveApi({ meter, cacheSeconds: 0 });
  try {
    const e = expected(values, CONFIG_T);
    assert.deepEqual(e, { score: (3 + 2 / 2) / 7, satisfied: 3, tolerating: 2, frustrated: 2 });
    const list = await get<EndpointListJson>(`${served.base}${P}/endpoints?window=all`);
    assert.equal(list.json.endpoints[0].apdex_t_ms, CONFIG_T);
    near(list.json.endpoints[0].apdex, e.score, 'config T');
    const summary = await get<SummaryJson>(`${served.base}${P}/summary?window=all`);
    assert.equal(summary.json.apdex_t_ms, CONFIG_T);
    near(summary.json.apdex, e.score, 'config T summary');
    assert.equal(meter.snapshot('all')[0].apdex.tMs, CONFIG_T);
    assert.deepEqual(meter.snapshot('all', { apdexTMs: apdexTargetsOf(meter) })[0].apdex, { tMs: CONFIG_T, ...e });
  } finally {
    await served.close();
  }
});
