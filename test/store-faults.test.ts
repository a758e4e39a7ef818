import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import pg from 'pg';
import { createMeter, ErrorKind, ManualClock } from '../src/index.js';
import { PostgresStore } from '../src/store/postgres.js';
import { SnapshotTask } from '../src/store/snapshot-task.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 2, 3, 12, 0, 0);

/** A TCP proxy in front of PostgreSQL that can cut every connection and refuse new ones, then recover. */
async function faultProxy(port: number, host: string) {
  const sockets = new Set<Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('PostgreSQL cut mid-run and back: nothing lost within the buffer bound, drops exact beyond it', async () => {
  const url = new URL(process.env.APIMETER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  const proxy = await faultProxy(Number(url.port || 5432), url.hostname);
  url.host = `127.0.0.1:${proxy.port}`;
  const schema = `apimeter_fault_${process.pid}`;
  const pool = new pg.Pool({ connectionString: url.href, max: 2, connectionTimeoutMillis: 2000 });
  pool.on('error', () => undefined);
  const store = new PostgresStore(pool, schema);
  const admin = new pg.Pool({
    connectionString: process.env.APIMETER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  });
  try {
    await store.migrate();
    const clock = new ManualClock(T0 + 1000);
    const meter = createMeter({ iniPath: false, env: {}, clock });
    const task = new SnapshotTask({ meter, store, instance: 'f', intervalSeconds: 60, graceMs: 0, maxBufferedRows: 6 });
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
});
