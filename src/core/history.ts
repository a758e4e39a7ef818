import type { SlotTally } from './query.js';
import { Tally } from './tally.js';
import type { Sketch } from './sketch.js';

/**
 * What the metrics API needs from persisted history (the snapshot store): the in-memory ring answers the
 * last hour; windows of 6h, 24h, 7d, 30d and start/end ranges older than the ring are read from here.
 * The store implements this; without one, such requests are a 400 that says history needs
 * `[metrics] api_metrics_persistence`.
 *
 * Ranges are half-open, `[from, to)`, in ms since the epoch. A source snaps them outward to its own
 * intervals and says which range it answered.
 */
export interface HistorySource {
  /** Shown in error messages (`sqlite`, `postgres`). */
  readonly name: string;
  /**
   * Length of the stored intervals, ms (optional): `/summary` ends a previous period read from history on
   * an interval boundary, so it never shares an interval with the current period.
   */
  readonly stepMs?: number;
  /**
   * End of the newest interval fully persisted. The API reads history before it and the live ring from
   * it on, so nothing is counted twice. Must fall on a minute (the ring's coarse slot) boundary.
   */
  persistedUntil(): number;
  /**
   * Start of the oldest data the source still holds in full (its retention cutoff): intervals before it
   * may have been deleted. Optional; without it the API assumes `[metrics] api_metrics_retention_days` of
   * the meter's configuration (0: everything kept).
   */
  retainedFrom?(now: number): number;
  /** Every endpoint with data in the range, each with its counters and sketch merged over the range. */
  endpoints(query: HistoryQuery): Promise<HistoryAnswer>;
  /**
   * Data per stored interval, oldest first (empty intervals may be left out): of one route with
   * `route`, else of every endpoint merged (the whole-API series of `/summary`).
   */
  series(query: HistoryQuery): Promise<HistorySeries>;
  /**
   * Per-consumer figures over the range (`metrics_consumers` with a store: the top K of each stored
   * interval and `other` for the rest), each merged over the range. Optional: without it, consumer
   * windows other than since start-up are a 400.
   */
  consumers?(query: HistoryConsumerQuery): Promise<HistoryConsumers>;
}

export interface HistoryConsumerQuery {
  from: number;
  to: number;
  /** Only this consumer. */
  consumer?: string;
}

export interface HistoryConsumer {
  id: string;
  requests: number;
  errors: number;
  serverErrors: number;
  /** Latency sketch merged over the range (CONSUMER_LATENCY_SKETCH); empty for `other`. */
  latency: Sketch;
  endpoints: { method: string; route: string; requests: number; errors: number }[];
}

export interface HistoryConsumers {
  /** The range answered, snapped outward to stored intervals. */
  from: number;
  to: number;
  /** Every consumer with rows in the range, `other` (everyone outside each interval's top K) included. */
  consumers: HistoryConsumer[];
}

export interface HistoryQuery {
  from: number;
  to: number;
  /** Only this route template. */
  route?: string;
  /** Only this method (with `route`). */
  method?: string;
  /**
   * `series` only: length of the whole range the answer covers, ms, when the source answers part of it
   * (the metrics API reads the newest minutes from memory, so a 30-day window asks the store for
   * 30 days less them). The answer's points are sized from it, so a source picks its interval (a rollup
   * tier) from it too. Default `to - from`.
   */
  spanMs?: number;
}

export interface HistoryEndpoint {
  method: string;
  route: string;
  tally: Tally;
}

export interface HistoryAnswer {
  from: number;
  to: number;
  endpoints: HistoryEndpoint[];
}

export interface HistorySeries {
  /** Interval length of the points, ms. */
  stepMs: number;
  points: SlotTally[];
}

interface StoredInterval {
  start: number;
  method: string;
  route: string;
  tally: Tally;
}

/**
 * An in-memory {@link HistorySource}: the test double of the store, and a reference for what a store's
 * answers must look like.
 *
 * @example
 * const history = new MemoryHistory(300_000);
 * history.add(Date.parse('2025-01-01T00:00:00Z'), 'GET', '/dags', tally);
 * createMetricsApi({ meter, history });
 */
export class MemoryHistory implements HistorySource {
  readonly name = 'memory';
  private readonly intervals: StoredInterval[] = [];
  private until = 0;

  constructor(readonly stepMs: number) {}

  /** Stores one interval of one endpoint; `start` must be a multiple of `stepMs`. */
  add(start: number, method: string, route: string, tally: Tally): void {
    if (start % this.stepMs !== 0) throw new RangeError(`start ${start} is not a multiple of ${this.stepMs}`);
    this.intervals.push({ start, method, route, tally: new Tally().merge(tally) });
    this.until = Math.max(this.until, start + this.stepMs);
  }

  persistedUntil(): number {
    return this.until;
  }

  private select(query: HistoryQuery): StoredInterval[] {
    const from = Math.floor(query.from / this.stepMs) * this.stepMs;
    return this.intervals.filter(
      (i) =>
        i.start >= from &&
        i.start < query.to &&
        (query.route === undefined || i.route === query.route) &&
        (query.method === undefined || i.method === query.method),
    );
  }

  async endpoints(query: HistoryQuery): Promise<HistoryAnswer> {
    const merged = new Map<string, HistoryEndpoint>();
    for (const i of this.select(query)) {
      const key = `${i.method} ${i.route}`;
      let e = merged.get(key);
      if (e === undefined) merged.set(key, (e = { method: i.method, route: i.route, tally: new Tally() }));
      e.tally.merge(i.tally);
    }
    const from = Math.floor(query.from / this.stepMs) * this.stepMs;
    const to = Math.ceil(query.to / this.stepMs) * this.stepMs;
    return { from, to, endpoints: [...merged.values()] };
  }

  async series(query: HistoryQuery): Promise<HistorySeries> {
    const byStart = new Map<number, Tally>();
    for (const i of this.select(query)) {
      let t = byStart.get(i.start);
      if (t === undefined) byStart.set(i.start, (t = new Tally()));
      t.merge(i.tally);
    }
    const points = [...byStart].sort((a, b) => a[0] - b[0]).map(([start, tally]) => ({ start, tally }));
    return { stepMs: this.stepMs, points };
  }
}

const DAY = 86_400_000;

/**
 * The cutoff that keeps `days` days of history before `now`: rounded down to a UTC midnight, so that no
 * hourly or daily rollup bucket is cut in two (its rows and its source rows go together).
 */
export function retentionCutoff(now: number, days: number): number {
  return Math.floor((now - days * DAY) / DAY) * DAY;
}
