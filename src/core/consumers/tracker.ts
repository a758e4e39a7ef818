import type { EndpointStats } from '../endpoint.js';
import { LATENCY_SKETCH, Sketch } from '../sketch.js';
import type { SketchLayout } from '../sketch.js';
import { SpaceSaving } from './space-saving.js';
import { OTHER_CONSUMER } from './identify.js';

/**
 * Consumer latencies: scale 4 (2.2 % relative error), ~1 µs to ~4.6 h; at most 544 buckets. The same
 * range as LATENCY_SKETCH two scales down, so an endpoint bucket index `i` is consumer bucket `i >> 2`
 * (clamping included): `ceil(4x) − 1 = j` puts `x` in `(j/4, (j+1)/4]`, whose `ceil(x) − 1` is `⌊j/4⌋`.
 */
export const CONSUMER_LATENCY_SKETCH: SketchLayout = Object.freeze({
  scale: LATENCY_SKETCH.scale - 2,
  minIndex: LATENCY_SKETCH.minIndex >> 2,
  maxIndex: LATENCY_SKETCH.maxIndex >> 2,
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
 * Cells an endpoint table keeps per overall counter i: the generation of counter i they belong to
 * (stale cells of an earlier holder read as empty), the index of the consumer's counter in the
 * endpoint's own Space-Saving (-1: not held there), requests and errors on the endpoint while the
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
/** An endpoint table's numbers start with its total requests and the counters in use. */
const TOTAL = 0;
const SIZE = 1;
const HEAD = 2;

/**
 * One endpoint's consumers: a Space-Saving of k counters (ids, counts, error bounds, ranked like
 * {@link SpaceSaving}'s), found without hashing: the consumer's overall counter i (which the tracker
 * has just looked up) leads to its cells, and they to its counter here. The string of an id is compared
 * only when the consumer took a new overall counter since it last called this endpoint.
 *
 * Everything but the ids is one Float64Array, so that a request touches a few neighbouring cache
 * lines of one buffer (1,000 endpoints' tables do not stay in cache): `[total, size, counts (k),
 * error bounds (k), owners (2k: overall counter and generation of counter j's holder when it took j),
 * cells (CELL per overall counter, grown by doubling up to K)]`.
 */
class EndpointTop {
  readonly k: number;
  readonly ids: string[];
  buf: Float64Array;
  private readonly errorsAt: number;
  private readonly ownersAt: number;
  private readonly cellsAt: number;
  private readonly maxLength: number;

  constructor(k: number, top: number) {
    this.k = k;
    this.ids = Array.from({ length: k }, () => '');
    this.errorsAt = HEAD + k;
    this.ownersAt = HEAD + 2 * k;
    this.cellsAt = HEAD + 4 * k;
    this.maxLength = this.cellsAt + CELL * top;
    this.buf = new Float64Array(Math.min(this.maxLength, this.cellsAt + CELL * 8));
  }

  get total(): number {
    return this.buf[TOTAL];
  }

  get size(): number {
    return this.buf[SIZE];
  }

  /** Estimated count of counter j (an overestimate by at most {@link errorOf}). */
  countOf(j: number): number {
    return this.buf[HEAD + j];
  }

  errorOf(j: number): number {
    return this.buf[this.errorsAt + j];
  }

  /** Offset of overall counter i's cells in {@link buf}, or -1 when they do not exist yet. */
  cellsOf(i: number): number {
    const at = this.cellsAt + i * CELL;
    return at < this.buf.length ? at : -1;
  }

  /** One request of `consumer`, holder of overall counter `i` in generation `gen`. */
  count(i: number, gen: number, consumer: string, error: boolean): void {
    const at = this.cellsAt + i * CELL;
    let b = this.buf;
    if (at >= b.length) b = this.grow(at);
    if (b[at + STAMP] !== gen) this.claim(b, at, i, gen, consumer);
    b[TOTAL]++;
    const j = b[at + POS];
    if (j >= 0) b[HEAD + j]++;
    else this.insert(b, at, i, gen, consumer);
    b[at + REQ]++;
    b[at + DREQ]++;
    if (error) {
      b[at + ERR]++;
      b[at + DERR]++;
    }
  }

  /** Cells of counter i become generation `gen`'s: counts from 0, its counter here found by id. */
  private claim(b: Float64Array, at: number, i: number, gen: number, consumer: string): void {
    b[at + STAMP] = gen;
    b[at + REQ] = 0;
    b[at + ERR] = 0;
    b[at + DREQ] = 0;
    b[at + DERR] = 0;
    let pos = -1;
    const size = b[SIZE];
    for (let j = 0; j < size; j++) {
      if (this.ids[j] === consumer) {
        pos = j;
        b[this.ownersAt + 2 * j] = i;
        b[this.ownersAt + 2 * j + 1] = gen;
        break;
      }
    }
    b[at + POS] = pos;
  }

  /** Space-Saving's insertion: a free counter, else the smallest one, whose holder loses it. */
  private insert(b: Float64Array, at: number, i: number, gen: number, consumer: string): void {
    let j: number;
    const size = b[SIZE];
    if (size < this.k) {
      j = size;
      b[SIZE] = size + 1;
      b[this.errorsAt + j] = 0;
      b[HEAD + j] = 1;
    } else {
      j = this.minIndex();
      const prev = this.cellsAt + b[this.ownersAt + 2 * j] * CELL;
      if (prev < b.length && b[prev + STAMP] === b[this.ownersAt + 2 * j + 1]) b[prev + POS] = -1;
      b[this.errorsAt + j] = b[HEAD + j];
      b[HEAD + j]++;
    }
    this.ids[j] = consumer;
    b[this.ownersAt + 2 * j] = i;
    b[this.ownersAt + 2 * j + 1] = gen;
    b[at + POS] = j;
  }

  /** The counter with the smallest count. */
  private minIndex(): number {
    const b = this.buf;
    const size = b[SIZE];
    let best = 0;
    let min = b[HEAD];
    for (let j = 1; j < size; j++) {
      if (b[HEAD + j] < min) {
        min = b[HEAD + j];
        best = j;
      }
    }
    return best;
  }

  /** The smallest count held (0 while a counter is free): the bound on any absent id's count. */
  minCount(): number {
    return this.size < this.k ? 0 : this.buf[HEAD + this.minIndex()];
  }

  /** Counter indices by estimated count, largest first (ties by id, as {@link SpaceSaving.ranked}). */
  ranked(): number[] {
    const order = Array.from({ length: this.size }, (_, j) => j);
    return order.sort((a, b) => this.countOf(b) - this.countOf(a) || (this.ids[a] < this.ids[b] ? -1 : 1));
  }

  private grow(at: number): Float64Array {
    const cells = this.buf.length - this.cellsAt;
    const grown = new Float64Array(Math.min(this.maxLength, Math.max(at + CELL, this.cellsAt + 2 * cells)));
    grown.set(this.buf);
    this.buf = grown;
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
   * `latencyIndex`, when known, is the duration's LATENCY_SKETCH bucket (the meter's), saving a logarithm.
   */
  record(
    ep: EndpointStats,
    consumer: string,
    status: number,
    durationMs: number,
    errored: boolean,
    latencyIndex = NaN,
  ): void {
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
    if (durationMs > 0) {
      const at = latencyIndex === latencyIndex ? latencyIndex >> 2 : this.indexer.indexOf(durationMs);
      this.sketches[i].recordAt(at, durationMs);
    } else if (durationMs === 0) this.sketches[i].record(0);
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
      .map((j) => ({ id: table.ids[j], requests: table.countOf(j), errorBound: table.errorOf(j) }));
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
      const c = t.buf;
      const from = only >= 0 ? only : 0;
      const to = only >= 0 ? only + 1 : size;
      for (let i = from; i < to; i++) {
        const at = t.cellsOf(i);
        if (at < 0) break;
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
