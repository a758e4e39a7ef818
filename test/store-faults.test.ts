import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createMeter, ErrorKind, ManualClock } from '../src/index.js';
import { PostgresStore } from '../src/store/postgres.js';
import { SnapshotTask } from '../src/store/snapshot-task.js';
import { PG_ADDRESS, PG_URL, pgSkip } from './faults/postgres.js';
import { tcpRelay } from './faults/tcp-relay.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 3, 12, 0, 0);

/** The relay's old two states: cut every connection and refuse new ones, then pass again. */
async function faultProxy() {
  const relay = await tcpRelay(PG_ADDRESS);
  return {
    relay,
    cut() {
      relay.set('refuse');
      relay.cut();
    },
    restore: () => relay.set('pass'),
    close: () => relay.close(),
  };
}

test(
  'PostgreSQL cut mid-run and back: nothing lost within the buffer bound, drops exact beyond it',
  { skip: pgSkip, timeout: 60_000 },
  async () => {
    const proxy = await faultProxy();
    const schema = `apimeter_fault_${process.pid}`;
    const pool = new pg.Pool({
      connectionString: proxy.relay.url(PG_URL),
      max: 2,
      connectionTimeoutMillis: 2000,
      query_timeout: 10_000,
    });
    pool.on('error', () => undefined);
    const store = new PostgresStore(pool, schema);
    const admin = new pg.Pool({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
    try {
      await store.migrate();
      const clock = new ManualClock(T0 + 1000);
      const meter = createMeter({ iniPath: false, env: {}, clock });
      const task = new SnapshotTask({
        meter,
        store,
        instance: 'f',
        intervalSeconds: 60,
        graceMs: 0,
        maxBufferedRows: 6,
      });
      const eps = [meter.endpoint('GET', '/a')!, meter.endpoint('GET', '/b')!];
      const sent = new Map<string, number>();
      const minute = async (m: number) => {
        clock.set(T0 + m * MIN + 10_000);
        eps.forEach((ep, i) => {
          for (let k = 0; k <= m + i; k++) meter.record(ep, 200, 10 + k, -1, -1, ErrorKind.None);
          sent.set(`${m} ${ep.route}`, m + i + 1);
        });
        clock.set(T0 + (m + 1) * MIN);
        await task.runOnce();
      };
      await minute(0);
      assert.equal(task.stats.written, 2);
      proxy.cut();
      await minute(1);
      await minute(2);
      assert.equal(task.stats.buffered, 4);
      assert.ok(task.health().state !== 'ok');
      assert.equal(task.stats.dropped, 0);
      proxy.restore();
      await task.runOnce();
      assert.equal(task.stats.written, 6, 'within the bound nothing is lost');
      proxy.cut();
      for (let m = 3; m < 7; m++) await minute(m);
      assert.equal(task.stats.dropped, 2, 'two rows beyond the bound of 6');
      proxy.restore();
      await task.runOnce();
      assert.equal(task.stats.written, 12);
      assert.equal(task.stats.buffered, 0);
      assert.equal(task.health().state, 'ok');
      const rows = await store.readRows({ from: 0, to: Number.MAX_SAFE_INTEGER });
      const got = new Map(rows.map((r) => [`${(r.bucketStart - T0) / MIN} ${r.route}`, r.tally.count]));
      // The two oldest rows of the second outage (minute 3) are the ones dropped.
      const expected = new Map([...sent].filter(([k]) => !k.startsWith('3 ')));
      assert.deepEqual(got, expected);
      await task.stop();
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
      await store.close().catch(() => undefined);
      await proxy.close();
    }
  },
);
