import { Counters, Counts, readCounters, readCounts } from './counts.js';
import type { EndpointStats } from './endpoint.js';
import type { Registry } from './registry.js';
import { SketchBaseline, SketchDelta } from './sketch-delta.js';
import { LATENCY_SKETCH, Sketch } from './sketch.js';
import { StatusLatencyTable } from './status-latency.js';

/**
 * What a delta consumer follows besides the counters. A sketch is tracked when its shift is a number:
 * differences come at the sketch's scale minus the shift (StatsD's `statsd_timer_scale`), so a
 * baseline for a coarser export costs a fraction of the sketch.
 */
export interface DeltaOptions {
  /** The latency sketch (ms) of the endpoint's tallies. */
  latencyShift?: number | null;
  /** The since-start request and response body size sketches (`ep.requestSize`, `ep.responseSize`). */
  requestSizeShift?: number | null;
  responseSizeShift?: number | null;
  /** Exact status codes (a baseline Map per endpoint). Default false: `codes` of a delta stay empty. */
  codes?: boolean;
  /**
   * The per-status latency sketches (StatusLatency; the reader must track them, see
   * MeterReader.trackStatusLatency): `byStatus` of a delta. Default false.
   */
  byStatus?: boolean;
}

const NOT_TRACKED = new SketchDelta();

/**
 * One endpoint's change since its consumer's baseline: the counters as differences (a {@link Counters};
 * byte maxima are the since-start ones), sketch differences, and detailed mode's auth attempts by kind
 * and outcome (`EndpointDetail.auth` layout). Filled by {@link DeltaConsumer.read}; valid until the next read.
 */
export class EndpointDelta extends Counters {
  latency: SketchDelta = NOT_TRACKED;
  requestSize: SketchDelta = NOT_TRACKED;
  responseSize: SketchDelta = NOT_TRACKED;
  /** Auth attempts gained per [type * 2 + (success ? 1 : 0)]; empty for an endpoint without detail. */
  auth: Float64Array = NO_AUTH;
  /** With `byStatus`: the status keys (StatusLatency.keys) and, at the same index, each one's latency difference. */
  statusKeys: readonly number[] = NO_KEYS;
  readonly byStatus: SketchDelta[] = [];
  /** Nothing was recorded since the baseline: every counter and sketch difference is zero. */
  empty = true;
}

const NO_AUTH = new Float64Array(0);
const NO_KEYS: readonly number[] = [];

/** What a consumer last committed for one endpoint, and what its last read saw. */
class EndpointBaseline {
  base = new Counters();
  seen = new Counters();
  authBase: Float64Array = NO_AUTH;
  authSeen: Float64Array = NO_AUTH;
  readonly latency: SketchBaseline | null;
  readonly requestSize: SketchBaseline | null;
  readonly responseSize: SketchBaseline | null;
  /** Per-status latency baselines, aligned with the endpoint's StatusLatency.keys (made as keys appear). */
  readonly status: SketchBaseline[] = [];
  /** Read since the last commit (listed in the consumer's `pending`). */
  pending = false;

  constructor(options: DeltaOptions) {
    this.latency = typeof options.latencyShift === 'number' ? new SketchBaseline() : null;
    this.requestSize = typeof options.requestSizeShift === 'number' ? new SketchBaseline() : null;
    this.responseSize = typeof options.responseSizeShift === 'number' ? new SketchBaseline() : null;
  }

  commit(): void {
    this.pending = false;
    const base = this.base;
    this.base = this.seen;
    this.seen = base;
    const auth = this.authBase;
    this.authBase = this.authSeen;
    this.authSeen = auth;
    this.latency?.commit();
    this.requestSize?.commit();
    this.responseSize?.commit();
    for (const b of this.status) b.commit();
  }
}

/** Bytes of one endpoint's two Counters objects, roughly (for memory accounting). */
const COUNTERS_BYTES = 2 * 400;

/**
 * Deltas for one consumer (the StatsD exporter, the OTel producer in delta temporality, later an alert
 * evaluator or a fleet writer): per endpoint, what was recorded since the consumer's last commit.
 *
 * Two steps, so nothing is lost when a send fails: {@link read} each endpoint, send, then {@link commit}
 * (the baselines move to what the reads saw) or not (the next reads include the same data again, plus
 * whatever came since). Endpoints that appear later start from zero: their first delta is everything
 * since start-up.
 */
export class DeltaConsumer {
  private readonly baselines: (EndpointBaseline | undefined)[] = [];
  private readonly pending: EndpointBaseline[] = [];
  private readonly delta = new EndpointDelta();
  private readonly latencyShift: number;
  private readonly requestSizeShift: number;
  private readonly responseSizeShift: number;
  private readonly codes: boolean;
  private readonly byStatus: boolean;

  constructor(
    readonly name: string,
    readonly options: Readonly<DeltaOptions>,
    private readonly owner: MeterReader,
  ) {
    this.latencyShift = options.latencyShift ?? 0;
    this.requestSizeShift = options.requestSizeShift ?? 0;
    this.responseSizeShift = options.responseSizeShift ?? 0;
    this.codes = options.codes ?? false;
    this.byStatus = options.byStatus ?? false;
  }

  /**
   * What `ep` gained since this consumer's last commit. The returned object is reused: read it before
   * the next call.
   */
  read(ep: EndpointStats): EndpointDelta {
    let b = this.baselines[ep.id];
    if (b === undefined) {
      b = new EndpointBaseline(this.options);
      this.baselines[ep.id] = b;
    }
    if (!b.pending) {
      b.pending = true;
      this.pending.push(b);
    }
    const d = this.delta;
    const open = ep.unfolded();
    const seen = b.seen;
    readCounters(seen, ep.total, open, this.codes);
    const changed = seen.count !== b.base.count || seen.detailed !== b.base.detailed;
    if (changed) d.setDifference(seen, b.base);
    else d.clear();
    d.auth = NO_AUTH;
    const detail = ep.detail;
    if (detail !== null) {
      const auth = detail.auth;
      if (b.authSeen.length !== auth.length) b.authSeen = new Float64Array(auth.length);
      if (b.authBase.length !== auth.length) b.authBase = new Float64Array(auth.length);
      b.authSeen.set(auth);
      d.auth = this.authDelta(auth, b.authBase);
    }
    let empty = !changed;
    d.latency = NOT_TRACKED;
    d.requestSize = NOT_TRACKED;
    d.responseSize = NOT_TRACKED;
    if (b.latency !== null) {
      d.latency = b.latency.read(ep.total.latency, this.latencyShift, open?.latency);
      if (d.latency.count > 0) empty = false;
    }
    if (b.requestSize !== null) {
      d.requestSize = b.requestSize.read(ep.requestSize, this.requestSizeShift);
      if (d.requestSize.count > 0) empty = false;
    }
    if (b.responseSize !== null) {
      d.responseSize = b.responseSize.read(ep.responseSize, this.responseSizeShift);
      if (d.responseSize.count > 0) empty = false;
    }
    d.statusKeys = NO_KEYS;
    d.byStatus.length = 0;
    if (this.byStatus) {
      const sl = this.owner.byStatus(ep);
      if (sl !== undefined) {
        d.statusKeys = sl.keys;
        const status = b.status;
        for (let i = 0; i < sl.sketches.length; i++) {
          const base = (status[i] ??= new SketchBaseline());
          const gained = base.read(sl.sketches[i], 0);
          d.byStatus.push(gained);
          if (gained.count > 0) empty = false;
        }
      }
    }
    d.empty = empty;
    return d;
  }

  /** Moves the baselines of every endpoint read since the last commit to what those reads saw. */
  commit(): void {
    for (const b of this.pending) b.commit();
    this.pending.length = 0;
  }

  /** Drops this consumer and its baselines (an exporter that stops). */
  close(): void {
    this.owner.remove(this);
    this.baselines.length = 0;
    this.pending.length = 0;
  }

  /** Bytes of the per-endpoint baselines (counters and sketch buckets), roughly: for memory accounting. */
  get baselineBytes(): number {
    let bytes = 0;
    for (const b of this.baselines) {
      if (b === undefined) continue;
      bytes += COUNTERS_BYTES + 8 * (b.authBase.length + b.authSeen.length);
      bytes += (b.latency?.bytes ?? 0) + (b.requestSize?.bytes ?? 0) + (b.responseSize?.bytes ?? 0);
      for (const s of b.status) bytes += s.bytes;
    }
    return bytes;
  }

  private authScratch: Float64Array = NO_AUTH;

  private authDelta(auth: ArrayLike<number>, base: Float64Array): Float64Array {
    if (this.authScratch.length !== auth.length) this.authScratch = new Float64Array(auth.length);
    const out = this.authScratch;
    for (let i = 0; i < out.length; i++) out[i] = auth[i] - base[i];
    return out;
  }
}

/**
 * The one way pull consumers (Prometheus, StatsD, OpenTelemetry, …) read a meter: per endpoint, the
 * counts since start-up ({@link cumulative}: the since-start total plus the current fine slot, which is
 * not folded into it yet), and deltas per named consumer ({@link consumer}). Every consumer's
 * per-endpoint baselines live here. `meter.reader` is the meter's.
 *
 * @example
 * const statsd = meter.reader.consumer('statsd', { latencyShift: 2 });
 * for (const ep of meter.reader.endpoints()) send(ep, statsd.read(ep));
 * if (sent) statsd.commit(); // else the next reads include this data again
 */
export class MeterReader {
  private readonly scratch = new Counts();
  private readonly pool: Counts[] = [];
  private readonly open = new Set<DeltaConsumer>();
  /** Per-status latency sketches, once a consumer asked for them ({@link trackStatusLatency}); else null. */
  statusLatency: StatusLatencyTable | null = null;

  constructor(private readonly registry: Registry) {}

  /**
   * Starts keeping latency sketches per endpoint and status code (StatusLatency; what OpenTelemetry's
   * duration histogram needs) from `now` on; idempotent. Each is made on the first request with its
   * code, outside the hour rings. Returns the table.
   */
  trackStatusLatency(now: number): StatusLatencyTable {
    // Before any record, each endpoint's own latency sketch holds exactly what the table will see:
    // its most common code (the first 2xx) is then derived from it instead of stored twice.
    return (this.statusLatency ??= new StatusLatencyTable(now, this.registry.endpoints().length === 0));
  }

  private readonly statusScratch = new Counts();
  /** Scratch sketches for the codes of the endpoint being read (see byStatus). */
  private readonly statusPool: Sketch[] = [];
  private readonly resolved = { keys: [] as readonly number[], sketches: [] as Sketch[] };

  /**
   * `ep`'s per-status latency sketches since tracking began, `keys[i]` (a status code or ABORTED_KEY)
   * with `sketches[i]`; undefined when none (or not tracked). Codes kept compactly and the derived
   * primary code are built into the reader's scratch sketches: valid until the next call.
   */
  byStatus(ep: EndpointStats): { readonly keys: readonly number[]; readonly sketches: readonly Sketch[] } | undefined {
    const sl = this.statusLatency?.of(ep.id);
    if (sl === undefined) return undefined;
    const out = this.resolved;
    out.keys = sl.keys;
    const sketches = out.sketches;
    sketches.length = 0;
    const pool = this.statusPool;
    const primaryAt = sl.primaryAt;
    for (let k = 0; k < sl.keys.length; k++) {
      if (pool.length <= k) pool.push(new Sketch(LATENCY_SKETCH));
      if (k === primaryAt) {
        sketches.push(sl.primaryInto(readCounts(this.statusScratch, ep.total, ep.unfolded()).latency, pool[k]));
      } else sketches.push(sl.sketchAt(k, pool[k]));
    }
    return out;
  }

  /** Endpoints that have recorded (the registry's live array: do not modify). */
  endpoints(): readonly EndpointStats[] {
    return this.registry.endpoints();
  }

  /**
   * `ep`'s counts since start-up into `into` (default: one scratch object, valid until the next call).
   * Without `latency`, `into.latency` is left as it was (cheaper when only counters are wanted).
   */
  cumulative(ep: EndpointStats, into: Counts = this.scratch, latency = true): Counts {
    return readCounts(into, ep.total, ep.unfolded(), latency);
  }

  /**
   * {@link cumulative} of every endpoint, in the order of {@link endpoints}. The Counts objects are the
   * reader's and are refilled by the next call: a scrape of 1,000 endpoints reuses the last one's.
   */
  cumulativeAll(eps: readonly EndpointStats[] = this.endpoints()): readonly Counts[] {
    const pool = this.pool;
    while (pool.length < eps.length) pool.push(new Counts());
    if (pool.length > eps.length) pool.length = eps.length;
    for (let i = 0; i < eps.length; i++) this.cumulative(eps[i], pool[i]);
    return pool;
  }

  /**
   * A new delta consumer with baselines of its own. `name` says who reads ('statsd', 'otel', 'alerts',
   * 'fleet'); two exporters of one kind on one meter each get their own consumer.
   */
  consumer(name: string, options: DeltaOptions = {}): DeltaConsumer {
    const c = new DeltaConsumer(name, Object.freeze({ ...options }), this);
    this.open.add(c);
    return c;
  }

  /** The consumers not closed yet. */
  consumers(): DeltaConsumer[] {
    return [...this.open];
  }

  /** @internal DeltaConsumer.close. */
  remove(c: DeltaConsumer): void {
    this.open.delete(c);
  }
}
