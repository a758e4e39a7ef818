import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { LATENCY_SKETCH, Sketch } from '../src/core/sketch.js';
import { ERROR_FIELD, statusClassOf, Tally } from '../src/core/tally.js';
import { SealedHistory } from '../src/fleet/history-cache.js';
import { StoreHistory } from '../src/store/history.js';
import { openPostgresStore } from '../src/store/postgres.js';
import type { SnapshotRow } from '../src/store/store.js';
import { PG_URL, pgSkip } from './faults/postgres.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const STEP = 300_000;
const indexer = new Sketch(LATENCY_SKETCH);

/** A deterministic tally of `n` requests (latencies spread over two decades, some 500s). */
function tally(seed: number, n: number): Tally {
  const t = new Tally();
  let x = seed * 7919 + 17;
  for (let k = 0; k < n; k++) {
    x = (x * 48271) % 2147483647;
    const status = x % 29 === 0 ? 500 : 200;
    const d = 1 + (x % 997) / 5;
    t.add(status, statusClassOf(status), status === 500 ? ERROR_FIELD[0] : -1, d, indexer.indexOf(d), 300, 1200);
  }
  return t;
}

const sum = (a: { endpoints: { tally: Tally }[] }) => a.endpoints.reduce((n, e) => n + e.tally.count, 0);

function sameAnswer(
  cached: { endpoints: { method: string; route: string; tally: Tally }[] },
  raw: { endpoints: { method: string; route: string; tally: Tally }[] },
) {
  const byKey = new Map(raw.endpoints.map((e) => [`${e.method} ${e.route}`, e.tally]));
  assert.equal(cached.endpoints.length, raw.endpoints.length);
  for (const e of cached.endpoints) {
    const r = byKey.get(`${e.method} ${e.route}`)!;
    assert.ok(r, `${e.route} missing from the raw merge`);
    assert.deepEqual(e.tally.statusCodes(), r.statusCodes());
    assert.equal(e.tally.count, r.count);
    for (const q of [0.5, 0.95, 0.99]) {
      const a = e.tally.latency.quantile(q);
      const b = r.latency.quantile(q);
      // Both are merges of the same sketches: within the sketch's relative bound (< 1 %) of each other.
      assert.ok(Math.abs(a - b) <= 0.01 * b, `${e.route} q${q}: ${a} vs ${b}`);
    }
  }
}

test(
  'fleet 30-day history from cached sealed rollups equals the merge of the raw rows, and a late snapshot is seen',
  { skip: pgSkip },
  async () => {
    const schema = `apimeter_test_sealed_${process.pid}`;
    const store = await openPostgresStore({ url: PG_URL, schema });
    const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
    try {
      const now = Math.floor(Date.now() / HOUR) * HOUR + 20 * 60_000;
      const start = Math.floor((now - 3 * DAY) / DAY) * DAY - 5 * HOUR;
      const rows: SnapshotRow[] = [];
      let seed = 0;
      // 3 instances × 4 endpoints, one raw row every 30 minutes for ~3.5 days (5-minute buckets).
      for (let i = 0; i < 3; i++)
        for (let t = start; t < now - HOUR; t += 6 * STEP)
          for (let e = 0; e < 4; e++)
            rows.push({
              instance: `i${i}`,
              method: 'GET',
              route: `/r${e}`,
              bucketStart: t,
              bucketSeconds: STEP / 1000,
              tally: tally(++seed, 3 + (seed % 5)),
            });
      await store.writeSnapshot(rows);
      await store.rollup(Math.floor((now - HOUR) / HOUR) * HOUR);
      const wm = await store.rollupWatermarks();
      assert.ok(wm[86400] > start && wm[3600] > wm[86400], `rolled up: ${JSON.stringify(wm)}`);

      let sealedUntil = now;
      const sealed = new SealedHistory(store, { stepMs: STEP, sealedUntil: () => sealedUntil });
      const raw = new StoreHistory(store, { stepMs: STEP, rollups: false });
      const q = { from: now - 30 * DAY, to: now };
      const expected = await raw.endpoints(q);
      assert.equal(
        sum(expected),
        rows.reduce((n, r) => n + r.tally.count, 0),
      );

      const first = await sealed.endpoints(q);
      sameAnswer(first, expected);
      assert.ok(sealed.stats.misses >= 3, `blocks merged: ${JSON.stringify(sealed.stats)}`);
      const misses = sealed.stats.misses;
      const again = await sealed.endpoints(q);
      sameAnswer(again, expected);
      assert.equal(sealed.stats.misses, misses, 'the repeated answer merged no sealed block again');
      assert.ok(sealed.stats.hits >= misses);
      // The cached tallies are not mutated by answering: a third answer is still the same.
      sameAnswer(await sealed.endpoints(q), expected);

      // The whole-API series: the same points as the raw rows grouped by the same step.
      const series = await sealed.series(q);
      const rawSeries = await new StoreHistory(store, { stepMs: STEP }).series(q);
      assert.equal(series.stepMs, rawSeries.stepMs);
      assert.deepEqual(
        series.points.map((p) => [p.start, p.tally.count]),
        rawSeries.points.map((p) => [p.start, p.tally.count]),
      );
      const before = series.points.length;
      await sealed.series(q);
      assert.ok(sealed.stats.hits > misses, 'series blocks cached too');
      assert.equal((await sealed.series(q)).points.length, before);

      // The API asks for the stored part of a 30-day window (the newest minutes come from memory) with the
      // whole window's span: its points are hours, so hourly rows are read, as for the whole window.
      const part = { from: now - 30 * DAY, to: now - 55 * 60_000 };
      assert.equal((await new StoreHistory(store, { stepMs: STEP }).series(part)).stepMs, STEP, 'without spanMs');
      const spanned = { ...part, spanMs: 30 * DAY };
      const storeSeries = await new StoreHistory(store, { stepMs: STEP }).series(spanned);
      assert.equal(storeSeries.stepMs, HOUR);
      const warmed = new SealedHistory(store, { stepMs: STEP, sealedUntil: () => sealedUntil });
      await warmed.warm(part.from, part.to, 30 * DAY);
      const warmMisses = warmed.stats.misses;
      const cachedSeries = await warmed.series(spanned);
      assert.equal(warmed.stats.misses, warmMisses, 'the warm-up merged every block the API asks for');
      assert.equal(cachedSeries.stepMs, HOUR);
      assert.deepEqual(
        cachedSeries.points.map((p) => [p.start, p.tally.count]),
        storeSeries.points.map((p) => [p.start, p.tally.count]),
      );
      assert.equal(
        cachedSeries.points.reduce((n, p) => n + p.tally.count, 0),
        rows.filter((r) => r.bucketStart < part.to).reduce((n, r) => n + r.tally.count, 0),
      );

      // A late snapshot into a sealed, rolled-up day lowers the watermark: the cache must not serve the old merge.
      const late = tally(999, 11);
      await store.writeSnapshot([
        { instance: 'i1', method: 'GET', route: '/r0', bucketStart: start + DAY, bucketSeconds: 300, tally: late },
      ]);
      const afterLate = await sealed.endpoints(q);
      assert.equal(sum(afterLate), sum(expected) + 11 - (await overwritten()));
      sameAnswer(afterLate, await raw.endpoints(q));

      // Nothing is sealed while an expected instance has not persisted past it: no block is cached.
      sealedUntil = 0;
      const fresh = new SealedHistory(store, { stepMs: STEP, sealedUntil: () => sealedUntil });
      sameAnswer(await fresh.endpoints(q), await raw.endpoints(q));
      assert.deepEqual(fresh.stats, { hits: 0, misses: 0 });

      /** The late row replaced an existing one when its key was already written. */
      async function overwritten(): Promise<number> {
        const old = rows.find((r) => r.instance === 'i1' && r.route === '/r0' && r.bucketStart === start + DAY);
        return old === undefined ? 0 : old.tally.count;
      }
    } finally {
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  },
);
