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
 * Cells an endpoint table keeps per overall counter i, at `CELL * i`: the generation of counter i they
 * belong to (stale cells of an earlier holder read as empty), the index of the consumer's counter in
 * the endpoint's own Space-Saving (-1: not held there), requests and errors on the endpoint while the
 * consumer held overall counter i, and the same since the last drain.
 */
const STAMP = 0;
const POS = 1;
const REQ = 2;
const ERR = 3;
const DREQ = 4;
const DERR = 5;
const CELL = 6;
/** Bytes of one endpoint table's cells per overall counter. */
const CELL_BYTES = CELL * 8;

/**
 * One endpoint's consumers: a Space-Saving of k counters (ids, counts, error bounds, ranked like
 * {@link SpaceSaving}'s), found without hashing: the consumer's overall counter i (which the tracker
 * has just looked up) leads to `cells[CELL * i + POS]`, its counter here. The string of an id is
 * compared only when the consumer took a new overall counter since it last called this endpoint.
 */
class EndpointTop extends SpaceSaving {
  /** Per counter j: the overall counter and generation of its holder when it took j. */
  private readonly owner: Float64Array;
  cells: Float64Array;
  private readonly maxCells: number;

  constructor(k: number, top: number) {
    super(k);
    this.owner = new Float64Array(2 * k);
    this.maxCells = CELL * top;
    this.cells = new Float64Array(Math.min(this.maxCells, CELL * 8));
  }

  /** One request of `consumer`, holder of overall counter `i` in generation `gen`. */
  count(i: number, gen: number, consumer: string, error: boolean): void {
    const at = i * CELL;
    let c = this.cells;
    if (at >= c.length) c = this.grow(at);
    if (c[at + STAMP] !== gen) this.claim(c, at, i, gen, consumer);
    this.total++;
    const j = c[at + POS];
    if (j >= 0) this.counts[j]++;
    else this.insert(c, at, i, gen, consumer);
    c[at + REQ]++;
    c[at + DREQ]++;
    if (error) {
      c[at + ERR]++;
      c[at + DERR]++;
    }
  }

  /** Cells of counter i become generation `gen`'s: counts from 0, its counter here found by id. */
  private claim(c: Float64Array, at: number, i: number, gen: number, consumer: string): void {
    c[at + STAMP] = gen;
    c[at + REQ] = 0;
    c[at + ERR] = 0;
    c[at + DREQ] = 0;
    c[at + DERR] = 0;
    let pos = -1;
    for (let j = 0; j < this.size; j++) {
      if (this.ids[j] === consumer) {
        pos = j;
        this.owner[2 * j] = i;
        this.owner[2 * j + 1] = gen;
        break;
      }
    }
    c[at + POS] = pos;
  }

  /** Space-Saving's insertion: a free counter, else the smallest one, whose holder loses it. */
  private insert(c: Float64Array, at: number, i: number, gen: number, consumer: string): void {
    let j: number;
    if (this.size < this.k) {
      j = this.size++;
      this.errors[j] = 0;
      this.counts[j] = 1;
    } else {
      j = this.minIndex();
      const prev = this.owner[2 * j] * CELL;
      if (prev < c.length && c[prev + STAMP] === this.owner[2 * j + 1]) c[prev + POS] = -1;
      this.errors[j] = this.counts[j];
      this.counts[j]++;
    }
    this.ids[j] = consumer;
    this.owner[2 * j] = i;
    this.owner[2 * j + 1] = gen;
    c[at + POS] = j;
  }

  private grow(at: number): Float64Array {
    const grown = new Float64Array(Math.min(this.maxCells, Math.max(at + CELL, 2 * this.cells.length)));
    grown.set(this.cells);
    this.cells = grown;
    return grown;
  }
}

/**
 * The consumers of one meter, in bounded memory whatever the number of distinct ids:
 *
 * - per endpoint, a Space-Saving of k counters (top consumers by requests, with error bounds);
 * - overall, a Space-Saving of K counters, each with exact figures for the requests it saw while it held
 *   the counter: errors, a latency sketch, requests and errors per endpoint (kept in the endpoint's
 *   table, indexed by the overall counter).
 *
 * One hash lookup per request (the id in the overall table); nothing is allocated once a consumer holds
 * its counters (a table's cells grow by doubling up to K while counters appear). Ids are held only
 * while they hold a counter. {@link memoryBound} states the bound in bytes.
 */
export class ConsumerTracker {
  readonly limits: TrackerLimits;
  readonly overall: SpaceSaving;
  /** Requests recorded (all consumers, unknown included). */
  requests = 0;
  errors = 0;
  serverErrors = 0;
  /** Per overall counter: bumped each time a consumer takes it (endpoint cells of older ones are stale). */
  private readonly gens: Float64Array;
  private readonly tracked: Float64Array;
  private readonly errorCounts: Float64Array;
  private readonly serverErrorCounts: Float64Array;
  private readonly sketches: Sketch[];
  private readonly tables: (EndpointTop | undefined)[] = [];
  private readonly indexer = new Sketch(CONSUMER_LATENCY_SKETCH);
  // Store baselines (drain): what was written already, per counter.
  private readonly drainedTracked: Float64Array;
  private readonly drainedErrors: Float64Array;
  private readonly drainedServerErrors: Float64Array;
  private readonly drainedLatency: Sketch[];
  private drainedRequests = 0;

  constructor(limits: TrackerLimits) {
    this.limits = limits;
    const k = limits.top;
    this.overall = new SpaceSaving(k);
    this.gens = new Float64Array(k);
    this.tracked = new Float64Array(k);
    this.errorCounts = new Float64Array(k);
    this.serverErrorCounts = new Float64Array(k);
    this.sketches = Array.from({ length: k }, () => new Sketch(CONSUMER_LATENCY_SKETCH));
    this.drainedTracked = new Float64Array(k);
    this.drainedErrors = new Float64Array(k);
    this.drainedServerErrors = new Float64Array(k);
    this.drainedLatency = Array.from({ length: k }, () => new Sketch(CONSUMER_LATENCY_SKETCH));
  }

  /**
   * Counts one finished request of `consumer` on `ep` (the handle the meter recorded into). Allocates
   * nothing when the consumer already holds its overall counter and its cells on this endpoint exist.
   */
  record(ep: EndpointStats, consumer: string, status: number, durationMs: number, errored: boolean): void {
    const epId = (ep.redirect ?? ep).id;
    const server = status >= 500 && status !== 499;
    const error = errored || status >= 400;
    this.requests++;
    if (error) this.errors++;
    if (server) this.serverErrors++;

    const table = this.tables[epId] ?? this.newTable(epId);
    if (table === null) return;

    const o = this.overall;
    const i = o.offer(consumer);
    if (o.taken) this.takeCounter(i);
    this.tracked[i]++;
    if (error) this.errorCounts[i]++;
    if (server) this.serverErrorCounts[i]++;
    if (durationMs > 0) this.sketches[i].recordAt(this.indexer.indexOf(durationMs), durationMs);
    else if (durationMs === 0) this.sketches[i].record(0);
    table.count(i, this.gens[i], consumer, error);
  }

  private newTable(epId: number): EndpointTop | null {
    if (epId >= this.limits.maxEndpoints * 4 + 80) return null; // unreachable: the registry caps handles (+ special ones)
    // Grown by push, so the array stays a packed one (an index far past the end would make it a dictionary).
    while (this.tables.length <= epId) this.tables.push(undefined);
    return (this.tables[epId] = new EndpointTop(this.limits.endpointTop, this.limits.top));
  }

  /** Counter i has a new holder: its figures restart from 0 (endpoint cells go stale with the generation). */
  private takeCounter(i: number): void {
    this.gens[i]++;
    this.tracked[i] = 0;
    this.errorCounts[i] = 0;
    this.serverErrorCounts[i] = 0;
    this.sketches[i].reset();
    // What the evicted id had not yet drained is lost to the store and counted under `other` there.
    this.drainedTracked[i] = 0;
    this.drainedErrors[i] = 0;
    this.drainedServerErrors[i] = 0;
    this.drainedLatency[i].reset();
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
    const maps = this.endpointMaps(-1, REQ, ERR, false);
    return this.overall.ranked().map((i) => this.figuresAt(i, maps[i]));
  }

  /** One consumer, or undefined when it holds no counter. */
  get(id: string): ConsumerFigures | undefined {
    const i = this.overall.indexOf(id);
    return i < 0 ? undefined : this.figuresAt(i, this.endpointMaps(i, REQ, ERR, false)[i]);
  }

  /** The bound on the requests of any consumer not listed (Space-Saving's minimum count). */
  unlistedBound(): number {
    return this.overall.minCount();
  }

  /**
   * Per overall counter (only `only` when ≥ 0), endpoint id → [cell `req`, cell `err`] for the cells of
   * its current generation with `req` > 0; `clear` zeroes both cells after reading them (drain).
   */
  private endpointMaps(only: number, req: number, err: number, clear: boolean): Map<number, [number, number]>[] {
    const size = this.overall.size;
    const maps = Array.from({ length: size }, () => new Map<number, [number, number]>());
    const gens = this.gens;
    for (let epId = 0; epId < this.tables.length; epId++) {
      const t = this.tables[epId];
      if (t === undefined) continue;
      const c = t.cells;
      const from = only >= 0 ? only : 0;
      const to = Math.min(only >= 0 ? only + 1 : size, c.length / CELL);
      for (let i = from; i < to; i++) {
        const at = i * CELL;
        if (c[at + STAMP] !== gens[i] || !(c[at + req] > 0)) continue;
        maps[i].set(epId, [c[at + req], c[at + err]]);
        if (clear) {
          c[at + req] = 0;
          c[at + err] = 0;
        }
      }
    }
    return maps;
  }

  private figuresAt(i: number, endpoints: Map<number, [number, number]>): ConsumerFigures {
    const o = this.overall;
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
    const maps = this.endpointMaps(-1, DREQ, DERR, true);
    for (let i = 0; i < this.overall.size; i++) {
      const requests = this.tracked[i] - this.drainedTracked[i];
      if (requests <= 0) continue;
      out.push({
        id: this.overall.ids[i],
        requests,
        errors: this.errorCounts[i] - this.drainedErrors[i],
        serverErrors: this.serverErrorCounts[i] - this.drainedServerErrors[i],
        latency: subtractSketch(this.sketches[i], this.drainedLatency[i]),
        endpoints: maps[i],
      });
      tracked += requests;
      this.drainedTracked[i] = this.tracked[i];
      this.drainedErrors[i] = this.errorCounts[i];
      this.drainedServerErrors[i] = this.serverErrorCounts[i];
      this.drainedLatency[i] = this.sketches[i].clone();
    }
    const requests = this.requests - this.drainedRequests;
    this.drainedRequests = this.requests;
    return { consumers: out, other: requests - tracked, requests };
  }

  /**
   * Upper bound in bytes of what this tracker holds, whatever the number of distinct consumers:
   * per-endpoint tables for every endpoint handle the registry may create (each with cells for all K
   * overall counters at most), plus the K overall counters at their largest (a dense latency sketch and
   * its drain baseline). V8 sizes: a string of L one-byte characters ≈ 16 + L bytes (two-byte: 16 + 2L),
   * a Map entry ≈ 3 pointers plus its hash-table slot.
   */
  memoryBound(): number {
    const l = this.limits;
    const id = 16 + 2 * l.maxIdLength;
    const tableBytes = 400 + l.endpointTop * (id + 8 * 4 + 8) + l.top * CELL_BYTES;
    // Tables exist only for endpoints that recorded: the cap plus the unmatched and overflow endpoints
    // (one each per method); the table array is indexed by handle id (at most 4 × cap + 80 handles).
    const listed = l.maxEndpoints + 64;
    const handles = l.maxEndpoints * 4 + 80;
    const sketchBytes = 300 + 8 * (CONSUMER_LATENCY_SKETCH.maxIndex - CONSUMER_LATENCY_SKETCH.minIndex + 1);
    const perCounter = id + 8 * 7 + 40 + 2 * (sketchBytes + 200);
    return handles * 8 + listed * tableBytes + l.top * perCounter + 4096;
  }
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
