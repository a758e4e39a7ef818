import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import { createMeter, ErrorKind, ManualClock } from '../../src/index.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { SnapshotTask } from '../../src/store/snapshot-task.js';
import { PG_ADDRESS, PG_URL, pgSkip } from './postgres.js';
import { until } from './poll.js';
import { tcpRelay } from './tcp-relay.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 3, 12, 0, 0);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

test(
  'PostgreSQL hangs: retries do not pile up copies of the buffer (heap after GC stays flat)',
  { skip: pgSkip, timeout: 90_000 },
  async (t) => {
    const relay = await tcpRelay(PG_ADDRESS);
    const schema = `apimeter_mem_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
    const store = await openPostgresStore({
      url: relay.url(PG_URL),
      schema,
      connectTimeoutMs: 150,
      statementTimeoutMs: 300,
    });
    try {
      const clock = new ManualClock(T0 + 1000);
      const meter = createMeter({ iniPath: false, env: {}, clock });
      const task = new SnapshotTask({
        meter,
        store,
        instance: 'm',
        intervalSeconds: 60,
        graceMs: 0,
        writeTimeoutMs: 10_000,
      });
      const eps = Array.from({ length: 1000 }, (_, i) => meter.endpoint('GET', `/items/${i}/detail`)!);
      relay.set('swallow');
      for (let m = 0; m < 3; m++) {
        clock.set(T0 + m * MIN + 5000);
        for (const [i, ep] of eps.entries())
          for (let k = 0; k < 5; k++) meter.record(ep, 200, 1 + ((i * 7 + k * 13) % 400), 100, 2000, ErrorKind.None);
        clock.set(T0 + (m + 1) * MIN);
        await task.runOnce();
      }
      assert.equal(task.stats.buffered, 3000);
      for (let i = 0; i < 3; i++) await task.runOnce();
      const before = heapAfterGc();
      const retries = 20;
      for (let i = 0; i < retries; i++) await task.runOnce();
      const grown = heapAfterGc() - before;
      t.diagnostic(`heap after GC grew ${(grown / 2 ** 20).toFixed(1)} MB over ${retries} retries`);
      assert.equal(task.stats.written, 0);
      assert.ok(task.stats.failures >= retries, `${task.stats.failures} failures`);
      // One encoded copy of the 3,000-row buffer is several MB: a copy per retry would be well over 40 MB.
      assert.ok(grown < 16 * 2 ** 20, `heap grew ${(grown / 2 ** 20).toFixed(1)} MB over ${retries} retries`);
      relay.set('pass');
      assert.ok(
        await until(async () => {
          await task.runOnce();
          return task.stats.written === 3000;
        }, 20_000),
        `${task.stats.written} rows written after PostgreSQL came back: ${task.health().lastError}`,
      );
      await task.stop();
    } finally {
      await Promise.race([store.close().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
      await relay.close();
    }
  },
);
