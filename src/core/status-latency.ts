import { LATENCY_SKETCH, Sketch } from './sketch.js';
import { ZERO_INDEX } from './tally.js';

const SPAN = LATENCY_SKETCH.maxIndex - LATENCY_SKETCH.minIndex + 1;
const DIFF = new Float64Array(SPAN);
/** A code with more distinct buckets than this moves from the compact cells to a Sketch of its own. */
const COMPACT_BUCKETS = 32;

/** Key of the requests the client aborted (status 499, no response sent) in a {@link StatusLatency}. */
export const ABORTED_KEY = -1;

/**
 * One endpoint's since-start latency per response status code (and for aborted requests,
 * {@link ABORTED_KEY}), from the first request with that code: what OpenTelemetry's
 * `http.server.request.duration` needs (`http.response.status_code` and `error.type` on the histogram).
 * Not kept per ring slot: the hour rings stay one sketch per slot; this lives only on the reader's
 * cumulative/consumer path. `keys` only grows (positions are stable for consumers' baselines).
 *
 * Storage, smallest first: the endpoint's first 2xx code ({@link primary}, the bulk of its traffic) is
 * not stored at all — it is the endpoint's own latency sketch minus the other codes; the other codes
 * share one flat array of (code position × bucket, count) cells plus five numbers each, until one has
 * more than 32 distinct buckets and gets a {@link Sketch} of its own. Read them with {@link sketchAt}.
 */
export class StatusLatency {
  readonly keys: number[] = [];
  /** Per position: a Sketch once the code outgrew the cells, else null. */
  private readonly own: (Sketch | null)[] = [];
  /** Per position, 5 numbers: count, zero count, sum, min, max (codes still in cells). */
  private readonly stats: number[] = [];
  /** Distinct buckets per position in `cells`. */
  private readonly cellCounts: number[] = [];
  /** Pairs (position * SPAN + bucket − minIndex, count), unsorted. */
  private cells: number[] = [];
  /**
   * The endpoint's first 2xx code (NaN until one comes) when the table derives it (`derivePrimary`):
   * its requests are not stored, only their extremes.
   */
  primary = NaN;
  primaryMin = Infinity;
  primaryMax = -Infinity;

  constructor(readonly derivePrimary: boolean) {}

  /** One sampled duration with status key `key` (`latencyIndex` from the meter; ZERO_INDEX for 0 ms). */
  record(key: number, latencyIndex: number, durationMs: number): void {
    const keys = this.keys;
    let k = -1;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === key) {
        k = i;
        break;
      }
    }
    if (key === this.primary) return this.notePrimary(durationMs);
    if (k < 0) {
      k = keys.length;
      keys.push(key);
      this.own.push(null);
      this.stats.push(0, 0, 0, Infinity, -Infinity);
      this.cellCounts.push(0);
      if (this.derivePrimary && this.primary !== this.primary && key >= 200 && key <= 299) {
        this.primary = key;
        return this.notePrimary(durationMs);
      }
    }
    const own = this.own[k];
    if (own !== null) {
      if (latencyIndex === ZERO_INDEX) own.record(0);
      else own.recordAt(latencyIndex, durationMs);
      return;
    }
    const st = this.stats;
    const at = 5 * k;
    st[at]++;
    const v = latencyIndex === ZERO_INDEX ? 0 : durationMs;
    st[at + 2] += v;
    if (v < st[at + 3]) st[at + 3] = v;
    if (v > st[at + 4]) st[at + 4] = v;
    if (latencyIndex === ZERO_INDEX) {
      st[at + 1]++;
      return;
    }
    const cell = k * SPAN + (latencyIndex - LATENCY_SKETCH.minIndex);
    const cells = this.cells;
    for (let i = 0; i < cells.length; i += 2) {
      if (cells[i] === cell) {
        cells[i + 1]++;
        return;
      }
    }
    cells.push(cell, 1);
    if (++this.cellCounts[k] > COMPACT_BUCKETS) this.promote(k);
  }

  /** Position `k`'s sketch: its own, or built from the cells into `into` (reset first). Not for the primary. */
  sketchAt(k: number, into: Sketch): Sketch {
    const own = this.own[k];
    if (own !== null) return own;
    into.reset();
    const cells = this.cells;
    const lo = k * SPAN;
    for (let i = 0; i < cells.length; i += 2) {
      const c = cells[i] - lo;
      if (c >= 0 && c < SPAN) into.addIndex(c + LATENCY_SKETCH.minIndex, cells[i + 1]);
    }
    const st = this.stats;
    const at = 5 * k;
    into.count = st[at];
    into.zeroCount = st[at + 1];
    into.sum = st[at + 2];
    into.min = st[at + 3];
    into.max = st[at + 4];
    return into;
  }

  /** Calls `fn` for every bucket of position `k` (any order). */
  private forEachBucketAt(k: number, fn: (index: number, n: number) => void): void {
    const own = this.own[k];
    if (own !== null) return own.forEachBucket(fn);
    const cells = this.cells;
    const lo = k * SPAN;
    for (let i = 0; i < cells.length; i += 2) {
      const c = cells[i] - lo;
      if (c >= 0 && c < SPAN) fn(c + LATENCY_SKETCH.minIndex, cells[i + 1]);
    }
  }

  private promote(k: number): void {
    const s = this.sketchAt(k, new Sketch(LATENCY_SKETCH));
    this.own[k] = s;
    const lo = k * SPAN;
    this.cells = this.cells.filter((_, i, a) => {
      const c = a[i - (i % 2)] - lo;
      return c < 0 || c >= SPAN;
    });
    this.cellCounts[k] = 0;
  }

  private notePrimary(durationMs: number): void {
    const v = durationMs > 0 ? durationMs : 0;
    if (v < this.primaryMin) this.primaryMin = v;
    if (v > this.primaryMax) this.primaryMax = v;
  }

  /** Position of the primary code in `keys`, or -1. */
  get primaryAt(): number {
    return this.primary === this.primary ? this.keys.indexOf(this.primary) : -1;
  }

  /**
   * The primary code's sketch into `into` (reset first): `total` (the endpoint's cumulative latency
   * sketch, fed by the same sampled requests) minus every stored code's. Exact: buckets only add up.
   */
  primaryInto(total: Sketch, into: Sketch): Sketch {
    into.reset();
    const diff = DIFF;
    let lo = Infinity;
    let hi = -Infinity;
    const add = (index: number, n: number) => {
      const i = index - LATENCY_SKETCH.minIndex;
      diff[i] += n;
      if (i < lo) lo = i;
      if (i > hi) hi = i;
    };
    total.forEachBucket(add);
    let count = total.count;
    let zeros = total.zeroCount;
    let sum = total.sum;
    const sub = (index: number, n: number) => add(index, -n);
    const primaryAt = this.primaryAt;
    for (let k = 0; k < this.keys.length; k++) {
      if (k === primaryAt) continue;
      this.forEachBucketAt(k, sub);
      const own = this.own[k];
      count -= own !== null ? own.count : this.stats[5 * k];
      zeros -= own !== null ? own.zeroCount : this.stats[5 * k + 1];
      sum -= own !== null ? own.sum : this.stats[5 * k + 2];
    }
    for (let i = lo; i <= hi; i++) {
      if (diff[i] > 0) into.addIndex(i + LATENCY_SKETCH.minIndex, diff[i]);
      diff[i] = 0;
    }
    into.count = count;
    into.zeroCount = zeros;
    into.sum = sum;
    into.min = this.primaryMin;
    into.max = this.primaryMax;
    return into;
  }

  /** Stored sketches (codes with a Sketch of their own), codes in cells, and buckets stored: memory accounting. */
  storage(): { sketches: number; compact: number; buckets: number } {
    let sketches = 0;
    let compact = 0;
    let buckets = this.cells.length / 2;
    const primaryAt = this.primaryAt;
    for (let k = 0; k < this.keys.length; k++) {
      if (k === primaryAt) continue;
      const own = this.own[k];
      if (own !== null) {
        sketches++;
        buckets += own.storedBuckets;
      } else compact++;
    }
    return { sketches, compact, buckets };
  }
}

/**
 * The per-status latency sketches of every endpoint, by endpoint id. Off until a consumer asks for them
 * ({@link MeterReader.trackStatusLatency}, which the OpenTelemetry producer calls), so a meter without
 * OpenTelemetry spends nothing on them; `since` is when tracking began (the start time of cumulative
 * points made from them).
 */
export class StatusLatencyTable {
  private readonly byId: (StatusLatency | undefined)[] = [];

  /**
   * `derivePrimary`: tracking began with the meter, so an endpoint's own latency sketch holds exactly
   * the requests these sketches saw, and the primary code can be derived from it (StatusLatency.primary).
   */
  constructor(
    readonly since: number,
    readonly derivePrimary: boolean,
  ) {}

  /** One sampled request of endpoint `id`: `latencyIndex` as Meter.record computed it (NaN: no duration). */
  record(id: number, key: number, latencyIndex: number, durationMs: number): void {
    if (latencyIndex !== latencyIndex) return;
    (this.byId[id] ??= new StatusLatency(this.derivePrimary)).record(key, latencyIndex, durationMs);
  }

  /** Endpoint `id`'s sketches, or undefined when it has recorded none since tracking began. */
  of(id: number): StatusLatency | undefined {
    return this.byId[id];
  }

  /** Sketches and stored buckets over every endpoint (memory accounting). */
  stats(): { endpoints: number; sketches: number; compact: number; buckets: number } {
    let endpoints = 0;
    let sketches = 0;
    let compact = 0;
    let buckets = 0;
    for (const sl of this.byId) {
      if (sl === undefined) continue;
      endpoints++;
      const st = sl.storage();
      sketches += st.sketches;
      compact += st.compact;
      buckets += st.buckets;
    }
    return { endpoints, sketches, compact, buckets };
  }
}
