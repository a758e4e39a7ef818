/**
 * Real peers for the exporter tests, all on loopback: the Etsy StatsD daemon (npm `statsd`) as a child
 * process, a strict DogStatsD receiver and an OTLP/HTTP JSON receiver.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { decodeOtlpMetrics } from './otlp-proto.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One flush of the Etsy daemon, as its backends see it. */
export interface EtsyFlush {
  counters: Record<string, number>;
  timers: Record<string, number[]>;
  timer_counters: Record<string, number>;
  gauges: Record<string, number>;
  timer_data: Record<string, Record<string, number>>;
}

export interface EtsyStatsd {
  port: number;
  mgmtPort: number;
  /** Every flush written so far. */
  flushes(): EtsyFlush[];
  /** Counters summed, timer values concatenated, timer counts summed, gauges' last value, over all flushes. */
  totals(): {
    counters: Map<string, number>;
    timers: Map<string, number[]>;
    timerCounts: Map<string, number>;
    gauges: Map<string, number>;
  };
  /** Sends one management command (`stats`, `counters`, `health`…) and returns the answer. */
  command(cmd: string): Promise<string>;
  stop(): Promise<void>;
}

// A tiny backend for the daemon: appends each flush to a file the test reads.
const BACKEND = `const fs = require('fs');
exports.init = function (startupTime, config, events) {
  events.on('flush', function (ts, m) {
    fs.appendFileSync(config.apimeterOut, JSON.stringify({
      counters: m.counters, timers: m.timers, timer_counters: m.timer_counters,
      gauges: m.gauges, timer_data: m.timer_data,
    }) + '\\n');
  });
  return true;
};
`;

/** Starts `node_modules/statsd/stats.js` on loopback with a file-writing backend and a short flush interval. */
export async function startEtsyStatsd(flushInterval = 200, udpPort?: number): Promise<EtsyStatsd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'apimeter-statsd-'));
  const port = udpPort ?? (await freeUdpPort());
  const mgmtPort = await freeTcpPort();
  const out = path.join(dir, 'flushes.jsonl');
  writeFileSync(path.join(dir, 'backend.cjs'), BACKEND);
  const config = {
    port,
    address: '127.0.0.1',
    mgmt_port: mgmtPort,
    mgmt_address: '127.0.0.1',
    backends: [path.join(dir, 'backend.cjs')],
    flushInterval,
    deleteIdleStats: true,
    automaticConfigReload: false,
    percentThreshold: [90, 99],
    apimeterOut: out,
  };
  writeFileSync(path.join(dir, 'config.js'), JSON.stringify(config));
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(ROOT, 'node_modules/statsd/stats.js'), path.join(dir, 'config.js')],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const command = (cmd: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(mgmtPort, '127.0.0.1');
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        answer += chunk;
        if (/END\n\n$|health: \w+\n$/.test(answer)) socket.end();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(answer));
      socket.write(cmd + '\n');
    });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await command('health')).includes('up')) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('statsd daemon did not start');
    await sleep(50);
  }
  // Only complete lines: the daemon may be halfway through appending a flush when the test reads.
  const flushes = (): EtsyFlush[] =>
    existsSync(out)
      ? readFileSync(out, 'utf8')
          .split('\n')
          .slice(0, -1)
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as EtsyFlush)
      : [];
  return {
    port,
    mgmtPort,
    flushes,
    totals() {
      const counters = new Map<string, number>();
      const timers = new Map<string, number[]>();
      const timerCounts = new Map<string, number>();
      const gauges = new Map<string, number>();
      for (const f of flushes()) {
        for (const [k, v] of Object.entries(f.counters)) counters.set(k, (counters.get(k) ?? 0) + v);
        for (const [k, v] of Object.entries(f.timers)) timers.set(k, [...(timers.get(k) ?? []), ...v]);
        for (const [k, v] of Object.entries(f.timer_counters)) timerCounts.set(k, (timerCounts.get(k) ?? 0) + v);
        for (const [k, v] of Object.entries(f.gauges)) gauges.set(k, v);
      }
      return { counters, timers, timerCounts, gauges };
    },
    command,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until `check()` returns true (polling), or throws with `what` after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** One DogStatsD line, parsed. */
export interface DogLine {
  name: string;
  value: number;
  type: 'c' | 'g' | 'ms' | 'h' | 'd';
  rate: number;
  tags: Map<string, string>;
  /** The origin-detection field `|c:<id>` (DogStatsD protocol v1.2), when present. */
  container?: string;
}

// name:value|type[|@rate][|#tag,tag] — DataDog's alphabets: names [A-Za-z0-9_.] starting with a letter,
// tags [A-Za-z0-9_\-:./], value a plain decimal number, rate in (0, 1].
const DOG_LINE =
  /^([A-Za-z][A-Za-z0-9_.]*):(-?\d+(?:\.\d+)?)\|(c|g|ms|h|d)(?:\|@(1|0\.\d+|1\.0+))?(?:\|#([A-Za-z][A-Za-z0-9_\-:./]*(?:,[A-Za-z][A-Za-z0-9_\-:./]*)*))?(?:\|c:([A-Za-z0-9_\-.:/]+))?$/;
/** Protocol v1.1: `name:v1:v2:…|type…` (every type but sets). */
const PACKED = /^([A-Za-z][A-Za-z0-9_.]*)((?::-?\d+(?:\.\d+)?)+)(\|.*)$/;

/** Parses one line strictly; throws on anything the DogStatsD format does not allow. */
export function parseDogLine(line: string): DogLine {
  const m = DOG_LINE.exec(line);
  if (m === null) throw new Error(`not a valid DogStatsD line: ${JSON.stringify(line)}`);
  const tags = new Map<string, string>();
  for (const tag of m[5]?.split(',') ?? []) {
    const colon = tag.indexOf(':');
    const key = colon < 0 ? tag : tag.slice(0, colon);
    if (tags.has(key)) throw new Error(`tag ${key} twice in ${line}`);
    tags.set(key, colon < 0 ? '' : tag.slice(colon + 1));
  }
  const rate = m[4] === undefined ? 1 : Number(m[4]);
  if (!(rate > 0 && rate <= 1)) throw new Error(`bad sample rate in ${line}`);
  const parsed: DogLine = { name: m[1], value: Number(m[2]), type: m[3] as DogLine['type'], rate, tags };
  if (m[6] !== undefined) parsed.container = m[6];
  return parsed;
}

/** Parses one line that may pack several values (protocol v1.1) into one DogLine per value, as the Agent does. */
export function parseDogLines(line: string): DogLine[] {
  const p = PACKED.exec(line);
  if (p === null) return [parseDogLine(line)];
  const values = p[2].slice(1).split(':');
  return values.map((v) => parseDogLine(`${p[1]}:${v}${p[3]}`));
}

export interface DogStatsdReceiver {
  port: number;
  datagrams: Buffer[];
  lines: DogLine[];
  /** Lines that failed the strict parse (should stay empty). */
  invalid: string[];
  close(): Promise<void>;
}

/** A UDP DogStatsD receiver on loopback that parses every datagram strictly. */
export async function startDogStatsdReceiver(): Promise<DogStatsdReceiver> {
  const socket = dgram.createSocket('udp4');
  const receiver: DogStatsdReceiver = {
    port: 0,
    datagrams: [],
    lines: [],
    invalid: [],
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg) => {
    receiver.datagrams.push(msg);
    for (const line of msg.toString('utf8').split('\n')) {
      try {
        receiver.lines.push(...parseDogLines(line));
      } catch {
        receiver.invalid.push(line);
      }
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  // Large bursts on loopback: a big receive buffer so the kernel does not drop what the test counts.
  socket.setRecvBufferSize(16 * 1024 * 1024);
  receiver.port = socket.address().port;
  return receiver;
}

export interface OtlpReceiver {
  url: string;
  /** Bodies of POST /v1/metrics, in order: JSON parsed, protobuf decoded (helpers/otlp-proto.ts) to the same shape. */
  bodies: OtlpBody[];
  headers: http.IncomingHttpHeaders[];
  /** Content-Type of each body. */
  contentTypes: string[];
  close(): Promise<void>;
}

/** The part of OTLP/JSON ExportMetricsServiceRequest the tests read. */
export interface OtlpBody {
  resourceMetrics: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeMetrics: { scope?: { name?: string }; metrics: OtlpMetric[] }[];
  }[];
}
export interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
}
export interface OtlpMetric {
  name: string;
  unit?: string;
  sum?: { dataPoints: OtlpNumberPoint[]; aggregationTemporality: number; isMonotonic?: boolean };
  histogram?: { dataPoints: OtlpHistogramPoint[]; aggregationTemporality: number };
  exponentialHistogram?: { dataPoints: OtlpExpPoint[]; aggregationTemporality: number };
  gauge?: { dataPoints: OtlpNumberPoint[] };
}
export interface OtlpNumberPoint {
  attributes?: OtlpAttribute[];
  asInt?: string | number;
  asDouble?: number;
}
export interface OtlpHistogramPoint {
  attributes?: OtlpAttribute[];
  count: string | number;
  sum?: number;
  bucketCounts: (string | number)[];
  explicitBounds: number[];
}
export interface OtlpExpPoint {
  attributes?: OtlpAttribute[];
  count: string | number;
  scale: number;
  zeroCount?: string | number;
  positive?: { offset?: number; bucketCounts?: (string | number)[] };
}

/** Attribute list → plain object. */
export function otlpAttributes(list: OtlpAttribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    out[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
      value.doubleValue ??
      value.boolValue ??
      '';
  }
  return out;
}

/**
 * An OTLP/HTTP receiver. `mode`: `ok` answers 200; `refuse` is not offered (use a closed port);
 * `hang` accepts requests and never answers.
 */
export async function startOtlpReceiver(mode: 'ok' | 'hang' = 'ok', listenPort = 0): Promise<OtlpReceiver> {
  const bodies: OtlpBody[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  const contentTypes: string[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (mode === 'hang') {
        hanging.add(res);
        return;
      }
      if (req.method === 'POST' && req.url === '/v1/metrics') {
        headers.push(req.headers);
        const type = String(req.headers['content-type'] ?? '');
        contentTypes.push(type);
        const raw = Buffer.concat(chunks);
        if (type.startsWith('application/x-protobuf')) {
          bodies.push(decodeOtlpMetrics(raw) as OtlpBody);
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(); // empty ExportMetricsServiceResponse
        } else {
          bodies.push(JSON.parse(raw.toString('utf8')) as OtlpBody);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        }
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/metrics`,
    bodies,
    headers,
    contentTypes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface OtlpGrpcReceiver {
  /** `http://127.0.0.1:port` (insecure channel). */
  url: string;
  /** Decoded ExportMetricsServiceRequest messages, in order. */
  bodies: OtlpBody[];
  /** Metadata (headers) of each call. */
  metadata: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * A real gRPC OTLP metrics receiver on loopback (@grpc/grpc-js): the collector's
 * `opentelemetry.proto.collector.metrics.v1.MetricsService/Export`, messages decoded with helpers/otlp-proto.ts.
 */
export async function startOtlpGrpcReceiver(): Promise<OtlpGrpcReceiver> {
  const bodies: OtlpBody[] = [];
  const metadata: Record<string, unknown>[] = [];
  const server = new grpc.Server();
  const identity = (b: Buffer) => b;
  server.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: () => Buffer.alloc(0), // empty ExportMetricsServiceResponse
        responseDeserialize: identity,
      },
    },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        metadata.push(call.metadata.getMap());
        bodies.push(decodeOtlpMetrics(call.request) as OtlpBody);
        callback(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    metadata,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
