/**
 * Consumers (docs/consumers.md): per-request cost of identification + heavy-hitters update on top of
 * `meter.record`, its steady-state allocation, the memory of 1,000 endpoints × top-20 consumers, and
 * the accuracy of the top-K counts on a Zipf workload against exact counts.
 *
 *   node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 --import tsx bench/consumers.ts [--quick]
 *
 * runs each variant in a child process of its own (same flags, `--variant=NAME`: one loop, one type
 * feedback per process, as bench/record.ts does for its modes) for ns and heap bytes per request, then
 * the memory and accuracy rows here. Prints a table, then one JSON line (bench/run.ts reads it).
 *
 *   npx tsx bench/consumers.ts --instructions [--variant=record,header,function] [--calls=20000] [--windows=6]
 *
 * counts instructions per request with callgrind instead (a figure other load on the machine cannot
 * move): each variant runs under `valgrind --tool=callgrind --instr-atstart=no` with
 * `node --single-threaded`; after the warm-up, instrumentation is switched on (`callgrind_control -i on`)
 * for `--calls` requests, the counts are dumped (`callgrind_control -d`), and so on for `--windows`
 * windows; the least window divided by the calls is reported (a window that caught a deoptimization
 * ran partly interpreted, and the JIT's recompilation is not all named as such: five windows of one
 * `record` run gave 1,211, 1,073, 1,225, 9,475 and 14,300 instructions/request).
 * Everything those calls execute counts (record, identification, the tracker, scavenges of what they
 * allocate). `--cache` adds callgrind's cache simulation, sized like one core of this CPU (L1d, and L2
 * as the last level: see cacheSimFlags in bench/lib.ts), and reports L1d and L2 misses per request
 * (least window each): the stalls that data layout decides, which instruction counts do not show and
 * wall-clock shows only through the machine's noise.
 *
 * APIMETER_BENCH_ENDPOINTS=N (environment, so every child sees it) changes the 1,000 endpoints: with
 * 10, everything stays in cache, and the difference to 1,000 is what memory traffic costs.
 *
 * Variants (1,000 endpoints, Zipf 1): `record` (consumers off), `header` (`X-Client-Id`, 50 consumers,
 * Zipf 1.1: fewer than K = 100), `function` (a consumer function, same consumers), `churn` (header over
 * 5,000 consumers: counters replaced all the time), `jwt` (a bearer JWT's `sub`, HMAC'd once per token
 * and then cached), `apikey` (an `X-Api-Key`, same). Those reuse one header string per consumer, so V8
 * hashes it once and caches the hash; `header-fresh` and `jwt-fresh` give every request strings of its
 * own, as node:http does (made from bytes before each chunk of 1,000, outside the timed part), so they
 * pay for hashing the value on each Map lookup. Their allocation row is that of the reused strings.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { EndpointStats } from '../src/core/endpoint.js';
import { createMeter } from '../src/core/meter.js';
import { ConsumerTracker, noteConsumer, SpaceSaving } from '../src/core/consumers.js';
import { ErrorKind } from '../src/core/record.js';
import type { Alloc } from './lib.js';
import {
  cacheSimFlags,
  callgrindSplit,
  callgrindTotals,
  emitResult,
  fmt,
  measureAlloc,
  median,
  memoryNow,
  pick,
  requireGc,
  rng,
  runChild,
  spawnCallgrind,
  table,
  watchGc,
  zipfCdf,
} from './lib.js';

const flag = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = process.argv.includes('--quick');
const VARIANTS = ['record', 'header', 'function', 'churn', 'jwt', 'apikey', 'header-fresh', 'jwt-fresh'] as const;
type VariantName = (typeof VARIANTS)[number];
/** Endpoints of the per-request variants (APIMETER_BENCH_ENDPOINTS); the memory row always has 1,000. */
const ENDPOINTS = Number(process.env.APIMETER_BENCH_ENDPOINTS ?? 1000);
if (!(Number.isInteger(ENDPOINTS) && ENDPOINTS >= 1)) {
  throw new Error(`APIMETER_BENCH_ENDPOINTS must be a whole number ≥ 1, got ${process.env.APIMETER_BENCH_ENDPOINTS}`);
}
const MEMORY_ENDPOINTS = 1000;
/** Consumers in the steady-state rows: fewer than K (100), so nobody loses an overall counter. */
const CONSUMERS = 50;
/** Consumers in the churn row: a long tail (Zipf over 5,000), so tail consumers replace counters all the time. */
const WIDE = 5000;
const SAMPLES = 1 << 18;
const MASK = SAMPLES - 1;
const ROUNDS = quick ? 3 : 11;
const PER_ROUND = quick ? 200_000 : 500_000;
const ALLOC_CALLS = 200_000;
const CHUNK = 1000;
/** Measured windows per variant under callgrind (--instructions); the least is reported. */
const WINDOWS = Number(flag('windows') ?? 6);
/** --instructions --cache: callgrind also simulates one core's L1d and L2 and counts their misses. */
const CACHE = process.argv.includes('--cache');
const SECRET = 'bench-secret-0123456789abcdef';
const FLAGS = ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64'];

export interface VariantResult {
  variant: VariantName;
  ns: { median: number; rounds: number[] };
  /** CPU time (user + system) per request, per round: below the wall-clock figure when descheduled. */
  cpuNs: { median: number; rounds: number[] };
  alloc: Alloc;
  sink: number;
}

/** One variant: the workload, one loop, then time per call and bytes per call (or only `calls` calls). */
async function runVariant(name: VariantName, callsOnly: number | null): Promise<VariantResult | null> {
  const random = rng(7);
  const epCdf = zipfCdf(ENDPOINTS, 1);
  const population = name === 'churn' ? WIDE : CONSUMERS;
  const consumerCdf = zipfCdf(population, 1.1);
  const epIndex = new Uint16Array(SAMPLES);
  const consumerIndex = new Uint16Array(SAMPLES);
  for (let i = 0; i < SAMPLES; i++) {
    epIndex[i] = pick(epCdf, random());
    consumerIndex[i] = pick(consumerCdf, random());
  }
  const ids = Array.from({ length: population }, (_, i) => `client-${i}`);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  // Headers built up front as a framework would have them (node:http's lower-case plain objects).
  const jwt = name === 'jwt' || name === 'jwt-fresh';
  const bearer = (id: string) => `Bearer ${b64({ alg: 'HS256' })}.${b64({ sub: id, iat: 1 })}.c2lnbmF0dXJl`;
  const headers = ids.map((id) =>
    jwt
      ? { authorization: bearer(id), host: 'api' }
      : name === 'apikey'
        ? { 'x-api-key': `ak_live_${id}_0123456789abcdef`, accept: '*/*', host: 'api' }
        : { 'x-client-id': id, accept: '*/*', host: 'api' },
  );
  // `*-fresh`: every request gets header strings of its own, made from bytes as node:http's parser makes
  // them (a new one-byte string whose hash V8 has not computed yet), just before its chunk is timed.
  // The other variants reuse one string per consumer, whose hash V8 computed once and cached.
  const fresh = name === 'header-fresh' || name === 'jwt-fresh';
  const valueBytes = ids.map((id) => Buffer.from(jwt ? bearer(id) : id, 'latin1'));
  const chunkHeaders: Record<string, string>[] = [];
  // Held as already-boxed numbers, as a framework's elapsed time reaches record (see bench/record.ts):
  // one non-number moves the array to generic elements for good.
  const durations: number[] = Array.from({ length: 1024 }, () => 1 + random() * 50);
  (durations as unknown[]).push('generic');
  durations.pop();

  const meter = createMeter({
    iniPath: false,
    env: {},
    metricsConsumers: name !== 'record',
    metricsConsumerHeader: name === 'header' || name === 'churn' || name === 'header-fresh' ? 'x-client-id' : '',
    metricsConsumerJwt: jwt,
    metricsConsumerApiKeyHeaders: name === 'apikey' ? ['x-api-key'] : [],
    metricsConsumerSecret: SECRET,
  });
  const eps: EndpointStats[] = Array.from({ length: ENDPOINTS }, (_, i) => meter.endpoint('GET', `/r${i}/{id}`)!);
  const consumers = meter.consumers;
  const fn = name === 'function' ? (i: number): string => ids[i] : null;

  // The one loop: record, then (consumers on) what an adapter's noteConsumer does.
  function loop(n: number, start: number): void {
    for (let k = 0; k < n; k++) {
      const i = (start + k) & MASK;
      const ep = eps[epIndex[i]];
      const d = durations[i & 1023];
      meter.record(ep, 200, d, -1, 512, 0);
      if (consumers !== null) {
        // What an adapter does after recording (noteConsumer reuses the meter's latency bucket).
        const c = consumerIndex[i];
        if (fn !== null) noteConsumer(meter, ep, fn, c, undefined, 200, d, ErrorKind.None);
        else noteConsumer(meter, ep, null, null, headers[c], 200, d, ErrorKind.None);
      }
    }
  }
  // Called in chunks, as a server calls its handlers: the loop function is entered often enough to run
  // optimized from its first line, where one call of 500,000 iterations ran on on-stack-replaced code
  // whose state (and cost: 1,100 or 3,600 instructions/request for `record` in repeated runs) varied.
  function run(n: number, start: number): void {
    for (let done = 0; done < n; done += CHUNK) loop(Math.min(CHUNK, n - done), start + done);
  }
  // `*-fresh`: the same loop over the chunk's own header objects.
  function loopFresh(n: number, start: number): void {
    for (let k = 0; k < n; k++) {
      const i = (start + k) & MASK;
      const ep = eps[epIndex[i]];
      const d = durations[i & 1023];
      meter.record(ep, 200, d, -1, 512, 0);
      noteConsumer(meter, ep, null, null, chunkHeaders[k], 200, d, ErrorKind.None);
    }
  }
  /** `*-fresh`: builds each chunk's headers untimed, then times the chunk; returns the ms spent in chunks. */
  function runFresh(n: number, start: number): number {
    let ms = 0;
    for (let done = 0; done < n; done += CHUNK) {
      const size = Math.min(CHUNK, n - done);
      for (let k = 0; k < size; k++) {
        const value = valueBytes[consumerIndex[(start + done + k) & MASK]].toString('latin1');
        chunkHeaders[k] = jwt
          ? { authorization: value, host: 'api' }
          : { 'x-client-id': value, accept: '*/*', host: 'api' };
      }
      const t0 = performance.now();
      loopFresh(size, start + done);
      ms += performance.now() - t0;
    }
    return ms;
  }
  const sink = () => meter.registry.size + (consumers?.tracker.requests ?? 0);

  let cursor = 0;
  const next = (n: number) => {
    const s = cursor;
    cursor = (cursor + n) & MASK;
    return s;
  };
  for (let r = 0; r < 4; r++) {
    // warm up: every endpoint/consumer pair seen, JIT settled
    if (fresh) runFresh(SAMPLES, next(SAMPLES));
    else run(SAMPLES, next(SAMPLES));
  }
  if (callsOnly !== null) {
    if (fresh)
      throw new Error(`--instructions: ${name} is a wall-clock variant (its headers are built between chunks)`);
    // Under callgrind (--instructions): per window, the parent switches instrumentation on before `go`,
    // dumps the counts after `done` and switches it off, so only the measured calls are counted.
    const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
    process.stdout.write('warm\n');
    for (let w = 0; w < WINDOWS; w++) {
      await lines.next();
      run(callsOnly, next(callsOnly));
      process.stdout.write(`done ${sink()}\n`);
    }
    await lines.next();
    return null;
  }
  const rounds: number[] = [];
  const cpuRounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = next(PER_ROUND);
    if (fresh) {
      // Only the timed chunks count; CPU time would include building the headers, so it is not kept.
      rounds.push((runFresh(PER_ROUND, start) * 1e6) / PER_ROUND);
      cpuRounds.push(NaN);
      continue;
    }
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run(PER_ROUND, start);
    rounds.push(((performance.now() - t0) * 1e6) / PER_ROUND);
    const c = process.cpuUsage(c0);
    cpuRounds.push(((c.user + c.system) * 1e3) / PER_ROUND);
  }
  const gc = watchGc();
  const alloc = await measureAlloc(run, { calls: ALLOC_CALLS, warm: SAMPLES >> 2, next, gcStarts: gc.starts });
  gc.stop();
  return {
    variant: name,
    ns: { median: median(rounds), rounds },
    cpuNs: { median: median(cpuRounds), rounds: cpuRounds },
    alloc,
    sink: sink(),
  };
}

// ---- Instructions per request under callgrind (instrumentation on for the measured calls only) ----
interface PerRequest {
  instructions: number;
  /** With --cache: simulated L1d misses and last-level (L2-sized) misses per request, least window. */
  l1Misses?: number;
  l2Misses?: number;
}

async function instructions(names: readonly VariantName[], calls: number): Promise<Record<string, PerRequest>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'apimeter-consumers-callgrind-'));
  const count = async (name: string): Promise<PerRequest> => {
    const out = path.join(dir, `${name}.out`);
    const child = spawnCallgrind(
      out,
      path.join('bench', 'consumers.ts'),
      [`--variant=${name}`, `--calls=${calls}`, `--windows=${WINDOWS}`],
      { stdio: ['pipe', 'pipe', 'inherit'], valgrindFlags: CACHE ? cacheSimFlags() : [] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const control = (...args: string[]) =>
      execFileSync('callgrind_control', [...args, String(child.pid)], { stdio: 'ignore' });
    let windows = 0;
    for await (const line of createInterface({ input: child.stdout! })) {
      if (line === 'warm' || line.startsWith('done')) {
        if (line.startsWith('done')) {
          control('-d'); // writes `${out}.N` with the counts since the last dump, and zeroes them
          control('-i', 'off');
          windows++;
        }
        if (windows === WINDOWS) child.stdin!.end('end\n');
        else {
          control('-i', 'on');
          child.stdin!.write('go\n');
        }
      }
    }
    await exited;
    if (child.exitCode !== 0) throw new Error(`callgrind ${name}: exit ${child.exitCode}`);
    // JIT compilation and full GCs landing in a window are one-off work (see bench/instructions.ts); so are
    // the requests a deoptimization leaves to the interpreter until the re-optimized code runs. They only
    // ever add, so the least window is the steady state.
    const perWindow = Array.from({ length: WINDOWS }, (_, w) => {
      const s = callgrindSplit(`${out}.${w + 1}`);
      return (s.total - s.compile - s.fullGc) / calls;
    });
    process.stderr.write(`  ${name}: windows ${perWindow.map((n) => fmt.int(n)).join(', ')}\n`);
    const result: PerRequest = { instructions: Math.min(...perWindow) };
    if (CACHE) {
      const totals = Array.from({ length: WINDOWS }, (_, w) => callgrindTotals(`${out}.${w + 1}`));
      result.l1Misses = Math.min(...totals.map((t) => (t.D1mr + t.D1mw) / calls));
      result.l2Misses = Math.min(...totals.map((t) => (t.DLmr + t.DLmw) / calls));
    }
    return result;
  };
  const perRequest: Record<string, PerRequest> = {};
  for (const name of names) {
    perRequest[name] = await count(name);
    process.stderr.write(`  ${name}: ${fmt.int(perRequest[name].instructions)} instructions/request\n`);
  }
  return perRequest;
}

// ---- Memory: 1,000 endpoints × top-20 consumers (every table full), K = 100 overall ----
function memoryRow(): { bytes: number; bound: number } {
  const collect = requireGc();
  const memMeter = createMeter({ iniPath: false, env: {} });
  const memEps = Array.from({ length: MEMORY_ENDPOINTS }, (_, i) => memMeter.endpoint('GET', `/m${i}/{id}`)!);
  for (const ep of memEps) memMeter.record(ep, 200, 1, -1, -1, 0); // listed before measuring
  const memIds = Array.from({ length: 5000 }, (_, i) => `tenant-${String(i).padStart(6, '0')}`);
  collect();
  const m0 = memoryNow();
  const tracker = new ConsumerTracker({ top: 100, endpointTop: 20, maxEndpoints: MEMORY_ENDPOINTS, maxIdLength: 128 });
  for (let round = 0; round < 3; round++) {
    for (let e = 0; e < MEMORY_ENDPOINTS; e++) {
      // 25 distinct consumers per endpoint, drawn from 5,000: every endpoint table full and churning.
      for (let c = 0; c < 25; c++)
        tracker.record(memEps[e], memIds[(e * 25 + c * 7 + round) % 5000], 200, 1 + c, false);
    }
  }
  collect();
  const m1 = memoryNow();
  return { bytes: m1.heap - m0.heap + (m1.arrayBuffers - m0.arrayBuffers), bound: tracker.memoryBound() };
}

// ---- Accuracy: Zipf(1.1) over 100,000 consumers, 1,000,000 requests, K = 100, vs exact counts ----
function accuracyRow() {
  const ACC_N = quick ? 200_000 : 1_000_000;
  const ACC_DISTINCT = 100_000;
  const K = 100;
  const accCdf = zipfCdf(ACC_DISTINCT, 1.1);
  const accRandom = rng(11);
  const table100 = new SpaceSaving(K);
  const exact = new Map<string, number>();
  for (let i = 0; i < ACC_N; i++) {
    const id = `u${pick(accCdf, accRandom())}`;
    table100.offer(id);
    exact.set(id, (exact.get(id) ?? 0) + 1);
  }
  const trueTop = [...exact].sort((a, b) => b[1] - a[1]);
  const top20 = trueTop.slice(0, 20).map(([id]) => id);
  const reported20 = table100
    .ranked()
    .slice(0, 20)
    .map((i) => table100.ids[i]);
  let maxOver = 0;
  let maxReportedBound = 0;
  let maxRel20 = 0;
  for (let i = 0; i < table100.size; i++) {
    const truth = exact.get(table100.ids[i]) ?? 0;
    maxOver = Math.max(maxOver, table100.counts[i] - truth);
    maxReportedBound = Math.max(maxReportedBound, table100.errors[i]);
  }
  for (const id of top20) {
    const i = table100.indexOf(id);
    const truth = exact.get(id)!;
    if (i >= 0) maxRel20 = Math.max(maxRel20, (table100.counts[i] - truth) / truth);
  }
  return {
    requests: ACC_N,
    distinct: exact.size,
    k: K,
    guaranteedBound: ACC_N / K,
    minCount: table100.minCount(),
    maxReportedErrorBound: maxReportedBound,
    maxMeasuredOvercount: maxOver,
    top20Recall: top20.filter((id) => reported20.includes(id)).length / 20,
    top20MaxRelativeError: maxRel20,
  };
}

export interface ConsumersResult {
  nsPerCall: Record<string, { median: number; rounds: number[] }>;
  cpuNsPerCall: Record<string, { median: number; rounds: number[] }>;
  alloc: Record<string, Alloc>;
  memory: { bytes: number; bound: number };
  accuracy: ReturnType<typeof accuracyRow>;
  loadAverage: number;
  sink: number;
}

const only = flag('variant')?.split(',') as VariantName[] | undefined;
for (const v of only ?? [])
  if (!VARIANTS.includes(v)) throw new Error(`unknown --variant=${v} (${VARIANTS.join(', ')})`);
const calls = flag('calls');
if (process.argv.includes('--instructions')) {
  const names = only ?? ['record', 'header', 'function'];
  const perRequest = await instructions(names, Number(calls ?? 20_000));
  const added = (n: string, f: (r: PerRequest) => number, digits: number) =>
    n === 'record' || perRequest.record === undefined ? '' : fmt.fixed(f(perRequest[n]) - f(perRequest.record), digits);
  process.stderr.write(
    table(
      [
        'variant',
        'instructions/request',
        'added to record',
        ...(CACHE ? ['L1d misses', 'added', 'L2 misses', 'added'] : []),
      ],
      names.map((n) => [
        n,
        fmt.int(perRequest[n].instructions),
        added(n, (r) => r.instructions, 0),
        ...(CACHE
          ? [
              fmt.fixed(perRequest[n].l1Misses!, 2),
              added(n, (r) => r.l1Misses!, 2),
              fmt.fixed(perRequest[n].l2Misses!, 2),
              added(n, (r) => r.l2Misses!, 2),
            ]
          : []),
      ]),
    ) + '\n',
  );
  emitResult({ bench: 'consumers-instructions', calls: Number(calls ?? 20_000), perRequest });
} else if (only !== undefined && only.length === 1) {
  const r = await runVariant(only[0], calls === undefined ? null : Number(calls));
  if (r !== null) emitResult(r);
} else {
  const names = only ?? [...VARIANTS];
  const results: VariantResult[] = [];
  for (const name of names) {
    results.push(
      await runChild<VariantResult>('consumers.ts', [`--variant=${name}`, ...(quick ? ['--quick'] : [])], FLAGS),
    );
  }
  const memory = memoryRow();
  const accuracy = accuracyRow();
  const base = results.find((r) => r.variant === 'record')?.ns.median;
  process.stderr.write(
    table(
      [
        'variant',
        'ns/request (median)',
        'added to record',
        'bytes/request',
        'alloc calls',
        'GCs in window',
        'CPU ns/request',
      ],
      results.map((r) => [
        r.variant,
        fmt.fixed(r.ns.median, 1),
        r.variant === 'record' || base === undefined ? '' : fmt.fixed(r.ns.median - base, 1),
        fmt.fixed(r.alloc.bytesPerCall, 2),
        fmt.int(r.alloc.calls),
        String(r.alloc.gcsDuring),
        // Below the wall-clock figure by more than ~15 %: the process was descheduled, the row is noise.
        // NaN (JSON null from the child) for `*-fresh`, whose rounds include building headers.
        typeof r.cpuNs.median === 'number' && Number.isFinite(r.cpuNs.median) ? fmt.fixed(r.cpuNs.median, 1) : '—',
      ]),
    ) +
      `\nmemory, 1,000 endpoints × top-20 (K=100): ${fmt.mb(memory.bytes)} measured, bound ${fmt.mb(memory.bound)}\n` +
      `accuracy: ${JSON.stringify(accuracy)}\n1-min load average ${os.loadavg()[0].toFixed(2)}\n`,
  );
  emitResult({
    nsPerCall: Object.fromEntries(results.map((r) => [r.variant, r.ns])),
    cpuNsPerCall: Object.fromEntries(results.map((r) => [r.variant, r.cpuNs])),
    alloc: Object.fromEntries(results.map((r) => [r.variant, r.alloc])),
    memory,
    accuracy,
    loadAverage: os.loadavg()[0],
    sink: results.reduce((n, r) => n + r.sink, 0),
  } satisfies ConsumersResult);
}
