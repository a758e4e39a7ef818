/**
 * Alert state kept in the history store (table apimeter_alert_state), in real SQLite and real
 * PostgreSQL: a firing instance survives a restart of the meter, the evaluator and the store
 * connection with its state and `since`; a pending one keeps its `for` progress.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createMeter, ErrorKind, ManualClock } from '../src/index.js';
import { parseRules } from '../src/alerts/rules.js';
import type { RuleDefaults } from '../src/alerts/rules.js';
import { startAlerts } from '../src/alerts/start.js';
import { storeAlertState } from '../src/alerts/state-store.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { MemoryStore } from '../src/store/store.js';
import type { SnapshotStore } from '../src/store/store.js';
import { PG_URL, pgSkip } from './faults/postgres.js';

const DEFAULTS: RuleDefaults = {
  defaultRules: false,
  errorRateThreshold: 0.05,
  p95ThresholdMs: 1000,
  authFailureThreshold: 0.2,
  anomalyThreshold: 6,
  anomalyMinRequests: 50,
};
const T0 = Date.parse('2025-06-02T10:00:00Z');
const RULES = parseRules(
  `rules:\n  - name: Errors\n    signal: error_rate_5xx\n    window: 1m\n    above: 0.5\n    for: 1m\n`,
  DEFAULTS,
);

const dir = mkdtempSync(join(tmpdir(), 'apimeter-alert-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** One process's life: a fresh meter, store connection and evaluator, `steps` evaluations 30 s apart. */
async function run(clock: ManualClock, open: () => Promise<SnapshotStore>, steps: number) {
  const meter = createMeter({ iniPath: false, env: {}, clock });
  const a = meter.endpoint('GET', '/a')!;
  const b = meter.endpoint('GET', '/b')!;
  const store = await open();
  const alerts = startAlerts(meter, { rules: RULES, intervalSeconds: 0, state: storeAlertState(store, 'api') });
  try {
    for (let i = 0; i < steps; i++) {
      for (let k = 0; k < 5; k++) meter.record(a, 500, 5, -1, -1, ErrorKind.None);
      if (clock.now() >= T0 + 60_000) for (let k = 0; k < 5; k++) meter.record(b, 500, 5, -1, -1, ErrorKind.None);
      await alerts.evaluateNow();
      assert.equal(alerts.stats.failures, 0, alerts.stats.lastError ?? '');
      clock.advance(30_000);
    }
    return new Map(alerts.instances().map((x) => [x.endpoint, { ...x }]));
  } finally {
    await alerts.close();
    await store.close();
  }
}

async function restarts(open: () => Promise<SnapshotStore>, saved: () => Promise<string | null>): Promise<void> {
  const clock = new ManualClock(T0);
  const first = await run(clock, open, 4); // /a pending at 0 s, firing at 60 s; /b pending at 60 s
  assert.equal(first.get('GET /a')!.state, 'firing');
  assert.equal(first.get('GET /a')!.since, T0 + 60_000);
  assert.equal(first.get('GET /b')!.state, 'pending');
  // What the table holds, read without the store module: the instances as the evaluator saved them.
  const row = JSON.parse((await saved())!) as { instances: { endpoint: string; state: string; since: number }[] };
  assert.deepEqual(row.instances.map((x) => [x.endpoint, x.state, x.since]).sort(), [
    ['GET /a', 'firing', T0 + 60_000],
    ['GET /b', 'pending', T0 + 60_000],
  ]);
  const second = await run(clock, open, 1); // restarted at 120 s
  assert.equal(second.get('GET /a')!.state, 'firing');
  assert.equal(second.get('GET /a')!.since, T0 + 60_000, 'firing since before the restart');
  assert.equal(second.get('GET /a')!.firedAt, T0 + 60_000, 'not re-fired after the restart');
  // /b went pending at 60 s: at 120 s its minute has passed, so it fires though this process just started.
  assert.equal(second.get('GET /b')!.state, 'firing');
  assert.equal(second.get('GET /b')!.activeAt, T0 + 60_000);
}

describe('alert state in the store survives restarts', () => {
  test('sqlite', async () => {
    const path = join(dir, 'apimeter.db');
    await restarts(
      () => openSqliteStore(path),
      async () => {
        const db = new Database(path, { readonly: true });
        try {
          const r = db.prepare("SELECT state FROM apimeter_alert_state WHERE state_key = 'api'").get() as
            { state: string } | undefined;
          return r?.state ?? null;
        } finally {
          db.close();
        }
      },
    );
  });

  test('postgres', { skip: pgSkip }, async () => {
    const schema = `apimeter_alert_state_${process.pid}`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    try {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await restarts(
        () => openPostgresStore({ url: PG_URL, schema, max: 2 }),
        async () => {
          const { rows } = await pool.query<{ state: string }>(
            `SELECT state FROM "${schema}".apimeter_alert_state WHERE state_key = 'api'`,
          );
          return rows[0]?.state ?? null;
        },
      );
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });

  test('a store that cannot be read yet: evaluations go on, the state is read once it can be, not overwritten before', async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryStore();
    const saved = JSON.stringify({
      version: 1,
      savedAt: T0 - 30_000,
      instances: [
        {
          rule: 'Errors',
          endpoint: 'GET /a',
          state: 'firing',
          since: T0 - 600_000,
          activeAt: T0 - 660_000,
          firedAt: T0 - 600_000,
          resolvedAt: 0,
          lastTrueAt: T0 - 30_000,
          value: 1,
          threshold: 0.5,
        },
      ],
    });
    await store.writeAlertState('api', saved, T0 - 30_000);
    store.failWith = new Error('not connected');
    const meter = createMeter({ iniPath: false, env: {}, clock });
    const a = meter.endpoint('GET', '/a')!;
    const burst = () => {
      for (let k = 0; k < 5; k++) meter.record(a, 500, 5, -1, -1, ErrorKind.None);
    };
    const errors: unknown[] = [];
    const alerts = startAlerts(meter, {
      rules: RULES,
      intervalSeconds: 0,
      state: storeAlertState(store, 'api'),
      onError: (e) => errors.push(e),
    });
    burst();
    await alerts.evaluateNow();
    assert.equal(alerts.stats.evaluations, 1, 'evaluated without the saved state');
    assert.equal(alerts.instances()[0].state, 'pending', 'a fresh instance meanwhile');
    assert.ok(errors.length >= 1);
    store.failWith = null;
    assert.equal(await store.readAlertState('api'), saved, 'not overwritten while unread');
    clock.advance(30_000);
    burst();
    await alerts.evaluateNow();
    const inst = alerts.instances().find((x) => x.endpoint === 'GET /a');
    assert.equal(inst?.state, 'firing');
    assert.equal(inst?.since, T0 - 600_000, 'restored at the next evaluation, replacing the fresh one');
    await alerts.close();
  });
});
