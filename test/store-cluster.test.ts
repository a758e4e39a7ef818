import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { LATENCY_SKETCH, relativeErrorBound } from '../src/core/sketch.js';
import { F } from '../src/core/tally.js';
import { StoreHistory } from '../src/store/history.js';
import { PostgresStore } from '../src/store/postgres.js';
import { PG_URL, pgSkip } from './faults/postgres.js';
import { exactQuantile } from './helpers/datasets.js';
import { CLUSTER_T0, clusterTraffic } from './helpers/store-cluster-traffic.js';

const run = promisify(execFile);
const worker = new URL('./helpers/store-cluster-worker.ts', import.meta.url).pathname;

test('cluster: three processes share one PostgreSQL; the cluster answer is the union', { skip: pgSkip }, async () => {
  const schema = `apimeter_cluster_${process.pid}`;
  const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
  const store = new PostgresStore(pool, schema);
  try {
    // Started together: they also race to migrate the empty schema (serialized by an advisory lock).
    await Promise.all(
      [0, 1, 2].map((n) => run(process.execPath, ['--import', 'tsx', worker, PG_URL, schema, String(n)])),
    );
    const all = [0, 1, 2].flatMap((n) => clusterTraffic(n));
    const history = new StoreHistory(store, { stepMs: 60_000 });
    assert.equal(await history.refresh(), CLUSTER_T0 + 5 * 60_000);
    const answer = await history.endpoints({ from: CLUSTER_T0, to: CLUSTER_T0 + 5 * 60_000 });
    const routes = [...new Set(all.map((r) => r.route))].sort();
    assert.deepEqual(answer.endpoints.map((e) => e.route).sort(), routes);
    const bound = relativeErrorBound(LATENCY_SKETCH);
    for (const ep of answer.endpoints) {
      const sent = all.filter((r) => r.route === ep.route);
      assert.equal(ep.tally.count, sent.length, ep.route);
      assert.equal(ep.tally.c[F.status1xx + 4], sent.filter((r) => r.status === 500).length);
      const sorted = sent.map((r) => r.durationMs).sort((a, b) => a - b);
      for (const q of [0.5, 0.95, 0.99]) {
        const exact = exactQuantile(sorted, q);
        const got = ep.tally.latency.quantile(q);
        assert.ok(Math.abs(got - exact) <= bound * exact + 1e-9, `${ep.route} p${q * 100}: ${got} vs ${exact}`);
      }
    }
    // One instance only.
    const one = new StoreHistory(store, { stepMs: 60_000, instance: 'node-1' });
    const mine = await one.endpoints({ from: CLUSTER_T0, to: CLUSTER_T0 + 5 * 60_000 });
    assert.equal(
      mine.endpoints.reduce((n, e) => n + e.tally.count, 0),
      clusterTraffic(1).length,
    );
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await store.close();
  }
});
