import type { HistoryAnswer, HistoryEndpoint, HistoryQuery, HistorySeries, HistorySource } from '../api/history.js';
import { Tally } from '../core/tally.js';
import type { SnapshotStore } from './store.js';

export interface StoreHistoryOptions {
  /** Bucket length of the stored rows, ms (the snapshot interval). */
  stepMs: number;
  /** Only this instance's rows; default: every instance writing to the store (the cluster). */
  instance?: string;
}

const MINUTE = 60_000;

/**
 * The metrics API's {@link HistorySource} over a snapshot store: merges the stored tallies (counters
 * added, latency sketches merged, so percentiles over 30 days stay within the sketch's bound).
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

  private rows(query: HistoryQuery) {
    const step = this.options.stepMs;
    return this.store.readRows({
      from: Math.floor(query.from / step) * step,
      to: query.to,
      instance: this.options.instance,
      route: query.route,
      method: query.method,
    });
  }

  async endpoints(query: HistoryQuery): Promise<HistoryAnswer> {
    const step = this.options.stepMs;
    const merged = new Map<string, HistoryEndpoint>();
    for (const r of await this.rows(query)) {
      const key = `${r.method} ${r.route}`;
      const e = merged.get(key);
      if (e === undefined) merged.set(key, { method: r.method, route: r.route, tally: new Tally().merge(r.tally) });
      else e.tally.merge(r.tally);
    }
    return {
      from: Math.floor(query.from / step) * step,
      to: Math.ceil(query.to / step) * step,
      endpoints: [...merged.values()],
    };
  }

  async series(query: HistoryQuery & { route: string }): Promise<HistorySeries> {
    const byStart = new Map<number, Tally>();
    for (const r of await this.rows(query)) {
      const t = byStart.get(r.bucketStart);
      if (t === undefined) byStart.set(r.bucketStart, new Tally().merge(r.tally));
      else t.merge(r.tally);
    }
    const points = [...byStart].sort((a, b) => a[0] - b[0]).map(([start, tally]) => ({ start, tally }));
    return { stepMs: this.options.stepMs, points };
  }
}
