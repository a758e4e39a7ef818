import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createMeter, ErrorKind, ManualClock } from '../../src/index.js';
import type { Meter } from '../../src/index.js';
import { startPersistence } from '../../src/store/persistence.js';
import { PG_ADDRESS, PG_URL, pgSkip } from './postgres.js';
import { until } from './poll.js';
import { tcpRelay } from './tcp-relay.js';
import type { RelayMode } from './tcp-relay.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 3, 12, 0, 0);

const health = (meter: Meter) => meter.componentHealth().find((h) => h.name === 'store:postgres');

/** Resolves 'settled' when `p` settles within `ms`, else 'pending' (so a hang fails instead of hanging). */
function within(p: Promise<unknown>, ms: number): Promise<'settled' | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<'pending'>((r) => (timer = setTimeout(r, ms, 'pending'))),
  ]).finally(() => clearTimeout(timer));
}

for (const fault of ['swallow', 'refuse'] as RelayMode[]) {
  test(
    `startPersistence against a PostgreSQL that ${fault === 'swallow' ? 'never answers' : 'refuses'}: returns, buffers, connects later, writes all`,
    { skip: pgSkip, timeout: 60_000 },
    async () => {
      const relay = await tcpRelay(PG_ADDRESS);
      const schema = `apimeter_start_${randomBytes(4).toString('hex')}`;
      const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
      await admin.query(`CREATE SCHEMA "${schema}"`);
      const url = new URL(relay.url(PG_URL));
      url.searchParams.set('options', `-c search_path=${schema}`);
      relay.set(fault);
      const clock = new ManualClock(T0 + 1000);
      const meter = createMeter({ iniPath: false, env: {}, clock });
      const starting = startPersistence(meter, {
        enabled: true,
        url: url.href,
        handleSignals: false,
        startTimeoutMs: 300,
        connectRetryMs: { min: 50, max: 200 },
        postgres: { connectTimeoutMs: 300, statementTimeoutMs: 1000 },
        task: { instance: 's', intervalSeconds: 60, graceMs: 0, maxBufferedRows: 3 },
      });
      try {
        assert.equal(await within(starting, 10_000), 'settled', 'startPersistence neither resolved nor rejected');
        const persistence = (await starting)!;
        assert.ok(persistence);
        const sent = new Map<number, number>();
        const ep = meter.endpoint('GET', '/s')!;
        for (let m = 0; m < 5; m++) {
          clock.set(T0 + m * MIN + 5000);
          for (let k = 0; k <= m; k++) meter.record(ep, 200, 3 + k, -1, -1, ErrorKind.None);
          sent.set(T0 + m * MIN, m + 1);
          clock.set(T0 + (m + 1) * MIN);
          await persistence.task.runOnce();
        }
        assert.ok(await until(() => health(meter)?.state === 'failing', 10_000), JSON.stringify(health(meter)));
        const h = health(meter)!;
        assert.equal(h.counters?.connected, 0);
        assert.match(h.lastError ?? '', /not connected/);
        assert.equal(h.counters?.buffered, 3);
        assert.equal(h.counters?.dropped, 2, 'two buckets beyond the bound of 3');

        relay.set('pass');
        assert.ok(
          await until(() => health(meter)?.counters?.connected === 1 && persistence.task.stats.buffered === 0, 20_000),
          JSON.stringify(health(meter)),
        );
        assert.equal(health(meter)?.state, 'ok');
        const { rows } = await admin.query<{ bucket_start: string; request_count: number }>(
          `SELECT bucket_start, request_count FROM "${schema}".api_metric_snapshots ORDER BY bucket_start`,
        );
        // The two oldest buckets were dropped (counted above); the rest arrived exactly.
        const expected = new Map([...sent].slice(2));
        assert.deepEqual(new Map(rows.map((r) => [Number(r.bucket_start), Number(r.request_count)])), expected);
        assert.equal(await within(persistence.close(), 15_000), 'settled');
      } finally {
        await starting.then((p) => within(p!.close(), 15_000)).catch(() => undefined);
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
        await relay.close();
      }
    },
  );
}

test('startPersistence: a store URL that cannot work fails at once with a coded error', async () => {
  const meter = createMeter({ iniPath: false, env: {} });
  for (const url of ['mysql://db/x', 'postgres://', 'postgres://[broken', 'sqlite:']) {
    await assert.rejects(
      startPersistence(meter, { enabled: true, url, handleSignals: false }),
      (e: { code?: string }) => e.code === 'APIMETER_ERR_STORE_URL',
      url,
    );
  }
  assert.deepEqual(meter.componentHealth(), []);
});

test(
  'startPersistence: close() resolves within its bound while PostgreSQL hangs',
  { skip: pgSkip, timeout: 30_000 },
  async () => {
    const relay = await tcpRelay(PG_ADDRESS);
    try {
      relay.set('swallow');
      const meter = createMeter({ iniPath: false, env: {} });
      const persistence = (await startPersistence(meter, {
        enabled: true,
        url: relay.url(PG_URL),
        handleSignals: false,
        startTimeoutMs: 100,
        closeTimeoutMs: 500,
        postgres: { connectTimeoutMs: 10_000 },
      }))!;
      meter.record(meter.endpoint('GET', '/x')!, 200, 1, -1, -1, ErrorKind.None);
      assert.equal(await within(persistence.close(), 5000), 'settled');
    } finally {
      await relay.close();
    }
  },
);
