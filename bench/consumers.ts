/**
 * Consumers (docs/consumers.md): per-request cost of identification + heavy-hitters update on top of
 * `meter.record`, its steady-state allocation, the memory of 1,000 endpoints × top-20 consumers, and
 * the accuracy of the top-K counts on a Zipf workload against exact counts.
 *
 *   node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 --import tsx bench/consumers.ts [--quick]
 *
 * Prints a table, then one JSON line (bench/run.ts reads it).
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import type { EndpointStats } from '../src/core/endpoint.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { ConsumerTracker, SpaceSaving } from '../src/core/consumers.js';
import { emitResult, fmt, median, memoryNow, pick, requireGc, rng, table, zipfCdf } from './lib.js';

const quick = process.argv.includes('--quick');
const ENDPOINTS = 1000;
/** Consumers in the steady-state rows: fewer than K (100), so nobody loses a counter. */
const CONSUMERS = 50;
/** Consumers in the churn row: a long tail (Zipf over 5,000), so tail consumers replace counters all the time. */
const WIDE = 5000;
const SAMPLES = 1 << 18;
const MASK = SAMPLES - 1;
const ROUNDS = quick ? 3 : 11;
const PER_ROUND = quick ? 200_000 : 500_000;
const ALLOC_CALLS = 200_000;
const SECRET = 'bench-secret-0123456789abcdef';
const collect = requireGc();

const gcStarts: number[] = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcStarts.push(e.startTime);
});
observer.observe({ entryTypes: ['gc'] });

// ---- Workload: endpoint and consumer per request (Zipf), headers built up front as a framework would ----
const random = rng(7);
const epCdf = zipfCdf(ENDPOINTS, 1);
const consumerCdf = zipfCdf(CONSUMERS, 1.1);
const epIndex = new Uint16Array(SAMPLES);
const consumerIndex = new Uint16Array(SAMPLES);
const wideIndex = new Uint16Array(SAMPLES);
const wideCdf = zipfCdf(WIDE, 1.1);
for (let i = 0; i < SAMPLES; i++) {
  epIndex[i] = pick(epCdf, random());
  consumerIndex[i] = pick(consumerCdf, random());
  wideIndex[i] = pick(wideCdf, random());
}
const ids = Array.from({ length: CONSUMERS }, (_, i) => `client-${i}`);
const headerObjects = ids.map((id) => ({ 'x-client-id': id, accept: '*/*', host: 'api' }));
const wideHeaders = Array.from({ length: WIDE }, (_, i) => ({
  'x-client-id': `tail-${i}`,
  accept: '*/*',
  host: 'api',
}));
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwtHeaders = ids.map((id) => ({
  authorization: `Bearer ${b64({ alg: 'HS256' })}.${b64({ sub: id, iat: 1 })}.c2ln`,
  host: 'api',
}));
const durations: number[] = Array.from({ length: 1024 }, () => 1 + random() * 50);

function makeMeter(consumers: boolean): { meter: Meter; eps: EndpointStats[] } {
  const meter = createMeter({
    iniPath: false,
    env: {},
    metricsConsumers: consumers,
    metricsConsumerHeader: 'x-client-id',
    metricsConsumerJwt: true,
    metricsConsumerSecret: SECRET,
  });
  const eps = Array.from({ length: ENDPOINTS }, (_, i) => meter.endpoint('GET', `/r${i}/{id}`)!);
  return { meter, eps };
}

const off = makeMeter(false);
const on = makeMeter(true);
const fnOf = (i: number): string => ids[i];

interface Variant {
  name: string;
  run(n: number, start: number): void;
}
const variants: Variant[] = [
  {
    name: 'record',
    run: function record(n, start) {
      const { meter, eps } = off;
      for (let k = 0; k < n; k++) {
        const i = (start + k) & MASK;
        meter.record(eps[epIndex[i]], 200, durations[i & 1023], -1, 512, 0);
      }
    },
  },
  {
    name: 'recordHeader',
    run: function recordHeader(n, start) {
      const { meter, eps } = on;
      const consumers = meter.consumers!;
      for (let k = 0; k < n; k++) {
        const i = (start + k) & MASK;
        const ep = eps[epIndex[i]];
        const d = durations[i & 1023];
        meter.record(ep, 200, d, -1, 512, 0);
        consumers.observe(ep, null, null, headerObjects[consumerIndex[i]], 200, d, false);
      }
    },
  },
  {
    name: 'recordFunction',
    run: function recordFunction(n, start) {
      const { meter, eps } = on;
      const consumers = meter.consumers!;
      for (let k = 0; k < n; k++) {
        const i = (start + k) & MASK;
        const ep = eps[epIndex[i]];
        const d = durations[i & 1023];
        meter.record(ep, 200, d, -1, 512, 0);
        consumers.observe(ep, fnOf, consumerIndex[i], undefined, 200, d, false);
      }
    },
  },
  {
    name: 'recordHeaderChurn',
    run: function recordHeaderChurn(n, start) {
      const { meter, eps } = on;
      const consumers = meter.consumers!;
      for (let k = 0; k < n; k++) {
        const i = (start + k) & MASK;
        const ep = eps[epIndex[i]];
        const d = durations[i & 1023];
        meter.record(ep, 200, d, -1, 512, 0);
        consumers.observe(ep, null, null, wideHeaders[wideIndex[i]], 200, d, false);
      }
    },
  },
  {
    name: 'recordJwt',
    run: function recordJwt(n, start) {
      const { meter, eps } = on;
      const consumers = meter.consumers!;
      for (let k = 0; k < n; k++) {
        const i = (start + k) & MASK;
        const ep = eps[epIndex[i]];
        const d = durations[i & 1023];
        meter.record(ep, 200, d, -1, 512, 0);
        consumers.observe(ep, null, null, jwtHeaders[consumerIndex[i]], 200, d, false);
      }
    },
  },
];

const settle = () => new Promise((r) => setTimeout(r, 20));
let cursor = 0;
const nsPerCall: Record<string, { median: number; rounds: number[] }> = {};
for (const v of variants) v.run(SAMPLES, 0); // warm up: every endpoint/consumer pair seen, JIT settled
for (const v of variants) {
  const rounds: number[] = [];
  const n = v.name === 'recordJwt' ? Math.floor(PER_ROUND / 10) : PER_ROUND;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    v.run(n, (cursor += n));
    rounds.push(((performance.now() - t0) * 1e6) / n);
  }
  nsPerCall[v.name] = { median: median(rounds), rounds };
}

interface Alloc {
  bytesPerCall: number;
  calls: number;
  gcsDuring: number;
}
async function measureAlloc(v: Variant): Promise<Alloc> {
  let calls = v.name === 'recordJwt' ? ALLOC_CALLS / 20 : ALLOC_CALLS;
  let last: Alloc | undefined;
  for (let attempt = 0; attempt < 4; attempt++) {
    await settle();
    v.run(SAMPLES >> 2, (cursor += SAMPLES >> 2));
    collect();
    const start = (cursor += calls);
    const before = memoryNow();
    const t0 = performance.now();
    v.run(calls, start);
    const t1 = performance.now();
    const after = memoryNow();
    await settle();
    const gcsDuring = gcStarts.filter((t) => t >= t0 && t <= t1).length;
    last = {
      bytesPerCall: (after.heap - before.heap + after.arrayBuffers - before.arrayBuffers) / calls,
      calls,
      gcsDuring,
    };
    if (gcsDuring === 0) return last;
    calls = Math.floor(calls / 4);
  }
  return last!;
}
const alloc: Record<string, Alloc> = {};
for (const v of variants) alloc[v.name] = await measureAlloc(v);
observer.disconnect();

// ---- Memory: 1,000 endpoints × top-20 consumers (every table full), K = 100 overall ----
const memMeter = createMeter({ iniPath: false, env: {} });
const memEps = Array.from({ length: ENDPOINTS }, (_, i) => memMeter.endpoint('GET', `/m${i}/{id}`)!);
for (const ep of memEps) memMeter.record(ep, 200, 1, -1, -1, 0); // listed before measuring
const memIds = Array.from({ length: 5000 }, (_, i) => `tenant-${String(i).padStart(6, '0')}`);
collect();
const m0 = memoryNow();
const tracker = new ConsumerTracker({ top: 100, endpointTop: 20, maxEndpoints: ENDPOINTS, maxIdLength: 128 });
for (let round = 0; round < 3; round++) {
  for (let e = 0; e < ENDPOINTS; e++) {
    // 25 distinct consumers per endpoint, drawn from 5,000: every endpoint table full and churning.
    for (let c = 0; c < 25; c++) tracker.record(memEps[e], memIds[(e * 25 + c * 7 + round) % 5000], 200, 1 + c, false);
  }
}
collect();
const m1 = memoryNow();
const memoryBytes = m1.heap - m0.heap + (m1.arrayBuffers - m0.arrayBuffers);

// ---- Accuracy: Zipf(1.1) over 100,000 consumers, 1,000,000 requests, K = 100, vs exact counts ----
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
const accuracy = {
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

const added = (name: string) => nsPerCall[name].median - nsPerCall.record.median;
process.stderr.write(
  table(
    ['variant', 'ns/request (median)', 'added to record', 'bytes/request', 'alloc calls', 'GCs in window'],
    variants.map((v) => [
      v.name,
      fmt.fixed(nsPerCall[v.name].median, 1),
      v.name === 'record' ? '' : fmt.fixed(added(v.name), 1),
      fmt.fixed(alloc[v.name].bytesPerCall, 2),
      fmt.int(alloc[v.name].calls),
      String(alloc[v.name].gcsDuring),
    ]),
  ) +
    `\nmemory, 1,000 endpoints × top-20 (K=100): ${fmt.mb(memoryBytes)} measured, bound ${fmt.mb(tracker.memoryBound())}\n` +
    `accuracy: ${JSON.stringify(accuracy)}\n`,
);

export interface ConsumersResult {
  nsPerCall: typeof nsPerCall;
  alloc: typeof alloc;
  memory: { bytes: number; bound: number };
  accuracy: typeof accuracy;
  sink: number;
}
emitResult({
  nsPerCall,
  alloc,
  memory: { bytes: memoryBytes, bound: tracker.memoryBound() },
  accuracy,
  sink: off.meter.registry.size + on.meter.consumers!.tracker.requests,
} satisfies ConsumersResult);
