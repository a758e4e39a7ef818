/**
 * Snapshot store costs for 1,000 endpoints, on SQLite and PostgreSQL:
 *
 *   npx tsx bench/store.ts [--endpoints 1000] [--rounds 10] [--days 0.05] [--quick] [--pg postgres://postgres@127.0.0.1:5432/test]
 *
 * - snapshot: one SnapshotTask run writing one bucket of every endpoint (rows collected from the ring,
 *   serialized on the main thread, one batched write), median and max wall time, and the longest
 *   event-loop stall meanwhile (the longest gap between turns of a 1 ms interval, and the max of
 *   monitorEventLoopDelay). The SQLite store writes in its worker thread; PostgreSQL is asynchronous.
 * - serialize: what a snapshot costs the main thread alone, meter → rows → the store's wire format
 *   (total CPU and the longest synchronous piece).
 * - rollup: rolling one hour of 5-minute rows of every endpoint up (12 source rows per endpoint).
 * - query30d: StoreHistory.endpoints over 30 days of every endpoint, read the way a 30-day window is:
 *   daily rollup rows for the 29 whole days, hourly rows around them, raw rows at the edges.
 * - queryRaw: the same over `--days` days of raw 5-minute rows only (rows per ms, for comparison:
 *   without rollups a 30-day query would read 8,640 rows per endpoint).
 *
 * - idle: the stall probe over an idle 100 ms, the machine's noise floor for the figures above.
 *
 * The last stdout line is a JSON object with the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { LATENCY_SKETCH, Sketch } from '../src/core/sketch.js';
import { ERROR_FIELD, statusClassOf, Tally } from '../src/core/tally.js';
import { StoreHistory } from '../src/store/history.js';
import { PostgresStore } from '../src/store/postgres.js';
import { COLUMNS, encodeRow, encodeRows, toWireChunks } from '../src/store/row.js';
import type { Value } from '../src/store/row.js';
import { SnapshotTask } from '../src/store/snapshot-task.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { SqliteStore } from '../src/store/sqlite.js';
import type { SnapshotRow, SnapshotStore } from '../src/store/store.js';
import { lognormal, rng } from './lib.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const QUICK = process.argv.includes('--quick');
const ENDPOINTS = Number(arg('endpoints', '1000'));
const ROUNDS = Number(arg('rounds', QUICK ? '3' : '10'));
const DAYS = Number(arg('days', '0.05'));
const PG_URL = arg('pg', 'postgres://postgres@127.0.0.1:5432/test');
const MIN = 60_000;
const STEP = 5 * MIN;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number) => Math.round(x * 10) / 10;

/** Measures the longest event-loop stall while `fn` runs (two probes, see the header). */
async function withStallProbe<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; ms: number; stallMs: number; eldMaxMs: number }> {
  let last = performance.now();
  let stall = 0;
  const ticker = setInterval(() => {
    const t = performance.now();
    stall = Math.max(stall, t - last);
    last = t;
  }, 1);
  const eld = monitorEventLoopDelay({ resolution: 1 });
  await new Promise((r) => setTimeout(r, 5));
  eld.enable();
  last = performance.now();
  stall = 0;
  const t = performance.now();
  const value = await fn();
  const ms = performance.now() - t;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(ticker);
  eld.disable();
  return { value, ms, stallMs: stall, eldMaxMs: eld.max / 1e6 };
}

const indexer = new Sketch(LATENCY_SKETCH);

/** Tallies as a meter holds them: `requests` requests each, lognormal latencies (median 25 ms), 3 % 5xx. */
function tallies(n: number, requests: number, seed: number): Tally[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const t = new Tally();
    for (let k = 0; k < requests; k++) {
      const status = r() < 0.03 ? 500 : 200;
      const d = lognormal(r, 25, 1);
      t.add(
        status,
        statusClassOf(status),
        status === 500 ? ERROR_FIELD[0] : -1,
        d,
        indexer.indexOf(d),
        300,
        800 + Math.floor(r() * 4000),
      );
    }
    return t;
  });
}

async function snapshotBench(store: SnapshotStore) {
  const clock = new ManualClock(T0 + 1000);
  const meter = createMeter({ iniPath: false, env: {}, clock, metricsMaxEndpoints: ENDPOINTS + 10 });
  const eps = Array.from({ length: ENDPOINTS }, (_, i) => meter.endpoint('GET', `/r${i}/{id}`)!);
  const task = new SnapshotTask({
    meter,
    store,
    instance: 'bench',
    intervalSeconds: 60,
    graceMs: 0,
    rollups: false,
    retentionDays: 0,
  });
  const times: number[] = [];
  const stalls: number[] = [];
  const eldMax: number[] = [];
  const r = rng(1);
  for (let round = 0; round < ROUNDS; round++) {
    clock.set(T0 + round * MIN + 10_000);
    for (const ep of eps)
      for (let k = 0; k < 40; k++) meter.record(ep, k % 9 ? 200 : 500, lognormal(r, 25, 1), -1, 800, ErrorKind.None);
    clock.set(T0 + (round + 1) * MIN);
    const m = await withStallProbe(() => task.runOnce());
    times.push(m.ms);
    stalls.push(m.stallMs);
    eldMax.push(m.eldMaxMs);
  }
  if (task.stats.written !== ROUNDS * ENDPOINTS) throw new Error(`wrote ${task.stats.written} rows`);
  await task.stop();
  return {
    medianMs: round(median(times)),
    maxMs: round(Math.max(...times)),
    medianStallMs: round(median(stalls)),
    maxStallMs: round(Math.max(...stalls)),
    maxEventLoopDelayMs: round(Math.max(...eldMax)),
  };
}

/** Main-thread cost of serializing a 1,000-endpoint snapshot (the whole of it, and its longest piece). */
async function serializeBench(kind: string) {
  const rows: SnapshotRow[] = tallies(ENDPOINTS, 40, 2).map((tally, i) => ({
    instance: 'i',
    method: 'GET',
    route: `/r${i}/{id}`,
    bucketStart: T0,
    bucketSeconds: 60,
    tally,
  }));
  const serialize =
    kind === 'sqlite' ? () => toWireChunks(rows).then(() => undefined) : () => encodeRows(rows).then(() => undefined);
  for (let i = 0; i < 3; i++) await serialize(); // warm up
  const m = await withStallProbe(serialize);
  return { totalMs: round(m.ms), maxStallMs: round(m.stallMs) };
}

async function rollupBench(store: SnapshotStore) {
  const start = T0 + 10 * DAY;
  const ts = tallies(50, 40, 3);
  for (let b = 0; b < 12; b++) {
    await store.writeSnapshot(
      Array.from({ length: ENDPOINTS }, (_, e) => ({
        instance: 'roll',
        method: 'GET',
        route: `/r${e}/{id}`,
        bucketStart: start + b * STEP,
        bucketSeconds: 300,
        tally: ts[(b * 7 + e) % ts.length],
      })),
    );
  }
  // Everything before the hour is rolled up (the earlier sections' rows), so the call does one hour and one day.
  await store.rollup(start);
  const m = await withStallProbe(() => store.rollup(start + HOUR));
  if (m.value.tiers[3600].rows !== ENDPOINTS) throw new Error(`rolled up ${m.value.tiers[3600].rows} rows`);
  return { sourceRows: 12 * ENDPOINTS, ms: round(m.ms), maxStallMs: round(m.stallMs) };
}

/**
 * 30 days of every endpoint as a store holds them after rollups: rows inserted straight into the tables
 * (generating and rolling up 8.6 M raw rows would take the bench far longer than the query).
 */
async function seed30Days(store: SnapshotStore, insert: (table: string, rows: Value[][]) => Promise<void>) {
  const end = T0 + 40 * DAY + 13 * HOUR + 25 * MIN;
  const from = end - 30 * DAY;
  const raw = tallies(20, 40, 4);
  const merge = (parts: Tally[]) => parts.reduce((t, p) => t.merge(p), new Tally());
  const hourly = Array.from({ length: 10 }, (_, i) => merge(Array.from({ length: 12 }, (_, k) => raw[(i + k) % 20])));
  const daily = Array.from({ length: 5 }, (_, i) => merge(Array.from({ length: 24 }, (_, k) => hourly[(i + k) % 10])));
  const rows = (table: string, starts: number[], seconds: number, ts: Tally[]) => {
    const out: Value[][] = [];
    for (const s of starts)
      for (let e = 0; e < ENDPOINTS; e++) {
        const tally = ts[(e + s / (seconds * 1000)) % ts.length];
        out.push(
          encodeRow({
            instance: 'q',
            method: 'GET',
            route: `/r${e}/{id}`,
            bucketStart: s,
            bucketSeconds: seconds,
            tally,
          }),
        );
      }
    return insert(table, out);
  };
  const range = (a: number, b: number, step: number) =>
    Array.from({ length: Math.max(0, Math.round((b - a) / step)) }, (_, i) => a + i * step);
  const h0 = Math.ceil(from / HOUR) * HOUR;
  const d0 = Math.ceil(from / DAY) * DAY;
  const d1 = Math.floor(end / DAY) * DAY;
  const h1 = Math.floor(end / HOUR) * HOUR;
  await rows('api_metric_snapshots', [...range(from, h0, STEP), ...range(h1, end, STEP)], 300, raw);
  await rows('api_metric_rollups', [...range(h0, d0, HOUR), ...range(d1, h1, HOUR)], 3600, hourly);
  await rows('api_metric_rollups', range(d0, d1, DAY), 86_400, daily);
  const perEndpoint =
    range(from, h0, STEP).length +
    range(h1, end, STEP).length +
    range(h0, d0, HOUR).length +
    range(d1, h1, HOUR).length +
    range(d0, d1, DAY).length;
  return { from, end, h1, d1, perEndpoint, store };
}

async function query30Bench(
  store: SnapshotStore,
  insert: (table: string, rows: Value[][]) => Promise<void>,
  setMarks: (hour: number, day: number) => Promise<void>,
) {
  const { from, end, h1, d1, perEndpoint } = await seed30Days(store, insert);
  await setMarks(h1, d1);
  const history = new StoreHistory(store, { stepMs: STEP, instance: 'q' });
  const times: number[] = [];
  const stalls: number[] = [];
  for (let i = 0; i < 3; i++) {
    const m = await withStallProbe(() => history.endpoints({ from, to: end }));
    if (m.value.endpoints.length !== ENDPOINTS) throw new Error('wrong answer');
    if (m.value.endpoints[0].tally.count < 30 * 24 * 12 * 40 * 0.9) throw new Error('too few requests');
    times.push(m.ms);
    stalls.push(m.stallMs);
  }
  return {
    rows: perEndpoint * ENDPOINTS,
    ranges: (await history.plan(from, end)).map((r) => r.rollup ?? 300).join(','),
    medianMs: round(median(times)),
    maxStallMs: round(Math.max(...stalls)),
  };
}

async function queryRawBench(store: SnapshotStore) {
  const template = tallies(1, 40, 5)[0];
  const buckets = Math.round((DAYS * DAY) / STEP);
  const start = T0 + 100 * DAY;
  for (let b = 0; b < buckets; b++) {
    const rows: SnapshotRow[] = [];
    for (let e = 0; e < ENDPOINTS; e++) {
      rows.push({
        instance: 'raw',
        method: 'GET',
        route: `/r${e}/{id}`,
        bucketStart: start + b * STEP,
        bucketSeconds: 300,
        tally: template,
      });
    }
    await store.writeSnapshot(rows);
  }
  const history = new StoreHistory(store, { stepMs: STEP, instance: 'raw', rollups: false });
  const times: number[] = [];
  const stalls: number[] = [];
  for (let i = 0; i < 3; i++) {
    const m = await withStallProbe(() => history.endpoints({ from: start, to: start + buckets * STEP }));
    if (m.value.endpoints.length !== ENDPOINTS) throw new Error('wrong answer');
    times.push(m.ms);
    stalls.push(m.stallMs);
  }
  const rows = buckets * ENDPOINTS;
  return {
    rows,
    medianMs: round(median(times)),
    maxStallMs: round(Math.max(...stalls)),
    usPerRow: round((median(times) * 1000) / rows),
  };
}

/** The probe's noise floor on this machine: the same measurement over an idle 100 ms, ROUNDS times. */
async function idleBench() {
  const stalls: number[] = [];
  for (let i = 0; i < ROUNDS; i++)
    stalls.push((await withStallProbe(() => new Promise((r) => setTimeout(r, 100)))).stallMs);
  return { medianStallMs: round(median(stalls)), maxStallMs: round(Math.max(...stalls)) };
}

const results: Record<string, unknown> = { idle: await idleBench() };

const dir = mkdtempSync(join(tmpdir(), 'apimeter-bench-'));
const sqlite: SqliteStore = await openSqliteStore(join(dir, 'apimeter.db'));
try {
  const direct = new Database(sqlite.path);
  direct.pragma('busy_timeout = 10000');
  const placeholders = `(${COLUMNS.map(() => '?').join(', ')})`;
  results.sqlite = {
    snapshot: await snapshotBench(sqlite),
    serialize: await serializeBench('sqlite'),
    rollup: await rollupBench(sqlite),
    query30d: await query30Bench(
      sqlite,
      async (table, rows) => {
        const stmt = direct.prepare(`INSERT OR REPLACE INTO ${table} (${COLUMNS.join(', ')}) VALUES ${placeholders}`);
        direct.transaction(() => rows.forEach((r) => stmt.run(r)))();
      },
      async (hour, day) => {
        direct.prepare('UPDATE api_metric_rollup_state SET done_until = ? WHERE bucket_seconds = 3600').run(hour);
        direct.prepare('UPDATE api_metric_rollup_state SET done_until = ? WHERE bucket_seconds = 86400').run(day);
      },
    ),
    queryRaw: await queryRawBench(sqlite),
  };
  direct.close();
} finally {
  await sqlite.close();
  rmSync(dir, { recursive: true, force: true });
}

const schema = `apimeter_bench_${process.pid}`;
const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
const pgStore = new PostgresStore(pool, schema);
try {
  await pgStore.migrate();
  results.postgres = {
    snapshot: await snapshotBench(pgStore),
    serialize: await serializeBench('postgres'),
    rollup: await rollupBench(pgStore),
    query30d: await query30Bench(
      pgStore,
      async (table, rows) => {
        for (let i = 0; i < rows.length; i += 200) {
          const chunk = rows.slice(i, i + 200);
          const values = chunk.flat();
          const tuples = chunk.map(
            (_, k) => `(${COLUMNS.map((__, c) => `$${k * COLUMNS.length + c + 1}`).join(', ')})`,
          );
          await pool.query(
            `INSERT INTO "${schema}".${table} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`,
            values,
          );
        }
      },
      async (hour, day) => {
        await pool.query(
          `UPDATE "${schema}".api_metric_rollup_state SET done_until = CASE bucket_seconds WHEN 3600 THEN $1::bigint ELSE $2::bigint END`,
          [hour, day],
        );
      },
    ),
    queryRaw: await queryRawBench(pgStore),
  };
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pgStore.close();
}
for (const [section, r] of Object.entries(results)) console.log(section, JSON.stringify(r));
console.log(JSON.stringify({ endpoints: ENDPOINTS, rounds: ROUNDS, days: DAYS, ...results }));
