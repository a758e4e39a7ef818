import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMeter, ErrorKind, LATENCY_SKETCH, ManualClock, relativeErrorBound, windowTally } from '../src/index.js';
import type { Tally } from '../src/index.js';
import { MemoryHistory } from '../src/api/index.js';
import type { EndpointDetailJson, EndpointListJson, HistorySource, SummaryJson } from '../src/api/index.js';
import { exactQuantile } from './helpers/datasets.js';
import { get, schemaValidator, serveApi } from './helpers/api.js';
import type { Served } from './helpers/api.js';

const P = '/api/v2/metrics';
const MIN = 60_000;
const STEP = 5 * MIN;
const NOW = Date.parse('2025-03-03T12:00:00Z');
const SPLIT = NOW - 10 * MIN;
const BOUND = relativeErrorBound(LATENCY_SKETCH);

/** A tally holding these durations (status 200, or 500 for the ones given), built by a scratch meter. */
function tallyOf(durations: number[], failing = 0): Tally {
  const m = createMeter({ iniPath: false, env: {} });
  const ep = m.endpoint('GET', '/x')!;
  durations.forEach((d, i) => m.record(ep, i < failing ? 500 : 200, d, -1, -1, ErrorKind.None));
  return windowTally(ep, 'all', m.clock.now(), m.startedAt)[0];
}

interface Stored {
  start: number;
  route: string;
  durations: number[];
}

describe('history: windows and ranges older than memory', () => {
  let served: Served;
  let validate: (name: string, value: unknown) => void;
  const stored: Stored[] = [];
  const live: { at: number; durationMs: number }[] = [];

  before(async () => {
    const history = new MemoryHistory(STEP);
    for (let start = NOW - 48 * 60 * MIN, k = 0; start < SPLIT; start += STEP, k++) {
      const durations = [10 + (k % 7), 30 + (k % 11)];
      stored.push({ start, route: '/a', durations });
      history.add(start, 'GET', '/a', tallyOf(durations));
      if (k % 12 === 0) {
        stored.push({ start, route: '/old', durations: [100] });
        history.add(start, 'GET', '/old', tallyOf([100], 1));
      }
    }
    const clock = new ManualClock(NOW - 30 * MIN);
    const meter = createMeter({ iniPath: false, env: {}, clock });
    const ep = meter.endpoint('GET', '/a')!;
    for (const at of [NOW - 5 * MIN, NOW - MIN, NOW]) {
      clock.set(at);
      for (let i = 0; i < 5; i++) {
        meter.record(ep, 200, 20 + i, -1, -1, ErrorKind.None);
        live.push({ at, durationMs: 20 + i });
      }
    }
    served = await serveApi({ meter, history, cacheSeconds: 0 });
    validate = schemaValidator((await get<Record<string, unknown>>(`${served.base}${P}/openapi.json`)).json);
  });
  after(() => served?.close());

  const fromHistory = (from: number, to: number, route = '/a') =>
    stored.filter((s) => s.route === route && s.start >= from && s.start < to).flatMap((s) => s.durations);

  test('window=24h merges history before the persisted point with the ring after it, nothing twice', async () => {
    const res = await get<EndpointListJson>(`${served.base}${P}/endpoints?window=24h&order_by=route`);
    assert.equal(res.status, 200, res.text);
    validate('EndpointList', res.json);
    assert.equal(res.json.range.source, 'memory+history');
    assert.equal(res.json.range.window, '24h');
    const [a, old] = res.json.endpoints;
    const durations = [...fromHistory(NOW - 24 * 60 * MIN, SPLIT), ...live.map((l) => l.durationMs)].sort(
      (x, y) => x - y,
    );
    assert.equal(a.route, '/a');
    assert.equal(a.count, durations.length);
    for (const q of [0.5, 0.95, 0.99]) {
      const key = `p${Math.round(q * 100)}` as 'p50';
      const want = exactQuantile(durations, q);
      assert.ok(Math.abs(a.latency_ms[key]! - want) <= BOUND * want + 1e-9, `${key} ${a.latency_ms[key]} vs ${want}`);
    }
    assert.equal(old.route, '/old', 'an endpoint only history knows is listed');
    assert.equal(old.count, fromHistory(NOW - 24 * 60 * MIN, SPLIT, '/old').length);
    assert.equal(old.status_classes['5xx'], old.count);
  });

  test('start/end older than the ring is read from history alone', async () => {
    const from = NOW - 3 * 60 * MIN;
    const to = NOW - 2 * 60 * MIN;
    const res = await get<EndpointListJson>(
      `${served.base}${P}/endpoints?start=${new Date(from).toISOString()}&end=${new Date(to).toISOString()}&search=/a`,
    );
    validate('EndpointList', res.json);
    assert.equal(res.json.range.source, 'history');
    assert.equal(res.json.endpoints[0].count, fromHistory(from, to).length);
  });

  test('detail: a series over 24h at the store step, adding up to the total', async () => {
    const res = await get<EndpointDetailJson>(`${served.base}${P}/endpoints/%2Fa?window=24h`);
    validate('EndpointDetail', res.json);
    assert.equal(res.json.series.step_seconds, 300);
    assert.equal(res.json.series.points.length, 289);
    assert.equal(
      res.json.series.points.reduce((n, p) => n + p.count, 0),
      res.json.count,
    );
    const last = res.json.series.points.at(-1)!;
    assert.equal(last.start, new Date(NOW).toISOString());
    assert.equal(last.count, live.filter((l) => l.at >= NOW).length);
  });

  test('summary: the previous 24h come from history too', async () => {
    const res = await get<SummaryJson>(`${served.base}${P}/summary?window=24h`);
    validate('Summary', res.json);
    const prev = res.json.comparison.previous!;
    assert.equal(res.json.comparison.reason, null);
    const want =
      fromHistory(NOW - 48 * 60 * MIN, NOW - 24 * 60 * MIN).length +
      fromHistory(NOW - 48 * 60 * MIN, NOW - 24 * 60 * MIN, '/old').length;
    assert.equal(prev.count, want);
    assert.equal(prev.from, new Date(NOW - 48 * 60 * MIN).toISOString());
    assert.equal(res.json.comparison.change!.count.absolute, res.json.count - want);
    // The 1h window's previous hour is older than the ring: with a store it is read from history.
    const hour = await get<SummaryJson>(`${served.base}${P}/summary?window=1h`);
    validate('Summary', hour.json);
    assert.notEqual(hour.json.comparison.previous, null, hour.json.comparison.reason ?? '');
  });

  test('a failing store is a 503 with a detail, not a 500', async () => {
    const meter = createMeter({ iniPath: false, env: {} });
    const broken: HistorySource = {
      name: 'postgres',
      persistedUntil: () => 0,
      endpoints: () => Promise.reject(new Error('connection refused')),
      series: () => Promise.reject(new Error('connection refused')),
    };
    const s = await serveApi({ meter, history: broken });
    try {
      const res = await get<{ detail: string }>(`${s.base}${P}/endpoints?window=7d`);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '10');
      assert.equal(res.json.detail, 'the history store (postgres) failed: connection refused');
    } finally {
      await s.close();
    }
  });
});
