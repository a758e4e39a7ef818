import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createMeter, ErrorKind, ManualClock } from '../../src/index.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { SnapshotTask } from '../../src/store/snapshot-task.js';
import { PG_ADDRESS, PG_URL, pgSkip } from './postgres.js';
import { until } from './poll.js';
import { tcpRelay } from './tcp-relay.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 3, 12, 0, 0);

test(
  'PostgreSQL hangs, then comes back: no connection kept, everything buffered written, close() bounded',
  { skip: pgSkip, timeout: 60_000 },
  async () => {
    const relay = await tcpRelay(PG_ADDRESS);
    const schema = `apimeter_hang_${randomBytes(4).toString('hex')}`;
    const app = `apimeter_hang_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
    const store = await openPostgresStore({
      url: relay.url(PG_URL),
      schema,
      max: 4,
      connectTimeoutMs: 300,
      statementTimeoutMs: 300,
      applicationName: app,
    });
    try {
      const clock = new ManualClock(T0 + 1000);
      const meter = createMeter({ iniPath: false, env: {}, clock });
      const errors: unknown[] = [];
      const task = new SnapshotTask({
        meter,
        store,
        instance: 'h',
        intervalSeconds: 60,
        graceMs: 0,
        writeTimeoutMs: 400,
        onError: (e) => errors.push(e),
      });
      const ep = meter.endpoint('GET', '/hang')!;
      const sent = new Map<number, number>();
      const minute = async (m: number) => {
        clock.set(T0 + m * MIN + 10_000);
        for (let k = 0; k < m + 1; k++) meter.record(ep, 200, 5 + k, -1, -1, ErrorKind.None);
        sent.set(T0 + m * MIN, m + 1);
        clock.set(T0 + (m + 1) * MIN);
        await task.runOnce();
      };
      await minute(0);
      assert.equal(task.stats.written, 1);

      relay.set('swallow');
      // Every retry gives up on a hung write; none may keep its connection.
      for (let m = 1; m <= 8; m++) {
        await minute(m);
        assert.ok(
          await until(() => relay.open <= 1, 5000),
          `after retry ${m}: ${relay.open} connections held open at the relay`,
        );
      }
      assert.equal(task.stats.written, 1, 'nothing got through the hang');
      assert.equal(task.stats.buffered, 8);
      assert.notEqual(task.health().state, 'ok');

      relay.set('pass');
      assert.ok(
        await until(async () => {
          await task.runOnce();
          return task.stats.buffered === 0;
        }, 20_000),
        `still buffered after PostgreSQL came back: ${task.stats.buffered} (${String(errors.at(-1))})`,
      );
      assert.equal(task.health().state, 'ok');
      const { rows } = await admin.query<{ bucket_start: string; request_count: number }>(
        `SELECT bucket_start, request_count FROM "${schema}".api_metric_snapshots ORDER BY bucket_start`,
      );
      assert.deepEqual(new Map(rows.map((r) => [Number(r.bucket_start), Number(r.request_count)])), sent);
      const active = await admin.query<{ n: string }>(
        'SELECT COUNT(*) AS n FROM pg_stat_activity WHERE application_name = $1',
        [app],
      );
      assert.ok(Number(active.rows[0].n) <= 4, `${active.rows[0].n} server sessions for the store`);

      // Hung again at shutdown: stop() and close() still end (driver timeouts), holding nothing.
      relay.set('swallow');
      await minute(9);
      const closed = Promise.all([task.stop(), store.close()]).then(() => 'closed');
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise((r) => (timer = setTimeout(r, 15_000, 'hung')));
      assert.equal(await Promise.race([closed, late]), 'closed');
      clearTimeout(timer);
      assert.ok(await until(() => relay.open === 0, 5000), `${relay.open} connections left open`);
    } finally {
      // Bounded: on a store that leaks a hung connection, close() never resolves.
      await Promise.race([store.close().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
      await relay.close();
    }
  },
);
