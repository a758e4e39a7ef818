import type {
  HistoryAnswer,
  HistoryConsumerQuery,
  HistoryConsumers,
  HistoryQuery,
  HistorySeries,
  HistorySource,
} from '../core/history.js';
import { mergeConsumerRows } from './consumer-rows.js';
import { planRanges } from './rollup.js';
import type { Range } from './rollup.js';
import type { SnapshotStore } from './store.js';

export interface StoreHistoryOptions {
  /** Bucket length of the stored raw rows, ms (the snapshot interval). */
  stepMs: number;
  /** Only this instance's rows; default: every instance writing to the store (the cluster). */
  instance?: string;
  /** Read hourly and daily rollups where they cover the range exactly (default true); false: raw rows only. */
  rollups?: boolean;
  /**
   * A series reads rollup rows only when they are no wider than its range (`spanMs`) divided by this
   * (default 720, the metrics API's most points): a 30-day series reads hourly rows, a 7-day one raw rows.
   */
  seriesPoints?: number;
}

const MINUTE = 60_000;

/**
 * The widest rollup tier (seconds) a series over [from, to) may read: its points are the whole range
 * (`spanMs`, memory included) divided by `points`, never narrower than a rollup row.
 */
export function seriesTierSeconds(query: HistoryQuery, from: number, points = 720): number {
  return (query.spanMs ?? query.to - from) / points / 1000;
}

/**
 * The metrics API's {@link HistorySource} over a snapshot store: merges the stored tallies (counters
 * added, latency sketches merged, so percentiles over 30 days stay within the sketch's bound). Long
 * ranges read daily rollup rows for their whole days, hourly ones for the whole hours around them and
 * raw rows only at the edges; the answer equals a merge of the raw rows.
 *
 * @example
 * const history = new StoreHistory(store, { stepMs: 300_000 });
 * await history.refresh();
 * createMetricsApi({ meter, history });
 */
export class StoreHistory implements HistorySource {
  readonly name: string;
  private until = 0;

  constructor(
    private readonly store: SnapshotStore,
    private readonly options: StoreHistoryOptions,
  ) {
    this.name = store.kind;
  }

  /** Length of the stored raw intervals, ms. */
  get stepMs(): number {
    return this.options.stepMs;
  }

  persistedUntil(): number {
    return this.until;
  }

  /** Moves {@link persistedUntil} forward (the snapshot task calls this after each successful write). */
  advance(until: number): void {
    const minute = Math.floor(until / MINUTE) * MINUTE;
    if (minute > this.until) this.until = minute;
  }

  /** Reads the newest stored bucket end from the store (at start-up, before the first write). */
  async refresh(): Promise<number> {
    this.advance(await this.store.newestBucketEnd(this.options.instance));
    return this.until;
  }

  /** The ranges [from, to) is read from: rollup tiers where complete, raw rows elsewhere. */
  async plan(from: number, to: number, maxSeconds?: number): Promise<Range[]> {
    if (this.options.rollups === false) return from < to ? [{ from, to }] : [];
    return planRanges(from, to, await this.store.rollupWatermarks(), maxSeconds);
  }

  async endpoints(query: HistoryQuery): Promise<HistoryAnswer> {
    const step = this.options.stepMs;
    const from = Math.floor(query.from / step) * step;
    const rows = await this.store.mergeRows({
      ranges: await this.plan(from, query.to),
      instance: this.options.instance,
      route: query.route,
      method: query.method,
      by: 'endpoint',
    });
    return {
      from,
      to: Math.ceil(query.to / step) * step,
      endpoints: rows.map((r) => ({ method: r.method, route: r.route, tally: r.tally })),
    };
  }

  async series(query: HistoryQuery): Promise<HistorySeries> {
    const step = this.options.stepMs;
    const from = Math.floor(query.from / step) * step;
    // Rollup rows only where a point of the answer is at least as wide as they are, planned over the
    // whole window: the stored part of a 30-day window (30 days less the newest minutes, which memory
    // answers) reads hourly rows, as the answer's points are hours, not 8,640 raw rows per endpoint.
    const ranges = await this.plan(from, query.to, seriesTierSeconds(query, from, this.options.seriesPoints));
    const stepMs = Math.max(step, ...ranges.map((r) => (r.rollup ?? 0) * 1000));
    const rows = await this.store.mergeRows({
      ranges,
      instance: this.options.instance,
      route: query.route,
      method: query.method,
      by: 'bucket',
      stepMs,
    });
    return { stepMs, points: rows.map((r) => ({ start: r.bucketStart, tally: r.tally })) };
  }

  async consumers(query: HistoryConsumerQuery): Promise<HistoryConsumers> {
    const step = this.options.stepMs;
    const from = Math.floor(query.from / step) * step;
    const rows = await this.store.readConsumers({
      from,
      to: query.to,
      instance: this.options.instance,
      consumer: query.consumer,
      merged: true,
    });
    const merged = mergeConsumerRows(rows);
    return {
      from,
      to: Math.ceil(query.to / step) * step,
      consumers: [...merged.values()].map((m) => ({ ...m, endpoints: [...m.endpoints.values()] })),
    };
  }
}
