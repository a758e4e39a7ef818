import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { startExporterSinks } from './exporters.js';
import { fmt, median, ROOT } from './lib.js';

export interface OverheadOptions {
  quick: boolean;
  log: (line: string) => void;
}

/**
 * bare: no apimeter; instrumented: the plugin with its defaults; exporters: the same plus the StatsD and
 * OpenTelemetry exporters (`startExporters`) sending to local sinks every second.
 */
export type ServerKind = 'bare' | 'instrumented' | 'exporters';
export const SERVER_KINDS: readonly ServerKind[] = ['bare', 'instrumented', 'exporters'];

export interface LoadRound {
  server: ServerKind;
  warmUp: boolean;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  completed: number;
  sent: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Server process CPU time (user + system) per completed request, in µs. */
  cpuMicrosPerRequest: number;
  /** Instrumented and exporters: requests the meter counted during the round. */
  meterCounted?: number;
}

export interface ServerSummary {
  medianRequestsPerSecond: number;
  medianP99Ms: number;
  medianCpuMicrosPerRequest: number;
}

export interface OverheadResult {
  connections: number;
  pipelining: number;
  roundSeconds: number;
  rounds: LoadRound[];
  bare: ServerSummary;
  instrumented: ServerSummary;
  exporters: ServerSummary;
  /** median(instrumented req/s) / median(bare req/s). */
  ratio: number;
  /** instrumented/bare of each set of rounds, for a feel of the noise. */
  pairRatios: number[];
  /** median(bare CPU/request) / median(instrumented CPU/request): the throughput ratio if CPU-bound. */
  cpuRatio: number;
  /** median(exporters-on req/s) / median(bare req/s): the budget with StatsD and OpenTelemetry on. */
  exportersRatio: number;
  /** exporters/bare of each set of rounds. */
  exportersPairRatios: number[];
  /** median(bare CPU/request) / median(exporters-on CPU/request). */
  exportersCpuRatio: number;
  /** Flush interval of both exporters in the exporters-on server, and the flushes/exports they did. */
  exporterActivity: {
    flushMs: number;
    statsdFlushes: number;
    statsdDatagrams: number;
    otelExports: number;
    otelFailures: number;
  };
  /** 1-minute load average before the first round and after the last (other processes' load). */
  loadAverage: [number, number];
  /** Problems that make the figures untrustworthy (a server that failed requests or miscounted). */
  failures: string[];
}

const CONNECTIONS = 50;
const PIPELINING = 1;
const TARGET = '/hello/bench';
/** Flush interval of the exporters-on server: 10× (StatsD) and 60× (OpenTelemetry) their defaults. */
const FLUSH_MS = 1000;

interface Server {
  child: ChildProcess;
  port: number;
}

function startServer(args: readonly string[]): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('bench', 'server.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    const onData = (chunk: string) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl === -1) return;
      child.stdout.off('data', onData);
      try {
        const { port } = JSON.parse(out.slice(0, nl)) as { port: number };
        resolve({ child, port });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    child.stdout.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`bench/server.ts exited early (${code})`)));
  });
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
  });
}

interface Counters {
  total: number | null;
  cpuMicros: number;
  exports: {
    statsdFlushes: number | null;
    statsdDatagrams: number | null;
    otelExports: number | null;
    otelFailures: number | null;
  } | null;
}

async function serverCounters(port: number): Promise<Counters> {
  const res = await fetch(`http://127.0.0.1:${port}/__count`);
  return (await res.json()) as Counters;
}

async function load(
  server: Server,
  seconds: number,
): Promise<Omit<LoadRound, 'server' | 'warmUp' | 'cpuMicrosPerRequest'>> {
  const r = await autocannon({
    url: `http://127.0.0.1:${server.port}${TARGET}`,
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    duration: seconds,
  });
  return {
    requestsPerSecond: r.requests.total / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    completed: r.requests.total,
    sent: r.requests.sent,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

/** Orders of the three servers, one per set of rounds: each goes first, second and last equally often. */
const ROTATIONS: readonly ServerKind[][] = [
  ['bare', 'instrumented', 'exporters'],
  ['exporters', 'bare', 'instrumented'],
  ['instrumented', 'exporters', 'bare'],
  ['bare', 'exporters', 'instrumented'],
  ['instrumented', 'bare', 'exporters'],
  ['exporters', 'instrumented', 'bare'],
];

/**
 * Bare, instrumented and exporters-on servers run side by side (three processes, all listening); only
 * one is under load at a time. Every set of three rounds starts three fresh processes (each gets a
 * discarded warm-up round first) and the order rotates between sets, so neither a drift in machine
 * speed nor one process being slower than another for its whole life (measured: identical servers
 * differ by up to ±7 % for a whole run) favours any kind.
 */
export async function runOverhead({ quick, log }: OverheadOptions): Promise<OverheadResult> {
  const roundSeconds = quick ? 1.5 : 5;
  const warmUpSeconds = quick ? 1 : 2;
  const sets = quick ? 2 : 6;
  const failures: string[] = [];
  const rounds: LoadRound[] = [];
  const loadBefore = os.loadavg()[0];
  const sinks = await startExporterSinks();
  // Exporter activity summed over the sets' exporters-on processes.
  const activity = { statsdFlushes: 0, statsdDatagrams: 0, otelExports: 0, otelFailures: 0 };
  try {
    for (let p = 0; p < sets; p++) {
      const started: Server[] = [];
      try {
        const [bare, instrumented, exporters] = await Promise.all([
          startServer([]),
          startServer(['--instrumented']),
          startServer([`--statsd=${sinks.udpPort}`, `--otel=${sinks.otlpUrl}`, `--flush-ms=${FLUSH_MS}`]),
        ]);
        started.push(bare, instrumented, exporters);
        if ((await serverCounters(bare.port)).total !== null) failures.push('the bare server has a meter');
        const first = await serverCounters(exporters.port);
        const servers: Record<ServerKind, Server> = { bare, instrumented, exporters };
        const runRound = async (which: ServerKind, warmUp: boolean) => {
          const server = servers[which];
          const before = await serverCounters(server.port);
          const result = await load(server, warmUp ? warmUpSeconds : roundSeconds);
          await sleep(250); // let requests still in flight when autocannon stopped finish and be recorded
          const after = await serverCounters(server.port);
          const round: LoadRound = {
            server: which,
            warmUp,
            ...result,
            cpuMicrosPerRequest: (after.cpuMicros - before.cpuMicros) / result.completed,
          };
          if (round.non2xx > 0 || round.errors > 0 || round.timeouts > 0) {
            failures.push(`${which}: ${round.non2xx} non-2xx, ${round.errors} errors, ${round.timeouts} timeouts`);
          }
          if (which !== 'bare') {
            const counted = (after.total ?? 0) - (before.total ?? 0);
            round.meterCounted = counted;
            // The meter must have seen every completed request, and at most those sent.
            if (!(counted >= round.completed && counted <= round.sent)) {
              failures.push(
                `${which}: meter counted ${counted}, autocannon completed ${round.completed}, sent ${round.sent}`,
              );
            }
          }
          rounds.push(round);
          log(
            `  ${warmUp ? 'warm-up' : `round ${rounds.filter((r) => !r.warmUp && r.server === which).length}`} ` +
              `${which.padEnd(12)} ${Math.round(round.requestsPerSecond).toLocaleString('en-US').padStart(7)} req/s` +
              `  p99 ${String(round.p99Ms).padStart(3)} ms  ${fmt.fixed(round.cpuMicrosPerRequest, 1)} µs CPU/req` +
              (round.meterCounted === undefined ? '' : `  (meter counted ${round.meterCounted} of ${round.completed})`),
          );
        };
        const order = ROTATIONS[p % ROTATIONS.length];
        for (const which of order) await runRound(which, true);
        for (const which of order) await runRound(which, false);
        const last = await serverCounters(exporters.port);
        for (const key of Object.keys(activity) as (keyof typeof activity)[]) {
          activity[key] += (last.exports?.[key] ?? NaN) - (first.exports?.[key] ?? NaN);
        }
      } finally {
        await Promise.all(started.map(stopServer));
      }
    }
  } finally {
    sinks.stop();
  }

  const measured = (which: ServerKind) => rounds.filter((r) => !r.warmUp && r.server === which);
  const summary = (which: ServerKind): ServerSummary => ({
    medianRequestsPerSecond: median(measured(which).map((r) => r.requestsPerSecond)),
    medianP99Ms: median(measured(which).map((r) => r.p99Ms)),
    medianCpuMicrosPerRequest: median(measured(which).map((r) => r.cpuMicrosPerRequest)),
  });
  const s = { bare: summary('bare'), instrumented: summary('instrumented'), exporters: summary('exporters') };
  const b = measured('bare');
  const setRatios = (which: ServerKind) => measured(which).map((r, k) => r.requestsPerSecond / b[k].requestsPerSecond);
  const exporterActivity = { flushMs: FLUSH_MS, ...activity };
  // Exporters that never ran would make the exporters-on row a second instrumented row.
  if (!(exporterActivity.statsdDatagrams > 0)) failures.push('exporters: the StatsD exporter sent no datagram');
  if (!(exporterActivity.otelExports > 0)) failures.push('exporters: the OpenTelemetry exporter exported nothing');
  if (exporterActivity.otelFailures !== 0)
    failures.push(`exporters: ${exporterActivity.otelFailures} OTLP exports failed`);
  return {
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    roundSeconds,
    rounds,
    ...s,
    ratio: s.instrumented.medianRequestsPerSecond / s.bare.medianRequestsPerSecond,
    pairRatios: setRatios('instrumented'),
    cpuRatio: s.bare.medianCpuMicrosPerRequest / s.instrumented.medianCpuMicrosPerRequest,
    exportersRatio: s.exporters.medianRequestsPerSecond / s.bare.medianRequestsPerSecond,
    exportersPairRatios: setRatios('exporters'),
    exportersCpuRatio: s.bare.medianCpuMicrosPerRequest / s.exporters.medianCpuMicrosPerRequest,
    exporterActivity,
    loadAverage: [loadBefore, os.loadavg()[0]],
    failures,
  };
}
