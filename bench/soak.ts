/**
 * Soak runs: minutes-long checks that CI's short tests cannot afford (`npm run soak`).
 *
 *   npm run soak -- --minutes 4 [--endpoints 1000]
 *
 * `store-hang`: the snapshot task writes through a TCP relay to PostgreSQL (APIMETER_TEST_PG_URL or
 * 127.0.0.1:5432) that swallows everything (a hung server), with short retry settings, while 1,000
 * endpoints take traffic. Every 15 s it prints the heap after a full GC, the task's buffer and drops, and
 * the connections the relay holds open. It then lets PostgreSQL through again and checks that the
 * buffer drains. Fails (exit 1) if the heap after GC grows by more than 32 MB past the first sample, if
 * more than one connection is held, or if nothing is written after the hang.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createMeter, ErrorKind } from '../src/index.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { SnapshotTask } from '../src/store/snapshot-task.js';
import { tcpRelay } from '../test/faults/tcp-relay.js';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '4' }, endpoints: { type: 'string', default: '1000' } },
});
const minutes = Number(values.minutes);
const endpoints = Number(values.endpoints);
const PG_URL = process.env.APIMETER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function storeHang(): Promise<boolean> {
  const target = new URL(PG_URL);
  const relay = await tcpRelay({ host: target.hostname, port: Number(target.port || 5432) });
  const schema = `apimeter_soak_${process.pid}`;
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const store = await openPostgresStore({
    url: relay.url(PG_URL),
    schema,
    connectTimeoutMs: 1000,
    statementTimeoutMs: 2000,
  });
  const meter = createMeter({ iniPath: false, env: {} });
  const task = new SnapshotTask({
    meter,
    store,
    intervalSeconds: 60,
    minRetryMs: 200,
    maxRetryMs: 1000,
    writeTimeoutMs: 5000,
  });
  const eps = Array.from({ length: endpoints }, (_, i) => meter.endpoint('GET', `/soak/${i}/{id}`)!);
  let k = 0;
  const traffic = setInterval(() => {
    for (const ep of eps) meter.record(ep, k % 50 === 0 ? 500 : 200, 1 + (k++ % 300), 200, 3000, ErrorKind.None);
  }, 100);
  let ok = true;
  try {
    relay.set('swallow');
    task.start();
    const samples: number[] = [];
    const end = Date.now() + minutes * 60_000;
    console.log('elapsed_s  heap_after_gc_mb  buffered  dropped  failures  relay_open');
    const t0 = Date.now();
    while (Date.now() < end) {
      await sleep(15_000);
      const heap = heapMb();
      samples.push(heap);
      const s = task.stats;
      console.log(
        `${String(Math.round((Date.now() - t0) / 1000)).padStart(9)}  ${heap.toFixed(1).padStart(16)}  ${String(s.buffered).padStart(8)}  ${String(s.dropped).padStart(7)}  ${String(s.failures).padStart(8)}  ${String(relay.open).padStart(10)}`,
      );
      if (relay.open > 1) ok = false;
    }
    const growth = Math.max(...samples) - samples[0];
    console.log(`heap growth after the first sample: ${growth.toFixed(1)} MB (bound 32 MB)`);
    if (growth > 32) ok = false;
    relay.set('pass');
    const before = task.stats.written;
    const deadline = Date.now() + 120_000;
    while (task.stats.written === before && Date.now() < deadline) await sleep(500);
    console.log(`after the hang: ${task.stats.written - before} rows written, ${task.stats.buffered} buffered`);
    if (task.stats.written === before) ok = false;
  } finally {
    clearInterval(traffic);
    await task.stop();
    await store.close().catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await relay.close();
  }
  return ok;
}

const ok = await storeHang();
console.log(ok ? 'store-hang: ok' : 'store-hang: FAILED');
process.exitCode = ok ? 0 : 1;
