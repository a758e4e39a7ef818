import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_SKETCH, relativeErrorBound, Sketch } from '../../src/core/sketch.js';
import { ERROR_FIELD, F, statusClassOf, Tally, ZERO_INDEX } from '../../src/core/tally.js';
import { StoreHistory } from '../../src/store/history.js';
import { SCHEMA_VERSION } from '../../src/store/migrations/index.js';
import type { SnapshotRow, SnapshotStore } from '../../src/store/store.js';
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
  });

  void withStore('retention: a dry run counts, deleteBefore removes only older buckets', async (store) => {
    await store.migrate();
    const { rows } = dataset(5);
    await store.writeSnapshot(rows);
    const cutoff = T0 + 4 * STEP;
    const older = rows.filter((r) => r.bucketStart < cutoff).length;
    assert.equal(await store.deleteBefore(cutoff, { dryRun: true }), older);
    assert.equal((await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER })).length, rows.length);
    assert.equal(await store.deleteBefore(cutoff), older);
    const left = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER });
    assert.equal(left.length, rows.length - older);
    assert.ok(left.every((r) => r.bucketStart >= cutoff));
    assert.equal(await store.deleteBefore(cutoff), 0);
  });
}
