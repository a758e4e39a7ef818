import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root: children are started from here so `--import tsx` resolves from node_modules. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Small deterministic PRNG (mulberry32) so every run measures the same workload. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal by Box-Muller. */
export function gaussian(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Lognormal with the given median and shape σ (of the underlying normal). */
export function lognormal(random: () => number, medianValue: number, sigma: number): number {
  return medianValue * Math.exp(sigma * gaussian(random));
}

/** Cumulative weights of a Zipf(s) law over n ranks, for picking "hot" endpoints realistically. */
export function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += 1 / (i + 1) ** s;
    cdf[i] = acc;
  }
  for (let i = 0; i < n; i++) cdf[i] /= acc;
  return cdf;
}

export function pick(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Heap plus ArrayBuffer backing stores: typed arrays over 64 bytes live outside the V8 heap. */
export function memoryNow(): { heap: number; arrayBuffers: number } {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

export function requireGc(): () => void {
  const gc = globalThis.gc;
  if (typeof gc !== 'function') throw new Error('run with node --expose-gc');
  return () => {
    gc();
    gc();
  };
}

/** Heap bytes a measured window allocated (see {@link measureAlloc}). */
export interface Alloc {
  bytesPerCall: number;
  heapBytes: number;
  arrayBufferBytes: number;
  calls: number;
  gcsDuring: number;
  attempts: number;
}

/** Starts of every GC from now on (a PerformanceObserver on `gc` entries); `stop` disconnects it. */
export function watchGc(): { starts: number[]; stop(): void } {
  const starts: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) starts.push(entry.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  return { starts, stop: () => observer.disconnect() };
}

/**
 * Heap bytes per call of `run(n, start)`, in a window with no GC at all: settle, one unmeasured pass of
 * `warm` calls (absorbs what a timer changed while we awaited, e.g. the meter's time tick), gc(), then
 * `calls` calls between two memory readings; from there to the end nothing yields. A window a GC fell
 * into is retried with a quarter of the calls, up to 4 attempts. `next(n)` gives the start of the next
 * `n` workload entries. Run node with `--expose-gc` and a young generation large enough for the window.
 */
export async function measureAlloc(
  run: (n: number, start: number) => void,
  opts: { calls: number; warm: number; next: (n: number) => number; gcStarts: readonly number[]; settleMs?: number },
): Promise<Alloc> {
  const collect = requireGc();
  const settle = () => new Promise((r) => setTimeout(r, opts.settleMs ?? 50));
  let calls = opts.calls;
  let last: Alloc | undefined;
  for (let attempt = 1; attempt <= 4; attempt++) {
    await settle();
    run(opts.warm, opts.next(opts.warm));
    collect();
    const start = opts.next(calls);
    const before = memoryNow();
    const t0 = performance.now();
    run(calls, start);
    const t1 = performance.now();
    const after = memoryNow();
    await settle();
    const gcsDuring = opts.gcStarts.filter((t) => t >= t0 && t <= t1).length;
    const heapBytes = after.heap - before.heap;
    const arrayBufferBytes = after.arrayBuffers - before.arrayBuffers;
    last = {
      bytesPerCall: (heapBytes + arrayBufferBytes) / calls,
      heapBytes,
      arrayBufferBytes,
      calls,
      gcsDuring,
      attempts: attempt,
    };
    if (gcsDuring === 0) return last;
    calls = Math.floor(calls / 4);
  }
  return last!;
}

/** Writes a child's result as its last stdout line; the parent reads that line. */
export function emitResult(result: unknown): void {
  process.stdout.write(JSON.stringify(result) + '\n');
}

/**
 * Runs `bench/<script>` in a fresh Node process (so its V8 flags apply and no other bench's heap or
 * JIT state leaks in) and returns the JSON object printed on its last stdout line.
 */
export function runChild<T>(script: string, args: readonly string[], nodeFlags: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join('bench', script), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`bench/${script} ${args.join(' ')} exited with ${signal ?? code}`));
        return;
      }
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`bench/${script} printed no result line (got ${JSON.stringify(line.slice(0, 200))})`));
      }
    });
  });
}

export const fmt = {
  int: (n: number): string => Math.round(n).toLocaleString('en-US'),
  fixed: (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : String(n)),
  mb: (bytes: number): string => (bytes / 1e6).toFixed(2) + ' MB',
};

/** Left-aligned text table with a header rule. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export interface Split {
  /** Every instruction counted. */
  total: number;
  /** V8's optimising compilers and parser (tier-up still going on after the warm-up). */
  compile: number;
  /** Mark-compact (full) GC: a few per minute, so a window holds one or none. */
  fullGc: number;
}

/** Mark-compact's phases (marking, sweeping, evacuation and the pointer updates after it). */
const FULL_GC =
  /MarkCompact|Marking|Sweep|Evacuat|IterateObjectCache|RecordMigratedSlot|PointersUpdating|RememberedSetUpdating|StringTableCleaner|ActiveSystemPages/;

/**
 * `node --single-threaded [nodeFlags] --import tsx <script> [args]` under valgrind's callgrind with
 * instrumentation off until `callgrind_control -i on` (bench/instructions.ts, bench/consumers.ts):
 * single-threaded so no concurrent JIT or GC thread runs beside the counted work.
 */
export function spawnCallgrind(
  out: string,
  script: string,
  args: readonly string[],
  options: { nodeFlags?: readonly string[]; valgrindFlags?: readonly string[]; stdio: StdioOptions },
): ChildProcess {
  return spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      ...(options.valgrindFlags ?? []),
      '--smc-check=all-non-file',
      `--callgrind-out-file=${out}`,
      process.execPath,
      '--single-threaded',
      ...(options.nodeFlags ?? []),
      '--import',
      'tsx',
      script,
      ...args,
    ],
    { cwd: ROOT, stdio: options.stdio },
  );
}

/**
 * A simulated cache like one core of this machine's CPU, for callgrind's `--cache-sim=yes`: its
 * first level is L1d, its last level stands for L2 (callgrind simulates two levels; a miss there is
 * a trip to the shared L3 or memory, the stall that data layout decides). Sizes from `lscpu`'s
 * per-core figures when it answers, else 32 KiB and 1 MiB.
 */
export function cacheSimFlags(): string[] {
  const perCore = (name: string, fallback: number): number => {
    try {
      const out = execFileSync('lscpu', ['-B'], { encoding: 'utf8' });
      const m = new RegExp(`^${name} cache:\\s+(\\d+)(?:\\s+\\((\\d+) instances?\\))?`, 'm').exec(out);
      if (m === null) return fallback;
      return Math.floor(Number(m[1]) / Number(m[2] ?? 1));
    } catch {
      return fallback;
    }
  };
  const pow2 = (n: number) => 2 ** Math.floor(Math.log2(n));
  const l1 = pow2(perCore('L1d', 32768));
  const l2 = pow2(perCore('L2', 1 << 20));
  return ['--cache-sim=yes', `--I1=32768,8,64`, `--D1=${l1},8,64`, `--LL=${l2},16,64`];
}

/** Event totals of a callgrind dump (its `events:` names, its `totals:` numbers), e.g. Ir, D1mr, DLmr. */
export function callgrindTotals(file: string): Record<string, number> {
  const text = readFileSync(file, 'utf8');
  const names = /^events: (.+)$/m.exec(text)?.[1].trim().split(/\s+/) ?? [];
  const values = /^totals: (.+)$/m.exec(text)?.[1].trim().split(/\s+/).map(Number) ?? [];
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
}

/**
 * The instructions of a callgrind dump, with the one-off kinds apart: JIT compilation and full GCs
 * land in a window or not by chance, and would otherwise make two runs of the same code differ by
 * more than the effects measured. Scavenges (young-generation GCs) stay in: they are what allocation
 * per request costs.
 */
export function callgrindSplit(file: string): Split {
  const text = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', '--show=Ir', file], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const s: Split = { total: 0, compile: 0, fullGc: 0 };
  // A dump's `summary:` (what callgrind_annotate prints as PROGRAM TOTALS) can wrap below zero when
  // `callgrind_control -d` cut the run into parts; its `totals:` line, the sum of its costs, cannot.
  const totals = callgrindTotals(file).Ir;
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const n = Number(m[1].replaceAll(',', ''));
    const what = m[2];
    if (what.startsWith('PROGRAM TOTALS')) s.total = totals ?? n;
    else if (/compiler::|turboshaft|maglev|Maglev|Compiler|Parser|Bytecode|Compile/.test(what)) s.compile += n;
    else if (FULL_GC.test(what)) s.fullGc += n;
  }
  return s;
}
