import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMeter, ErrorKind, ManualClock, windowTally } from '../src/index.js';
import { createMetricsApi } from '../src/api/index.js';
import { rangeTally } from '../src/core/query.js';
import { StoreHistory } from '../src/store/history.js';
import { bucketSecondsFor, SnapshotTask } from '../src/store/snapshot-task.js';
import type { SnapshotTaskOptions } from '../src/store/snapshot-task.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { MemoryStore } from '../src/store/store.js';
import { Tally } from '../src/core/tally.js';
import { addRequest } from './contracts/store.contract.js';
import type { SnapshotStore } from '../src/store/store.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 3, 12, 0, 0);

function setup(store: SnapshotStore, options: Partial<SnapshotTaskOptions> = {}) {
  const clock = new ManualClock(T0 + 5_000);
  const meter = createMeter({ iniPath: false, env: {}, clock });
  const history = new StoreHistory(store, { stepMs: MIN });
  const errors: unknown[] = [];
  const task = new SnapshotTask({
    meter,
    store,
    history,
    instance: 'i1',
    intervalSeconds: 60,
    graceMs: 1000,
    minRetryMs: 10,
    onError: (e) => errors.push(e),
    ...options,
  });
  return { clock, meter, history, task, errors };
}

/** Sums stored request counts per bucket start. */
async function storedCounts(store: SnapshotStore): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const r of await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER })) {
    out.set(r.bucketStart, (out.get(r.bucketStart) ?? 0) + r.tally.count);
  }
  return out;
}

test('snapshot task: each completed minute written once, nothing counted twice with the live ring', async () => {
  const store = new MemoryStore();
  const { clock, meter, history, task } = setup(store);
  const a = meter.endpoint('GET', '/a')!;
  const b = meter.endpoint('POST', '/b')!;
  const expected = new Map<number, number>();
  let total = 0;
  const record = (at: number, n: number) => {
    clock.set(at);
    for (let i = 0; i < n; i++) meter.record(i % 2 === 0 ? a : b, 200, 5 + i, -1, -1, ErrorKind.None);
    const minute = Math.floor(at / MIN) * MIN;
    expected.set(minute, (expected.get(minute) ?? 0) + n);
    total += n;
  };
  for (let m = 0; m < 4; m++) {
    const start = T0 + m * MIN;
    // Seconds 5..55: the last one stays in the endpoint's unfolded fine slot until the next record.
    for (const s of [5, 15, 35, 55]) record(start + s * 1000, 3 + m);
    // Half a second into the next minute: within the grace, so the minute is not written yet.
    record(start + MIN + 500, 2);
    await task.runOnce();
    assert.equal((await storedCounts(store)).has(start), false, `minute ${m} written before its grace ended`);
    clock.set(start + MIN + 1000);
    await task.runOnce();
    await task.runOnce(); // again at the same time: nothing new
    const stored = await storedCounts(store);
    assert.equal(stored.get(start), expected.get(start), `minute ${m}`);
    assert.equal(history.persistedUntil(), start + MIN);
    // History before persistedUntil + the ring from it equals everything recorded.
    const now = clock.now();
    const live = [a, b].reduce(
      (n, ep) => n + rangeTally(ep, 'coarse', history.persistedUntil(), now + MIN, now).count,
      0,
    );
    const persisted = [...stored.values()].reduce((n, c) => n + c, 0);
    assert.equal(persisted + live, total);
    const all = [a, b].reduce((n, ep) => n + windowTally(ep, 'all', now, meter.startedAt)[0].count, 0);
    assert.equal(all, total);
  }
  const rows = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER });
  assert.equal(rows.length, 8, 'one row per endpoint per minute');
  assert.equal(task.stats.written, 8, 'no minute written twice');
  assert.deepEqual(task.health().counters, {
    written: 8,
    buffered: 0,
    dropped: 0,
    missedBuckets: 0,
    rolledUp: 0,
    deleted: 0,
    maintenanceErrors: 0,
  });
  assert.equal(task.health().state, 'ok');
  assert.ok(meter.componentHealth().some((h) => h.name === 'store:memory'));

  // stop(): the final snapshot holds the current, partial minute.
  clock.set(T0 + 4 * MIN + 30_000);
  record(clock.now(), 4);
  await task.stop();
  assert.equal((await storedCounts(store)).get(T0 + 4 * MIN), expected.get(T0 + 4 * MIN));
  assert.equal(history.persistedUntil(), T0 + 4 * MIN, 'a partial bucket is not persisted history');
  assert.ok(!meter.componentHealth().some((h) => h.name === 'store:memory'));
});

test('snapshot task: store down — rows buffered and retried, nothing lost within the bound, drops exact beyond it', async () => {
  const store = new MemoryStore();
  const { clock, meter, task, errors } = setup(store, { maxBufferedRows: 5 });
  const eps = [meter.endpoint('GET', '/a')!, meter.endpoint('GET', '/b')!];
  store.failWith = new Error('connection refused');
  for (let m = 0; m < 4; m++) {
    clock.set(T0 + m * MIN + 10_000);
    for (const ep of eps) meter.record(ep, 200, 10, -1, -1, ErrorKind.None);
    clock.set(T0 + (m + 1) * MIN + 1000);
    await task.runOnce();
  }
  // 8 rows collected, 5 kept: the 3 oldest dropped, counted exactly.
  assert.equal(task.stats.buffered, 5);
  assert.equal(task.stats.dropped, 3);
  assert.equal(errors.length, 4);
  const h = task.health();
  assert.equal(h.state, 'failing');
  assert.equal(h.lastError, 'connection refused');
  store.failWith = null;
  await task.runOnce();
  assert.equal(task.stats.buffered, 0);
  assert.equal(task.stats.written, 5);
  assert.equal(task.health().state, 'ok');
  const stored = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER });
  assert.equal(stored.length, 5);
  // The newest rows survive: minute 0 both, minute 1 the first endpoint are gone.
  assert.deepEqual(
    stored.map((r) => `${(r.bucketStart - T0) / MIN} ${r.route}`),
    ['1 /b', '2 /a', '2 /b', '3 /a', '3 /b'],
  );
});

test('snapshot task: within the bound an outage loses nothing; the timer retries by itself', async () => {
  const store = new MemoryStore();
  const clock = new ManualClock(Date.now());
  const meter = createMeter({ iniPath: false, env: {}, clock });
  const task = new SnapshotTask({ meter, store, instance: 'i', intervalSeconds: 60, graceMs: 0, minRetryMs: 5 });
  const ep = meter.endpoint('GET', '/a')!;
  store.failWith = new Error('down');
  meter.record(ep, 200, 3, -1, -1, ErrorKind.None);
  clock.advance(2 * MIN);
  await task.runOnce();
  assert.equal(task.stats.buffered, 1);
  store.failWith = null;
  task.start();
  // The retry is scheduled minRetryMs after the failure (by the manual clock, which stands still).
  for (let i = 0; i < 100 && task.stats.written === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(task.stats.written, 1);
  assert.equal((await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER }))[0].tally.count, 1);
  await task.stop();
});

test('snapshot task + SQLite + metrics API: a 24h window merges stored history and the live ring', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-snap-'));
  const store = await openSqliteStore(join(dir, 'apimeter.db'));
  try {
    const { clock, meter, history, task } = setup(store);
    const ep = meter.endpoint('GET', '/a')!;
    let total = 0;
    for (let m = 0; m < 70; m++) {
      clock.set(T0 + m * MIN + 20_000);
      for (let i = 0; i <= m % 3; i++, total++)
        meter.record(ep, m % 10 === 0 ? 500 : 200, 10 + m, -1, -1, ErrorKind.None);
      clock.set(T0 + (m + 1) * MIN + 1000);
      if (m % 5 === 4) await task.runOnce();
    }
    assert.equal(history.persistedUntil(), T0 + 70 * MIN);
    clock.advance(30_000);
    meter.record(ep, 200, 1, -1, -1, ErrorKind.None);
    total++;
    const api = createMetricsApi({ meter, history, cacheSeconds: 0, authorize: () => true });
    const res = await api.handle({ method: 'GET', url: '/api/v2/metrics/summary?window=24h', headers: {} });
    api.close();
    assert.equal(res.status, 200, String(res.body));
    const body = JSON.parse(String(res.body)) as { count: number; errors: number; range: { source: string } };
    assert.equal(body.range.source, 'memory+history');
    assert.equal(body.count, total);
    assert.equal(
      body.errors,
      [0, 10, 20, 30, 40, 50, 60].reduce((n, m) => n + (m % 3) + 1, 0),
    );
    await task.stop();
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('snapshot task + SQLite: retention at most once an hour, completed hours rolled up, history exact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'apimeter-maint-'));
  const store = await openSqliteStore(join(dir, 'apimeter.db'));
  try {
    const HOUR = 60 * MIN;
    const DAY = 24 * HOUR;
    const old = new Tally();
    addRequest(old, 200, 9, -1, -1);
    const oldRows = (at: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        instance: 'gone',
        method: 'GET',
        route: `/old${i}`,
        bucketStart: at,
        bucketSeconds: 60,
        tally: old,
      }));
    await store.writeSnapshot(oldRows(T0 - 5 * DAY, 30));
    const { clock, meter, history, task } = setup(store, { retentionDays: 2, minRetryMs: 10 });
    const ep = meter.endpoint('GET', '/a')!;
    let total = 0;
    for (let m = 0; m < 75; m++) {
      clock.set(T0 + m * MIN + 20_000);
      for (let i = 0; i <= m % 4; i++, total++) meter.record(ep, 200, 3 + m, -1, -1, ErrorKind.None);
      clock.set(T0 + (m + 1) * MIN + 1000);
      await task.runOnce();
      if (m === 0) {
        assert.equal(task.stats.deleted, 30, 'the first run applies retention');
        // Another old row: not deleted again before an hour has passed.
        await store.writeSnapshot(oldRows(T0 - 4 * DAY, 1));
      }
      if (m === 59) assert.equal(task.stats.deleted, 30);
    }
    // An hour later, retention ran again: the old raw row, and the hourly and daily rows the 12:10 rollup
    // had made of it (it reopened that old hour and day).
    assert.equal(task.stats.deleted, 33);
    // 13:10 has passed: the hour 12:00-13:00 is rolled up (and the empty ones before it skipped).
    const marks = await store.rollupWatermarks();
    assert.equal(marks[3600], T0 + HOUR);
    const hourly = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER, rollup: 3600 });
    assert.equal(hourly.length, 1);
    const firstHour = (await store.readRows({ from: T0, to: T0 + HOUR })).reduce((n, r) => n + r.tally.count, 0);
    assert.equal(hourly[0].tally.count, firstHour);
    assert.ok(task.stats.rolledUp >= 1);
    assert.deepEqual(await history.plan(T0, T0 + 75 * MIN), [
      { from: T0, to: T0 + HOUR, rollup: 3600 },
      { from: T0 + HOUR, to: T0 + 75 * MIN },
    ]);
    const api = createMetricsApi({ meter, history, cacheSeconds: 0, authorize: () => true });
    const res = await api.handle({ method: 'GET', url: '/api/v2/metrics/summary?window=24h', headers: {} });
    api.close();
    assert.equal(res.status, 200, String(res.body));
    assert.equal((JSON.parse(String(res.body)) as { count: number }).count, total);
    assert.equal(task.stats.maintenanceErrors, 0);
    await task.stop();
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bucketSecondsFor: whole minutes that divide an hour', () => {
  assert.deepEqual(
    [1, 30, 60, 90, 300, 420, 480, 600, 1000, 1800, 2400, 3600, 7200].map((s) => bucketSecondsFor(s) / 60),
    [1, 1, 1, 1, 5, 6, 6, 10, 15, 30, 30, 60, 60],
  );
});
