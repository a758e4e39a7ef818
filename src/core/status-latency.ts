import { LATENCY_SKETCH, Sketch } from './sketch.js';
import { ZERO_INDEX } from './tally.js';

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
    for (const s of this.sketches) n += s.storedBuckets;
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

  constructor(readonly since: number) {}

  /** One sampled request of endpoint `id`: `latencyIndex` as Meter.record computed it (NaN: no duration). */
  record(id: number, key: number, latencyIndex: number, durationMs: number): void {
    if (latencyIndex !== latencyIndex) return;
    const sl = (this.byId[id] ??= new StatusLatency());
    const s = sl.sketchOf(key);
    if (latencyIndex === ZERO_INDEX) s.record(0);
    else s.recordAt(latencyIndex, durationMs);
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
      sketches += sl.sketches.length;
      buckets += sl.storedBuckets;
    }
    return { endpoints, sketches, buckets };
  }
}
