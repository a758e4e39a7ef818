/**
 * CPU per flush of the exporters for 1,000 endpoints, and the transport choice for StatsD.
 *
 *   npx tsx bench/exporters.ts [--endpoints 1000] [--per 40] [--flushes 12]
 *
 * Every round records `per` new requests on each endpoint (lognormal latencies, 2xx/4xx/5xx, sizes),
 * then every exporter flushes what is new; the process's CPU time (user + system) is measured around
 * each flush, datagrams included (sent over UDP to a sink in a child process, so receiving costs
 * nothing here). Rows:
 *
 * - statsd/dogstatsd flush, per timer mode: registry read + deltas + formatting + packing + sending;
 * - otel collect: the producer building the ResourceMetrics the SDK reader exports, and the same plus
 *   the OTLP/JSON encoding the HTTP exporter does;
 * - transport: the same metric calls of one flush emitted by our packer over node:dgram, and by
 *   hot-shots (one client call per metric, its own 1,432-byte buffer).
 *
 * The last stdout line is a JSON object with the figures.
 */
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { StatsD } from 'hot-shots';
import { ManualClock } from '../src/core/clock.js';
import { createMeter } from '../src/core/meter.js';
import type { EndpointStats } from '../src/core/endpoint.js';
import type { Meter } from '../src/core/meter.js';
import { ErrorKind } from '../src/core/record.js';
import { MemoryTransport } from '../src/exporters/memory.js';
import { createOtelProducer } from '../src/exporters/otel.js';
import { decimal, StatsdFormat } from '../src/exporters/statsd-format.js';
import { DatagramSender } from '../src/exporters/statsd-sender.js';
import { UdpTransport } from '../src/exporters/statsd-transport.js';
import { createStatsdExporter } from '../src/exporters/statsd.js';
import type { StatsdExporterOptions } from '../src/exporters/statsd.js';
import { emitResult, fmt, lognormal, median, rng, table } from './lib.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ENDPOINTS = arg('endpoints', 1000);
const PER = arg('per', 40);
const FLUSHES = arg('flushes', 12);
const WARMUP = 2;

/**
 * Sinks in another process, so receiving costs the measured process nothing: a UDP port that discards
 * datagrams (StatsD/DogStatsD) and an HTTP server answering every OTLP/HTTP POST with 200. Exported
 * for the overhead bench (a server with exporters on needs peers that accept what it sends).
 */
export async function startExporterSinks(): Promise<{ udpPort: number; otlpUrl: string; stop(): void }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      [
        "const s=require('dgram').createSocket('udp4');s.on('message',()=>{});",
        "const h=require('http').createServer((q,r)=>{q.resume();q.on('end',()=>r.writeHead(200,{'content-type':'application/json'}).end('{}'))});",
        "s.bind(0,'127.0.0.1',()=>{s.setRecvBufferSize(8<<20);h.listen(0,'127.0.0.1',()=>console.log(s.address().port+' '+h.address().port))});",
      ].join(''),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [udpPort, httpPort] = await new Promise<number[]>((resolve) =>
    child.stdout.once('data', (d: Buffer) => resolve(String(d).trim().split(' ').map(Number))),
  );
  return { udpPort, otlpUrl: `http://127.0.0.1:${httpPort}/v1/metrics`, stop: () => child.kill() };
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

let endpoints: EndpointStats[] | undefined;

function traffic(meter: Meter, clock: ManualClock, random: () => number): void {
  clock.advance(10_000);
  endpoints ??= Array.from({ length: ENDPOINTS }, (_, i) =>
    meter.endpoint(i % 4 === 0 ? 'POST' : 'GET', `/api/v2/resource${i}/{id}`)!,
  );
  for (const ep of endpoints) {
    for (let k = 0; k < PER; k++) {
      const u = random();
      const status = u < 0.95 ? 200 : u < 0.98 ? 404 : 500;
      meter.record(ep, status, lognormal(random, 25, 0.6), 200, 1500, ErrorKind.None);
    }
  }
}

interface Row {
  name: string;
  cpuMsPerFlush: number;
  wallMsPerFlush: number;
  linesPerFlush: number;
  bytesPerFlush: number;
  baselineBytes: number;
}

async function main(): Promise<void> {
  const sinks = await startExporterSinks();
  const sink = { port: sinks.udpPort, stop: sinks.stop };
  const clock = new ManualClock();
  const meter = createMeter({ iniPath: false, env: {}, clock, metricsMaxEndpoints: ENDPOINTS });
  const random = rng(7);
  const noCircuit = { failureThreshold: 1e9 };
  const variants: [string, Partial<StatsdExporterOptions>][] = [
    ['statsd values', { dialect: 'statsd', timerMode: 'values' }],
    ['statsd sampled (scale 4)', { dialect: 'statsd', timerMode: 'sampled' }],
    ['dogstatsd values', { dialect: 'datadog', timerMode: 'values' }],
    ['dogstatsd distribution (scale 4)', { dialect: 'datadog', timerMode: 'distribution' }],
  ];
  // Each variant twice: over UDP to the sink, and into memory (what apimeter itself spends, without the
  // kernel's per-datagram cost).
  const exporters = variants.flatMap(([name, o]) =>
    [false, true].map((memory) => ({
      name: memory ? `${name}, no socket` : name,
      exporter: createStatsdExporter(meter, {
        host: '127.0.0.1',
        port: sink.port,
        flushIntervalMs: 0,
        circuit: noCircuit,
        onStateChange: () => {},
        ...o,
        ...(memory && { transport: new DiscardTransport() }),
      }),
      cpu: [] as number[],
      wall: [] as number[],
      lines: [] as number[],
      bytes: [] as number[],
    })),
  );
  const producers = [
    {
      name: 'otel collect explicit',
      producer: createOtelProducer(meter, { histogram: 'explicit', temporality: 'cumulative' }),
      encode: false,
    },
    {
      name: 'otel collect exponential',
      producer: createOtelProducer(meter, { histogram: 'exponential', temporality: 'cumulative' }),
      encode: false,
    },
    {
      name: 'otel collect + OTLP/JSON encode',
      producer: createOtelProducer(meter, { histogram: 'explicit', temporality: 'cumulative' }),
      encode: true,
    },
  ].map((p) => ({ ...p, cpu: [] as number[], wall: [] as number[], points: 0, bytes: [] as number[] }));

  // Transport comparison: the calls of one sampled DogStatsD flush, emitted two ways.
  const capture = new MemoryTransport();
  const capturer = createStatsdExporter(meter, {
    transport: capture,
    flushIntervalMs: 0,
    dialect: 'datadog',
    timerMode: 'sampled',
  });
  const ownSocket = new UdpTransport('127.0.0.1', sink.port);
  await ownSocket.open();
  const sender = new DatagramSender(ownSocket, 1432, 16 << 20);
  const dogFormat = new StatsdFormat('datadog');
  const hot = new StatsD({
    host: '127.0.0.1',
    port: sink.port,
    maxBufferSize: 1432,
    bufferFlushInterval: 3_600_000,
    errorHandler: () => {},
  });
  const transport = { own: [] as number[], hot: [] as number[], calls: 0 };

  for (let round = 0; round < WARMUP + FLUSHES; round++) {
    traffic(meter, clock, random);
    const measured = round >= WARMUP;
    for (const e of exporters) {
      const sent = e.exporter.counters.bytesSent;
      const c0 = cpuMs();
      const w0 = performance.now();
      const report = await e.exporter.flush();
      const cpu = cpuMs() - c0;
      const wall = performance.now() - w0;
      if (report.error !== null) throw report.error;
      if (measured) {
        e.cpu.push(cpu);
        e.wall.push(wall);
        e.lines.push(report.lines);
        e.bytes.push(e.exporter.counters.bytesSent - sent);
      }
    }
    for (const p of producers) {
      const c0 = cpuMs();
      const w0 = performance.now();
      const rm = p.producer.produce();
      let bytes = 0;
      if (p.encode) bytes = JsonMetricsSerializer.serializeRequest(rm)?.byteLength ?? 0;
      const cpu = cpuMs() - c0;
      const wall = performance.now() - w0;
      if (measured) {
        p.cpu.push(cpu);
        p.wall.push(wall);
        p.points = p.producer.lastPoints;
        p.bytes.push(bytes);
      }
    }
    // The same calls, two transports.
    capture.clear();
    await capturer.flush();
    const calls = capture.lines().map(parseLine);
    transport.calls = calls.length;
    {
      const c0 = cpuMs();
      sender.begin();
      for (const call of calls) {
        const part = dogFormat.dims(call.tags);
        sender.add(
          dogFormat.line(
            dogFormat.head(call.name, part),
            decimal(call.value),
            call.type,
            call.rate,
            dogFormat.tail(part),
          ),
        );
      }
      await sender.end();
      if (measured) transport.own.push(cpuMs() - c0);
    }
    {
      const c0 = cpuMs();
      for (const call of calls) {
        const tags = Object.fromEntries(call.tags);
        if (call.type === 'c') hot.increment(call.name, call.value, tags);
        else if (call.type === 'g') hot.gauge(call.name, call.value, tags);
        else if (call.type === 'd') hot.distribution(call.name, call.value, call.rate, tags);
        else hot.timing(call.name, call.value, call.rate, tags);
      }
      // flushQueue is public in hot-shots but missing from its type definitions.
      await new Promise<void>((resolve) =>
        (hot as unknown as { flushQueue(cb: () => void): void }).flushQueue(resolve),
      );
      await sleep(5); // let the last sends complete (idle time costs no CPU)
      if (measured) transport.hot.push(cpuMs() - c0);
    }
  }

  const rows: Row[] = exporters.map((e) => ({
    name: e.name,
    cpuMsPerFlush: median(e.cpu),
    wallMsPerFlush: median(e.wall),
    linesPerFlush: median(e.lines),
    bytesPerFlush: median(e.bytes),
    baselineBytes: e.exporter.baselineBytes,
  }));
  const otelRows = producers.map((p) => ({
    name: p.name,
    cpuMsPerFlush: median(p.cpu),
    wallMsPerFlush: median(p.wall),
    points: p.points,
    bytes: median(p.bytes),
  }));
  const requests = ENDPOINTS * PER;
  console.log(
    `${ENDPOINTS} endpoints, ${PER} new requests each per flush (${fmt.int(requests)} per flush), median of ${FLUSHES} flushes\n`,
  );
  console.log(
    table(
      ['exporter', 'CPU ms/flush', 'wall ms/flush', 'lines', 'bytes sent', 'baselines'],
      rows.map((r) => [
        r.name,
        fmt.fixed(r.cpuMsPerFlush, 1),
        fmt.fixed(r.wallMsPerFlush, 1),
        fmt.int(r.linesPerFlush),
        fmt.int(r.bytesPerFlush),
        fmt.mb(r.baselineBytes),
      ]),
    ),
  );
  console.log();
  console.log(
    table(
      ['producer', 'CPU ms/collect', 'wall ms/collect', 'points', 'OTLP JSON bytes'],
      otelRows.map((r) => [
        r.name,
        fmt.fixed(r.cpuMsPerFlush, 1),
        fmt.fixed(r.wallMsPerFlush, 1),
        fmt.int(r.points),
        r.bytes ? fmt.int(r.bytes) : '-',
      ]),
    ),
  );
  console.log();
  const own = median(transport.own);
  const hs = median(transport.hot);
  console.log(
    table(
      ['transport (same calls of one flush)', 'CPU ms', 'µs/call'],
      [
        ['own packer + node:dgram', fmt.fixed(own, 1), fmt.fixed((own * 1000) / transport.calls, 2)],
        ['hot-shots client calls', fmt.fixed(hs, 1), fmt.fixed((hs * 1000) / transport.calls, 2)],
      ],
    ),
  );
  console.log(`(${fmt.int(transport.calls)} calls)`);

  await Promise.all(exporters.map((e) => e.exporter.close()));
  await capturer.close();
  await ownSocket.close();
  await new Promise<void>((resolve) => hot.close(() => resolve()));
  sink.stop();
  emitResult({
    endpoints: ENDPOINTS,
    requestsPerFlush: requests,
    cpuMsPerFlush: Object.fromEntries([...rows, ...otelRows].map((r) => [r.name, Number(r.cpuMsPerFlush.toFixed(2))])),
    transport: { calls: transport.calls, ownPackerCpuMs: Number(own.toFixed(2)), hotShotsCpuMs: Number(hs.toFixed(2)) },
  });
}

/** Accepts datagrams and forgets them. */
class DiscardTransport extends MemoryTransport {
  override send(_datagram: Buffer, done: (error: Error | null) => void): void {
    done(null);
  }
}

function parseLine(line: string): {
  name: string;
  value: number;
  type: string;
  rate: number;
  tags: [string, string][];
} {
  const [head, ...rest] = line.split('|');
  const colon = head.lastIndexOf(':');
  let rate = 1;
  let tags: [string, string][] = [];
  for (const part of rest.slice(1)) {
    if (part.startsWith('@')) rate = Number(part.slice(1));
    if (part.startsWith('#')) {
      tags = part
        .slice(1)
        .split(',')
        .map((t) => {
          const i = t.indexOf(':');
          return [t.slice(0, i), t.slice(i + 1)];
        });
    }
  }
  return { name: head.slice(0, colon), value: Number(head.slice(colon + 1)), type: rest[0], rate, tags };
}

// Runs when started as a script; importing it (for startExporterSinks) runs nothing.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
