/**
 * Exporters whose peers are broken — a StatsD host that does not resolve, a port nobody listens on, an
 * OTLP collector that refuses connections and one that accepts and never answers — must not touch the
 * API: every request succeeds, throughput and latency stay close to a server without exporters (compared
 * side by side, as ratios), nothing is rejected unhandled, circuits open and /health says what is wrong.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { apimeter } from '../src/adapters/fastify.js';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { startOtelExporter } from '../src/exporters/otel.js';
import type { OtelExporter } from '../src/exporters/otel.js';
import { createStatsdExporter } from '../src/exporters/statsd.js';
import type { StatsdExporter } from '../src/exporters/statsd.js';
import { eventually, freeTcpPort, freeUdpPort, startOtlpReceiver } from './helpers/exporters.js';
import type { OtlpReceiver } from './helpers/exporters.js';
import { pipelineGets } from './helpers/http.js';

interface Server {
  name: string;
  app: FastifyInstance;
  meter: Meter;
  port: number;
}

const problems: unknown[] = [];
const onProblem = (e: unknown) => problems.push(e);
const messages: string[] = [];
const quiet = (m: string) => messages.push(m);

let bare: Server;
let unresolvable: Server;
let hanging: Server;
let collector: OtlpReceiver;
const statsd: StatsdExporter[] = [];
const otel: OtelExporter[] = [];

async function server(name: string): Promise<Server> {
  const meter = createMeter({ iniPath: false, env: {} });
  const app = Fastify({ logger: false });
  await app.register(apimeter, { meter });
  app.get('/hello/:name', async (req) => ({ hello: (req.params as { name: string }).name }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { name, app, meter, port: (app.server.address() as { port: number }).port };
}

before(async () => {
  process.on('unhandledRejection', onProblem);
  process.on('uncaughtException', onProblem);
  bare = await server('bare');
  unresolvable = await server('unresolvable');
  hanging = await server('hanging');
  collector = await startOtlpReceiver('hang');
  // Host does not resolve; collector port refuses connections.
  statsd.push(
    createStatsdExporter(unresolvable.meter, {
      host: 'nonexistent.invalid',
      port: 8125,
      flushIntervalMs: 20,
      circuit: { failureThreshold: 3, cooldownMs: 200 },
      onStateChange: quiet,
    }),
  );
  otel.push(
    await startOtelExporter(unresolvable.meter, {
      url: `http://127.0.0.1:${await freeTcpPort()}/v1/metrics`,
      intervalMs: 50,
      timeoutMs: 50,
      circuit: { failureThreshold: 2, cooldownMs: 200 },
      onStateChange: quiet,
    }),
  );
  // Nobody listens on the UDP port (ICMP port unreachable); the collector accepts and never answers.
  statsd.push(
    createStatsdExporter(hanging.meter, {
      host: '127.0.0.1',
      port: await freeUdpPort(),
      dialect: 'datadog',
      flushIntervalMs: 20,
      circuit: { failureThreshold: 3, cooldownMs: 200 },
      onStateChange: quiet,
    }),
  );
  otel.push(
    await startOtelExporter(hanging.meter, {
      url: collector.url,
      intervalMs: 100,
      timeoutMs: 100,
      circuit: { failureThreshold: 2, cooldownMs: 200 },
      onStateChange: quiet,
    }),
  );
});

after(async () => {
  for (const s of [bare, unresolvable, hanging]) await s.app.close();
  await collector.close();
  process.off('unhandledRejection', onProblem);
  process.off('uncaughtException', onProblem);
});

async function throughput(s: Server, n: number): Promise<number> {
  const started = performance.now();
  const statuses = await pipelineGets(s.port, n, (i) => `/hello/u${i}`, 16);
  const ms = performance.now() - started;
  assert.deepEqual([...statuses], [[200, n]], `${s.name}: every request succeeds`);
  return n / ms;
}

async function latency(s: Server, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(`http://127.0.0.1:${s.port}/hello/x${i}`);
    assert.equal(res.status, 200);
    await res.text();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

test('broken peers do not change what the API does: all requests succeed, throughput and latency hold', async (t) => {
  await throughput(bare, 1000); // warm-up
  await throughput(unresolvable, 1000);
  await throughput(hanging, 1000);
  const rates: Record<string, number[]> = { bare: [], unresolvable: [], hanging: [] };
  const latencies: Record<string, number[]> = { bare: [], unresolvable: [], hanging: [] };
  for (let round = 0; round < 5; round++) {
    for (const s of [bare, unresolvable, hanging]) {
      rates[s.name].push(await throughput(s, 4000));
      latencies[s.name].push(await latency(s, 40));
    }
  }
  const base = median(rates.bare);
  const baseLatency = median(latencies.bare);
  for (const name of ['unresolvable', 'hanging']) {
    const ratio = median(rates[name]) / base;
    const latencyRatio = median(latencies[name]) / baseLatency;
    t.diagnostic(`${name}: throughput ratio ${ratio.toFixed(2)}, median latency ratio ${latencyRatio.toFixed(2)}`);
    // Generous margins: the machine is shared with other tests; what must not happen is a collapse.
    assert.ok(ratio > 0.5, `${name}: throughput ratio ${ratio.toFixed(2)}`);
    assert.ok(latencyRatio < 3, `${name}: median latency ratio ${latencyRatio.toFixed(2)}`);
  }
  const counted = (s: Server) => s.meter.summary('all').count;
  assert.equal(counted(unresolvable), 5 * 4000 + 1000 + 5 * 40);
  assert.equal(counted(hanging), 5 * 4000 + 1000 + 5 * 40);
});

test('circuits open and /health says what is wrong, for each broken peer', async () => {
  await eventually(
    () => [unresolvable, hanging].every((s) => s.meter.componentHealth().every((h) => h.circuit === 'open')),
    'every circuit to open',
  );
  const health = (s: Server, name: string) => s.meter.componentHealth().find((h) => h.name === name)!;
  const dns = health(unresolvable, 'statsd');
  assert.equal(dns.state, 'failing');
  assert.match(dns.lastError!, /(ENOTFOUND|EAI_AGAIN).*nonexistent\.invalid/);
  assert.ok(dns.counters!.failedFlushes >= 3);
  const refused = health(unresolvable, 'otel');
  assert.equal(refused.state, 'failing');
  assert.match(refused.lastError!, /ECONNREFUSED/);
  const icmp = health(hanging, 'dogstatsd');
  assert.equal(icmp.state, 'failing');
  assert.match(icmp.lastError!, /ECONNREFUSED/);
  const hung = health(hanging, 'otel');
  assert.equal(hung.state, 'failing');
  assert.match(hung.lastError!, /timed out after 100 ms/);
  // While open, flushes and exports are skipped instead of piling up.
  await sleep(100);
  assert.ok(dns.counters!.skippedFlushes + health(unresolvable, 'statsd').counters!.skippedFlushes > 0);
  assert.ok(
    messages.some((m) => m.includes('circuit open')),
    'the opening was logged',
  );
});

test('a circuit half-opens after its cooldown and tries again', async () => {
  // Its own exporter on a manual clock: the cooldown does not depend on how long earlier tests ran.
  const clock = new ManualClock();
  const meter = createMeter({ iniPath: false, env: {} });
  const exporter = createStatsdExporter(meter, {
    host: 'nonexistent.invalid',
    port: 8125,
    flushIntervalMs: 0,
    circuit: { failureThreshold: 3, cooldownMs: 200, now: () => clock.now() },
    onStateChange: quiet,
  });
  const counters = () => exporter.health().counters!;
  for (let i = 0; i < 3; i++) assert.notEqual((await exporter.flush()).error, null);
  assert.equal(exporter.breaker.state, 'open');
  assert.equal(counters().circuitOpened, 1);
  const flushes = counters().flushes;
  assert.equal((await exporter.flush()).skipped, true, 'skipped while open');
  clock.advance(199);
  assert.equal((await exporter.flush()).skipped, true, 'still open 1 ms before the cooldown ends');
  assert.equal(counters().flushes, flushes);
  clock.advance(1);
  assert.equal(exporter.breaker.state, 'half-open');
  const trial = await exporter.flush();
  assert.equal(trial.skipped, false, 'a trial flush after the cooldown');
  assert.equal(counters().flushes, flushes + 1);
  assert.equal(counters().circuitOpened, 2, 'the failed trial opens the circuit again');
  assert.equal(exporter.breaker.retryInMs, 400, 'with twice the cooldown');
  await exporter.close();
});

test('closing exporters with broken peers is bounded and leaves nothing unhandled', async () => {
  const started = performance.now();
  await Promise.all([...statsd.map((s) => s.close()), ...otel.map((o) => o.close())]);
  const ms = performance.now() - started;
  assert.ok(ms < 5000, `closed in ${ms.toFixed(0)} ms`);
  for (const s of [unresolvable, hanging]) assert.deepEqual(s.meter.componentHealth(), []);
  await sleep(50);
  assert.deepEqual(problems, [], 'no unhandled rejection or exception');
});
