/**
 * An exporter host whose DNS lookup hangs must not stall unrelated work: fs, zlib and crypto share
 * libuv's 4-thread pool with dns.lookup. The DNS server here is a UDP socket on loopback that swallows
 * queries; the system lookup (getaddrinfo) that hangs is played by a function that holds one pool thread
 * each call (opening a FIFO nobody writes to blocks in open(2) on a pool thread).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import type { LookupAddress } from 'node:dns';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMeter } from '../../src/core/meter.js';
import { startOtelExporter } from '../../src/exporters/otel.js';
import { createStatsdExporter, UdpTransport } from '../../src/exporters/statsd.js';
import { eventually } from '../helpers/exporters.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apimeter-dns-'));
const fifo = path.join(dir, 'hang');
execFileSync('mkfifo', [fifo]);
const blocked: Promise<unknown>[] = [];

/** A getaddrinfo that hangs: each call holds one libuv pool thread until the FIFO gets a writer. */
function hangingLookup(): Promise<LookupAddress[]> {
  const opened = fs.promises.open(fifo, 'r');
  blocked.push(opened.then((h) => h.close()).catch(() => undefined));
  return opened.then(() => {
    throw Object.assign(new Error('released'), { code: 'EAI_AGAIN' });
  });
}

const swallow = dgram.createSocket('udp4');
let queries = 0;
swallow.on('message', () => queries++);
await new Promise<void>((resolve) => swallow.bind(0, '127.0.0.1', resolve));
const dnsServer = `127.0.0.1:${swallow.address().port}`;

/** Releases every blocked open(): a writer on the FIFO wakes them all. */
async function release(): Promise<void> {
  try {
    fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
  } catch {
    // ENXIO: no reader waiting
  }
  await Promise.all(blocked);
}

after(async () => {
  await release();
  swallow.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const here = fileURLToPath(import.meta.url);

/** Reads this file `n` times at once (each read is several pool tasks): ms taken. */
async function readBurst(n: number): Promise<number> {
  const started = performance.now();
  await Promise.all(Array.from({ length: n }, () => fs.promises.readFile(here)));
  return performance.now() - started;
}

test('StatsD and OTLP hosts that never resolve leave the thread pool to fs work', async (t) => {
  const baseline = Math.max(await readBurst(16), await readBurst(16));
  const dns = { dnsServers: [dnsServer], lookup: hangingLookup, lookupTimeoutMs: 100 };
  const meter = createMeter({ iniPath: false, env: {} });
  meter.recordRequest({ method: 'GET', route: '/a', status: 200, durationMs: 1 });
  const statsd = createStatsdExporter(meter, {
    transport: new UdpTransport('statsd.apimeter.test', 8125, dns),
    flushIntervalMs: 20,
    circuit: { failureThreshold: 1_000_000 }, // keep trying: every flush looks the host up again
    onStateChange: () => {},
  });
  const otel = await startOtelExporter(meter, {
    url: 'http://collector.apimeter.test:4318/v1/metrics',
    intervalMs: 50,
    timeoutMs: 100,
    dns,
    circuit: { failureThreshold: 1_000_000 },
    onStateChange: () => {},
  });
  try {
    // Many lookups have been tried, and timed out, while earlier ones still hang.
    await eventually(
      () => statsd.health().counters!.failedFlushes >= 8 && otel.health().counters!.exportFailures >= 3,
      'lookups to fail repeatedly',
      30_000,
    );
    assert.ok(queries > 0, 'the lookups went to the DNS server (c-ares), which never answers');
    const bound = Math.max(2000, 50 * baseline);
    const during = await Promise.race([
      readBurst(16),
      new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), bound)),
    ]);
    const holding = blocked.length;
    t.diagnostic(`16 readFile: baseline ${baseline.toFixed(1)} ms, while lookups hang ${during.toFixed(1)} ms`);
    await release(); // before asserting: a full pool would stall the test runner itself
    assert.ok(
      during < bound,
      `fs.readFile finished while lookups hang (baseline ${baseline.toFixed(1)} ms, now ${during} ms)`,
    );
    assert.ok(holding <= 1, `${holding} system lookups hold pool threads (at most one at a time)`);
    assert.match(statsd.health().lastError!, /statsd\.apimeter\.test/);
  } finally {
    await statsd.close();
    await otel.close();
  }
});
