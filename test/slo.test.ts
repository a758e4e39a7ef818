import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createMeter, ErrorKind, LATENCY_SKETCH, ManualClock, Sketch, Tally, statusClassOf } from '../src/index.js';
import { MemoryHistory } from '../src/api/history.js';
import { median } from '../src/alerts/anomaly.js';
import { compileRules } from '../src/alerts/rules.js';
import type { RuleDefaults } from '../src/alerts/rules.js';
import { startAlerts } from '../src/alerts/start.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { StoreHistory } from '../src/store/history.js';
import type { SnapshotRow, SnapshotStore } from '../src/store/store.js';
import { openPostgresStore } from '../src/store/postgres.js';
import pg from 'pg';

const DEFAULTS: RuleDefaults = {
  defaultRules: false,
  errorRateThreshold: 0.05,
  p95ThresholdMs: 1000,
  authFailureThreshold: 0.2,
  anomalyThreshold: 6,
  anomalyMinRequests: 50,
};
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const indexer = new Sketch(LATENCY_SKETCH);

/** A tally of requests given as [status, ms] pairs, built without a meter. */
function tallyOf(requests: [number, number][]): Tally {
  const t = new Tally();
  for (const [status, ms] of requests) t.add(status, statusClassOf(status), -1, ms, indexer.indexOf(ms), -1, -1);
  return t;
}

describe('SLO budgets and burn rates from the rings, against the requests the test sent', () => {
  const NOW = Date.parse('2025-06-02T10:00:30Z');
  const clock = new ManualClock(NOW - 59 * MIN);
  const meter = createMeter({ iniPath: false, env: {}, clock });
  const a = meter.endpoint('GET', '/api/a')!;
  const b = meter.endpoint('POST', '/api/b')!;
  const other = meter.endpoint('GET', '/other')!;
  const sent: { at: number; status: number; ms: number }[] = [];
  for (let m = 59; m >= 0; m--) {
    clock.set(NOW - m * MIN);
    for (let i = 0; i < 50; i++) {
      // Minute m: a 5xx every 7th request in the last 10 minutes, every 40th before; some 4xx and 499s.
      const status = i % (m < 10 ? 7 : 40) === 0 ? 503 : i % 9 === 0 ? 404 : i % 23 === 0 ? 499 : 200;
      const ms = i % 10 === 0 ? 900 : 40;
      meter.record(i % 2 === 0 ? a : b, status, ms, -1, -1, status === 499 ? ErrorKind.Aborted : ErrorKind.None);
      sent.push({ at: clock.now(), status, ms });
      meter.record(other, 500, 5, -1, -1, ErrorKind.None); // not in the SLOs
    }
  }
  clock.set(NOW);
  const rules = compileRules(
    {
      slos: [
        { name: 'avail', endpoints: ['* /api/*'], sli: 'availability', objective: 99, period: '1h' },
        {
          name: 'strict',
          endpoints: '* /api/*',
          sli: 'availability',
          objective: 99,
          period: '1h',
          count_4xx_as_bad: true,
        },
        { name: 'fast', endpoints: '* /api/*', sli: 'latency', threshold_ms: 300, objective: 95, period: '1h' },
      ],
    },
    DEFAULTS,
  );
  // The ring's window of W: the minute holding now and the whole minutes before it, W / 1 min in all.
  const inWindow = (w: number) => sent.filter((s) => s.at >= Math.floor(NOW / MIN) * MIN - (w / MIN - 1) * MIN);

  test('availability: budget, remaining share, burn per window and time to exhaustion', async () => {
    const alerts = startAlerts(meter, { rules, intervalSeconds: 0 });
    await alerts.evaluateNow();
    const [avail, strict, fast] = alerts.slos();
    const total = sent.length;
    const bad = sent.filter((s) => s.status >= 500).length;
    assert.equal(avail.total, total);
    assert.equal(avail.bad, bad);
    assert.ok(Math.abs(avail.budget.total - total * 0.01) < 1e-9);
    assert.ok(Math.abs(avail.budget.remainingShare - (1 - bad / (total * 0.01))) < 1e-9);
    // 1h period: windows scale by 1/720 and are floored at 1 minute; the longest (3d) becomes 6m.
    const burn = new Map(avail.burnRates.map((r) => [r.windowMs, r.burnRate]));
    for (const w of [MIN, 2 * MIN, 6 * MIN]) {
      const inside = inWindow(w);
      const expected = inside.filter((s) => s.status >= 500).length / inside.length / 0.01;
      assert.ok(Math.abs(burn.get(w)! - expected) < 1e-9, `window ${w / MIN}m: ${burn.get(w)} vs ${expected}`);
    }
    assert.ok(avail.timeToExhaustionSeconds === 0 || avail.budget.remainingShare > 0);
    // 4xx counted as bad, 499 not (it was not asked for).
    const strictBad = sent.filter((s) => s.status >= 500 || (s.status >= 400 && s.status !== 499)).length;
    assert.equal(strict.bad, strictBad);
    // Latency: 900 ms requests are above 300 ms, 40 ms ones below (far from the threshold: exact).
    assert.equal(fast.bad, sent.filter((s) => s.ms > 300).length);
    assert.ok(Math.abs(fast.thresholdRelativeError! - 0.0054) < 0.001);
    await alerts.close();
  });

  test('the page-level burn alert fires when both windows burn faster than 14.4x', async () => {
    const alerts = startAlerts(meter, { rules, intervalSeconds: 0 });
    await alerts.evaluateNow();
    const avail = alerts.slos()[0];
    const page = avail.alerts[0];
    const longInside = inWindow(MIN); // 1h / 720 → 1m (floored)
    const longBurn = longInside.filter((s) => s.status >= 500).length / longInside.length / 0.01;
    assert.equal(page.burning, longBurn > 14.4);
    const firing = alerts.instances().filter((i) => i.endpoint === 'avail' && i.state === 'firing');
    assert.equal(firing.length, avail.alerts.filter((x) => x.burning).length);
    await alerts.close();
  });
});

const dir = mkdtempSync(join(tmpdir(), 'apimeter-slo-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const PG_URL = process.env.APIMETER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const STORES: [string, () => Promise<{ store: SnapshotStore; cleanup: () => Promise<void> }>][] = [
  [
    'SQLite',
    async () => {
      const store = await openSqliteStore(join(dir, 'slo.db'));
      return { store, cleanup: () => store.close() };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const schema = `apimeter_slo_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
      const store = await openPostgresStore({ url: PG_URL, schema, max: 2 });
      return {
        store,
        cleanup: async () => {
          await store.close();
          const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
          await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await pool.end();
        },
      };
    },
  ],
];

for (const [kind, open] of STORES)
  describe(`SLO over 30 days stored in real ${kind}`, () => {
    const NOW = Date.parse('2025-06-30T00:00:00Z');

    test('period budget, long burn windows, retroactive range and burn-down', async () => {
      const { store, cleanup } = await open();
      const rows: SnapshotRow[] = [];
      const hours: { start: number; total: number; bad: number; slow: number }[] = [];
      for (let h = 1; h <= 30 * 24; h++) {
        const start = NOW - h * HOUR;
        const total = 100 + (h % 13);
        const bad = h % 17 === 0 ? 5 : h % 5 === 0 ? 1 : 0;
        const slow = h % 7 === 0 ? 3 : 0;
        const requests: [number, number][] = [];
        for (let i = 0; i < total; i++) requests.push([i < bad ? 500 : 200, i >= total - slow ? 800 : 50]);
        rows.push({
          instance: 'i1',
          method: 'GET',
          route: '/api/x',
          bucketStart: start,
          bucketSeconds: 3600,
          tally: tallyOf(requests),
        });
        hours.push({ start, total, bad, slow });
      }
      await store.writeSnapshot(rows);
      const history = new StoreHistory(store, { stepMs: HOUR });
      await history.refresh();
      const meter = createMeter({ iniPath: false, env: {}, clock: new ManualClock(NOW) });
      const rules = compileRules(
        {
          slos: [
            { name: 'avail', sli: 'availability', objective: 99.5 },
            { name: 'fast', sli: 'latency', threshold_ms: 300, objective: 99 },
          ],
        },
        DEFAULTS,
      );
      const alerts = startAlerts(meter, { rules, history, intervalSeconds: 0 });
      await alerts.evaluateNow();
      const [avail, fast] = alerts.slos();
      const sum = (list: typeof hours, f: (h: (typeof hours)[number]) => number) => list.reduce((s, h) => s + f(h), 0);
      const total = sum(hours, (h) => h.total);
      const bad = sum(hours, (h) => h.bad);
      assert.equal(avail.total, total);
      assert.equal(avail.bad, bad);
      assert.equal(avail.coveredSeconds, 30 * 86_400);
      assert.equal(avail.source, 'history');
      assert.ok(Math.abs(avail.budget.remainingShare - (1 - bad / (total * 0.005))) < 1e-9);
      assert.equal(
        fast.bad,
        sum(hours, (h) => h.slow),
      );
      const burn = new Map(avail.burnRates.map((r) => [r.window, r.burnRate]));
      for (const [name, ms] of [
        ['6h', 6 * HOUR],
        ['1d', DAY],
        ['3d', 3 * DAY],
        ['2h', 2 * HOUR],
      ] as const) {
        const inside = hours.filter((h) => h.start >= NOW - ms);
        const expected = sum(inside, (h) => h.bad) / sum(inside, (h) => h.total) / 0.005;
        assert.ok(Math.abs(burn.get(name)! - expected) < 1e-9, `${name}: ${burn.get(name)} vs ${expected}`);
      }
      // The 1h window is the ring's, which has nothing after a restart without traffic.
      assert.equal(burn.get('1h'), null);

      // Retroactive: any past range the store holds.
      const from = NOW - 20 * DAY;
      const to = NOW - 10 * DAY;
      const retro = (await alerts.slo('avail', { from, to }))!;
      const inside = hours.filter((h) => h.start >= from && h.start < to);
      assert.equal(
        retro.status.total,
        sum(inside, (h) => h.total),
      );
      assert.equal(
        retro.status.bad,
        sum(inside, (h) => h.bad),
      );
      assert.equal(retro.burnDown.length, 30);
      assert.equal(
        sum(retro.burnDown as never, (p: { total: number }) => p.total),
        sum(inside, (h) => h.total),
      );
      const last = retro.burnDown[retro.burnDown.length - 1];
      assert.ok(Math.abs(last.remainingShare - retro.status.budget.remainingShare) < 1e-9);
      assert.equal(await alerts.slo('nope'), null);
      await alerts.close();
      await cleanup();
    });
  });

describe('traffic anomaly against a baseline of the same hour over 7 days', () => {
  const NOW = Date.parse('2025-06-10T14:20:00Z');
  const hour = Math.floor(NOW / HOUR) * HOUR;
  const history = new MemoryHistory(HOUR);
  // Requests in this hour on each of the last 7 days.
  const daily = [3600, 3960, 3240, 3780, 3420, 3600, 3700];
  daily.forEach((n, d) => {
    const reqs: [number, number][] = Array.from({ length: n }, () => [200, 20]);
    history.add(hour - (d + 1) * DAY, 'GET', '/busy', tallyOf(reqs));
    history.add(hour - (d + 1) * DAY, 'GET', '/silent', tallyOf(reqs));
  });

  test('robust z-scores of a spike, a normal endpoint and a silent one', async () => {
    const clock = new ManualClock(NOW - 14 * MIN);
    const meter = createMeter({ iniPath: false, env: {}, clock });
    const busy = meter.endpoint('GET', '/busy')!;
    const sentPerMinute = 3 * 60; // 3 req/s: three times the usual 1 req/s
    for (let m = 14; m >= 0; m--) {
      clock.set(NOW - m * MIN);
      for (let i = 0; i < sentPerMinute; i++) meter.record(busy, 200, 20, -1, -1, ErrorKind.None);
    }
    const rules = compileRules(
      { rules: [{ name: 'A', signal: 'traffic_anomaly', window: '15m', above: 6, min_requests: 50 }] },
      DEFAULTS,
    );
    const alerts = startAlerts(meter, { rules, history, intervalSeconds: 0 });
    await alerts.evaluateNow();
    const byEndpoint = new Map(alerts.instances().map((i) => [i.endpoint, i]));
    // Independent: median and MAD of the daily rates.
    const rates = daily.map((n) => n / 3600);
    const m = median(rates);
    const scale = Math.max(1.4826 * median(rates.map((r) => Math.abs(r - m))), 0.1 * m);
    const data = await alerts.source.window(15 * MIN, NOW);
    const rate = (sentPerMinute * 15) / data.seconds;
    const z = Math.abs(rate - m) / scale;
    assert.ok(Math.abs(byEndpoint.get('GET /busy')!.value - z) < 1e-9, `${byEndpoint.get('GET /busy')!.value} vs ${z}`);
    assert.equal(byEndpoint.get('GET /busy')!.state, 'firing');
    assert.equal(byEndpoint.get('GET /silent')!.value, 99);
    await alerts.close();
  });
});
