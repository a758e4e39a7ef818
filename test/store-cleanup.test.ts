import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { run } from '../src/cli/cleanup.js';
import type { CleanupIo } from '../src/cli/cleanup.js';
import { Tally } from '../src/core/tally.js';
import { PostgresStore } from '../src/store/postgres.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { SnapshotRow, SnapshotStore } from '../src/store/store.js';
import { addRequest } from './contracts/store.contract.js';
import { PG_URL, pgSkip } from './faults/postgres.js';

const execFileP = promisify(execFile);
const DAY = 86_400_000;
const HOUR = 3_600_000;
const STEP = 300_000;
const NOW = Date.UTC(2025, 5, 1, 9, 30);
const ENDPOINTS = 50;
/** 1,000 five-minute buckets (83 h 20 min) of 50 endpoints: 50,000 rows, from midnight 40 days ago. */
const OLD_BUCKETS = 1000;
/** Kept: 12 buckets (one hour) of 50 endpoints, 2 days ago. */
const NEW_BUCKETS = 12;

function tally(n: number): Tally {
  const t = new Tally();
  for (let i = 0; i < n; i++) addRequest(t, i % 10 === 0 ? 500 : 200, 5 + i, -1, 100);
  return t;
}

async function fill(store: SnapshotStore, now: number): Promise<void> {
  const oldStart = Math.floor((now - 40 * DAY) / DAY) * DAY;
  const newStart = Math.floor((now - 2 * DAY) / HOUR) * HOUR;
  const t = tally(3);
  const rows = (start: number, buckets: number): SnapshotRow[] =>
    Array.from({ length: buckets * ENDPOINTS }, (_, i) => ({
      instance: 'i',
      method: 'GET',
      route: `/r${i % ENDPOINTS}`,
      bucketStart: start + Math.floor(i / ENDPOINTS) * STEP,
      bucketSeconds: 300,
      tally: t,
    }));
  const old = rows(oldStart, OLD_BUCKETS);
  for (let i = 0; i < old.length; i += 5000) await store.writeSnapshot(old.slice(i, i + 5000));
  await store.writeSnapshot(rows(newStart, NEW_BUCKETS));
  // Rolled up before the cleanup, so that every table has old rows.
  await store.rollup(now - HOUR);
}

/** Old rows per table: 50,000 raw, 50 × 84 hours, 50 × 4 days. */
const OLD_HOURS = Math.ceil((OLD_BUCKETS * STEP) / HOUR);
const OLD_DAYS = Math.ceil((OLD_BUCKETS * STEP) / DAY);
const EXPECTED_TABLE = [
  `  api_metric_snapshots    300 s buckets  50,000`,
  `  api_metric_rollups     3600 s buckets   ${(ENDPOINTS * OLD_HOURS).toLocaleString('en-US')}`,
  `  api_metric_rollups    86400 s buckets     ${ENDPOINTS * OLD_DAYS}`,
];

async function counts(store: SnapshotStore): Promise<number[]> {
  const all = { from: 0, to: Number.MAX_SAFE_INTEGER };
  return [
    (await store.readRows(all)).length,
    (await store.readRows({ ...all, rollup: 3600 })).length,
    (await store.readRows({ ...all, rollup: 86400 })).length,
  ];
}

function captureIo(isTTY: boolean): CleanupIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (chunk: string) => (out += chunk) },
    stderr: { write: (chunk: string) => (err += chunk), isTTY },
    out: () => out,
    err: () => err,
  };
}

test('apimeter cleanup on SQLite: 50,000 old rows — dry run changes nothing, then chunked delete with progress', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-cleanup-'));
  try {
    const db = join(dir, 'apimeter.db');
    const ini = join(dir, 'apimeter.ini');
    writeFileSync(ini, `[metrics]\napi_metrics_store_url = sqlite:${db}\napi_metrics_retention_days = 30\n`);
    let store = await openSqliteStore(db);
    await fill(store, NOW);
    const before = await counts(store);
    assert.deepEqual(before, [
      50_000 + NEW_BUCKETS * ENDPOINTS,
      ENDPOINTS * (OLD_HOURS + 1),
      ENDPOINTS * (OLD_DAYS + 1),
    ]);
    await store.close();

    const dry = captureIo(false);
    assert.equal(await run(['--ini', ini, '--dry-run'], NOW, dry), 0);
    const total = 50_000 + ENDPOINTS * (OLD_HOURS + OLD_DAYS);
    assert.deepEqual(dry.out().split('\n'), [
      `would remove ${total.toLocaleString('en-US')} rows older than 2025-05-02T00:00:00.000Z (30 days) from sqlite:`,
      ...EXPECTED_TABLE,
      'dry run: nothing was changed (rollups not run)',
      '',
    ]);
    assert.equal(dry.err(), '');
    store = await openSqliteStore(db);
    assert.deepEqual(await counts(store), before, 'the dry run changed nothing');
    await store.close();

    // stderr is not a terminal: one progress line per chunk of 5,000 rows.
    const io = captureIo(false);
    assert.equal(await run(['--ini', ini], NOW, io), 0);
    const progress = io.err().trimEnd().split('\n');
    assert.equal(progress.length, 10 + 1 + 1, '10 chunks of raw rows, one of hourly rows, one of daily rows');
    assert.equal(progress[0], 'deleting api_metric_snapshots (300 s buckets): 5,000 / 50,000 rows');
    assert.equal(progress[9], 'deleting api_metric_snapshots (300 s buckets): 50,000 / 50,000 rows');
    assert.equal(progress[10], `deleting api_metric_rollups (3600 s buckets): 4,200 / 4,200 rows`);
    const out = io.out().split('\n');
    assert.deepEqual(out.slice(0, 4), [
      `removed ${total.toLocaleString('en-US')} rows older than 2025-05-02T00:00:00.000Z (30 days) from sqlite:`,
      ...EXPECTED_TABLE,
    ]);
    assert.match(out[4], /^rolled up 0 hours \(0 rows\) and 0 days \(0 rows\); hourly rollups complete until /);
    store = await openSqliteStore(db);
    assert.deepEqual(await counts(store), [NEW_BUCKETS * ENDPOINTS, ENDPOINTS, ENDPOINTS]);
    const left = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER });
    assert.ok(left.every((r) => r.bucketStart >= NOW - 2 * DAY - HOUR));
    await store.close();

    // Nothing left to delete; on a terminal, progress redraws one line.
    const again = captureIo(true);
    assert.equal(await run(['--ini', ini, '--retention-days', '1'], NOW, again), 0);
    assert.match(again.out(), /^removed 700 rows older than 2025-05-31T00:00:00\.000Z \(1 days\) from sqlite:\n/);
    assert.deepEqual(again.err().split('\n'), [
      '\r\u001b[2Kdeleting api_metric_snapshots (300 s buckets): 600 / 600 rows',
      '\r\u001b[2Kdeleting api_metric_rollups (3600 s buckets): 50 / 50 rows',
      '\r\u001b[2Kdeleting api_metric_rollups (86400 s buckets): 50 / 50 rows',
      '',
    ]);

    const bad = captureIo(false);
    assert.equal(await run(['--ini', ini, '--retention-days', '0'], NOW, bad), 2);
    assert.match(bad.err(), /--retention-days must be a whole number of days/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'apimeter cleanup on PostgreSQL, as a process: progress on stderr, summary on stdout, counts after',
  { skip: pgSkip },
  async () => {
    const schema = `apimeter_cleanup_${process.pid}`;
    const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const store = new PostgresStore(admin, schema);
    const dir = mkdtempSync(join(tmpdir(), 'apimeter-cleanup-pg-'));
    try {
      await store.migrate();
      // The CLI reads the real clock.
      await fill(store, Date.now());
      const before = await counts(store);
      const url = new URL(PG_URL);
      url.searchParams.set('options', `-c search_path=${schema}`);
      const env = {
        ...process.env,
        APIMETER__METRICS__API_METRICS_STORE_URL: url.href,
        APIMETER__METRICS__API_METRICS_RETENTION_DAYS: '30',
      };
      const cli = new URL('../src/cli/main.ts', import.meta.url).pathname;
      const ini = join(dir, 'none.ini');
      writeFileSync(ini, '');
      const apimeter = (...args: string[]) =>
        execFileP(process.execPath, ['--import', 'tsx', cli, 'cleanup', '--ini', ini, ...args], { env });
      const dry = await apimeter('--dry-run');
      assert.match(dry.stdout, /^would remove 54,400 rows older than \S+T00:00:00\.000Z \(30 days\) from postgres:\n/);
      assert.ok(dry.stdout.includes(EXPECTED_TABLE.join('\n')), dry.stdout);
      assert.deepEqual(await counts(store), before);
      const { stdout, stderr } = await apimeter();
      const lines = stderr.trimEnd().split('\n');
      assert.equal(lines.length, 12, stderr);
      assert.equal(lines[9], 'deleting api_metric_snapshots (300 s buckets): 50,000 / 50,000 rows');
      assert.ok(stdout.startsWith('removed 54,400 rows older than '), stdout);
      assert.ok(stdout.includes(EXPECTED_TABLE.join('\n')), stdout);
      assert.deepEqual(await counts(store), [NEW_BUCKETS * ENDPOINTS, ENDPOINTS, ENDPOINTS]);
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
