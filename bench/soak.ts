/**
 * Soak runs: minutes-long checks that CI's short tests cannot afford (`npm run soak`).
 *
 *   npm run soak -- --minutes 4 [--endpoints 1000] [--only=steady|store-hang]
 *
 * `steady` (bench/soak-server.ts in a child process): Fastify + apimeter with the StatsD and OTLP
 * exporters (local sinks) and SQLite history on, under a steady load (autocannon, 200 req/s over 50
 * routes, 2 % 500s) from this process. Every 15 s the server reports heap after GC, RSS and event-loop
 * delay; at the end the heap and RSS slopes (least-squares, MB/min, from the second sample on) are
 * printed. Fails if the heap slope exceeds 1 MB/min or an exporter or the store is not `ok` at the end.
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
import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { startExporterSinks } from './exporters.js';
import { ROOT } from './lib.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '4' },
    endpoints: { type: 'string', default: '1000' },
    only: { type: 'string' },
  },
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

/** Least-squares slope of ys against xs. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

interface SoakSample {
  heapMb: number;
  rssMb: number;
  eldP99Ms: number;
  eldMaxMs: number;
  statsd: string | null;
  otel: string | null;
  store: string | null;
}

async function steady(): Promise<boolean> {
  const sinks = await startExporterSinks();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/soak-server.ts', `--statsd=${sinks.udpPort}`, `--otel=${sinks.otlpUrl}`],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const samples: { t: number; s: SoakSample }[] = [];
  const t0 = Date.now();
  let pending = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`soak server exited (${code})`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = JSON.parse(pending.slice(0, nl)) as { port?: number } & SoakSample;
        pending = pending.slice(nl + 1);
        if (line.port !== undefined) resolve(line.port);
        else {
          samples.push({ t: (Date.now() - t0) / 60_000, s: line });
          console.log(
            `${String(Math.round((Date.now() - t0) / 1000)).padStart(9)}  ${line.heapMb.toFixed(1).padStart(13)}  ` +
              `${line.rssMb.toFixed(1).padStart(7)}  ${line.eldP99Ms.toFixed(1).padStart(12)}  ${line.eldMaxMs.toFixed(1).padStart(12)}  ` +
              `${line.statsd}/${line.otel}/${line.store}`,
          );
        }
      }
    });
  });
  console.log('elapsed_s  heap_after_gc  rss_mb  eld_p99_ms  eld_max_ms  statsd/otel/store');
  let k = 0;
  const run = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 8,
    overallRate: 200,
    duration: minutes * 60,
    requests: [{ setupRequest: (r) => ({ ...r, path: k++ % 50 === 0 ? '/boom' : `/r${k % 50}/${k}` }) }],
  });
  const result = await run;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  sinks.stop();
  const used = samples.slice(1);
  const heapSlope = slope(
    used.map((x) => x.t),
    used.map((x) => x.s.heapMb),
  );
  const rssSlope = slope(
    used.map((x) => x.t),
    used.map((x) => x.s.rssMb),
  );
  const last = samples[samples.length - 1]?.s;
  console.log(
    `${result.requests.total} requests (${result.non2xx} non-2xx, the 2 % /boom 500s; ${result.errors} errors); ` +
      `heap slope ${heapSlope.toFixed(2)} MB/min, RSS slope ${rssSlope.toFixed(2)} MB/min over ${used.length} samples; ` +
      `event-loop delay p99 max ${Math.max(...samples.map((x) => x.s.eldP99Ms)).toFixed(1)} ms`,
  );
  return (
    used.length >= 2 &&
    heapSlope <= 1 &&
    last !== undefined &&
    last.statsd === 'ok' &&
    last.otel === 'ok' &&
    last.store === 'ok' &&
    result.errors === 0
  );
}

const only = values.only;
let ok = true;
if (only === undefined || only === 'steady') {
  const steadyOk = await steady();
  console.log(steadyOk ? 'steady: ok' : 'steady: FAILED');
  ok &&= steadyOk;
}
if (only === undefined || only === 'store-hang') {
  const hangOk = await storeHang();
  console.log(hangOk ? 'store-hang: ok' : 'store-hang: FAILED');
  ok &&= hangOk;
}
process.exitCode = ok ? 0 : 1;
