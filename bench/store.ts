/**
 * Snapshot store costs for 1,000 endpoints, on SQLite and PostgreSQL:
 *
 *   npx tsx bench/store.ts [--endpoints 1000] [--rounds 10] [--days 1] [--pg postgres://postgres@127.0.0.1:5432/test]
 *
 * - snapshot: one SnapshotTask run writing one bucket of every endpoint (rows built from the ring +
 *   one batched write), median and max wall time, and the longest event-loop stall seen meanwhile
 *   (better-sqlite3 is synchronous, so for SQLite the write itself is the stall);
 * - history query: StoreHistory.endpoints over `--days` days of 5-minute rows of every endpoint
 *   (without rollups a 30-day query reads 30× the rows of a 1-day one).
 *
 * The last stdout line is a JSON object with the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { StoreHistory } from '../src/store/history.js';
import { PostgresStore } from '../src/store/postgres.js';
import { SnapshotTask } from '../src/store/snapshot-task.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { SnapshotRow, SnapshotStore } from '../src/store/store.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const ENDPOINTS = Number(arg('endpoints', '1000'));
const ROUNDS = Number(arg('rounds', '10'));
const DAYS = Number(arg('days', '1'));
const PG_URL = arg('pg', 'postgres://postgres@127.0.0.1:5432/test');
const MIN = 60_000;
const STEP = 5 * MIN;
const T0 = Date.UTC(2025, 0, 1);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function snapshotBench(store: SnapshotStore) {
  const clock = new ManualClock(T0 + 1000);
  const meter = createMeter({ iniPath: false, env: {}, clock, metricsMaxEndpoints: ENDPOINTS + 10 });
  const eps = Array.from({ length: ENDPOINTS }, (_, i) => meter.endpoint('GET', `/r${i}/{id}`)!);
  const task = new SnapshotTask({ meter, store, instance: 'bench', intervalSeconds: 60, graceMs: 0 });
  const times: number[] = [];
  const stalls: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    clock.set(T0 + round * MIN + 10_000);
    for (const ep of eps)
      for (let k = 0; k < 40; k++) meter.record(ep, k % 9 ? 200 : 500, 1 + k * 3.7, -1, 800, ErrorKind.None);
    clock.set(T0 + (round + 1) * MIN);
    // The longest gap between turns of a 1 ms interval = the longest event-loop stall during the run.
    let last = performance.now();
    let stall = 0;
    const ticker = setInterval(() => {
      const t = performance.now();
      stall = Math.max(stall, t - last);
      last = t;
    }, 1);
    await new Promise((r) => setTimeout(r, 5));
    last = performance.now();
    stall = 0;
    const t = performance.now();
    await task.runOnce();
    times.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
    clearInterval(ticker);
    stalls.push(stall);
  }
  if (task.stats.written !== ROUNDS * ENDPOINTS) throw new Error(`wrote ${task.stats.written} rows`);
  await task.stop();
  return {
    medianMs: median(times),
    maxMs: Math.max(...times),
    medianStallMs: median(stalls),
    maxStallMs: Math.max(...stalls),
  };
}

async function queryBench(store: SnapshotStore) {
  const template = (await store.readRows({ from: T0, to: T0 + MIN }))[0].tally;
  const buckets = (DAYS * 24 * 60 * MIN) / STEP;
  for (let b = 0; b < buckets; b++) {
    const rows: SnapshotRow[] = [];
    for (let e = 0; e < ENDPOINTS; e++) {
      rows.push({
        instance: 'q',
        method: 'GET',
        route: `/r${e}/{id}`,
        bucketStart: T0 + b * STEP,
        bucketSeconds: 300,
        tally: template,
      });
    }
    await store.writeSnapshot(rows);
  }
  const history = new StoreHistory(store, { stepMs: STEP, instance: 'q' });
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const answer = await history.endpoints({ from: T0, to: T0 + buckets * STEP });
    times.push(performance.now() - t);
    if (answer.endpoints.length !== ENDPOINTS) throw new Error('wrong answer');
  }
  return { rows: buckets * ENDPOINTS, medianMs: median(times) };
}

const results: Record<string, unknown> = {};
const dir = mkdtempSync(join(tmpdir(), 'apimeter-bench-'));
const sqlite = await openSqliteStore(join(dir, 'apimeter.db'));
results.sqlite = { snapshot: await snapshotBench(sqlite), query: await queryBench(sqlite) };
await sqlite.close();
rmSync(dir, { recursive: true, force: true });

const schema = `apimeter_bench_${process.pid}`;
const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
const pgStore = new PostgresStore(pool, schema);
try {
  await pgStore.migrate();
  results.postgres = { snapshot: await snapshotBench(pgStore), query: await queryBench(pgStore) };
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pgStore.close();
}
for (const [store, r] of Object.entries(results)) console.log(store, JSON.stringify(r));
console.log(JSON.stringify({ endpoints: ENDPOINTS, days: DAYS, ...results }));
