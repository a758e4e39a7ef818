import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { MIGRATIONS } from '../src/store/migrations/index.js';
import { PG_URL, pgSkip } from './faults/postgres.js';

const run = promisify(execFile);
const app = new URL('./helpers/fleet-cluster.ts', import.meta.url).pathname;

interface Result {
  started: { ready: string; role: string }[];
  sent: number;
  ok: number;
  counts: { instance: string; count: number }[];
  fleetCount: number;
  perInstance: Record<string, number>;
  instances: { instance: string; role: string; requests: number }[];
}

test(
  'node:cluster: every worker is an instance, one migration, the primary serves the fleet',
  { skip: pgSkip, timeout: 120_000 },
  async () => {
    const schema = `apimeter_fleet_cluster_${process.pid}`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', app, PG_URL, schema], { timeout: 100_000 });
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as Result;
      const ids = r.started.map((s) => s.ready);
      assert.equal(new Set(ids).size, 3, 'distinct instance ids');
      assert.deepEqual(r.started.map((s) => s.role).sort(), ['worker 1', 'worker 2', 'worker 3']);
      assert.equal(r.ok, r.sent);
      // What the workers counted themselves adds up to what was sent, and the fleet view says the same.
      assert.equal(
        r.counts.reduce((s, c) => s + c.count, 0),
        r.sent,
      );
      assert.equal(r.fleetCount, r.sent);
      for (const c of r.counts) {
        assert.ok(c.count > 0, `the primary handed ${c.instance} connections`);
        assert.equal(r.perInstance[c.instance], c.count, c.instance);
      }
      assert.deepEqual(r.instances.map((i) => i.instance).sort(), [...ids].sort());
      // Started together, they migrated once: each version recorded once, all of them.
      const { rows } = await pool.query<{ version: number }>(
        `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
      );
      assert.deepEqual(
        rows.map((x) => x.version),
        MIGRATIONS.map((m) => m.version),
      );
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await pool.end();
    }
  },
);
