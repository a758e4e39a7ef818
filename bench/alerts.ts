/**
 * Alert and SLO evaluation cost (`tsx bench/alerts.ts [--endpoints 1000] [--days 30] [--rounds 10] [--quick]`).
 *   tick: one evaluation of the default rules (HighErrorRate, HighLatencyP95, TrafficAnomaly with a
 *         7-day baseline in memory history, AuthFailureSpike) over N endpoints with an hour of ring data.
 *         Budget < 20 ms per tick for 1,000 endpoints.
 *   slo:  one SLO's status (30-day period and its seven burn windows) over N endpoints stored in
 *         SQLite for D days (rollup rows as the rollup job leaves them: see writeStore). Budget < 500 ms.
 * `--only tick` or `--only slo` runs one row; `--db PATH` keeps the SLO row's database and reuses it. Prints a table and, as its last line, one JSON object (bench/lib.ts emitResult).
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryHistory } from '../src/core/history.js';
import { compileRules } from '../src/alerts/rules.js';
import { evaluateSlo } from '../src/alerts/slo.js';
import { MeterSource } from '../src/alerts/source.js';
import { startAlerts } from '../src/alerts/start.js';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { LATENCY_SKETCH, Sketch } from '../src/core/sketch.js';
import { statusClassOf, Tally } from '../src/core/tally.js';
import { StoreHistory } from '../src/store/history.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { COLUMNS, encodeRow } from '../src/store/row.js';
import type { Value } from '../src/store/row.js';
import type { SnapshotRow } from '../src/store/store.js';
import { emitResult, fmt, lognormal, median, rng, table } from './lib.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const QUICK = process.argv.includes('--quick');
const ENDPOINTS = Number(arg('endpoints', '1000'));
const DAYS = Number(arg('days', '30'));
const ROUNDS = Number(arg('rounds', QUICK ? '3' : '10'));
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2025, 5, 30, 12, 0, 30);
const random = rng(42);
const indexer = new Sketch(LATENCY_SKETCH);

function tally(n: number): Tally {
  const t = new Tally();
  for (let i = 0; i < n; i++) {
    const ms = lognormal(random, 40, 0.8);
    const status = random() < 0.01 ? 500 : 200;
    t.add(status, statusClassOf(status), -1, ms, indexer.indexOf(ms), -1, -1);
  }
  return t;
}

async function tick(): Promise<{ medianMs: number; maxMs: number }> {
  const clock = new ManualClock(NOW - HOUR);
  const meter = createMeter({ iniPath: false, env: {}, clock, metricsMaxEndpoints: ENDPOINTS + 10 });
  const eps = Array.from({ length: ENDPOINTS }, (_, i) => meter.endpoint('GET', `/api/v2/r${i}/{id}`)!);
  // An hour of traffic: 3 requests per endpoint per minute.
  for (let m = 60; m >= 0; m--) {
    clock.set(NOW - m * MIN);
    for (const ep of eps)
      for (let k = 0; k < 3; k++) meter.record(ep, 200, lognormal(random, 40, 0.8), -1, -1, ErrorKind.None);
  }
  // The anomaly baseline: the same hour on 7 past days.
  const history = new MemoryHistory(HOUR);
  const hour = Math.floor(NOW / HOUR) * HOUR;
  for (let d = 1; d <= 7; d++) for (const ep of eps) history.add(hour - d * DAY, ep.method, ep.route, tally(5));
  const rules = compileRules(
    {},
    {
      defaultRules: true,
      errorRateThreshold: 0.05,
      p95ThresholdMs: 1000,
      authFailureThreshold: 0.2,
      anomalyThreshold: 6,
      anomalyMinRequests: 50,
    },
  );
  const alerts = startAlerts(meter, { rules, history, intervalSeconds: 0 });
  await alerts.evaluateNow(); // warm-up, and the baseline read once for the hour
  const times: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    clock.advance(30_000);
    for (const ep of eps) meter.record(ep, 200, 30, -1, -1, ErrorKind.None);
    await alerts.evaluateNow();
    times.push(alerts.stats.lastDurationMs);
  }
  await alerts.close();
  return { medianMs: median(times), maxMs: Math.max(...times) };
}

/**
 * The store as production leaves it after D days, written directly: 5-minute raw rows for the last
 * hour (through the store, as the snapshot task writes them), and for the D days before it the rows
 * the rollup job would have made from the raw ones — one hourly row per endpoint and hour, one daily
 * row per endpoint and UTC day (the exact merge of that day's hourly rows) — with both watermarks
 * where the job leaves them. The raw rows of those days are not written: reads never touch raw rows
 * of rolled-up whole hours, and writing 8.64 M of them would take the bench hours. Hourly tallies
 * come from a pool of 24 (endpoint i, hour h uses tally (i + h) mod 24), so every whole day merges
 * the same 24 and is encoded once; rows are inserted with better-sqlite3 in one transaction.
 */
async function writeStore(path: string, end: number): Promise<number> {
  const store = await openSqliteStore(path);
  const raw: SnapshotRow[] = [];
  for (let b = 1; b <= 12; b++) {
    for (let i = 0; i < ENDPOINTS; i++) {
      raw.push({
        instance: 'b',
        method: 'GET',
        route: `/api/v2/r${i}/{id}`,
        bucketStart: end - b * 5 * MIN,
        bucketSeconds: 300,
        tally: tally(1),
      });
    }
  }
  await store.writeSnapshot(raw);
  await store.close();
  const pool = Array.from({ length: 24 }, () => tally(3));
  const template = (t: Tally, bucketSeconds: number) =>
    encodeRow({ instance: 'b', method: 'GET', route: '', bucketStart: 0, bucketSeconds, tally: t });
  const hourly = pool.map((t) => template(t, 3600));
  const wholeDay = template(
    pool.reduce((m, t) => m.merge(t), new Tally()),
    86_400,
  );
  const db = new Database(path);
  const insert = (table: string) =>
    db.prepare(`INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`);
  const insertRollup = insert('api_metric_rollups');
  const start = end - DAYS * DAY;
  let rows = raw.length;
  db.transaction(() => {
    const put = (values: Value[], route: string, bucketStart: number) => {
      const v = values.slice();
      v[1] = route; // COLUMNS: instance, endpoint, method, bucket_start, …
      v[3] = bucketStart;
      insertRollup.run(v);
      rows++;
    };
    for (let h = start; h < end; h += HOUR) {
      for (let i = 0; i < ENDPOINTS; i++) put(hourly[(i + h / HOUR) % 24], `/api/v2/r${i}/{id}`, h);
    }
    const dailyUntil = Math.floor(end / DAY) * DAY;
    for (let d = Math.floor(start / DAY) * DAY; d < dailyUntil; d += DAY) {
      for (let i = 0; i < ENDPOINTS; i++) {
        let values = wholeDay;
        if (d < start) {
          // The first day holds only the hours from `start` on.
          const t = new Tally();
          for (let h = start; h < d + DAY; h += HOUR) t.merge(pool[(i + h / HOUR) % 24]);
          values = template(t, 86_400);
        }
        put(values, `/api/v2/r${i}/{id}`, d);
      }
    }
    const mark = db.prepare('UPDATE api_metric_rollup_state SET done_until = ? WHERE bucket_seconds = ?');
    mark.run(end, 3600);
    mark.run(dailyUntil, 86_400);
  })();
  db.close();
  return rows;
}

async function slo(): Promise<{ medianMs: number; cpuMs: number; rows: number; writeMs: number }> {
  const keep = arg('db', '');
  const dir = keep === '' ? mkdtempSync(join(tmpdir(), 'apimeter-bench-alerts-')) : '';
  const path = keep === '' ? join(dir, 'bench.db') : keep;
  try {
    const t0 = performance.now();
    const end = Math.floor(NOW / HOUR) * HOUR;
    // --db PATH keeps the database for the next run, which reuses it (same --endpoints and --days).
    const rows = keep !== '' && existsSync(keep) ? 0 : await writeStore(path, end);
    const writeMs = performance.now() - t0;
    const store = await openSqliteStore(path);
    const history = new StoreHistory(store, { stepMs: 5 * MIN });
    await history.refresh();
    const meter = createMeter({ iniPath: false, env: {}, clock: new ManualClock(NOW) });
    const rules = compileRules(
      { slos: [{ name: 'all', sli: 'latency', threshold_ms: 100, objective: 99 }] },
      {
        defaultRules: false,
        errorRateThreshold: 0,
        p95ThresholdMs: 1,
        authFailureThreshold: 0,
        anomalyThreshold: 1,
        anomalyMinRequests: 0,
      },
    );
    const times: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // A fresh source each round: no cached history answer.
      const source = new MeterSource(meter, history);
      const c = process.cpuUsage();
      const t = performance.now();
      await evaluateSlo(rules.slos[0], source, NOW);
      times.push(performance.now() - t);
      // CPU of the whole process (this thread and the SQLite worker): what the machine's load does not inflate.
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
    }
    await store.close();
    return { medianMs: median(times), cpuMs: median(cpu), rows, writeMs };
  } finally {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  }
}

const ONLY = arg('only', '');
const tickResult = ONLY === 'slo' ? { medianMs: NaN, maxMs: NaN } : await tick();
const sloResult = ONLY === 'tick' ? { medianMs: NaN, cpuMs: NaN, rows: 0, writeMs: NaN } : await slo();
process.stdout.write(
  table(
    ['row', 'endpoints', 'median', 'budget'],
    [
      [
        'tick: default rules',
        String(ENDPOINTS),
        `${fmt.fixed(tickResult.medianMs, 1)} ms (max ${fmt.fixed(tickResult.maxMs, 1)})`,
        '< 20 ms at 1,000',
      ],
      [
        `slo: ${DAYS} days in SQLite (${sloResult.rows} rows)`,
        String(ENDPOINTS),
        `${fmt.fixed(sloResult.medianMs, 1)} ms (CPU ${fmt.fixed(sloResult.cpuMs, 1)})`,
        '< 500 ms at 1,000',
      ],
    ],
  ) + '\n',
);
emitResult({ endpoints: ENDPOINTS, days: DAYS, tick: tickResult, slo: sloResult });
