import type { EndpointStats } from '../endpoint.js';
import { LATENCY_SKETCH, Sketch } from '../sketch.js';
import type { SketchLayout } from '../sketch.js';
import { SpaceSaving } from './space-saving.js';
import { cleanId, OTHER_CONSUMER, UNKNOWN_CONSUMER } from './identify.js';

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
 * An endpoint table's cells per overall counter i: one number that says which holder of counter i
 * they belong to and where that holder's counter is in the endpoint's own Space-Saving (`gen + pos +
 * 1`: `gen` is counter i's generation base, a multiple of {@link GEN_STEP} raised each time a consumer
 * takes counter i, so cells of an earlier holder read below it; `pos` is -1 when not held here), then
 * the requests and errors on the endpoint while that holder had counter i. Three numbers (24 bytes).
 */
const META = 0;
const REQ = 1;
const ERR = 2;
const CELL = 3;
/** Generation step: above the largest endpoint k (1,000), so `pos + 1` fits below it. */
const GEN_STEP = 1024;
/**
 * An endpoint table's numbers start with the smallest count held, how many counters hold it, and the
 * counters in use: kept up to date as counts rise, so that a replacement finds its victim without
 * comparing every count, and a request that raises the last counter at the minimum recounts once.
 */
const MINV = 0;
const ATMIN = 1;
const SIZE = 2;
const HEAD = 3;

/**
 * One endpoint's consumers: a Space-Saving of k counters (ids, counts, error bounds, ranked like
 * {@link SpaceSaving}'s), found without hashing: the consumer's overall counter i (which the tracker
 * has just looked up) leads to its cells, and they to its counter here. The string of an id is compared
 * only when the consumer took a new overall counter since it last called this endpoint.
 *
 * The numbers are one Float64Array, {@link buf}, which the tracker also holds in an array indexed by
 * endpoint, so that a request reads no object of this class: `[min, at min, size, counts (k), error
 * bounds (k), owners (2k: overall counter and generation base of counter j's holder when it took j),
 * cells (CELL per overall counter, grown by doubling up to K)]`. The drain baselines (requests and
 * errors per cell as of the last drain) are another buffer, made at the first drain.
 */
class EndpointTop {
  readonly k: number;
  readonly ids: string[];
  buf: Float64Array;
  /** Per cell: requests and errors as of the last drain (null before the first). */
  drained: Float64Array | null = null;
  readonly cellsAt: number;
  private readonly errorsAt: number;
  private readonly ownersAt: number;
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

  /** Requests counted: in Space-Saving every request adds one to exactly one counter. */
  get total(): number {
    let n = 0;
    for (let j = 0; j < this.size; j++) n += this.buf[HEAD + j];
    return n;
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

  /**
   * The consumer holding overall counter i (generation base `gen`) calls this endpoint for the first
   * time since it took counter i: the cells at `at` become its own, from 0, and its counter here, if it
   * has one, is found by id. Returns the cells' `pos + 1`.
   */
  claim(at: number, i: number, gen: number, consumer: string): number {
    const b = this.buf;
    b[at + REQ] = 0;
    b[at + ERR] = 0;
    const d = this.drained;
    const cell = (at - this.cellsAt) / CELL;
    if (d !== null && 2 * cell + 1 < d.length) {
      d[2 * cell] = 0;
      d[2 * cell + 1] = 0;
    }
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
    b[at + META] = gen + pos + 1;
    return pos + 1;
  }

  /** Space-Saving's insertion: a free counter, else the smallest one, whose holder loses it. */
  insert(at: number, i: number, gen: number, consumer: string): void {
    const b = this.buf;
    let j: number;
    const size = b[SIZE];
    if (size < this.k) {
      j = size;
      b[SIZE] = size + 1;
      b[this.errorsAt + j] = 0;
      b[HEAD + j] = 1;
      if (size === 0 || b[MINV] > 1) {
        b[MINV] = 1;
        b[ATMIN] = 1;
      } else if (b[MINV] === 1) b[ATMIN]++;
    } else {
      const min = b[MINV];
      j = 0;
      // The first counter at the minimum, as SpaceSaving's minIndex (bounded: a broken invariant must
      // not loop past the table).
      while (j < size - 1 && b[HEAD + j] !== min) j++;
      const prev = this.cellsAt + b[this.ownersAt + 2 * j] * CELL;
      const prevGen = b[this.ownersAt + 2 * j + 1];
      if (prev < b.length && b[prev + META] - prevGen >= 0 && b[prev + META] - prevGen < GEN_STEP)
        b[prev + META] = prevGen;
      b[this.errorsAt + j] = min;
      b[HEAD + j] = min + 1;
      if (--b[ATMIN] === 0) this.recount(b, min + 1);
    }
    this.ids[j] = consumer;
    b[this.ownersAt + 2 * j] = i;
    b[this.ownersAt + 2 * j + 1] = gen;
    b[at + META] = gen + j + 1;
  }

  /** The last counter at the minimum rose to `min`: the new minimum, and how many counters hold it. */
  recount(b: Float64Array, min: number): void {
    let n = 0;
    const size = b[SIZE];
    for (let j = 0; j < size; j++) if (b[HEAD + j] === min) n++;
    b[MINV] = min;
    b[ATMIN] = n;
  }

  /** The smallest count held (0 while a counter is free): the bound on any absent id's count. */
  minCount(): number {
    return this.size < this.k ? 0 : this.buf[MINV];
  }

  /** Counter indices by estimated count, largest first (ties by id, as {@link SpaceSaving.ranked}). */
  ranked(): number[] {
    const order = Array.from({ length: this.size }, (_, j) => j);
    return order.sort((a, b) => this.countOf(b) - this.countOf(a) || (this.ids[a] < this.ids[b] ? -1 : 1));
  }

  /** {@link buf} with room for the cells at `at` (doubling, up to K counters' cells). */
  grow(at: number): Float64Array {
    const cells = this.buf.length - this.cellsAt;
    const grown = new Float64Array(Math.min(this.maxLength, Math.max(at + CELL, this.cellsAt + 2 * cells)));
    grown.set(this.buf);
    this.buf = grown;
    return grown;
  }

  /**
   * Requests and errors of cell `at` since the last drain (`drain`) or since its holder took it, or
   * null when the cell belongs to no current holder or saw no request; `drain` moves the baseline up.
   */
  cellFigures(at: number, gen: number, drain: boolean): [number, number] | null {
    const b = this.buf;
    const d0 = b[at + META] - gen;
    if (!(d0 >= 0 && d0 < GEN_STEP)) return null;
    let req = b[at + REQ];
    let err = b[at + ERR];
    if (drain) {
      const cells = (b.length - this.cellsAt) / CELL;
      let d = this.drained;
      if (d === null || d.length < 2 * cells) {
        const grown = new Float64Array(2 * cells);
        if (d !== null) grown.set(d);
        d = this.drained = grown;
      }
      const cell = (at - this.cellsAt) / CELL;
      req -= d[2 * cell];
      err -= d[2 * cell + 1];
      d[2 * cell] = b[at + REQ];
      d[2 * cell + 1] = b[at + ERR];
    }
    return req > 0 ? [req, err] : null;
  }
}

/**
 * Numbers the tracker keeps per overall counter i, at `i * FIGS` in one Float64Array (one cache line a
 * request touches): errors, 5xx, and the latency sketch's sum, min, max, zero count and requests that
 * had no duration. Requests tracked are not counted apart: in Space-Saving they are the counter's count
 * less its error bound (its count when it took the counter), so TRACKED is used by drain baselines only;
 * the sketch's count is tracked less LNONE. Its buckets are a dense Float64Array per counter, allocated when the counter is first
 * taken (a dense array indexed by bucket: one increment per request, no search, no growth).
 */
const TRACKED = 0;
const ERRORS = 1;
const SERVER = 2;
const LNONE = 3;
const LSUM = 4;
const LMIN = 5;
const LMAX = 6;
const LZERO = 7;
const FIGS = 8;
const BUCKET0 = CONSUMER_LATENCY_SKETCH.minIndex;
const BUCKETS = CONSUMER_LATENCY_SKETCH.maxIndex - CONSUMER_LATENCY_SKETCH.minIndex + 1;

/**
 * The consumers of one meter, in bounded memory whatever the number of distinct ids:
 *
 * - per endpoint, a Space-Saving of k counters (top consumers by requests, with error bounds);
 * - overall, a Space-Saving of K counters, each with exact figures for the requests it saw while it held
 *   the counter: errors, a latency sketch, requests and errors per endpoint (kept in the endpoint's
 *   table, indexed by the overall counter).
 *
 * One hash lookup per request (the id in the overall table); an id is checked (length, no control
 * characters) only when it is not held, i.e. before it takes a counter. Nothing is allocated once a
 * consumer holds its counters (a table's cells grow by doubling up to K while counters appear; a
 * counter's buckets are allocated once). Ids are held only while they hold a counter.
 * {@link memoryBound} states the bound in bytes.
 */
export class ConsumerTracker {
  readonly limits: TrackerLimits;
  readonly overall: SpaceSaving;
  errors = 0;
  serverErrors = 0;
  /** Requests whose id failed the check (too long, control characters) and were counted as unknown. */
  rejected = 0;
  /**
   * Per overall counter: its generation base, raised by {@link GEN_STEP} each time a consumer takes it
   * (endpoint cells of older holders read below it).
   */
  private readonly gens: Float64Array;
  private readonly figs: Float64Array;
  private readonly buckets: Float64Array[] = [];
  private readonly tables: (EndpointTop | undefined)[] = [];
  /** Each table's {@link EndpointTop.buf}, by endpoint id: what a request reads. */
  private readonly bufs: (Float64Array | undefined)[] = [];
  /** Where cells start in every table's buffer. */
  private readonly cellsAt: number;
  private readonly indexer = new Sketch(CONSUMER_LATENCY_SKETCH);
  // Store baselines (drain): what was written already, per counter (FIGS layout, and buckets).
  private readonly drainedFigs: Float64Array;
  private readonly drainedBuckets: Float64Array[] = [];
  private drainedRequests = 0;

  constructor(limits: TrackerLimits) {
    this.limits = limits;
    const k = limits.top;
    this.overall = new SpaceSaving(k);
    this.gens = new Float64Array(k);
    this.figs = new Float64Array(k * FIGS);
    this.drainedFigs = new Float64Array(k * FIGS);
    this.cellsAt = HEAD + 4 * limits.endpointTop;
  }

  /**
   * Counts one finished request of `consumer` on `ep` (the handle the meter recorded into). Allocates
   * nothing when the consumer already holds its overall counter and its cells on this endpoint exist.
   * `latencyIndex`, when known, is the duration's LATENCY_SKETCH bucket (the meter's), saving a logarithm.
   * `maxLength` > 0: `consumer` is unchecked input (a header, a function's answer) of at most that many
   * characters without control characters, else it is counted as unknown; 0: it is known good.
   */
  record(
    ep: EndpointStats,
    consumer: string,
    status: number,
    durationMs: number,
    errored: boolean,
    latencyIndex = NaN,
    maxLength = 0,
  ): void {
    const epId = (ep.redirect ?? ep).id;
    const server = status >= 500 && status !== 499;
    const error = errored || status >= 400;
    if (error) this.errors++;
    if (server) this.serverErrors++;

    let b = this.bufs[epId] ?? this.newTable(epId);
    if (b === null) return;

    const o = this.overall;
    let i = o.indexOf(consumer);
    if (i >= 0) o.hit(i);
    else i = this.admit(consumer, maxLength);
    const f = this.figs;
    const at = i * FIGS;
    if (error) f[at + ERRORS]++;
    if (server) f[at + SERVER]++;
    if (durationMs > 0) {
      const bucket = latencyIndex === latencyIndex ? latencyIndex >> 2 : this.indexer.indexOf(durationMs);
      this.buckets[i][bucket - BUCKET0]++;
      f[at + LSUM] += durationMs;
      if (durationMs < f[at + LMIN]) f[at + LMIN] = durationMs;
      if (durationMs > f[at + LMAX]) f[at + LMAX] = durationMs;
    } else if (durationMs === 0) {
      f[at + LZERO]++;
      if (0 < f[at + LMIN]) f[at + LMIN] = 0;
      if (0 > f[at + LMAX]) f[at + LMAX] = 0;
    } else f[at + LNONE]++;

    // The endpoint's table: the consumer's cell, then its counter there (two cache lines).
    const cell = this.cellsAt + i * CELL;
    if (cell >= b.length) b = this.grow(epId, cell);
    const gen = this.gens[i];
    let pos = b[cell + META] - gen;
    if (!(pos >= 0)) pos = this.tables[epId]!.claim(cell, i, gen, o.ids[i]);
    if (pos > 0) {
      const c = b[HEAD + pos - 1];
      b[HEAD + pos - 1] = c + 1;
      if (c === b[MINV] && --b[ATMIN] === 0) this.tables[epId]!.recount(b, c + 1);
    } else this.tables[epId]!.insert(cell, i, gen, o.ids[i]);
    b[cell + REQ]++;
    if (error) b[cell + ERR]++;
  }

  /** Requests recorded (all consumers, unknown included): Space-Saving's offers. */
  get requests(): number {
    return this.overall.total;
  }

  /** Requests tracked by overall counter i since its holder took it (exact). */
  private trackedAt(i: number): number {
    return this.overall.counts[i] - this.overall.errors[i];
  }

  /** An id not held: checked (when unchecked input), then offered; returns its overall counter. */
  private admit(consumer: string, maxLength: number): number {
    let id = consumer;
    if (maxLength > 0 && cleanId(consumer, maxLength) === null) {
      this.rejected++;
      id = UNKNOWN_CONSUMER;
    }
    const o = this.overall;
    const i = o.offer(id);
    if (o.taken) this.takeCounter(i);
    return i;
  }

  private newTable(epId: number): Float64Array | null {
    if (epId >= this.limits.maxEndpoints * 4 + 80) return null; // unreachable: the registry caps handles (+ special ones)
    // Grown by push, so the arrays stay packed ones (an index far past the end would make a dictionary).
    while (this.tables.length <= epId) {
      this.tables.push(undefined);
      this.bufs.push(undefined);
    }
    const table = (this.tables[epId] = new EndpointTop(this.limits.endpointTop, this.limits.top));
    return (this.bufs[epId] = table.buf);
  }

  private grow(epId: number, cell: number): Float64Array {
    return (this.bufs[epId] = this.tables[epId]!.grow(cell));
  }

  /** Counter i has a new holder: its figures restart from 0 (endpoint cells go stale with the generation). */
  private takeCounter(i: number): void {
    this.gens[i] += GEN_STEP;
    const f = this.figs;
    const at = i * FIGS;
    if (this.buckets[i] === undefined) {
      // Counters are taken in order 0, 1, 2, … (free ones first), so the arrays stay packed.
      this.buckets.push(new Float64Array(BUCKETS));
      this.drainedBuckets.push(new Float64Array(BUCKETS));
    } else if (f[at + LMAX] > 0) {
      // Only the buckets between those of min and max hold counts (a bucket of margin either side: the
      // meter's index, shifted, and this layout's own logarithm may differ by one at a boundary).
      const lo = Math.max(0, this.indexer.indexOf(f[at + LMIN]) - BUCKET0 - 2);
      const hi = Math.min(BUCKETS, this.indexer.indexOf(f[at + LMAX]) - BUCKET0 + 3);
      this.buckets[i].fill(0, lo, hi);
      this.drainedBuckets[i].fill(0, lo, hi);
    }
    // What the evicted id had not yet drained is lost to the store and counted under `other` there.
    for (let n = 0; n < FIGS; n++) {
      f[at + n] = 0;
      this.drainedFigs[at + n] = 0;
    }
    f[at + LMIN] = Infinity;
    f[at + LMAX] = -Infinity;
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
    const maps = this.endpointMaps(-1, false);
    return this.overall.ranked().map((i) => this.figuresAt(i, maps[i]));
  }

  /** One consumer, or undefined when it holds no counter. */
  get(id: string): ConsumerFigures | undefined {
    const i = this.overall.indexOf(id);
    return i < 0 ? undefined : this.figuresAt(i, this.endpointMaps(i, false)[i]);
  }

  /** The bound on the requests of any consumer not listed (Space-Saving's minimum count). */
  unlistedBound(): number {
    return this.overall.minCount();
  }

  /**
   * Per overall counter (only `only` when ≥ 0), endpoint id → [requests, errors] for the cells of its
   * current generation with requests > 0: since the counter was taken, or (`drain`) since the last drain,
   * whose baselines then move up to now.
   */
  private endpointMaps(only: number, drain: boolean): Map<number, [number, number]>[] {
    const size = this.overall.size;
    const maps = Array.from({ length: size }, () => new Map<number, [number, number]>());
    const gens = this.gens;
    for (let epId = 0; epId < this.tables.length; epId++) {
      const t = this.tables[epId];
      if (t === undefined) continue;
      const from = only >= 0 ? only : 0;
      const to = only >= 0 ? only + 1 : size;
      for (let i = from; i < to; i++) {
        const at = t.cellsOf(i);
        if (at < 0) break;
        const figures = t.cellFigures(at, gens[i], drain);
        if (figures !== null) maps[i].set(epId, figures);
      }
    }
    return maps;
  }

  private figuresAt(i: number, endpoints: Map<number, [number, number]>): ConsumerFigures {
    const o = this.overall;
    const f = this.figs;
    const at = i * FIGS;
    return {
      id: o.ids[i],
      requests: o.counts[i],
      errorBound: o.errors[i],
      tracked: this.trackedAt(i),
      errors: f[at + ERRORS],
      serverErrors: f[at + SERVER],
      latency: this.sketchOf(i, null),
      endpoints,
    };
  }

  /**
   * Counter i's latencies as a sketch: all of them, or (`since`: the drained baselines) those since the
   * last drain, whose baselines then move up to now. Min and max are the counter's own in both cases.
   */
  private sketchOf(i: number, since: { figs: Float64Array; buckets: Float64Array } | null): Sketch {
    const out = new Sketch(CONSUMER_LATENCY_SKETCH);
    const f = this.figs;
    const at = i * FIGS;
    const base = since?.figs;
    const counts = this.buckets[i];
    if (counts !== undefined && f[at + LMAX] > 0) {
      const prior = since?.buckets;
      for (let b = 0; b < BUCKETS; b++) {
        const n = prior === undefined ? counts[b] : counts[b] - prior[b];
        if (n > 0) out.addIndex(BUCKET0 + b, n);
        if (prior !== undefined) prior[b] = counts[b];
      }
    }
    const count = this.trackedAt(i) - f[at + LNONE];
    out.count = base === undefined ? count : count - (base[at + TRACKED] - base[at + LNONE]);
    out.sum = f[at + LSUM] - (base?.[at + LSUM] ?? 0);
    out.zeroCount = f[at + LZERO] - (base?.[at + LZERO] ?? 0);
    if (out.count > 0) {
      out.min = f[at + LMIN];
      out.max = f[at + LMAX];
    }
    return out;
  }

  /**
   * What each tracked consumer added since the last drain (only consumers with new requests), and the
   * requests of everyone else in that time (`other`: consumers outside the top K, or counted before
   * they took a counter). For the snapshot store: one row per consumer per interval.
   */
  drain(): { consumers: ConsumerDelta[]; other: number; requests: number } {
    const out: ConsumerDelta[] = [];
    let tracked = 0;
    const maps = this.endpointMaps(-1, true);
    const f = this.figs;
    const d = this.drainedFigs;
    for (let i = 0; i < this.overall.size; i++) {
      const at = i * FIGS;
      const now = this.trackedAt(i);
      const requests = now - d[at + TRACKED];
      if (requests <= 0) continue;
      out.push({
        id: this.overall.ids[i],
        requests,
        errors: f[at + ERRORS] - d[at + ERRORS],
        serverErrors: f[at + SERVER] - d[at + SERVER],
        latency: this.sketchOf(i, { figs: d, buckets: this.drainedBuckets[i] }),
        endpoints: maps[i],
      });
      tracked += requests;
      for (let n = 0; n < FIGS; n++) d[at + n] = f[at + n];
      d[at + TRACKED] = now;
    }
    const requests = this.requests - this.drainedRequests;
    this.drainedRequests = this.requests;
    return { consumers: out, other: requests - tracked, requests };
  }

  /**
   * Upper bound in bytes of what this tracker holds, whatever the number of distinct consumers:
   * per-endpoint tables for every endpoint handle the registry may create (each with cells for all K
   * overall counters at most), plus the K overall counters at their largest (dense buckets and their
   * drain baseline). V8 sizes: a string of L one-byte characters ≈ 16 + L bytes (two-byte: 16 + 2L), a
   * Map entry ≈ 3 pointers plus its hash-table slot, a Float64Array ≈ 100 bytes plus 8 per element.
   */
  memoryBound(): number {
    const l = this.limits;
    const id = 16 + 2 * l.maxIdLength;
    // A table: its object and buffers' headers, k ids with counts, error bounds and owners, and per
    // overall counter its cell and drain baseline.
    const tableBytes = 400 + l.endpointTop * (id + 8 * 4 + 8) + l.top * (CELL + 2) * 8;
    // Tables exist only for endpoints that recorded: the cap plus the unmatched and overflow endpoints
    // (one each per method); the table arrays are indexed by handle id (at most 4 × cap + 80 handles).
    const listed = l.maxEndpoints + 64;
    const handles = l.maxEndpoints * 4 + 80;
    const perCounter = id + 8 * 5 + 40 + 8 * (1 + 2 * FIGS) + 2 * (100 + 8 * BUCKETS) + 16;
    return handles * 16 + listed * tableBytes + l.top * perCounter + 4096;
  }
}

export { OTHER_CONSUMER };
