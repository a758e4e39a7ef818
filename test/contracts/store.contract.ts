import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_SKETCH, relativeErrorBound, Sketch } from '../../src/core/sketch.js';
import { ERROR_FIELD, F, statusClassOf, Tally, ZERO_INDEX } from '../../src/core/tally.js';
import type { HistoryAnswer } from '../../src/core/history.js';
import { StoreHistory } from '../../src/store/history.js';
import { SCHEMA_VERSION } from '../../src/store/migrations/index.js';
import type { SnapshotRow, SnapshotStore } from '../../src/store/store.js';
import { mergeConsumerRows } from '../../src/store/consumer-rows.js';
import type { ConsumerRow } from '../../src/store/consumer-rows.js';
import { CONSUMER_LATENCY_SKETCH } from '../../src/core/consumers/tracker.js';
import { exactQuantile, lognormal, rng } from '../helpers/datasets.js';

const indexer = new Sketch(LATENCY_SKETCH);
const bound = relativeErrorBound(LATENCY_SKETCH);
const STEP = 300_000;
const T0 = Date.UTC(2025, 0, 1);
const INSTANCES = ['a', 'b', 'c'];
const ENDPOINTS = [
  ['GET', '/dags'],
  ['POST', '/dags/{dag_id}/runs'],
] as const;
const BUCKETS = 12;

/** One request, recorded the way the meter records it. */
export function addRequest(t: Tally, status: number, durationMs: number, requestBytes: number, responseBytes: number) {
  const cls = statusClassOf(status);
  const errorField = cls === 5 ? ERROR_FIELD[0] : cls === 4 ? ERROR_FIELD[1] : -1;
  t.add(
    status,
    cls,
    errorField,
    durationMs,
    durationMs > 0 ? indexer.indexOf(durationMs) : ZERO_INDEX,
    requestBytes,
    responseBytes,
  );
}

/**
 * Three tallies from one dataset, for codec round trips: `a` and `b` share the values (a third to
 * `b`) with 200/404/503 answers and some unknown request sizes, `a` also holds a fractional and a
 * huge counter (the codecs' escaped forms); `sparse` holds 20 requests.
 */
export function fixtureTallies(values: readonly number[]): { a: Tally; b: Tally; sparse: Tally } {
  const a = new Tally();
  const b = new Tally();
  const sparse = new Tally();
  values.forEach((v, i) => {
    addRequest(i % 3 === 0 ? b : a, i % 7 === 0 ? 503 : i % 5 === 0 ? 404 : 200, v, i % 4 === 0 ? -1 : i, 2 * i);
    if (i < 20) addRequest(sparse, 201, v, 10, 10.5);
  });
  a.c[F.dbMs] = 0.1 + 0.2; // fractional and odd counters take the escaped form
  a.c[F.dbQueries] = 2 ** 40;
  return { a, b, sparse };
}

interface Exact {
  durations: number[];
  codes: Map<number, number>;
  responseBytes: number;
  responseMax: number;
}

/** Known data: 3 instances × 2 endpoints × 12 five-minute buckets, with what the test knows exactly. */
function dataset(seed: number): { rows: SnapshotRow[]; exact: Map<string, Exact>; byInstance: Map<string, number> } {
  const r = rng(seed);
  const rows: SnapshotRow[] = [];
  const exact = new Map<string, Exact>();
  const byInstance = new Map<string, number>();
  for (const instance of INSTANCES) {
    for (const [method, route] of ENDPOINTS) {
      const key = `${method} ${route}`;
      let e = exact.get(key);
      if (e === undefined) exact.set(key, (e = { durations: [], codes: new Map(), responseBytes: 0, responseMax: 0 }));
      for (let b = 0; b < BUCKETS; b++) {
        const tally = new Tally();
        const n = 1 + Math.floor(r() * 40);
        for (let i = 0; i < n; i++) {
          const d = lognormal(r, route === '/dags' ? 20 : 150, 0.8);
          const u = r();
          const status = u < 0.05 ? 500 : u < 0.15 ? 404 : 200;
          const size = Math.floor(r() * 5000);
          addRequest(tally, status, d, -1, size);
          e.durations.push(d);
          e.codes.set(status, (e.codes.get(status) ?? 0) + 1);
          e.responseBytes += size;
          e.responseMax = Math.max(e.responseMax, size);
        }
        byInstance.set(instance, (byInstance.get(instance) ?? 0) + n);
        rows.push({ instance, method, route, bucketStart: T0 + b * STEP, bucketSeconds: STEP / 1000, tally });
      }
    }
  }
  return { rows, exact, byInstance };
}

function assertWithinBound(actual: number, exact: number, what: string): void {
  assert.ok(Math.abs(actual - exact) <= bound * exact + 1e-9, `${what}: ${actual} vs exact ${exact} (bound ${bound})`);
}

/**
 * The suite every {@link SnapshotStore} passes. `open` gives a fresh, empty store (not yet migrated)
 * and a function that closes it and removes what it created.
 */
export function storeContract(
  name: string,
  open: () => Promise<{ store: SnapshotStore; cleanup: () => Promise<void> }>,
): void {
  const withStore = (title: string, fn: (store: SnapshotStore) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const { store, cleanup } = await open();
      try {
        await fn(store);
      } finally {
        await cleanup();
      }
    });

  void withStore('migrates from an empty database, and again as a no-op', async (store) => {
    assert.equal(await store.migrate(), SCHEMA_VERSION);
    assert.equal(await store.migrate(), SCHEMA_VERSION);
    assert.equal(await store.newestBucketEnd(), 0);
    assert.deepEqual(await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER }), []);
  });

  void withStore(
    'consumer rows: written with the snapshot, replaced by key, filtered, merged, retained',
    async (store) => {
      await store.migrate();
      const latency = (ms: number[]) => {
        const sk = new Sketch(CONSUMER_LATENCY_SKETCH);
        for (const v of ms) sk.record(v);
        return sk;
      };
      const row = (instance: string, b: number, consumer: string, route: string, requests: number): ConsumerRow => ({
        instance,
        bucketStart: T0 + b * STEP,
        bucketSeconds: STEP / 1000,
        consumer,
        method: route === '' ? '' : 'GET',
        route,
        requests,
        errors: route === '' ? 1 : 0,
        serverErrors: route === '' ? 1 : 0,
        latency: route === '' && consumer !== 'other' ? latency([requests, 2 * requests]) : null,
      });
      const consumers = [
        row('a', 0, 'acme', '', 5),
        row('a', 0, 'acme', '/dags', 5),
        row('a', 0, 'other', '', 3),
        row('b', 1, 'acme', '', 7),
        row('a', 30, 'acme', '', 11),
      ];
      const { rows } = dataset(3);
      await store.writeSnapshot(rows.slice(0, 2), { consumers });
      // A retry replaces by key (instance, bucket, consumer, method, endpoint): never counted twice.
      await store.writeSnapshot([], { consumers: [row('a', 0, 'acme', '', 5)] });
      const all = await store.readConsumers({ from: 0, to: Number.MAX_SAFE_INTEGER });
      assert.equal(all.length, consumers.length);
      assert.deepEqual(
        all.map((r) => r.bucketStart),
        [...all.map((r) => r.bucketStart)].sort((x, y) => x - y),
        'oldest first',
      );
      const acme = await store.readConsumers({ from: T0, to: T0 + 2 * STEP, consumer: 'acme' });
      assert.equal(acme.length, 3);
      const merged = mergeConsumerRows(acme).get('acme')!;
      assert.equal(merged.requests, 12);
      assert.equal(merged.errors, 2);
      assert.equal(merged.serverErrors, 2);
      assert.equal(merged.latency.count, 4, 'sketches merged');
      assert.equal(merged.latency.max, 14);
      assert.deepEqual([...merged.endpoints.values()], [{ method: 'GET', route: '/dags', requests: 5, errors: 0 }]);
      assert.equal((await store.readConsumers({ from: 0, to: Number.MAX_SAFE_INTEGER, instance: 'b' })).length, 1);
      const other = all.find((r) => r.consumer === 'other')!;
      assert.equal(other.latency, null);
      // Retention deletes them with the rest.
      const removed = await store.deleteBefore(T0 + 10 * STEP);
      assert.ok(removed.some((r) => r.table === 'api_metric_consumers' && r.rows === 4));
      assert.deepEqual(
        (await store.readConsumers({ from: 0, to: Number.MAX_SAFE_INTEGER })).map((r) => r.requests),
        [11],
      );
    },
  );

  void withStore('writing the same batch twice stores it once', async (store) => {
    await store.migrate();
    const { rows } = dataset(1);
    await store.writeSnapshot(rows);
    await store.writeSnapshot(rows);
    // A batch holding one key twice (a retried buffer) keeps one row too.
    await store.writeSnapshot([rows[0], rows[0]]);
    const back = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER });
    assert.equal(back.length, rows.length);
    const sum = (rs: SnapshotRow[]) => rs.reduce((n, r) => n + r.tally.count, 0);
    assert.equal(sum(back), sum(rows));
    assert.equal(await store.newestBucketEnd(), T0 + BUCKETS * STEP);
    assert.equal(await store.newestBucketEnd('a'), T0 + BUCKETS * STEP);
    assert.equal(await store.newestBucketEnd('nobody'), 0);
  });

  void withStore('stored tallies come back exactly (JSON round trip)', async (store) => {
    await store.migrate();
    const { rows } = dataset(2);
    await store.writeSnapshot(rows);
    const back = await store.readRows({ from: T0, to: T0 + STEP, instance: 'b', route: '/dags', method: 'GET' });
    assert.equal(back.length, 1);
    const original = rows.find((r) => r.instance === 'b' && r.route === '/dags' && r.bucketStart === T0)!;
    assert.deepEqual(back[0].tally.toJSON(), original.tally.toJSON());
    assert.deepEqual(back[0].tally.statusCodes(), original.tally.statusCodes());
  });

  void withStore(
    'history merges every instance and interval: counts exact, percentiles within the bound',
    async (store) => {
      await store.migrate();
      const { rows, exact } = dataset(3);
      await store.writeSnapshot(rows);
      const history = new StoreHistory(store, { stepMs: STEP });
      assert.equal(await history.refresh(), T0 + BUCKETS * STEP);
      assert.equal(history.persistedUntil(), T0 + BUCKETS * STEP);
      const answer = await history.endpoints({ from: T0 + 1, to: T0 + BUCKETS * STEP });
      assert.equal(answer.from, T0);
      assert.equal(answer.endpoints.length, ENDPOINTS.length);
      for (const ep of answer.endpoints) {
        const e = exact.get(`${ep.method} ${ep.route}`)!;
        const sorted = [...e.durations].sort((a, b) => a - b);
        assert.equal(ep.tally.count, e.durations.length);
        assert.deepEqual(ep.tally.statusCodes(), new Map([...e.codes].sort((a, b) => a[0] - b[0])));
        assert.equal(ep.tally.c[F.status1xx + 4], e.codes.get(500) ?? 0);
        assert.equal(ep.tally.c[F.responseBytes], e.responseBytes);
        assert.equal(ep.tally.c[F.responseBytesMax], e.responseMax);
        assert.equal(ep.tally.latency.max, sorted[sorted.length - 1]);
        for (const q of [0.5, 0.95, 0.99]) {
          assertWithinBound(ep.tally.latency.quantile(q), exactQuantile(sorted, q), `${ep.route} p${q * 100}`);
        }
      }
    },
  );

  void withStore('instance filter, route filter, sub-ranges and the per-interval series', async (store) => {
    await store.migrate();
    const { rows, byInstance } = dataset(4);
    await store.writeSnapshot(rows);
    for (const instance of INSTANCES) {
      const one = new StoreHistory(store, { stepMs: STEP, instance });
      const answer = await one.endpoints({ from: T0, to: T0 + BUCKETS * STEP });
      assert.equal(
        answer.endpoints.reduce((n, e) => n + e.tally.count, 0),
        byInstance.get(instance),
      );
    }
    const history = new StoreHistory(store, { stepMs: STEP });
    const inRange = (r: SnapshotRow, from: number, to: number) => r.bucketStart >= from && r.bucketStart < to;
    const from = T0 + 3 * STEP;
    const to = T0 + 7 * STEP;
    const sub = await history.endpoints({ from, to, route: '/dags', method: 'GET' });
    assert.equal(sub.endpoints.length, 1);
    assert.equal(
      sub.endpoints[0].tally.count,
      rows.filter((r) => r.route === '/dags' && inRange(r, from, to)).reduce((n, r) => n + r.tally.count, 0),
    );
    const series = await history.series({ from, to, route: '/dags' });
    assert.equal(series.stepMs, STEP);
    assert.deepEqual(
      series.points.map((p) => p.start),
      [3, 4, 5, 6].map((b) => T0 + b * STEP),
    );
    for (const p of series.points) {
      const expected = rows.filter((r) => r.route === '/dags' && r.bucketStart === p.start);
      assert.equal(
        p.tally.count,
        expected.reduce((n, r) => n + r.tally.count, 0),
      );
    }
    // Without a route: every endpoint (and instance) merged per interval, the whole-API series of /summary.
    const all = await history.series({ from, to });
    assert.deepEqual(
      all.points.map((p) => p.start),
      [3, 4, 5, 6].map((b) => T0 + b * STEP),
    );
    for (const p of all.points) {
      const expected = rows.filter((r) => r.bucketStart === p.start);
      assert.equal(
        p.tally.count,
        expected.reduce((n, r) => n + r.tally.count, 0),
      );
      assert.ok(new Set(expected.map((r) => r.route)).size === ENDPOINTS.length, 'both endpoints in the interval');
    }
  });

  void withStore(
    'retention: a dry run counts per table, deleteBefore removes older buckets in chunks',
    async (store) => {
      await store.migrate();
      const { rows } = dataset(5);
      await store.writeSnapshot(rows);
      const cutoff = T0 + 4 * STEP;
      const older = rows.filter((r) => r.bucketStart < cutoff).length;
      const raw = (n: number) => [{ table: 'api_metric_snapshots', bucketSeconds: STEP / 1000, rows: n }];
      assert.deepEqual(await store.deleteBefore(cutoff, { dryRun: true }), raw(older));
      assert.equal((await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER })).length, rows.length);
      const progress: number[] = [];
      const removed = await store.deleteBefore(cutoff, { chunkRows: 7, onProgress: (p) => progress.push(p.deleted) });
      assert.deepEqual(removed, raw(older));
      // One progress call per chunk of 7 rows, the last one possibly shorter.
      assert.deepEqual(
        progress,
        Array.from({ length: Math.ceil(older / 7) }, (_, i) => Math.min(older, (i + 1) * 7)),
      );
      const left = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER });
      assert.equal(left.length, rows.length - older);
      assert.ok(left.every((r) => r.bucketStart >= cutoff));
      assert.deepEqual(await store.deleteBefore(cutoff), []);
    },
  );

  void withStore('rollups: long ranges read hourly and daily rows and answer exactly like raw rows', async (store) => {
    await store.migrate();
    const { rows, exact } = longDataset(6);
    await store.writeSnapshot(rows);
    const end = LONG_T0 + LONG_BUCKETS * STEP;
    const report = await store.rollup(end);
    // 22:35 on day 0 to 07:00 on day 3: hours 22..23, 48 full hours, 0..6 of day 3; days 0 (its two
    // hours), 1 and 2.
    assert.equal(report.tiers[3600].periods, 2 + 48 + 7);
    assert.equal(report.tiers[86400].periods, 3);
    assert.equal(report.pending, false);
    assert.deepEqual(report.watermarks, { 3600: end, 86400: DAY0 + 3 * DAY });
    const hourly = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER, rollup: 3600 });
    assert.equal(hourly.length, (2 + 48 + 7) * LONG_KEYS);
    const tiered = new StoreHistory(store, { stepMs: STEP });
    const rawOnly = new StoreHistory(store, { stepMs: STEP, rollups: false });
    // The whole range, against what the test generated.
    const all = await tiered.endpoints({ from: LONG_T0, to: end });
    for (const ep of all.endpoints) {
      const e = exact.get(`${ep.method} ${ep.route}`)!;
      assert.equal(ep.tally.count, e.durations.length);
      assert.equal(ep.tally.latency.max, Math.max(...e.durations));
    }
    const ranges = await tiered.plan(LONG_T0, end);
    assert.deepEqual(
      ranges.map((r) => r.rollup ?? 0),
      [0, 3600, 86400, 3600],
      'raw edge, hours to midnight, two whole days, hours of day 3',
    );
    const r = rng(7);
    const cases: [number, number][] = [
      [LONG_T0, end],
      [DAY0 + DAY, DAY0 + 3 * DAY],
      [LONG_T0 + 7 * STEP, end - 5 * STEP],
    ];
    for (let i = 0; i < 8; i++) {
      const a = LONG_T0 + Math.floor(r() * LONG_BUCKETS) * STEP + Math.floor(r() * STEP);
      const b = a + Math.floor(r() * (end - a)) + 1;
      cases.push([a, b]);
    }
    for (const [from, to] of cases) {
      const what = `${new Date(from).toISOString()}..${new Date(to).toISOString()}`;
      assertSameAnswer(await tiered.endpoints({ from, to }), await rawOnly.endpoints({ from, to }), what);
      const one = { from, to, route: '/dags', method: 'GET' };
      assertSameAnswer(await tiered.endpoints(one), await rawOnly.endpoints(one), `${what} GET /dags`);
      const byInstance = new StoreHistory(store, { stepMs: STEP, instance: 'b' });
      const byInstanceRaw = new StoreHistory(store, { stepMs: STEP, instance: 'b', rollups: false });
      assertSameAnswer(await byInstance.endpoints({ from, to }), await byInstanceRaw.endpoints({ from, to }), what);
    }
    // A series of at most 48 points over the range (58 h) reads hourly rows, equal to raw rows re-bucketed.
    const coarse = new StoreHistory(store, { stepMs: STEP, seriesPoints: 48 });
    const series = await coarse.series({ from: LONG_T0, to: end, route: '/dags' });
    assert.equal(series.stepMs, 3_600_000);
    // With the default 720 points, 5-minute rows are fine enough.
    assert.equal((await tiered.series({ from: LONG_T0, to: end, route: '/dags' })).stepMs, STEP);
    const rawSeries = await rawOnly.series({ from: LONG_T0, to: end, route: '/dags' });
    const rebucketed = new Map<number, Tally>();
    for (const p of rawSeries.points) {
      const at = Math.floor(p.start / 3_600_000) * 3_600_000;
      rebucketed.set(at, (rebucketed.get(at) ?? new Tally()).merge(p.tally));
    }
    assert.deepEqual(
      series.points.map((p) => p.start),
      [...rebucketed.keys()],
    );
    for (const p of series.points) assertSameTally(p.tally, rebucketed.get(p.start)!, `series ${p.start}`);
  });

  void withStore('rollups: idempotent, and a late snapshot reopens its period until the next run', async (store) => {
    await store.migrate();
    const { rows } = longDataset(8);
    await store.writeSnapshot(rows);
    const end = LONG_T0 + LONG_BUCKETS * STEP;
    // Two runs at once (two connections on PostgreSQL): the watermark check lets each bucket be written once.
    await Promise.all([store.rollup(end, { maxPeriods: 20 }), store.rollup(end)]);
    const again = await store.rollup(end);
    assert.equal(again.tiers[3600].periods + again.tiers[86400].periods, 0, 'nothing left to do');
    const hourly = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER, rollup: 3600 });
    const daily = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER, rollup: 86400 });
    const total = rows.reduce((n, x) => n + x.tally.count, 0);
    assert.equal(
      hourly.reduce((n, x) => n + x.tally.count, 0),
      total,
      'every raw row counted once in the hourly rows',
    );
    assert.equal(
      daily.reduce((n, x) => n + x.tally.count, 0),
      rows.filter((x) => x.bucketStart < DAY0 + 3 * DAY).reduce((n, x) => n + x.tally.count, 0),
    );
    // A late snapshot (a buffered retry) lands in a rolled-up hour of day 1.
    const lateAt = DAY0 + DAY + 5 * 3_600_000 + 2 * STEP;
    const late = new Tally();
    for (let i = 0; i < 5; i++) addRequest(late, 200, 42 + i, -1, 10);
    await store.writeSnapshot([
      { instance: 'late', method: 'GET', route: '/dags', bucketStart: lateAt, bucketSeconds: STEP / 1000, tally: late },
    ]);
    assert.deepEqual(await store.rollupWatermarks(), { 3600: DAY0 + DAY + 5 * 3_600_000, 86400: DAY0 + DAY });
    const tiered = new StoreHistory(store, { stepMs: STEP });
    const rawOnly = new StoreHistory(store, { stepMs: STEP, rollups: false });
    const sameBoth = async () =>
      assertSameAnswer(
        await tiered.endpoints({ from: LONG_T0, to: end }),
        await rawOnly.endpoints({ from: LONG_T0, to: end }),
        'after the late snapshot',
      );
    await sameBoth();
    const rerun = await store.rollup(end);
    assert.equal(rerun.tiers[3600].periods, 19 + 24 + 7, 'hours from the late one on');
    assert.equal(rerun.tiers[86400].periods, 2);
    await sameBoth();
    const lateRow = await store.readRows({ from: lateAt - STEP * 2, to: lateAt + 1, rollup: 3600, instance: 'late' });
    assert.equal(lateRow.length, 1);
    assert.equal(lateRow[0].tally.count, 5);
  });
}

const DAY = 86_400_000;
const DAY0 = Date.UTC(2025, 0, 10);
/** 22:35 on day 0: the raw rows start mid-hour, 85 minutes before midnight. */
const LONG_T0 = DAY0 + 22 * 3_600_000 + 35 * 60_000;
/** To 07:00 on day 3. */
const LONG_BUCKETS = (DAY0 + 3 * DAY + 7 * 3_600_000 - LONG_T0) / STEP;
const LONG_INSTANCES = ['a', 'b'];
const LONG_ENDPOINTS = [...ENDPOINTS, ['DELETE', '/pools/{name}']] as const;
const LONG_KEYS = LONG_INSTANCES.length * LONG_ENDPOINTS.length;

/** Five-minute rows of 2 instances × 3 endpoints from 22:35 on day 0 to 07:00 on day 3 (a few requests each). */
function longDataset(seed: number): { rows: SnapshotRow[]; exact: Map<string, { durations: number[] }> } {
  const r = rng(seed);
  const rows: SnapshotRow[] = [];
  const exact = new Map<string, { durations: number[] }>();
  for (const instance of LONG_INSTANCES) {
    for (const [method, route] of LONG_ENDPOINTS) {
      const key = `${method} ${route}`;
      let e = exact.get(key);
      if (e === undefined) exact.set(key, (e = { durations: [] }));
      for (let b = 0; b < LONG_BUCKETS; b++) {
        const tally = new Tally();
        const n = 1 + Math.floor(r() * 4);
        for (let i = 0; i < n; i++) {
          const d = lognormal(r, 30, 1.2);
          const u = r();
          addRequest(tally, u < 0.05 ? 503 : u < 0.15 ? 404 : 200, d, Math.floor(r() * 900), Math.floor(r() * 5000));
          e.durations.push(d);
        }
        rows.push({ instance, method, route, bucketStart: LONG_T0 + b * STEP, bucketSeconds: STEP / 1000, tally });
      }
    }
  }
  return { rows, exact };
}

/**
 * Two tallies hold the same data: every counter, status code and sketch bucket, min, max equal; the sketch's
 * floating-point sum equal up to the rounding of adding the same numbers in another order.
 */
export function assertSameTally(actual: Tally, expected: Tally, what: string): void {
  const a = actual.toJSON();
  const e = expected.toJSON();
  assert.ok(Math.abs(a.latency.sum - e.latency.sum) <= 1e-12 * Math.abs(e.latency.sum), `${what}: latency sum`);
  // Status codes are pairs in first-seen order: compared as a map.
  assert.deepEqual(actual.statusCodes(), expected.statusCodes(), what);
  const rest = (t: typeof a) => ({ ...t, codes: [], latency: { ...t.latency, sum: 0 } });
  assert.deepEqual(rest(a), rest(e), what);
}

function assertSameAnswer(actual: HistoryAnswer, expected: HistoryAnswer, what: string): void {
  assert.equal(actual.from, expected.from, what);
  assert.equal(actual.to, expected.to, what);
  const byKey = (a: HistoryAnswer) => new Map(a.endpoints.map((e) => [`${e.method} ${e.route}`, e.tally]));
  const got = byKey(actual);
  const want = byKey(expected);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), what);
  for (const [key, tally] of want) assertSameTally(got.get(key)!, tally, `${what} ${key}`);
}
