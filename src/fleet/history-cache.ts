import type {
  HistoryAnswer,
  HistoryConsumerQuery,
  HistoryConsumers,
  HistoryQuery,
  HistorySeries,
  HistorySource,
} from '../core/history.js';
import type { SlotTally } from '../core/query.js';
import { Tally } from '../core/tally.js';
import { seriesTierSeconds, StoreHistory } from '../store/history.js';
import type { StoreHistoryOptions } from '../store/history.js';
import type { MergedRow, Range } from '../store/rollup.js';
import type { SnapshotStore } from '../store/store.js';

export interface SealedHistoryOptions extends StoreHistoryOptions {
  /**
   * End (ms) of the period every expected instance has persisted: a rollup bucket ending at or before it
   * and before its tier's watermark can no longer change (serve: the fleet's `durableUntil`, see
   * FleetMirror.sealedUntil).
   */
  sealedUntil: () => number;
  /** Merged tallies kept in memory at most (one per endpoint and cached block; default 200,000), oldest used dropped first. */
  maxTallies?: number;
}

interface Block {
  /** `endpoint` blocks: one row per endpoint; `bucket` blocks: one row (the whole API over the block). */
  rows: MergedRow[];
  end: number;
}

/**
 * The fleet's history with the merges of sealed rollup buckets kept in memory: a 30-day fleet answer
 * merges each sealed day (and hour at the edges) once, when first asked or warmed ahead, and afterwards
 * reads from the store only the ranges that are not sealed yet (the newest minutes before the live tier).
 * Blocks: one per rollup bucket (day, hour) and one per stored raw interval at the range's edges.
 * Only the whole fleet's unfiltered answers use the cache (route or method filters read the store).
 *
 * Correct because a block is cached only when it is sealed twice over: its end is at or before the
 * store's rollup watermark of its tier (its rollup rows equal the merge of every raw row) and at or
 * before the point every expected instance has persisted (no instance can still write into it). Blocks
 * past a lowered watermark are dropped. An instance once considered gone that comes back with a backlog
 * older than the seal is the one case the cache would not see (document: restart serve).
 */
export class SealedHistory implements HistorySource {
  readonly name: string;
  private readonly inner: StoreHistory;
  private readonly blocks = new Map<string, Block>();
  private tallies = 0;
  /** Blocks served from memory / merged from the store, since start (tests, the bench). */
  readonly stats = { hits: 0, misses: 0 };

  constructor(
    private readonly store: SnapshotStore,
    private readonly options: SealedHistoryOptions,
  ) {
    this.inner = new StoreHistory(store, options);
    this.name = this.inner.name;
  }

  get stepMs(): number {
    return this.options.stepMs;
  }

  persistedUntil(): number {
    return this.inner.persistedUntil();
  }

  /** Splits the planned ranges into sealed rollup blocks and the rest (read from the store). */
  private split(ranges: readonly Range[], watermarks: Record<number, number>) {
    const sealed = this.options.sealedUntil();
    const blocks: Range[] = [];
    const rest: Range[] = [];
    const step = this.options.stepMs;
    for (const r of ranges) {
      // Raw ranges (the edges) are cached per stored interval, rollup ranges per rollup bucket; a raw
      // interval has no watermark, so only the instances' persistence seals it.
      const len = r.rollup === undefined ? step : r.rollup * 1000;
      const limit = r.rollup === undefined ? sealed : Math.min(sealed, watermarks[r.rollup] ?? 0);
      for (let s = r.from; s < r.to;) {
        const e = Math.min(Math.floor(s / len) * len + len, r.to);
        const range = r.rollup === undefined ? { from: s, to: e } : { from: s, to: e, rollup: r.rollup };
        if (e - s === len && e <= limit) blocks.push(range);
        else rest.push(range);
        s = e;
      }
    }
    return { blocks, rest };
  }

  /** Drops cached blocks past a watermark (a late snapshot lowered it) and the oldest past the bound. */
  private evict(watermarks: Record<number, number>): void {
    for (const [key, b] of this.blocks) {
      const seconds = Number(key.split(':')[1]);
      if (seconds > 0 && b.end > (watermarks[seconds] ?? 0)) this.drop(key);
    }
    const max = this.options.maxTallies ?? 200_000;
    for (const key of this.blocks.keys()) {
      if (this.tallies <= max) break;
      this.drop(key);
    }
  }

  private drop(key: string): void {
    const b = this.blocks.get(key);
    if (b === undefined) return;
    this.tallies -= b.rows.length;
    this.blocks.delete(key);
  }

  private async block(by: 'endpoint' | 'bucket', range: Range): Promise<MergedRow[]> {
    const key = `${by}:${range.rollup ?? 0}:${range.from}`;
    const found = this.blocks.get(key);
    if (found !== undefined) {
      this.stats.hits++;
      // Most recently used last: eviction takes the oldest first.
      this.blocks.delete(key);
      this.blocks.set(key, found);
      return found.rows;
    }
    this.stats.misses++;
    const rows = await this.store.mergeRows({
      ranges: [range],
      instance: this.options.instance,
      by,
      ...(by === 'bucket' && { stepMs: range.to - range.from }),
    });
    this.keep(key, rows, range.to);
    return rows;
  }

  private keep(key: string, rows: MergedRow[], end: number): void {
    this.blocks.set(key, { rows, end });
    this.tallies += rows.length;
  }

  /**
   * The `bucket` blocks' rows, in order. Those not cached are read with one query per run of adjacent
   * blocks of a tier, grouped by block (a cold 30-day series is ~720 hourly blocks: one query, not 720).
   */
  private async bucketBlocks(blocks: readonly Range[]): Promise<(readonly MergedRow[])[]> {
    const out: (readonly MergedRow[])[] = [];
    const missing: number[] = [];
    for (const [i, b] of blocks.entries()) {
      const len = b.to - b.from;
      if (b.from % len !== 0) out[i] = await this.block('bucket', b);
      else if (this.blocks.has(`bucket:${b.rollup ?? 0}:${b.from}`)) out[i] = await this.block('bucket', b);
      else missing.push(i);
    }
    for (let i = 0; i < missing.length;) {
      const first = blocks[missing[i]];
      let j = i + 1;
      while (
        j < missing.length &&
        blocks[missing[j]].from === blocks[missing[j - 1]].to &&
        blocks[missing[j]].rollup === first.rollup
      )
        j++;
      const last = blocks[missing[j - 1]];
      const range: Range = first.rollup === undefined ? { from: first.from, to: last.to } : { ...first, to: last.to };
      const rows = await this.store.mergeRows({
        ranges: [range],
        instance: this.options.instance,
        by: 'bucket',
        stepMs: first.to - first.from,
      });
      const byStart = new Map(rows.map((r) => [r.bucketStart, r]));
      for (const k of missing.slice(i, j)) {
        const b = blocks[k];
        const found = byStart.get(b.from);
        const blockRows = found === undefined ? [] : [found];
        this.stats.misses++;
        this.keep(`bucket:${b.rollup ?? 0}:${b.from}`, blockRows, b.to);
        out[k] = blockRows;
      }
      i = j;
    }
    return out;
  }

  async endpoints(query: HistoryQuery): Promise<HistoryAnswer> {
    if (query.route !== undefined || query.method !== undefined) return this.inner.endpoints(query);
    const step = this.options.stepMs;
    const from = Math.floor(query.from / step) * step;
    const watermarks = await this.store.rollupWatermarks();
    this.evict(watermarks);
    const { blocks, rest } = this.split(await this.inner.plan(from, query.to), watermarks);
    const merged = new Map<string, { method: string; route: string; tally: Tally }>();
    const add = (rows: readonly MergedRow[], adopt: boolean) => {
      for (const r of rows) {
        const key = `${r.method} ${r.route}`;
        const g = merged.get(key);
        // Cached tallies are never mutated: copied into the answer's own tally.
        if (g === undefined)
          merged.set(key, { method: r.method, route: r.route, tally: adopt ? r.tally : new Tally().merge(r.tally) });
        else g.tally.merge(r.tally);
      }
    };
    for (const b of blocks) add(await this.block('endpoint', b), false);
    if (rest.length > 0)
      add(await this.store.mergeRows({ ranges: rest, instance: this.options.instance, by: 'endpoint' }), true);
    return { from, to: Math.ceil(query.to / step) * step, endpoints: [...merged.values()] };
  }

  async series(query: HistoryQuery): Promise<HistorySeries> {
    if (query.route !== undefined || query.method !== undefined) return this.inner.series(query);
    const step = this.options.stepMs;
    const from = Math.floor(query.from / step) * step;
    const watermarks = await this.store.rollupWatermarks();
    this.evict(watermarks);
    const ranges = await this.inner.plan(from, query.to, seriesTierSeconds(query, from, this.options.seriesPoints));
    const stepMs = Math.max(step, ...ranges.map((r) => (r.rollup ?? 0) * 1000));
    const { blocks, rest } = this.split(ranges, watermarks);
    const points = new Map<number, SlotTally>();
    const add = (rows: readonly MergedRow[], adopt: boolean) => {
      for (const r of rows) {
        const start = Math.floor(r.bucketStart / stepMs) * stepMs;
        const p = points.get(start);
        if (p === undefined) points.set(start, { start, tally: adopt ? r.tally : new Tally().merge(r.tally) });
        else p.tally.merge(r.tally);
      }
    };
    for (const rows of await this.bucketBlocks(blocks)) add(rows, false);
    if (rest.length > 0)
      add(await this.store.mergeRows({ ranges: rest, instance: this.options.instance, by: 'bucket', stepMs }), true);
    return { stepMs, points: [...points.values()].sort((a, b) => a.start - b.start) };
  }

  /**
   * The fleet's consumers over the range, from the instances' stored consumer rows (migration 6) merged
   * across instances (or of `instance` only): not cached, the rows are few (top K per interval).
   */
  consumers(query: HistoryConsumerQuery): Promise<HistoryConsumers> {
    return this.inner.consumers(query);
  }

  /**
   * Merges the sealed blocks of [from, to) ahead of any request, as the metrics API asks for them: serve
   * warms its 30-day window, ending where its answers switch to the live tier, with `spanMs` the whole
   * window (the series' rollup tier is planned from it).
   */
  async warm(from: number, to: number, spanMs = to - from): Promise<void> {
    await this.endpoints({ from, to });
    await this.series({ from, to, spanMs });
  }
}
