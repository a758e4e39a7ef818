import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { fmt, median, ROOT } from './lib.js';

export interface OverheadOptions {
  quick: boolean;
  log: (line: string) => void;
}

export interface LoadRound {
  server: 'bare' | 'instrumented';
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
  /** Instrumented only: requests the meter counted during the round. */
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
  /** median(instrumented req/s) / median(bare req/s). */
  ratio: number;
  /** instrumented/bare of each adjacent pair, for a feel of the noise. */
  pairRatios: number[];
  /** median(bare CPU/request) / median(instrumented CPU/request): the throughput ratio if CPU-bound. */
  cpuRatio: number;
  /** 1-minute load average before the first round and after the last (other processes' load). */
  loadAverage: [number, number];
  /** Problems that make the figures untrustworthy (a server that failed requests or miscounted). */
  failures: string[];
}

const CONNECTIONS = 50;
const PIPELINING = 1;
const TARGET = '/hello/bench';

interface Server {
  child: ChildProcess;
  port: number;
}

function startServer(instrumented: boolean): Promise<Server> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', path.join('bench', 'server.ts'), ...(instrumented ? ['--instrumented'] : [])];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
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

async function serverCounters(port: number): Promise<{ total: number | null; cpuMicros: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/__count`);
  return (await res.json()) as { total: number | null; cpuMicros: number };
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

/**
 * Bare and instrumented servers run side by side (two processes, both listening); only one is under
 * load at a time. After a discarded warm-up round each, rounds alternate, swapping which goes first in
 * every pair so a drift in machine speed does not favour either.
 */
export async function runOverhead({ quick, log }: OverheadOptions): Promise<OverheadResult> {
  const roundSeconds = quick ? 1.5 : 5;
  const warmUpSeconds = quick ? 1 : 3;
  const pairs = quick ? 2 : 6;
  const failures: string[] = [];
  const rounds: LoadRound[] = [];
  const loadBefore = os.loadavg()[0];
  const bare = await startServer(false);
  let instrumented: Server | undefined;
  try {
    instrumented = await startServer(true);
    if ((await serverCounters(bare.port)).total !== null) failures.push('the bare server has a meter');

    const servers = { bare, instrumented };
    const runRound = async (which: 'bare' | 'instrumented', warmUp: boolean) => {
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
      if (which === 'instrumented') {
        const counted = (after.total ?? 0) - (before.total ?? 0);
        round.meterCounted = counted;
        // The meter must have seen every completed request, and at most those sent.
        if (!(counted >= round.completed && counted <= round.sent)) {
          failures.push(
            `instrumented: meter counted ${counted}, autocannon completed ${round.completed}, sent ${round.sent}`,
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

    await runRound('bare', true);
    await runRound('instrumented', true);
    for (let p = 0; p < pairs; p++) {
      const order: ('bare' | 'instrumented')[] = p % 2 === 0 ? ['bare', 'instrumented'] : ['instrumented', 'bare'];
      for (const which of order) await runRound(which, false);
    }
  } finally {
    await Promise.all([stopServer(bare), instrumented ? stopServer(instrumented) : Promise.resolve()]);
  }

  const measured = (which: 'bare' | 'instrumented') => rounds.filter((r) => !r.warmUp && r.server === which);
  const summary = (which: 'bare' | 'instrumented'): ServerSummary => ({
    medianRequestsPerSecond: median(measured(which).map((r) => r.requestsPerSecond)),
    medianP99Ms: median(measured(which).map((r) => r.p99Ms)),
    medianCpuMicrosPerRequest: median(measured(which).map((r) => r.cpuMicrosPerRequest)),
  });
  const b = measured('bare');
  const i = measured('instrumented');
  return {
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    roundSeconds,
    rounds,
    bare: summary('bare'),
    instrumented: summary('instrumented'),
    ratio: summary('instrumented').medianRequestsPerSecond / summary('bare').medianRequestsPerSecond,
    pairRatios: b.map((r, k) => i[k].requestsPerSecond / r.requestsPerSecond),
    cpuRatio: summary('bare').medianCpuMicrosPerRequest / summary('instrumented').medianCpuMicrosPerRequest,
    loadAverage: [loadBefore, os.loadavg()[0]],
    failures,
  };
}
