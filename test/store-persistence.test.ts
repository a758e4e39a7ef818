import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createMeter, ErrorKind } from '../src/index.js';
import { createMetricsApi } from '../src/api/index.js';
import { startPersistence } from '../src/store/persistence.js';
import { PostgresStore } from '../src/store/postgres.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { SnapshotStore } from '../src/store/store.js';
import { PG_URL, pgSkip } from './faults/postgres.js';

const child = new URL('./helpers/persistence-child.ts', import.meta.url).pathname;

async function storedCount(store: SnapshotStore): Promise<number> {
  return (await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER })).reduce((n, r) => n + r.tally.count, 0);
}

test('startPersistence: null while api_metrics_persistence is off', async () => {
  const meter = createMeter({ iniPath: false, env: {} });
  assert.equal(await startPersistence(meter), null);
});

test('startPersistence: SQLite from the configuration, health source, final snapshot on close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-persist-'));
  try {
    const db = join(dir, 'nested', 'apimeter.db');
    const meter = createMeter({
      iniPath: false,
      env: {
        APIMETER__METRICS__API_METRICS_PERSISTENCE: 'true',
        APIMETER__METRICS__API_METRICS_STORE_URL: `sqlite:${db}`,
        APIMETER__METRICS__API_METRICS_SNAPSHOT_INTERVAL: '60',
      },
    });
    const persistence = await startPersistence(meter, { handleSignals: false });
    assert.ok(persistence);
    assert.equal(persistence.store.kind, 'sqlite');
    assert.equal(persistence.task.bucketMs, 60_000);
    const health = meter.componentHealth().find((h) => h.name === 'store:sqlite');
    assert.equal(health?.state, 'ok');
    const ep = meter.endpoint('GET', '/a')!;
    for (let i = 0; i < 7; i++) meter.record(ep, 200, 5 + i, -1, -1, ErrorKind.None);
    const api = createMetricsApi({ meter, history: persistence.history, cacheSeconds: 0, authorize: () => true });
    const res = await api.handle({ method: 'GET', url: '/api/v2/metrics/summary?window=24h', headers: {} });
    api.close();
    assert.equal(res.status, 200, String(res.body));
    assert.equal((JSON.parse(String(res.body)) as { count: number }).count, 7);
    await Promise.all([persistence.close(), persistence.close()]);
    assert.equal(
      meter.componentHealth().find((h) => h.name === 'store:sqlite'),
      undefined,
    );
    const store = await openSqliteStore(db);
    assert.equal(await storedCount(store), 7, 'the final snapshot holds the partial bucket');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('startPersistence: SIGTERM takes the final snapshot, closes the store and ends the process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-persist-sig-'));
  try {
    const db = join(dir, 'apimeter.db');
    const proc = spawn(process.execPath, ['--import', 'tsx', child, '25'], {
      env: {
        ...process.env,
        APIMETER__METRICS__API_METRICS_PERSISTENCE: 'true',
        APIMETER__METRICS__API_METRICS_STORE_URL: `sqlite:${db}`,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`child exited early (${code}): ${out}`)));
    });
    assert.equal(out, 'ready sqlite\n');
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      proc.once('exit', (code, signal) => resolve([code, signal])),
    );
    proc.kill('SIGTERM');
    // No other listener: the signal is raised again once the store is closed.
    assert.deepEqual(await exited, [null, 'SIGTERM']);
    const store = await openSqliteStore(db);
    assert.equal(await storedCount(store), 25);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('startPersistence: a postgres:// URL opens PostgreSQL', { skip: pgSkip }, async () => {
  const schema = `apimeter_persist_${process.pid}`;
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const check = new PostgresStore(admin, schema);
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const url = new URL(PG_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const meter = createMeter({ iniPath: false, env: {} });
    const persistence = await startPersistence(meter, { enabled: true, url: url.href, handleSignals: false });
    assert.ok(persistence);
    assert.equal(persistence.store.kind, 'postgres');
    const ep = meter.endpoint('POST', '/b')!;
    for (let i = 0; i < 3; i++) meter.record(ep, 201, 2, -1, -1, ErrorKind.None);
    await persistence.close();
    assert.equal(await storedCount(check), 3);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await check.close();
  }
});
