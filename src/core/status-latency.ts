import { LATENCY_SKETCH, Sketch } from './sketch.js';
import { ZERO_INDEX } from './tally.js';

/** Stands in `StatusLatency.sketches` for the derived primary code (never recorded into). */
export const PRIMARY_PLACEHOLDER = new Sketch(LATENCY_SKETCH);
const DIFF = new Float64Array(LATENCY_SKETCH.maxIndex - LATENCY_SKETCH.minIndex + 1);

/** Key of the requests the client aborted (status 499, no response sent) in a {@link StatusLatency}. */
export const ABORTED_KEY = -1;

/**
 * One endpoint's since-start latency sketches per response status code (and one for aborted requests,
 * {@link ABORTED_KEY}), made on the first request with that code: what OpenTelemetry's
 * `http.server.request.duration` needs (`http.response.status_code` and `error.type` on the histogram).
 * Not kept per ring slot: the hour rings stay one sketch per slot; these live only on the reader's
 * cumulative/consumer path. `keys` and `sketches` only grow (indices are stable for baselines).
 */
export class StatusLatency {
  readonly keys: number[] = [];
  readonly sketches: Sketch[] = [];
  /**
   * The endpoint's first 2xx code (NaN until one comes), when the table derives it: its requests are
   * not stored here but are the endpoint's own latency sketch minus every other code's (the bulk of an
   * endpoint's traffic costs nothing more). Its place in `keys` holds {@link PRIMARY_PLACEHOLDER}.
   */
  primary = NaN;
  primaryMin = Infinity;
  primaryMax = -Infinity;

  constructor(readonly derivePrimary: boolean) {}

  /** One sampled duration with status key `key` (`latencyIndex` from the meter; ZERO_INDEX for 0 ms). */
  record(key: number, latencyIndex: number, durationMs: number): void {
    if (this.derivePrimary) {
      if (key === this.primary) return this.notePrimary(durationMs);
      if (this.primary !== this.primary && key >= 200 && key <= 299) {
        this.primary = key;
        this.keys.push(key);
        this.sketches.push(PRIMARY_PLACEHOLDER);
        return this.notePrimary(durationMs);
      }
    }
    const s = this.sketchOf(key);
    if (latencyIndex === ZERO_INDEX) s.record(0);
    else s.recordAt(latencyIndex, durationMs);
  }

  private notePrimary(durationMs: number): void {
    const v = durationMs > 0 ? durationMs : 0;
    if (v < this.primaryMin) this.primaryMin = v;
    if (v > this.primaryMax) this.primaryMax = v;
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
    for (const s of this.sketches) {
      if (s === PRIMARY_PLACEHOLDER) continue;
      s.forEachBucket((index, n) => add(index, -n));
      count -= s.count;
      zeros -= s.zeroCount;
      sum -= s.sum;
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

  /** The sketch of `key`, made on first use. */
  sketchOf(key: number): Sketch {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] === key) return this.sketches[i];
    const s = new Sketch(LATENCY_SKETCH);
    keys.push(key);
    this.sketches.push(s);
    return s;
  }

  /** Buckets stored over every sketch (memory accounting). */
  get storedBuckets(): number {
    let n = 0;
    for (const s of this.sketches) if (s !== PRIMARY_PLACEHOLDER) n += s.storedBuckets;
    return n;
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
  stats(): { endpoints: number; sketches: number; buckets: number } {
    let endpoints = 0;
    let sketches = 0;
    let buckets = 0;
    for (const sl of this.byId) {
      if (sl === undefined) continue;
      endpoints++;
      sketches += sl.sketches.filter((x) => x !== PRIMARY_PLACEHOLDER).length;
      buckets += sl.storedBuckets;
    }
    return { endpoints, sketches, buckets };
  }
}
