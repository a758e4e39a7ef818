/**
 * Core record path: ns and heap bytes per `meter.record` call against 1,000 pre-resolved endpoints,
 * side by side with a bare loop (the cost of reading the workload), a per-request string key + Map
 * lookup (what resolving the endpoint per request would cost) and the same record made through an
 * object argument (`recordObject`: the signature STYLE rule 16 weighs against the positional one).
 *
 * Run by bench/run.ts, once per mode (`main`: the within-slot path and the references; `rotating`:
 * a ManualClock moving at 10,000 req/s so time slots rotate), as
 *   node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 --import tsx bench/record.ts --mode=main
 * so that a young generation of 64 MB lets a measured batch allocate without triggering a GC.
 * Prints one JSON line.
 */
import type { ManualClock } from '../src/core/clock.js';
import { systemClock } from '../src/core/clock.js';
import type { EndpointStats } from '../src/core/endpoint.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import type { ErrorKind } from '../src/core/record.js';
import { emitResult, measureAlloc, median, pick, requireGc, rng, watchGc, zipfCdf } from './lib.js';
import type { Alloc } from './lib.js';
import { drawOutcome, endpointProfiles, newOutcome } from './workload.js';

const quick = process.argv.includes('--quick');
const ENDPOINTS = 1000;
/** Workload length (a power of two, so the loop wraps with a mask). */
const SAMPLES = 1 << 20;
const MASK = SAMPLES - 1;
const ROUNDS = quick ? 3 : 15;
const PER_ROUND = quick ? 300_000 : 1_000_000;
/** Records per allocation measurement: small enough that 64 MB of young generation holds them. */
const ALLOC_RECORDS = 250_000;
/** Simulated traffic for the rotating-clock variant: 10,000 req/s, i.e. 0.1 ms per record. */
const SIMULATED_MS_PER_RECORD = 0.1;

requireGc(); // fails at once without --expose-gc

/** See the rotating mode: time = start + steps × 0.1 ms, the step count a small integer. */
class StepClock {
  steps = 0;
  now(): number {
    return 1_700_000_000_000 + this.steps * SIMULATED_MS_PER_RECORD;
  }
  step(): void {
    this.steps++;
  }
}

// ---- Workload, generated up front so that generating it is not measured ----
const random = rng(42);
const profiles = endpointProfiles(ENDPOINTS, random);
const methods = profiles.map((p) => p.method);
const routes = profiles.map((p) => p.route);
const cdf = zipfCdf(ENDPOINTS, 1);
const epIndex = new Uint16Array(SAMPLES);
// Durations are held as already-boxed numbers (an array of generic elements, not a Float64Array):
// in production the duration reaches record() as a heap number the framework already made
// (Fastify's reply.elapsedTime), so boxing it here would charge the meter 16 B it does not cause.
const duration: number[] = [];
const status = new Uint16Array(SAMPLES);
const requestBytes = new Float64Array(SAMPLES);
const responseBytes = new Float64Array(SAMPLES);
const kind = new Uint8Array(SAMPLES);
const outcome = newOutcome();
for (let i = 0; i < SAMPLES; i++) {
  const e = pick(cdf, random());
  drawOutcome(random, profiles[e], outcome);
  epIndex[i] = e;
  duration.push(outcome.durationMs);
  status[i] = outcome.status;
  kind[i] = outcome.kind;
  requestBytes[i] = outcome.requestBytes;
  responseBytes[i] = outcome.responseBytes;
}
// One non-number moves the array to generic elements for good (V8 never transitions back), so
// every duration stays a separate heap number that is passed by reference.
(duration as unknown[]).push('generic');
duration.pop();

interface Variant {
  name: string;
  run: (n: number, start: number) => void;
}

function makeMeter(endpoints: number, clock?: ManualClock): { meter: Meter; eps: EndpointStats[] } {
  const meter = createMeter({ iniPath: false, env: {}, metricsMaxEndpoints: ENDPOINTS, ...(clock ? { clock } : {}) });
  const eps: EndpointStats[] = [];
  for (let e = 0; e < endpoints; e++) {
    const ep = meter.endpoint(methods[e], routes[e]);
    if (ep === null) throw new Error(`endpoint ${methods[e]} ${routes[e]} was not created`);
    eps.push(ep);
  }
  return { meter, eps };
}

// ---- The variants. Each is its own function so each loop gets its own type feedback. ----
let sink = 0;

/** What an object-argument `record` would take: one literal per request. */
interface RecordArgs {
  ep: EndpointStats;
  status: number;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
  errorKind: ErrorKind;
  errorClass?: string;
  errorMessage?: string;
}

/** The object-argument form, as a meter method taking `RecordArgs` would be written. */
function recordWith(meter: Meter, r: RecordArgs): void {
  meter.record(
    r.ep,
    r.status,
    r.durationMs,
    r.requestBytes,
    r.responseBytes,
    r.errorKind,
    r.errorClass,
    r.errorMessage,
  );
}

function bareLoop(n: number, start: number): void {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const j = (start + i) & MASK;
    acc += epIndex[j] + status[j] + duration[j] + requestBytes[j] + responseBytes[j] + kind[j];
  }
  sink += acc;
}

const counters = new Map<string, { count: number }>();
for (let e = 0; e < ENDPOINTS; e++) counters.set(`${methods[e]} ${routes[e]}`, { count: 0 });
function mapLookup(n: number, start: number): void {
  for (let i = 0; i < n; i++) {
    const j = (start + i) & MASK;
    const e = epIndex[j];
    const c = counters.get(`${methods[e]} ${routes[e]}`);
    if (c !== undefined) c.count++;
  }
}

// The meter variants run in separate processes (--mode): a Meter whose clock is sometimes the system
// clock and sometimes a ManualClock would make `this.clock.now()` polymorphic, which production never sees.
const mode = process.argv.find((a) => a.startsWith('--mode='))?.slice('--mode='.length) ?? 'main';
if (mode !== 'main' && mode !== 'rotating') throw new Error(`unknown --mode=${mode}`);
const meters: Meter[] = [];
const variants: Variant[] = [{ name: 'bareLoop', run: bareLoop }];

if (mode === 'main') {
  variants.push({ name: 'mapLookup', run: mapLookup });
  const many = makeMeter(ENDPOINTS);
  const eps = many.eps;
  const meter = many.meter;
  variants.push({
    name: 'record',
    run: function record(n: number, start: number): void {
      for (let i = 0; i < n; i++) {
        const j = (start + i) & MASK;
        meter.record(eps[epIndex[j]], status[j], duration[j], requestBytes[j], responseBytes[j], kind[j] as ErrorKind);
      }
    },
  });
  // The same records through an object argument, a fresh literal per call as an adapter would write it.
  // Whether V8 removes the literal (escape analysis after inlining) is what the bytes/call column shows.
  const objects = makeMeter(ENDPOINTS);
  const epsObject = objects.eps;
  const meterObject = objects.meter;
  variants.push({
    name: 'recordObject',
    run: function recordObject(n: number, start: number): void {
      for (let i = 0; i < n; i++) {
        const j = (start + i) & MASK;
        recordWith(meterObject, {
          ep: epsObject[epIndex[j]],
          status: status[j],
          durationMs: duration[j],
          requestBytes: requestBytes[j],
          responseBytes: responseBytes[j],
          errorKind: kind[j] as ErrorKind,
        });
      }
    },
  });
  // The same calls all aimed at one endpoint: the compute cost without cache misses across endpoints.
  const one = makeMeter(1);
  const ep = one.eps[0];
  const meterOne = one.meter;
  variants.push({
    name: 'recordOneEndpoint',
    run: function recordOneEndpoint(n: number, start: number): void {
      for (let i = 0; i < n; i++) {
        const j = (start + i) & MASK;
        meterOne.record(ep, status[j], duration[j], requestBytes[j], responseBytes[j], kind[j] as ErrorKind);
      }
    },
  });
  variants.push({
    name: 'clockRead',
    run: function clockRead(n: number): void {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += systemClock.now();
      sink += acc;
    },
  });
  meters.push(meter, meterOne, meterObject);
} else {
  // A clock moved forward as if the server took 10,000 req/s: every endpoint's 10 s and 60 s slots
  // rotate as they would in production, so their re-initialisation is part of the figure. It counts
  // whole steps (a small integer) and computes the time from them: a ManualClock's `t += 0.1` makes a
  // new 16-byte heap number per record, which the harness would charge to the meter (production reads
  // the shared tick, which allocates nothing per record).
  const clock = new StepClock();
  const { meter, eps } = makeMeter(ENDPOINTS, clock as unknown as ManualClock);
  variants.push({
    name: 'recordRotating',
    run: function recordRotating(n: number, start: number): void {
      for (let i = 0; i < n; i++) {
        const j = (start + i) & MASK;
        meter.record(eps[epIndex[j]], status[j], duration[j], requestBytes[j], responseBytes[j], kind[j] as ErrorKind);
        clock.step();
      }
    },
  });
  meters.push(meter);
}

const gc = watchGc();

let cursor = 0;
/** Records handed to each variant, to check the meter's own count against. */
const sent: Record<string, number> = Object.fromEntries(variants.map((v) => [v.name, 0]));
function nextStart(v: Variant, n: number): number {
  const s = cursor;
  cursor = (cursor + n) & MASK;
  sent[v.name] += n;
  return s;
}

// Warm-up: enough calls for the optimizing compiler to settle on every variant, and for every
// endpoint's slots and sketches to reach their steady shape. With slots rotating that takes a full
// simulated hour (36 passes of 2^20 records at 0.1 ms each): until the coarse ring has come round, each
// endpoint's slot arena still grows, which is not the steady state the budget is about.
const warmUpPasses = mode === 'rotating' ? 36 : quick ? 1 : 3;
for (let r = 0; r < warmUpPasses; r++) for (const v of variants) v.run(SAMPLES, nextStart(v, SAMPLES));

// ---- Time per call: rounds with the variants in rotating order, medians reported ----
const nsPerCall: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
// CPU time of the process beside wall time: on a shared machine, time spent descheduled inflates
// the wall-clock figure but not this one.
const cpuNsPerCall: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(r + k) % variants.length];
    const start = nextStart(v, PER_ROUND);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    v.run(PER_ROUND, start);
    const t1 = process.hrtime.bigint();
    const c1 = process.cpuUsage(c0);
    nsPerCall[v.name].push(Number(t1 - t0) / PER_ROUND);
    cpuNsPerCall[v.name].push(((c1.user + c1.system) * 1000) / PER_ROUND);
  }
}

// ---- Heap bytes per call, in a window with no GC at all ----
// The warm pass covers every endpoint: it absorbs a slot change the meter's time tick (refreshed by a
// timer) may have made while we awaited; from there to the end of the window nothing yields, so the
// tick cannot move and the window measures the within-slot path. Slot changes are the rotating mode's.
async function measureVariant(v: Variant): Promise<Alloc> {
  return measureAlloc(v.run, {
    calls: ALLOC_RECORDS,
    warm: SAMPLES,
    next: (n) => nextStart(v, n),
    gcStarts: gc.starts,
  });
}

const alloc: Record<string, Alloc> = {};
for (const v of variants) alloc[v.name] = await measureVariant(v);
gc.stop();

export interface RecordResult {
  mode: 'main' | 'rotating';
  endpoints: number;
  rounds: number;
  callsPerRound: number;
  simulatedRequestsPerSecond: number;
  nsPerCall: Record<string, { median: number; rounds: number[] }>;
  cpuNsPerCall: Record<string, { median: number; rounds: number[] }>;
  alloc: Record<string, Alloc>;
  countCheck: { sent: number; counted: number };
  sink: number;
}

const result: RecordResult = {
  mode,
  endpoints: ENDPOINTS,
  rounds: ROUNDS,
  callsPerRound: PER_ROUND,
  simulatedRequestsPerSecond: 1000 / SIMULATED_MS_PER_RECORD,
  nsPerCall: Object.fromEntries(Object.entries(nsPerCall).map(([k, xs]) => [k, { median: median(xs), rounds: xs }])),
  cpuNsPerCall: Object.fromEntries(
    Object.entries(cpuNsPerCall).map(([k, xs]) => [k, { median: median(xs), rounds: xs }]),
  ),
  alloc,
  countCheck: {
    sent: (sent.record ?? 0) + (sent.recordObject ?? 0) + (sent.recordOneEndpoint ?? 0) + (sent.recordRotating ?? 0),
    counted: meters.flatMap((m) => m.snapshot('all')).reduce((n, ep) => n + ep.count, 0),
  },
  sink: sink > 0 ? 1 : 0,
};
emitResult(result);
