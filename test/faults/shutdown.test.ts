/**
 * closeOnSignal, end to end: a real child process serving requests, with StatsD (the Etsy daemon) and
 * OTLP sinks and SQLite persistence, gets SIGTERM with requests in flight. It exits by itself within a
 * bound, and the sinks hold every request the client saw answered — none lost, none doubled.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeOnSignal } from '../../src/shutdown.js';
import { F } from '../../src/core/tally.js';
import { openStore } from '../../src/store/index.js';
import { eventually, startEtsyStatsd, startOtlpReceiver } from '../helpers/exporters.js';
import type { EtsyStatsd, OtlpReceiver } from '../helpers/exporters.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

function get(port: number, i: number): Promise<number | 'refused'> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/work/${i}`, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve('refused'));
    });
    req.on('error', () => resolve('refused'));
  });
}

function otlpRequests(receiver: OtlpReceiver): number {
  let total = 0;
  for (const body of receiver.bodies)
    for (const rm of body.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics)
          if (m.name === 'apimeter.http.server.requests' && m.sum !== undefined)
            for (const p of m.sum.dataPoints) total += Number(p.asInt ?? p.asDouble ?? 0);
  return total;
}

function statsdRequests(daemon: EtsyStatsd): number {
  let n = 0;
  for (const [name, v] of daemon.totals().counters) if (name.startsWith('apimeter.api.request.count.')) n += v;
  return n;
}

test('SIGTERM with requests in flight: the process exits by itself and every answered request reaches StatsD and OTLP', async () => {
  const daemon = await startEtsyStatsd(100);
  cleanup.push(() => daemon.stop());
  const receiver = await startOtlpReceiver('ok');
  cleanup.push(() => receiver.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apimeter-shutdown-'));
  cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const storeUrl = `sqlite:${path.join(dir, 'apimeter.db')}`;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'shutdown-child.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      STATSD_PORT: String(daemon.port),
      OTLP_URL: receiver.url,
      STORE_URL: storeUrl,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanup.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: performance.now() })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`child exited before ready: ${out}`)));
  });

  // Clients keep 16 requests going until the server stops answering.
  let answered = 0;
  let stopped = false;
  let signalled: number | null = null;
  let next = 0;
  const clients = Array.from({ length: 16 }, async () => {
    while (!stopped) {
      const status = await get(port, next++);
      if (status === 200) answered++;
      else stopped = true; // refused: the server has closed
    }
  });
  await eventually(() => answered >= 500, 'traffic before the signal');
  signalled = performance.now();
  child.kill('SIGTERM');
  await Promise.all(clients);
  const exit = await Promise.race([
    exited,
    new Promise<null>((resolve) => setTimeout(() => resolve(null), 30_000).unref()),
  ]);
  assert.notEqual(exit, null, 'the child exited by itself after SIGTERM');
  assert.equal(exit!.code, 0);
  const seconds = (exit!.at - signalled) / 1000;
  assert.ok(seconds < 15, `exited ${seconds.toFixed(1)} s after SIGTERM (the shutdown's timeout is 10 s)`);

  await eventually(() => statsdRequests(daemon) >= answered, `${answered} requests at StatsD`);
  assert.equal(statsdRequests(daemon), answered, 'StatsD: every answered request, once');
  assert.equal(otlpRequests(receiver), answered, 'OTLP: every answered request, once');
  const store = await openStore(storeUrl);
  try {
    const rows = await store.mergeRows({ ranges: [{ from: 0, to: Date.now() + 3_600_000 }], by: 'endpoint' });
    const stored = rows.reduce((n, r) => n + r.tally.c[F.count], 0);
    assert.equal(stored, answered, 'the store: every answered request, once (final snapshot)');
  } finally {
    await store.close();
  }
});

test('closeOnSignal closes in order, within its timeout, and removes its listeners', async () => {
  const order: string[] = [];
  const before = process.listenerCount('SIGTERM');
  const beforeInt = process.listenerCount('SIGINT');
  const handle = closeOnSignal(
    { close: async () => void order.push('server') },
    () => {
      order.push('exporters');
    },
    { close: () => new Promise<void>(() => order.push('hangs')) }, // never settles
    { close: async () => void order.push('never reached') },
    { timeoutMs: 200, onError: (e) => order.push(`error: ${(e as Error).message}`) },
  );
  assert.equal(process.listenerCount('SIGTERM'), before + 1);
  process.emit('SIGTERM', 'SIGTERM');
  await handle.close();
  assert.deepEqual(order, ['server', 'exporters', 'hangs', 'error: shutdown did not finish within 200 ms']);
  assert.equal(process.listenerCount('SIGTERM'), before);
  assert.equal(process.listenerCount('SIGINT'), beforeInt);
});
