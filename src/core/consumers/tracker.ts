import type { EndpointStats } from '../endpoint.js';
import { Sketch } from '../sketch.js';
import type { SketchLayout } from '../sketch.js';
import { SpaceSaving } from './space-saving.js';
import { OTHER_CONSUMER } from './identify.js';

/** Consumer latencies: scale 4 (2.2 % relative error), ~1 µs to ~4.6 h; at most 544 buckets. */
export const CONSUMER_LATENCY_SKETCH: SketchLayout = Object.freeze({
  scale: 4,
  minIndex: -10 * 16,
  maxIndex: 24 * 16 - 1,
});

export interface TrackerLimits {
  /** K: consumers with totals (requests, errors, latency sketch, endpoints used). */
  top: number;
  /** k: consumers counted per endpoint. */
  endpointTop: number;
  /** Endpoints the registry may hold (the per-endpoint tables are indexed by endpoint id). */
  maxEndpoints: number;
  /** Longest consumer id. */
  maxIdLength: number;
}

/** One consumer's figures as {@link ConsumerTracker.list} reads them (plain data). */
export interface ConsumerFigures {
  id: string;
  /** Space-Saving estimate: true requests lie in [requests - errorBound, requests]. */
  requests: number;
  errorBound: number;
  /** Requests counted while this id held its counter: exact (equal to `requests` when errorBound is 0). */
  tracked: number;
  /** Of the tracked requests: answered ≥ 400 or with an error kind; answered 5xx. */
  errors: number;
  serverErrors: number;
  latency: Sketch;
  /** Tracked requests and errors per endpoint id. */
  endpoints: Map<number, [number, number]>;
}

/** Per-consumer deltas since the last {@link ConsumerTracker.drain}: what the store writes per interval. */
export interface ConsumerDelta {
  id: string;
  requests: number;
  errors: number;
  serverErrors: number;
  latency: Sketch;
  endpoints: Map<number, [number, number]>;
}

/**
 * The consumers of one meter, in bounded memory whatever the number of distinct ids:
 *
 * - per endpoint, a {@link SpaceSaving} of k counters (top consumers by requests, with error bounds);
 * - overall, a Space-Saving of K counters, each with exact figures for the requests it saw while it held
 *   the counter: errors, a latency sketch, requests and errors per endpoint.
 *
 * Ids are held only while they hold a counter. {@link memoryBound} states the bound in bytes.
 */
export class ConsumerTracker {
  readonly limits: TrackerLimits;
  readonly overall: SpaceSaving;
  /** Requests recorded (all consumers, unknown included). */
  requests = 0;
  errors = 0;
  serverErrors = 0;
  private readonly tracked: Float64Array;
  private readonly errorCounts: Float64Array;
  private readonly serverErrorCounts: Float64Array;
  private readonly sketches: Sketch[];
  // Requests and errors per endpoint id, per counter: two maps of numbers, so counting a known pair
  // allocates nothing (a small-integer value is stored in place).
  private readonly perRequests: Map<number, number>[];
  private readonly perErrors: Map<number, number>[];
  private readonly tables: (SpaceSaving | undefined)[] = [];
  private readonly indexer = new Sketch(CONSUMER_LATENCY_SKETCH);
  // Store baselines (drain): what was written already, per counter.
  private readonly drained: ConsumerDelta[];
  private drainedRequests = 0;

  constructor(limits: TrackerLimits) {
    this.limits = limits;
    const k = limits.top;
    this.overall = new SpaceSaving(k);
    this.tracked = new Float64Array(k);
    this.errorCounts = new Float64Array(k);
    this.serverErrorCounts = new Float64Array(k);
    this.sketches = Array.from({ length: k }, () => new Sketch(CONSUMER_LATENCY_SKETCH));
    this.perRequests = Array.from({ length: k }, () => new Map<number, number>());
    this.perErrors = Array.from({ length: k }, () => new Map<number, number>());
    this.drained = Array.from({ length: k }, () => emptyDelta(''));
  }

  /**
   * Counts one finished request of `consumer` on `ep` (the handle the meter recorded into). Allocates
   * nothing when the consumer already holds its counters and has called this endpoint before.
   */
  record(ep: EndpointStats, consumer: string, status: number, durationMs: number, errored: boolean): void {
    const target = ep.redirect ?? ep;
    const epId = target.id;
    const server = status >= 500 && status !== 499;
    const error = errored || status >= 400;
    this.requests++;
    if (error) this.errors++;
    if (server) this.serverErrors++;

    let table = this.tables[epId];
    if (table === undefined) {
      if (epId >= this.limits.maxEndpoints * 4 + 80) return; // unreachable: the registry caps handles (+ special ones)
      table = this.tables[epId] = new SpaceSaving(this.limits.endpointTop);
    }
    table.offer(consumer);

    const o = this.overall;
    const i = o.offer(consumer);
    if (o.replaced) this.resetCounter(i);
    this.tracked[i]++;
    if (error) this.errorCounts[i]++;
    if (server) this.serverErrorCounts[i]++;
    if (durationMs > 0) this.sketches[i].recordAt(this.indexer.indexOf(durationMs), durationMs);
    else if (durationMs === 0) this.sketches[i].record(0);
    const per = this.perRequests[i];
    per.set(epId, (per.get(epId) ?? 0) + 1);
    if (error) {
      const errs = this.perErrors[i];
      errs.set(epId, (errs.get(epId) ?? 0) + 1);
    }
  }

  private resetCounter(i: number): void {
    this.tracked[i] = 0;
    this.errorCounts[i] = 0;
    this.serverErrorCounts[i] = 0;
    this.sketches[i].reset();
    this.perRequests[i].clear();
    this.perErrors[i].clear();
    // What the evicted id had not yet drained is lost to the store and counted under `other` there.
    const d = this.drained[i];
    d.requests = 0;
    d.errors = 0;
    d.serverErrors = 0;
    d.latency.reset();
    d.endpoints.clear();
  }

  /** Top consumers of one endpoint, by estimated requests (largest first). */
  topOf(ep: EndpointStats, n: number): { id: string; requests: number; errorBound: number }[] {
    const table = this.tables[(ep.redirect ?? ep).id];
    if (table === undefined) return [];
    return table
      .ranked()
      .slice(0, n)
      .map((i) => ({ id: table.ids[i], requests: table.counts[i], errorBound: table.errors[i] }));
  }

  /** Requests of one endpoint seen by its table, and the bound on any consumer it does not list. */
  endpointTotals(ep: EndpointStats): { requests: number; unlistedBound: number } {
    const table = this.tables[(ep.redirect ?? ep).id];
    return table === undefined
      ? { requests: 0, unlistedBound: 0 }
      : { requests: table.total, unlistedBound: table.minCount() };
  }

  /** The K tracked consumers, largest first (copies: safe to keep). */
  list(): ConsumerFigures[] {
    return this.overall.ranked().map((i) => this.figuresAt(i));
  }

  /** One consumer, or undefined when it holds no counter. */
  get(id: string): ConsumerFigures | undefined {
    const i = this.overall.indexOf(id);
    return i < 0 ? undefined : this.figuresAt(i);
  }

  /** The bound on the requests of any consumer not listed (Space-Saving's minimum count). */
  unlistedBound(): number {
    return this.overall.minCount();
  }

  private figuresAt(i: number): ConsumerFigures {
    const o = this.overall;
    const endpoints = new Map<number, [number, number]>();
    const errs = this.perErrors[i];
    for (const [ep, n] of this.perRequests[i]) endpoints.set(ep, [n, errs.get(ep) ?? 0]);
    return {
      id: o.ids[i],
      requests: o.counts[i],
      errorBound: o.errors[i],
      tracked: this.tracked[i],
      errors: this.errorCounts[i],
      serverErrors: this.serverErrorCounts[i],
      latency: this.sketches[i].clone(),
      endpoints,
    };
  }

  /**
   * What each tracked consumer added since the last drain (only consumers with new requests), and the
   * requests of everyone else in that time (`other`: consumers outside the top K, or counted before
   * they took a counter). For the snapshot store: one row per consumer per interval.
   */
  drain(): { consumers: ConsumerDelta[]; other: number; requests: number } {
    const out: ConsumerDelta[] = [];
    let tracked = 0;
    for (let i = 0; i < this.overall.size; i++) {
      const d = this.drained[i];
      const requests = this.tracked[i] - d.requests;
      if (requests <= 0) continue;
      const delta = emptyDelta(this.overall.ids[i]);
      delta.requests = requests;
      delta.errors = this.errorCounts[i] - d.errors;
      delta.serverErrors = this.serverErrorCounts[i] - d.serverErrors;
      delta.latency = subtractSketch(this.sketches[i], d.latency);
      const errs = this.perErrors[i];
      for (const [ep, n] of this.perRequests[i]) {
        const before = d.endpoints.get(ep);
        const r = n - (before?.[0] ?? 0);
        if (r > 0) delta.endpoints.set(ep, [r, (errs.get(ep) ?? 0) - (before?.[1] ?? 0)]);
      }
      out.push(delta);
      tracked += requests;
      d.requests = this.tracked[i];
      d.errors = this.errorCounts[i];
      d.serverErrors = this.serverErrorCounts[i];
      d.latency = this.sketches[i].clone();
      d.endpoints = new Map(
        [...this.perRequests[i]].map(([ep, n]) => [ep, [n, errs.get(ep) ?? 0] as [number, number]]),
      );
    }
    const requests = this.requests - this.drainedRequests;
    this.drainedRequests = this.requests;
    return { consumers: out, other: requests - tracked, requests };
  }

  /**
   * Upper bound in bytes of what this tracker holds, whatever the number of distinct consumers:
   * per-endpoint tables for every endpoint handle the registry may create, plus the K overall counters
   * at their largest (a dense latency sketch, an entry for every endpoint, the drain baseline).
   * V8 sizes: a string of L one-byte characters ≈ 16 + L bytes (two-byte: 16 + 2L), a Map entry ≈ 3
   * pointers plus its hash-table slot, a [n, n] array ≈ 32 bytes.
   */
  memoryBound(): number {
    const l = this.limits;
    const id = 16 + 2 * l.maxIdLength;
    const tableBytes = 200 + l.endpointTop * (id + 8 + 8 + 8 + 40);
    // Tables exist only for endpoints that recorded: the cap plus the unmatched and overflow endpoints
    // (one each per method); the table array is indexed by handle id (at most 4 × cap + 16 handles).
    const listed = l.maxEndpoints + 64;
    const handles = l.maxEndpoints * 4 + 16;
    const sketchBytes = 300 + 8 * (CONSUMER_LATENCY_SKETCH.maxIndex - CONSUMER_LATENCY_SKETCH.minIndex + 1);
    // Two maps of numbers per counter (≈ 24 B per entry each), and the drain baseline (≈ 72 B per entry).
    const perCounter = id + 8 * 4 + 40 + 2 * (sketchBytes + 200) + listed * (2 * 24 + 72);
    return handles * 8 + listed * tableBytes + l.top * perCounter + 4096;
  }
}

function emptyDelta(id: string): ConsumerDelta {
  return {
    id,
    requests: 0,
    errors: 0,
    serverErrors: 0,
    latency: new Sketch(CONSUMER_LATENCY_SKETCH),
    endpoints: new Map(),
  };
}

/** `now - before` bucket by bucket (before is an earlier copy of the same sketch). */
function subtractSketch(now: Sketch, before: Sketch): Sketch {
  const out = new Sketch(CONSUMER_LATENCY_SKETCH);
  const prior = new Map<number, number>();
  before.forEachBucket((index, count) => prior.set(index, count));
  now.forEachBucket((index, count) => {
    const n = count - (prior.get(index) ?? 0);
    if (n > 0) out.addIndex(index, n);
  });
  out.count = now.count - before.count;
  out.sum = now.sum - before.sum;
  out.zeroCount = now.zeroCount - before.zeroCount;
  out.min = now.min;
  out.max = now.max;
  return out;
}

export { OTHER_CONSUMER };
