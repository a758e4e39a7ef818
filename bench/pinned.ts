/**
 * The pinned overhead method shared by bench/overhead.ts (Fastify) and bench/adapters.ts (Express,
 * Hono, node:http): the server runs alone on CPU 0 (`taskset -c 0`), wrk on CPU 1 (`taskset -c 1 wrk
 * -t1 -c32`), so the load generator never takes CPU from the server and a CPU-bound server's true cost
 * per request shows in its throughput. Every round starts a fresh server process for each variant (one
 * process can be ~7% slower than another for its whole life), warms it up, measures, and stops it; the
 * variants' order rotates between rounds. Reported per variant: median req/s, its ratio to bare (the
 * budget figure), the median of per-round ratios, and server CPU µs per request.
 *
 * Needs `wrk` (Debian package `wrk`) and `taskset` (util-linux); without taskset, or on one CPU, it
 * runs unpinned and says so in a warning.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { median, ROOT } from './lib.js';

export interface PinnedVariant {
  framework: 'fastify' | 'express' | 'hono' | 'node' | 'proxy';
  /** A `--variant` of bench/pinned-server.ts. */
  variant: string;
  /** Row label, e.g. `apimeter (defaults)`. */
  label: string;
  /** A budget for ratio-to-bare, or undefined for an informative row. */
  budget?: number;
}

export interface PinnedRound {
  rps: number;
  completed: number;
  cpuMicrosPerRequest: number;
  p99Ms: number;
  /** apimeter variants: requests the meter counted in the round. */
  counted?: number;
}

export interface PinnedRow extends PinnedVariant {
  rounds: PinnedRound[];
  medianRps: number;
  /** median(variant req/s) / median(bare req/s). */
  ratio: number;
  /** variant/bare req/s per round (drift between rounds cancels out). */
  roundRatios: number[];
  medianCpuMicrosPerRequest: number;
  /** median(bare CPU/request) / median(variant CPU/request). */
  cpuRatio: number;
}

export interface PinnedResult {
  pinned: boolean;
  connections: number;
  seconds: number;
  warmUpSeconds: number;
  roundsPerVariant: number;
  rows: PinnedRow[];
  warnings: string[];
  failures: string[];
}

export interface PinnedOptions {
  variants: readonly PinnedVariant[];
  rounds: number;
  seconds: number;
  warmUpSeconds: number;
  connections?: number;
  /** Extra server flags per variant (e.g. exporter sink addresses). */
  serverArgs?: (v: PinnedVariant) => string[];
  log: (line: string) => void;
}

const COUNT_ROUTE = '/__count';
// As root, server and load generator run at a raised priority so that other processes on the machine
// preempt them less (it changes nothing on an idle machine).
const NICE = process.getuid?.() === 0 ? ['nice', '-n', '-10'] : [];
// Two parameterised routes returning JSON, alternately; the same headers on every variant: the
// Authorization header (only detailed mode reads it: auth inference) and an X-Client-Id from 50
// consumers in turn (only the consumers variant reads it).
const WRK_SCRIPT = `
local i = 0
request = function()
  i = i + 1
  local headers = { ["X-Client-Id"] = "client-" .. (i % 50) }
  if i % 2 == 0 then return wrk.format("GET", "/hello/bench", headers) end
  return wrk.format("GET", "/users/7/posts/42", headers)
end
`;

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Server {
  child: ChildProcess;
  port: number;
}

function startServer(v: PinnedVariant, pin: boolean, extra: string[]): Promise<Server> {
  const node = [
    process.execPath,
    '--import',
    'tsx',
    path.join('bench', 'pinned-server.ts'),
    `--framework=${v.framework}`,
    `--variant=${v.variant}`,
    ...extra,
  ];
  const [cmd, ...args] = pin ? [...NICE, 'taskset', '-c', '0', ...node] : node;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve({ child, port: (JSON.parse(out.slice(0, nl)) as { port: number }).port });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${v.framework}/${v.variant} server exited early (${code})`)));
  });
}

function stopServer(s: Server): Promise<void> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null) return resolve();
    s.child.once('exit', () => resolve());
    s.child.kill('SIGTERM');
  });
}

async function counters(port: number): Promise<{ total: number | null; spans: number; cpuMicros: number }> {
  const res = await fetch(`http://127.0.0.1:${port}${COUNT_ROUTE}`);
  return (await res.json()) as { total: number | null; spans: number; cpuMicros: number };
}

interface WrkResult {
  rps: number;
  completed: number;
  p99Ms: number;
  non2xx: number;
  socketErrors: number;
}

function parseMs(v: string, unit: string): number {
  const x = Number(v);
  return unit === 'us' ? x / 1000 : unit === 's' ? x * 1000 : unit === 'm' ? x * 60_000 : x;
}

function wrk(port: number, seconds: number, connections: number, script: string, pin: boolean): Promise<WrkResult> {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${Math.max(1, Math.round(seconds))}s`,
    '--latency',
    '-s',
    script,
    '-H',
    'Authorization: Bearer bench-token',
    `http://127.0.0.1:${port}`,
  ];
  const [cmd, ...rest] = pin ? [...NICE, 'taskset', '-c', '1', 'wrk', ...args] : ['wrk', ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}: ${out}`));
      const completed = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
      const p99 = /99%\s+([\d.]+)(us|ms|s|m)/.exec(out);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const socketErrors = se ? se.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
      resolve({ rps, completed, p99Ms: p99 ? parseMs(p99[1], p99[2]) : NaN, non2xx, socketErrors });
    });
  });
}

const isApimeter = (v: PinnedVariant) =>
  v.variant === 'apimeter' || v.variant === 'detailed' || v.variant === 'exporters';

export async function runPinned(o: PinnedOptions): Promise<PinnedResult> {
  const connections = o.connections ?? 32;
  const warnings: string[] = [];
  const failures: string[] = [];
  if (!has('wrk')) throw new Error('wrk is not installed: apt-get install -y wrk');
  const pin = has('taskset') && os.cpus().length >= 2;
  if (!pin) {
    const why = os.cpus().length < 2 ? 'only one CPU' : 'taskset is missing (util-linux)';
    warnings.push(`NOT PINNED (${why}): the load generator shares the server's CPU and dilutes its cost`);
    o.log(`  WARNING: ${warnings[warnings.length - 1]}`);
  }
  const script = path.join(mkdtempSync(path.join(os.tmpdir(), 'apimeter-wrk-')), 'two-routes.lua');
  writeFileSync(script, WRK_SCRIPT);
  const rounds = new Map<PinnedVariant, PinnedRound[]>(o.variants.map((v) => [v, []]));
  for (let r = 0; r < o.rounds; r++) {
    // Rotate the order so each variant runs first, middle and last equally often.
    const order = o.variants.map((_, i) => o.variants[(i + r) % o.variants.length]);
    for (const v of order) {
      // The proxy's upstream runs on the load generator's CPU: the hop has CPU 0 to itself.
      const upstream = v.framework === 'proxy' && pin ? ['--upstream-cpu=1'] : [];
      const server = await startServer(v, pin, [...upstream, ...(o.serverArgs?.(v) ?? [])]);
      try {
        await wrk(server.port, o.warmUpSeconds, connections, script, pin);
        const before = await counters(server.port);
        const w = await wrk(server.port, o.seconds, connections, script, pin);
        await sleep(100); // requests in flight when wrk stopped finish and are recorded
        const after = await counters(server.port);
        const name = `${v.framework}/${v.label}`;
        if (w.non2xx > 0 || w.socketErrors > 0) {
          failures.push(`${name}: ${w.non2xx} non-2xx, ${w.socketErrors} socket errors`);
        }
        const round: PinnedRound = {
          rps: w.rps,
          completed: w.completed,
          p99Ms: w.p99Ms,
          cpuMicrosPerRequest: (after.cpuMicros - before.cpuMicros) / w.completed,
        };
        if (isApimeter(v)) {
          round.counted = (after.total ?? 0) - (before.total ?? 0);
          // The meter must have seen every completed request, and at most those plus one per connection.
          if (round.counted < w.completed || round.counted > w.completed + connections) {
            failures.push(`${name}: meter counted ${round.counted}, wrk completed ${w.completed}`);
          }
        }
        if (v.variant === 'otel' && after.spans <= before.spans) failures.push(`${name}: no span was exported`);
        rounds.get(v)!.push(round);
        o.log(
          `  round ${r + 1} ${`${v.framework}/${v.label}`.padEnd(34)} ${Math.round(w.rps).toLocaleString('en-US').padStart(7)} req/s` +
            `  ${round.cpuMicrosPerRequest.toFixed(1).padStart(5)} µs CPU/req  p99 ${w.p99Ms.toFixed(2)} ms` +
            (round.counted === undefined ? '' : `  (meter counted ${round.counted} of ${w.completed})`),
        );
      } finally {
        await stopServer(server);
      }
    }
  }
  const rows: PinnedRow[] = [];
  for (const v of o.variants) {
    const rs = rounds.get(v)!;
    const bare = rounds.get(o.variants.find((b) => b.framework === v.framework && b.variant === 'bare')!) ?? rs;
    const medianRps = median(rs.map((x) => x.rps));
    const medianCpu = median(rs.map((x) => x.cpuMicrosPerRequest));
    rows.push({
      ...v,
      rounds: rs,
      medianRps,
      ratio: medianRps / median(bare.map((x) => x.rps)),
      roundRatios: rs.map((x, i) => x.rps / bare[i].rps),
      medianCpuMicrosPerRequest: medianCpu,
      cpuRatio: median(bare.map((x) => x.cpuMicrosPerRequest)) / medianCpu,
    });
  }
  return {
    pinned: pin,
    connections,
    seconds: o.seconds,
    warmUpSeconds: o.warmUpSeconds,
    roundsPerVariant: o.rounds,
    rows,
    warnings,
    failures,
  };
}

/** Rows for lib.ts's table(): variant, req/s, ratio, per-round ratios, CPU µs/req, CPU ratio, budget. */
export function pinnedTable(rows: readonly PinnedRow[]): string[][] {
  return rows.map((r) => [
    `${r.framework} ${r.label}`,
    Math.round(r.medianRps).toLocaleString('en-US'),
    r.ratio.toFixed(3),
    r.roundRatios.map((x) => x.toFixed(2)).join(' '),
    r.medianCpuMicrosPerRequest.toFixed(1),
    r.cpuRatio.toFixed(3),
    r.budget === undefined ? '—' : `≥ ${r.budget.toFixed(2)} ${r.ratio >= r.budget ? 'OK' : 'OVER'}`,
  ]);
}

export const PINNED_HEADER = [
  'variant',
  'req/s (median)',
  'ratio to bare',
  'per round',
  'CPU µs/req',
  'CPU ratio',
  'budget',
];
