import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMeter, ErrorKind, LATENCY_SKETCH, ManualClock, relativeErrorBound, windowTally } from '../src/index.js';
import type { Meter, Tally } from '../src/index.js';
import { MemoryHistory } from '../src/api/index.js';
import type { SummaryJson } from '../src/api/index.js';
import { exactQuantile } from './helpers/datasets.js';
import { get, schemaValidator, serveApi } from './helpers/api.js';
import type { Served } from './helpers/api.js';

/*
 * The whole-API series of GET /summary: every point is checked against the requests the test itself
 * sent in that slot (all endpoints together): count, rate, 5xx share, and p50/p95/p99 against the exact
 * quantiles of the slot's durations within the sketch's bound.
 */

const P = '/api/v2/metrics';
const SEC = 1000;
const MIN = 60 * SEC;
const BOUND = relativeErrorBound(LATENCY_SKETCH);

interface Sent {
  at: number;
  durationMs: number;
  status: number;
}

/** Asserts each point against the requests sent in [start, start + step), and the points' continuity. */
function checkSeries(body: SummaryJson, sent: readonly Sent[], stepSeconds: number): void {
  const { series } = body;
  assert.equal(series.step_seconds, stepSeconds);
  assert.ok(series.points.length > 0);
  const stepMs = stepSeconds * SEC;
  let total = 0;
  let busy = 0;
  series.points.forEach((p, i) => {
    const start = Date.parse(p.start);
    if (i > 0)
      assert.equal(start - Date.parse(series.points[i - 1].start), stepMs, `point ${i} follows the one before`);
    const here = sent.filter((s) => s.at >= start && s.at < start + stepMs);
    const durations = here.map((s) => s.durationMs).sort((a, b) => a - b);
    assert.equal(p.count, here.length, `count at ${p.start}`);
    assert.ok(Math.abs(p.rate_per_second - here.length / stepSeconds) < 1e-9, `rate at ${p.start}`);
    total += p.count;
    if (here.length === 0) {
      assert.equal(p.p50, null);
      assert.equal(p.p99, null);
      assert.equal(p.error_rate_5xx, 0);
      return;
    }
    busy++;
    const fives = here.filter((s) => s.status >= 500).length;
    assert.ok(Math.abs(p.error_rate_5xx - fives / here.length) < 1e-9, `5xx share at ${p.start}`);
    for (const q of [0.5, 0.95, 0.99]) {
      const key = `p${Math.round(q * 100)}` as 'p50' | 'p95' | 'p99';
      const want = exactQuantile(durations, q);
      const got = p[key];
      assert.ok(got !== null && Math.abs(got - want) <= BOUND * want + 1e-9, `${key} at ${p.start}: ${got} vs ${want}`);
    }
  });
  assert.ok(busy >= 3, `several slots carry traffic (${busy})`);
  assert.equal(total, body.count, 'the points add up to the total');
}

/** A tally of these requests, built by a scratch meter. */
function tallyOf(requests: readonly Sent[]): Tally {
  const m = createMeter({ iniPath: false, env: {} });
  const ep = m.endpoint('GET', '/x')!;
  for (const r of requests) m.record(ep, r.status, r.durationMs, -1, -1, ErrorKind.None);
  return windowTally(ep, 'all', m.clock.now(), m.startedAt)[0];
}

describe('summary series from the ring', () => {
  const NOW = Date.parse('2025-03-03T12:00:05Z');
  const T0 = NOW - 20 * MIN - 5 * SEC;
  const sent: Sent[] = [];
  let served: Served;
  let validate: (name: string, value: unknown) => void;
  let meter: Meter;

  before(async () => {
    const clock = new ManualClock(T0);
    meter = createMeter({ iniPath: false, env: {}, clock });
    const eps = ['/a', '/b', '/c'].map((r) => meter.endpoint('GET', r)!);
    // Traffic in the last 4.5 minutes, in most 10-second slots, on all three endpoints, and some older
    // traffic (12 minutes back) that only the 15m and 1h windows see.
    const times: number[] = [];
    for (let k = 0; k < 27; k++) if (k % 5 !== 3) times.push(NOW - 4 * MIN - 35 * SEC + k * 10 * SEC + 3 * SEC);
    for (let k = 0; k < 6; k++) times.push(NOW - 12 * MIN + k * 25 * SEC);
    times.sort((a, b) => a - b); // the clock only moves forward
    times.forEach((at, k) => {
      clock.set(at);
      eps.forEach((ep, e) => {
        const n = 1 + ((k + e) % 4);
        for (let i = 0; i < n; i++) {
          const durationMs = 3 + ((k * 13 + e * 29 + i * 7) % 90) + e * 40;
          const status = (k + i + e) % 6 === 0 ? 503 : 200;
          meter.record(ep, status, durationMs, -1, -1, ErrorKind.None);
          sent.push({ at, durationMs, status });
        }
      });
    });
    clock.set(NOW);
    served = await serveApi({ meter, cacheSeconds: 0 });
    validate = schemaValidator((await get<Record<string, unknown>>(`${served.base}${P}/openapi.json`)).json);
  });
  after(() => served?.close());

  // The ring's slots: 10 s in the fine ring (1m), 60 s in the coarse one (5m, 15m, 1h; started 20 minutes ago).
  for (const [window, step, points] of [
    ['1m', 10, 6],
    ['5m', 60, 5],
    ['15m', 60, 15],
    ['1h', 60, 21],
  ] as const) {
    test(`window=${window}: one point per ${step}-second slot, all endpoints merged`, async () => {
      const res = await get<SummaryJson>(`${served.base}${P}/summary?window=${window}`);
      assert.equal(res.status, 200, res.text);
      validate('Summary', res.json);
      assert.equal(res.json.series.points.length, points);
      checkSeries(res.json, sent, step);
    });
  }
});

describe('summary series from history and the ring', () => {
  const STEP = 5 * MIN;
  const NOW = Date.parse('2025-03-03T12:00:00Z');
  const SPLIT = NOW - 10 * MIN;
  const sent: Sent[] = [];
  let served: Served;
  let validate: (name: string, value: unknown) => void;

  before(async () => {
    const history = new MemoryHistory(STEP);
    for (let start = NOW - 30 * 60 * MIN, k = 0; start < SPLIT; start += STEP, k++) {
      if (k % 9 === 4) continue; // some intervals without traffic
      for (const [e, route] of ['/a', '/b'].entries()) {
        if (route === '/b' && k % 3 !== 0) continue;
        const requests: Sent[] = [];
        for (let i = 0; i < 2 + ((k + e) % 3); i++) {
          requests.push({
            at: start,
            durationMs: 5 + ((k * 17 + i * 11 + e * 31) % 120),
            status: i === 0 && k % 4 === e ? 500 : 200,
          });
        }
        history.add(start, 'GET', route, tallyOf(requests));
        sent.push(...requests);
      }
    }
    const clock = new ManualClock(NOW - 30 * MIN);
    const meter = createMeter({ iniPath: false, env: {}, clock });
    const eps = ['/a', '/c'].map((r) => meter.endpoint('GET', r)!);
    for (const at of [NOW - 8 * MIN, NOW - 6 * MIN + 30 * SEC, NOW - 2 * MIN, NOW]) {
      clock.set(at);
      eps.forEach((ep, e) => {
        for (let i = 0; i < 3; i++) {
          const durationMs = 20 + i * 9 + e * 50;
          const status = i === 2 && e === 1 ? 502 : 200;
          meter.record(ep, status, durationMs, -1, -1, ErrorKind.None);
          sent.push({ at, durationMs, status });
        }
      });
    }
    served = await serveApi({ meter, history, cacheSeconds: 0 });
    validate = schemaValidator((await get<Record<string, unknown>>(`${served.base}${P}/openapi.json`)).json);
  });
  after(() => served?.close());

  test('window=24h: one point per stored interval, history and ring merged, every endpoint', async () => {
    const res = await get<SummaryJson>(`${served.base}${P}/summary?window=24h`);
    assert.equal(res.status, 200, res.text);
    validate('Summary', res.json);
    assert.equal(res.json.range.source, 'memory+history');
    const from = Date.parse(res.json.series.points[0].start);
    assert.equal(from, NOW - 24 * 60 * MIN);
    assert.equal(Date.parse(res.json.series.points.at(-1)!.start), NOW, 'the current interval is the last point');
    checkSeries(res.json, sent, STEP / SEC);
  });
});
