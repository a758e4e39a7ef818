/**
 * Memory held by a meter, one scenario per process (`--scenario=minute|hour|flood`):
 *   node --expose-gc --import tsx bench/memory.ts --scenario=hour
 * "Held" is V8 heap plus ArrayBuffer backing stores (typed arrays over 64 bytes live outside the heap),
 * after full GCs, minus the same figure before the meter existed. Prints one JSON line.
 */
import { ManualClock } from '../src/core/clock.js';
import type { EndpointStats } from '../src/core/endpoint.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import type { Tally } from '../src/core/tally.js';
import type { WindowName } from '../src/core/query.js';
import { emitResult, memoryNow, requireGc, rng } from './lib.js';
import { drawOutcome, endpointProfiles, newOutcome } from './workload.js';
import type { EndpointProfile } from './workload.js';

const scenario = process.argv.find((a) => a.startsWith('--scenario='))?.slice('--scenario='.length);
const ENDPOINTS = 1000;
/** `--otel`: the meter as with otel_on (per-status latency sketches for OpenTelemetry's duration histogram). */
const OTEL = process.argv.includes('--otel');
/**
 * `--prom-legacy`: the meter as with `[metrics] prometheus_naming = legacy` (the same per-status sketches,
 * for the preset's `http_request_duration_seconds{status_code}`).
 */
const PROM_LEGACY = process.argv.includes('--prom-legacy');
const collect = requireGc();

interface Held {
  heapBytes: number;
  arrayBufferBytes: number;
  totalBytes: number;
}

function baseline(): { heap: number; arrayBuffers: number } {
  collect();
  return memoryNow();
}

function held(since: { heap: number; arrayBuffers: number }): Held {
  collect();
  const now = memoryNow();
  const heapBytes = now.heap - since.heap;
  const arrayBufferBytes = now.arrayBuffers - since.arrayBuffers;
  return { heapBytes, arrayBufferBytes, totalBytes: heapBytes + arrayBufferBytes };
}

function newMeter(clock: ManualClock): Meter {
  return createMeter({
    iniPath: false,
    env: {},
    clock,
    metricsMaxEndpoints: ENDPOINTS,
    otelOn: OTEL,
    ...(PROM_LEGACY ? { prometheusNaming: 'legacy' as const } : {}),
  });
}

// Load config parsing, schemas and every module before the baseline, so they are not charged to the meter.
newMeter(new ManualClock());
collect();

/** Buckets stored by the meter's sketches, by where they sit: explains what the total is made of. */
function sketchBuckets(meter: Meter): Record<string, number> {
  // Closed slots are packed in each endpoint's arena: thawed here (after the measurement) only to count their buckets.
  const ringBuckets = (ring: readonly Tally[]) => ring.reduce((n, t) => n + t.latency.storedBuckets, 0);
  const out = {
    totalLatency: 0,
    openSlotLatency: 0,
    fineSlotsLatency: 0,
    coarseSlotsLatency: 0,
    sizeSketches: 0,
    slotsAllocated: 0,
    frozenSlotBytes: 0,
    arenaCapacityBytes: 0,
  };
  for (const ep of meter.registry.endpoints()) {
    out.totalLatency += ep.total.latency.storedBuckets;
    out.openSlotLatency += ep.current?.latency.storedBuckets ?? 0;
    const fine = ep.heldSlots('fine');
    const coarse = ep.heldSlots('coarse');
    out.fineSlotsLatency += ringBuckets(fine);
    out.coarseSlotsLatency += ringBuckets(coarse);
    out.sizeSketches += ep.requestSize.storedBuckets + ep.responseSize.storedBuckets;
    out.slotsAllocated += fine.length + coarse.length + (ep.current === null ? 0 : 1);
    out.frozenSlotBytes += ep.slots?.used ?? 0;
    out.arenaCapacityBytes += ep.slots?.capacity ?? 0;
  }
  return out;
}

/** Queries every window once (as the metrics API would) and checks the all-time count against ours. */
function query(meter: Meter, sent: number): { countOk: boolean; counted: number; snapshotMs: Record<string, number> } {
  const snapshotMs: Record<string, number> = {};
  let counted = 0;
  for (const w of ['1m', '5m', '15m', '1h', 'all'] as WindowName[]) {
    const t0 = performance.now();
    const snap = meter.snapshot(w);
    snapshotMs[w] = performance.now() - t0;
    if (w === 'all') counted = snap.reduce((n, s) => n + s.count, 0);
  }
  return { countOk: counted === sent, counted, snapshotMs };
}

/** Traffic against 1,000 endpoints: `steps` clock steps of `stepMs`, `perStep()` requests per endpoint per step. */
function traffic(steps: number, stepMs: number, perStep: (random: () => number) => number) {
  const random = rng(7);
  const profiles = endpointProfiles(ENDPOINTS, random);
  const clock = new ManualClock();
  const before = baseline();
  const meter = newMeter(clock);
  const eps: EndpointStats[] = profiles.map((p: EndpointProfile) => meter.endpoint(p.method, p.route)!);
  const o = newOutcome();
  let sent = 0;
  for (let step = 0; step < steps; step++) {
    for (let e = 0; e < ENDPOINTS; e++) {
      const n = perStep(random);
      for (let k = 0; k < n; k++) {
        drawOutcome(random, profiles[e], o);
        meter.record(eps[e], o.status, o.durationMs, o.requestBytes, o.responseBytes, o.kind);
        sent++;
      }
    }
    clock.advance(stepMs);
  }
  const check = query(meter, sent);
  const mem = held(before);
  return {
    endpoints: meter.registry.size,
    records: sent,
    simulatedSeconds: (steps * stepMs) / 1000,
    ...mem,
    bytesPerEndpoint: mem.totalBytes / meter.registry.size,
    sketchBuckets: sketchBuckets(meter),
    otel: OTEL,
    promLegacy: PROM_LEGACY,
    statusLatency: meter.reader.statusLatency?.stats() ?? null,
    ...check,
    keepAlive: meter.registry.size > 0,
  };
}

function flood() {
  const random = rng(11);
  const profiles = endpointProfiles(ENDPOINTS, random);
  const clock = new ManualClock();
  const before = baseline();
  const meter = newMeter(clock);
  const o = newOutcome();
  let sent = 0;
  // The cap is filled by real routes first, each with a little traffic.
  for (const p of profiles) {
    const ep = meter.endpoint(p.method, p.route)!;
    for (let k = 0; k < 5; k++) {
      drawOutcome(random, p, o);
      meter.record(ep, o.status, o.durationMs, o.requestBytes, o.responseBytes, o.kind);
      sent++;
    }
  }
  const atCap = held(before);
  const checkpoints: { routes: number; registrySize: number; totalBytes: number }[] = [];
  const DISTINCT = 100_000;
  const marks = new Set([1_000, 10_000, 25_000, 50_000, DISTINCT]);
  const filler = profiles[0];
  // Distinct route templates (a framework registering routes from data, or a proxy normalising badly).
  for (let i = 1; i <= DISTINCT; i++) {
    const ep = meter.endpoint('GET', `/flood/${i}/{id}`);
    if (ep !== null) {
      drawOutcome(random, filler, o);
      meter.record(ep, o.status, o.durationMs, o.requestBytes, o.responseBytes, o.kind);
      sent++;
    }
    clock.advance(0.1);
    if (marks.has(i)) checkpoints.push({ routes: i, registrySize: meter.registry.size, ...held(before) });
  }
  // Distinct unmatched raw paths (a scanner): one shared endpoint, never the raw path.
  for (let i = 1; i <= DISTINCT; i++) {
    const ep = meter.unmatched('GET', `/wp-admin/${i.toString(36)}/setup.php?x=${i}`);
    if (ep !== null) {
      meter.record(ep, 404, 0.3 + random(), 0, 9, 0);
      sent++;
    }
    clock.advance(0.1);
  }
  const afterScan = { registrySize: meter.registry.size, ...held(before) };
  const check = query(meter, sent);
  const first = checkpoints[0];
  const last = checkpoints[checkpoints.length - 1];
  return {
    cap: meter.registry.maxEndpoints,
    atCapBytes: atCap.totalBytes,
    checkpoints,
    afterUnmatchedScan: afterScan,
    growthBytes: last.totalBytes - first.totalBytes,
    /** From 10,000 distinct routes to 100,000: does memory keep growing with the number of routes? */
    plateauGrowthBytes: last.totalBytes - checkpoints[1].totalBytes,
    growthFromCapBytes: afterScan.totalBytes - atCap.totalBytes,
    registrySize: meter.registry.size,
    overflowedEndpoints: meter.registry.overflowedEndpoints,
    overflowedRecords: meter.registry.overflowedRecords,
    records: sent,
    ...check,
  };
}

export type TrafficResult = ReturnType<typeof traffic> & { scenario: 'minute' | 'hour' };
export type FloodResult = ReturnType<typeof flood> & { scenario: 'flood' };

if (scenario === 'minute') {
  // 50 requests per endpoint, spread over the last 60 s.
  emitResult({ scenario, ...traffic(50, 1200, () => 1) });
} else if (scenario === 'hour') {
  // 10 s steps for 60 minutes, 1-5 requests per endpoint per step (3 on average): every slot is in use.
  emitResult({ scenario, ...traffic(360, 10_000, (random) => 1 + Math.floor(random() * 5)) });
} else if (scenario === 'flood') {
  emitResult({ scenario, ...flood() });
} else {
  throw new Error(`unknown --scenario=${String(scenario)} (minute, hour, flood)`);
}
