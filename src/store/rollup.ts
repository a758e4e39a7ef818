import { Tally } from '../core/tally.js';
import type { FrozenTally, TallyJSON } from '../core/tally.js';
import { packedFrozen } from './row.js';
import type { SnapshotRow } from './store.js';

/**
 * Rollup tiers, finest first: bucket length (s) and the tier each is merged from (0 = the raw snapshot
 * rows). Raw bucket lengths divide an hour (see `bucketSecondsFor`), so an hour holds whole raw buckets
 * and a day whole hours.
 */
export const ROLLUP_TIERS = [
  { seconds: 3600, source: 0 },
  { seconds: 86_400, source: 3600 },
] as const;

export type RollupTier = (typeof ROLLUP_TIERS)[number];

/** Per rollup tier (bucket seconds): the end (ms) up to which its rows are complete; 0 = never rolled up. */
export type Watermarks = Record<number, number>;

/** A range of bucket starts, [from, to), read from the raw rows or from one rollup tier. */
export interface Range {
  from: number;
  to: number;
  /** Bucket seconds of the rollup tier to read; absent: raw rows. */
  rollup?: number;
}

/**
 * Splits [from, to) into ranges that read the coarsest complete rows covering whole buckets: daily rows
 * for the whole days below the daily watermark, hourly rows for the whole hours around them, raw rows
 * for the edges. The merge of the ranges' rows equals the merge of the raw rows of [from, to).
 * `maxSeconds` leaves out tiers coarser than it (a time series needs points no wider than its step).
 */
export function planRanges(from: number, to: number, watermarks: Watermarks, maxSeconds = Infinity): Range[] {
  const tiers = ROLLUP_TIERS.filter((t) => t.seconds <= maxSeconds).reverse();
  const out: Range[] = [];
  const cover = (a: number, b: number, i: number): void => {
    if (a >= b) return;
    if (i === tiers.length) {
      out.push({ from: a, to: b });
      return;
    }
    const len = tiers[i].seconds * 1000;
    const start = Math.ceil(a / len) * len;
    const end = Math.min(Math.floor(b / len) * len, Math.floor((watermarks[tiers[i].seconds] ?? 0) / len) * len);
    if (start >= end) return cover(a, b, i + 1);
    cover(a, start, i + 1);
    out.push({ from: start, to: end, rollup: tiers[i].seconds });
    cover(end, b, i + 1);
  };
  cover(from, to, 0);
  return out;
}

export interface MergeQuery {
  ranges: readonly Range[];
  instance?: string;
  route?: string;
  method?: string;
  /** `endpoint`: one row per (method, route) over all ranges; `bucket`: one row per bucket (methods merged). */
  by: 'endpoint' | 'bucket';
  /** With `bucket`: rows are grouped by their bucket start floored to this step (ms). */
  stepMs?: number;
}

export interface MergedRow {
  method: string;
  route: string;
  /** `bucket`: the (floored) bucket start; `endpoint`: the first bucket start merged. */
  bucketStart: number;
  tally: Tally;
}

/** Accumulates rows into merged tallies by endpoint or by bucket. */
export class RowMerger {
  private readonly groups = new Map<string | number, MergedRow>();

  constructor(private readonly query: Pick<MergeQuery, 'by' | 'stepMs'>) {}

  add(method: string, route: string, bucketStart: number, tally: Tally): void {
    const step = this.query.stepMs ?? 1;
    const start = this.query.by === 'bucket' ? Math.floor(bucketStart / step) * step : bucketStart;
    const key = this.query.by === 'bucket' ? start : `${method} ${route}`;
    const g = this.groups.get(key);
    // The first tally seen is adopted, not copied: callers hand over freshly decoded tallies.
    if (g === undefined) this.groups.set(key, { method, route, bucketStart: start, tally });
    else g.tally.merge(tally);
  }

  /** {@link add} of a stored row's tally as written by `Tally.toJSON` (decoded once, into its group). */
  addJSON(method: string, route: string, bucketStart: number, json: TallyJSON): void {
    const step = this.query.stepMs ?? 1;
    const start = this.query.by === 'bucket' ? Math.floor(bucketStart / step) * step : bucketStart;
    const key = this.query.by === 'bucket' ? start : `${method} ${route}`;
    const g = this.groups.get(key);
    if (g === undefined) this.groups.set(key, { method, route, bucketStart: start, tally: Tally.fromJSON(json) });
    else g.tally.mergeJSON(json);
  }

  /** {@link add} of a stored row's frozen tally (`packedFrozen` of its binary column), merged without decoding a tally. */
  addFrozen(method: string, route: string, bucketStart: number, frozen: FrozenTally): void {
    const step = this.query.stepMs ?? 1;
    const start = this.query.by === 'bucket' ? Math.floor(bucketStart / step) * step : bucketStart;
    const key = this.query.by === 'bucket' ? start : `${method} ${route}`;
    const g = this.groups.get(key);
    if (g === undefined)
      this.groups.set(key, { method, route, bucketStart: start, tally: new Tally().mergeFrozen(frozen) });
    else g.tally.mergeFrozen(frozen);
  }

  /** A stored row (either column, see `storedTally`) merged into its group by the fastest path it allows. */
  addStored(
    method: string,
    route: string,
    bucketStart: number,
    packed: Uint8Array | null | undefined,
    json: string | TallyJSON | null,
  ): void {
    if (packed != null) this.addFrozen(method, route, bucketStart, packedFrozen(packed));
    else if (json !== null)
      this.addJSON(method, route, bucketStart, typeof json === 'string' ? (JSON.parse(json) as TallyJSON) : json);
    else throw new TypeError('a stored row has neither tally_packed nor tally');
  }

  rows(): MergedRow[] {
    const rows = [...this.groups.values()];
    if (this.query.by === 'bucket') rows.sort((a, b) => a.bucketStart - b.bucketStart);
    return rows;
  }
}

/** {@link SnapshotStore.mergeRows} over a synchronous reader of one range (memory, the SQLite worker). */
export function mergeRowsOf(query: MergeQuery, read: (range: Range) => Iterable<SnapshotRow>): MergedRow[] {
  const merger = new RowMerger(query);
  for (const range of query.ranges) {
    for (const r of read(range)) merger.add(r.method, r.route, r.bucketStart, new Tally().merge(r.tally));
  }
  return merger.rows();
}

/**
 * One rollup bucket from its source rows (all of them, any instance): one row per (instance, method,
 * route) whose tally is the exact merge of that key's source tallies (counters added, sketches merged).
 * Rows are added one at a time, so a store can merge them as they stream in.
 */
export class RollupMerger {
  private readonly byKey = new Map<string, SnapshotRow>();

  constructor(
    private readonly period: number,
    private readonly seconds: number,
  ) {}

  add(r: SnapshotRow): void {
    const key = `${r.instance}\u0000${r.method}\u0000${r.route}`;
    const row = this.byKey.get(key);
    if (row === undefined) {
      this.byKey.set(key, {
        instance: r.instance,
        method: r.method,
        route: r.route,
        bucketStart: this.period,
        bucketSeconds: this.seconds,
        tally: new Tally().merge(r.tally),
      });
    } else row.tally.merge(r.tally);
  }

  rows(): SnapshotRow[] {
    return [...this.byKey.values()];
  }
}

/** {@link RollupMerger} over rows at hand. */
export function rollUp(source: Iterable<SnapshotRow>, period: number, seconds: number): SnapshotRow[] {
  const merger = new RollupMerger(period, seconds);
  for (const r of source) merger.add(r);
  return merger.rows();
}

/** What a store provides to {@link runRollups}. */
export interface RollupBackend {
  watermarks(): Promise<Watermarks>;
  /** Smallest bucket start in [from, to) of the source tier (0 = raw rows), or null when there is none. */
  firstSource(source: number, from: number, to: number): Promise<number | null>;
  /**
   * In one transaction, if the tier's watermark still equals `expect`: deletes the tier's rows in
   * [expect, next), writes the rollup of the source rows of the bucket starting at `period` (none when
   * `period` is null) and sets the watermark to `next`. Resolves the rows written, or null when the
   * watermark had moved (a late snapshot lowered it, or another process rolled up meanwhile).
   */
  step(tier: RollupTier, expect: number, period: number | null, next: number): Promise<number | null>;
}

export interface RollupOptions {
  /** Rollup buckets computed at most in this call (the rest is left for the next); default unlimited. */
  maxPeriods?: number;
  /** Stops between buckets (shutdown); what is done stays done. */
  signal?: AbortSignal;
}

export interface RollupReport {
  /** Per tier (bucket seconds): buckets computed and rows written. */
  tiers: Record<number, { periods: number; rows: number }>;
  /** The watermarks after the call. */
  watermarks: Watermarks;
  /** True when `maxPeriods` stopped the call before every complete bucket was rolled up. */
  pending: boolean;
}

/**
 * Rolls raw rows up into hourly rows and hourly rows into daily rows, for every bucket that ends at or
 * before `until` and is not rolled up yet. Each bucket is one transaction that recomputes it from all of
 * its source rows, so running it twice, concurrently or after a crash never counts anything twice.
 */
export async function runRollups(
  backend: RollupBackend,
  until: number,
  options: RollupOptions = {},
): Promise<RollupReport> {
  const report: RollupReport = {
    tiers: Object.fromEntries(ROLLUP_TIERS.map((t) => [t.seconds, { periods: 0, rows: 0 }])),
    watermarks: {},
    pending: false,
  };
  let budget = options.maxPeriods ?? Infinity;
  // A step refused because the watermark moved is retried; endlessly refused ones mean a broken state table.
  let conflicts = 0;
  const refused = () => {
    if (++conflicts > 1000) throw new Error('rollup: the watermark keeps moving (is api_metric_rollup_state intact?)');
  };
  for (const tier of ROLLUP_TIERS) {
    const len = tier.seconds * 1000;
    for (;;) {
      const marks = await backend.watermarks();
      const mark = marks[tier.seconds] ?? 0;
      let limit = Math.floor(until / len) * len;
      if (tier.source !== 0) limit = Math.min(limit, Math.floor((marks[tier.source] ?? 0) / len) * len);
      if (mark >= limit) break;
      if (budget <= 0 || options.signal?.aborted === true) {
        report.pending = true;
        break;
      }
      budget--;
      const first = await backend.firstSource(tier.source, mark, limit);
      if (first === null) {
        // Nothing to roll up before the limit: move the watermark over the empty buckets.
        if ((await backend.step(tier, mark, null, limit)) !== null) break;
        refused();
        continue;
      }
      const period = Math.floor(first / len) * len;
      const written = await backend.step(tier, mark, period, period + len);
      if (written === null) refused();
      else {
        report.tiers[tier.seconds].periods++;
        report.tiers[tier.seconds].rows += written;
      }
    }
  }
  report.watermarks = await backend.watermarks();
  return report;
}
