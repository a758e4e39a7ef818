import { Tally } from '../core/tally.js';
import { SCHEMA_VERSION } from './migrations/index.js';
import { mergeRowsOf, ROLLUP_TIERS, rollUp, runRollups } from './rollup.js';
import type { MergeQuery, MergedRow, RollupOptions, RollupReport, Watermarks } from './rollup.js';
import { applyRetention, CONSUMER_TABLE, RAW_TABLE, ROLLUP_TABLE } from './retention.js';
import { consumerKey, sumConsumerRows } from './consumer-rows.js';
import type { ConsumerQuery, ConsumerRow } from './consumer-rows.js';
import type { RetentionCount, RetentionOptions } from './retention.js';

/**
 * One endpoint's data over one bucket of one instance: the unit a store keeps. Rows are keyed by
 * (instance, method, route, bucketStart, bucketSeconds); writing a key again replaces the row, so a
 * retried batch never counts twice.
 */
export interface SnapshotRow {
  instance: string;
  method: string;
  route: string;
  /** ms since the epoch, a multiple of `bucketSeconds * 1000`. */
  bucketStart: number;
  bucketSeconds: number;
  tally: Tally;
}

export interface WriteOptions {
  /** Aborting gives the write up: the store releases what it holds (a PostgreSQL connection is destroyed). */
  signal?: AbortSignal;
  /** Per-consumer rows of the same intervals (src/store/consumer-rows.ts), written in the same transaction. */
  consumers?: readonly ConsumerRow[];
}

/** How a store that connects in the background is doing (see `startPersistence`). */
export interface StoreStatus {
  state: 'connecting' | 'connected' | 'closed';
  /** Connection attempts that failed (since the last success). */
  attempts: number;
  lastError?: string;
  /** ms since the epoch. */
  lastErrorAt?: number;
}

export interface RowQuery {
  /** Half-open [from, to) on bucket starts, ms since the epoch. */
  from: number;
  to: number;
  /** Only this instance; all instances (the cluster) when absent. */
  instance?: string;
  route?: string;
  method?: string;
  /** Read the rollup rows of this bucket length (3600 or 86400 s) instead of the raw snapshot rows. */
  rollup?: number;
}

/**
 * Where snapshots persist. SQLite and PostgreSQL implement it (src/store/sqlite.ts, postgres.ts);
 * {@link MemoryStore} is the test double. All methods may reject; callers (the snapshot task, the
 * history source, `apimeter cleanup`) catch.
 *
 * Besides the raw snapshot rows a store keeps rollups (hourly rows merged from the raw ones, daily rows
 * merged from the hourly ones) and a watermark per rollup tier: every rollup bucket ending at or before
 * its watermark equals the merge of its source rows. A snapshot written into an already rolled-up
 * period lowers the watermarks in the same transaction, so readers never see a stale rollup.
 */
export interface SnapshotStore {
  /** `sqlite`, `postgres`, `memory`: used in health names (`store:sqlite`) and messages. */
  readonly kind: string;
  /** Applies pending migrations; resolves the schema version now in effect. */
  migrate(): Promise<number>;
  /** Writes every row in one transaction; rows whose key exists replace the stored one. */
  writeSnapshot(rows: readonly SnapshotRow[], options?: WriteOptions): Promise<void>;
  /** Raw rows (or, with `rollup`, rollup rows) whose bucket starts in [from, to), oldest first. */
  readRows(query: RowQuery): Promise<SnapshotRow[]>;
  /** The rows of several ranges (each raw or from one rollup tier) merged per endpoint or per bucket. */
  mergeRows(query: MergeQuery): Promise<MergedRow[]>;
  /** End (ms) of the newest bucket stored, for `instance` or any; 0 when empty. */
  newestBucketEnd(instance?: string): Promise<number>;
  /** How far each rollup tier is complete (ms since the epoch, 0 when never rolled up). */
  rollupWatermarks(): Promise<Watermarks>;
  /** Rolls up every hour and day ending at or before `until` (ms); idempotent. */
  rollup(until: number, options?: RollupOptions): Promise<RollupReport>;
  /**
   * Rows of every table with a bucket starting before `cutoff` (ms): deleted in chunks, or only counted
   * when `dryRun`. Resolves the rows per table and bucket length.
   */
  deleteBefore(cutoff: number, options?: RetentionOptions): Promise<RetentionCount[]>;
  /** Per-consumer rows (`api_metric_consumers`) whose bucket starts in [from, to), oldest first. */
  readConsumers(query: ConsumerQuery): Promise<ConsumerRow[]>;
  /** The alert evaluator's saved state under `key` (src/alerts/state-store.ts), or null when none. */
  readAlertState(key: string): Promise<string | null>;
  /** Replaces the alert state saved under `key`; `savedAt` is ms since the epoch. */
  writeAlertState(key: string, state: string, savedAt: number): Promise<void>;
  close(): Promise<void>;
  /** The connection's state, for stores that connect in the background; absent: connected once open. */
  status?(): StoreStatus;
}

function keyOf(r: SnapshotRow): string {
  return `${r.instance}\u0000${r.method}\u0000${r.route}\u0000${r.bucketStart}\u0000${r.bucketSeconds}`;
}

const copyConsumer = (r: ConsumerRow): ConsumerRow => ({ ...r, latency: r.latency?.clone() ?? null });

const copy = (r: SnapshotRow): SnapshotRow => ({ ...r, tally: new Tally().merge(r.tally) });

/** The rows a rollup tier is merged from: raw rows (source 0) or another tier's rollup rows. */
function* rollupSourceRows(
  raw: Map<string, SnapshotRow>,
  rollups: Map<string, SnapshotRow>,
  source: number,
): Iterable<SnapshotRow> {
  if (source === 0) yield* raw.values();
  else for (const r of rollups.values()) if (r.bucketSeconds === source) yield r;
}

/** An in-memory {@link SnapshotStore}: the test double and the reference for the others' answers. */
export class MemoryStore implements SnapshotStore {
  readonly kind = 'memory';
  private readonly raw = new Map<string, SnapshotRow>();
  private readonly rollups = new Map<string, SnapshotRow>();
  private readonly watermarks: Watermarks = Object.fromEntries(ROLLUP_TIERS.map((t) => [t.seconds, 0]));
  /** Set to an Error to make every call reject with it (fault tests). */
  failWith: Error | null = null;

  private check(): void {
    if (this.failWith !== null) throw this.failWith;
  }

  async migrate(): Promise<number> {
    this.check();
    return SCHEMA_VERSION;
  }

  private readonly consumerRows = new Map<string, ConsumerRow>();

  async writeSnapshot(rows: readonly SnapshotRow[], options: WriteOptions = {}): Promise<void> {
    this.check();
    for (const r of options.consumers ?? []) this.consumerRows.set(consumerKey(r), copyConsumer(r));
    // Copies in and out, like a database: callers may merge into what they read.
    for (const r of rows) this.raw.set(keyOf(r), copy(r));
    let oldest = Infinity;
    for (const r of rows) oldest = Math.min(oldest, r.bucketStart);
    if (rows.length > 0) this.lower(oldest);
  }

  private lower(start: number): void {
    for (const t of ROLLUP_TIERS) {
      const len = t.seconds * 1000;
      if (this.watermarks[t.seconds] > start) this.watermarks[t.seconds] = Math.floor(start / len) * len;
    }
  }

  private select(q: RowQuery): SnapshotRow[] {
    const table = q.rollup === undefined ? this.raw : this.rollups;
    return [...table.values()]
      .filter(
        (r) =>
          r.bucketStart >= q.from &&
          r.bucketStart < q.to &&
          (q.rollup === undefined || r.bucketSeconds === q.rollup) &&
          (q.instance === undefined || r.instance === q.instance) &&
          (q.route === undefined || r.route === q.route) &&
          (q.method === undefined || r.method === q.method),
      )
      .sort((a, b) => a.bucketStart - b.bucketStart);
  }

  async readRows(q: RowQuery): Promise<SnapshotRow[]> {
    this.check();
    return this.select(q).map(copy);
  }

  async mergeRows(q: MergeQuery): Promise<MergedRow[]> {
    this.check();
    return mergeRowsOf(q, (range) => this.select({ ...q, ...range }));
  }

  async newestBucketEnd(instance?: string): Promise<number> {
    this.check();
    let end = 0;
    for (const r of this.raw.values()) {
      if (instance === undefined || r.instance === instance)
        end = Math.max(end, r.bucketStart + r.bucketSeconds * 1000);
    }
    return end;
  }

  async rollupWatermarks(): Promise<Watermarks> {
    this.check();
    return { ...this.watermarks };
  }

  async rollup(until: number, options: RollupOptions = {}): Promise<RollupReport> {
    this.check();
    return runRollups(
      {
        watermarks: async () => ({ ...this.watermarks }),
        firstSource: async (source, from, to) => {
          let first: number | null = null;
          for (const r of rollupSourceRows(this.raw, this.rollups, source)) {
            if (r.bucketStart >= from && r.bucketStart < to && (first === null || r.bucketStart < first))
              first = r.bucketStart;
          }
          return first;
        },
        step: async (tier, expect, period, next) => {
          if (this.watermarks[tier.seconds] !== expect) return null;
          for (const [k, r] of this.rollups) {
            if (r.bucketSeconds === tier.seconds && r.bucketStart >= expect && r.bucketStart < next)
              this.rollups.delete(k);
          }
          let written = 0;
          if (period !== null) {
            const end = period + tier.seconds * 1000;
            const source = [...rollupSourceRows(this.raw, this.rollups, tier.source)].filter(
              (r) => r.bucketStart >= period && r.bucketStart < end,
            );
            const merged = rollUp(source, period, tier.seconds);
            for (const r of merged) this.rollups.set(keyOf(r), r);
            written = merged.length;
          }
          this.watermarks[tier.seconds] = next;
          return written;
        },
      },
      until,
      options,
    );
  }

  async deleteBefore(cutoff: number, options: RetentionOptions = {}): Promise<RetentionCount[]> {
    this.check();
    const tables: [string, Map<string, { bucketStart: number; bucketSeconds: number }>][] = [
      [RAW_TABLE, this.raw],
      [ROLLUP_TABLE, this.rollups],
      [CONSUMER_TABLE, this.consumerRows],
    ];
    return applyRetention(
      {
        count: async () => {
          const counts = new Map<string, RetentionCount>();
          for (const [table, rows] of tables) {
            for (const r of rows.values()) {
              if (r.bucketStart >= cutoff) continue;
              const key = `${table} ${r.bucketSeconds}`;
              const c = counts.get(key);
              if (c === undefined) counts.set(key, { table, bucketSeconds: r.bucketSeconds, rows: 1 });
              else c.rows++;
            }
          }
          return [...counts.values()];
        },
        deleteChunk: async (table, bucketSeconds, limit) => {
          const rows = tables.find(([t]) => t === table)?.[1] ?? new Map();
          let n = 0;
          for (const [k, r] of rows) {
            if (n === limit) break;
            if (r.bucketStart < cutoff && r.bucketSeconds === bucketSeconds) {
              rows.delete(k);
              n++;
            }
          }
          return n;
        },
      },
      options,
    );
  }

  async readConsumers(q: ConsumerQuery): Promise<ConsumerRow[]> {
    this.check();
    const rows = [...this.consumerRows.values()]
      .filter(
        (r) =>
          r.bucketStart >= q.from &&
          r.bucketStart < q.to &&
          (q.instance === undefined || r.instance === q.instance) &&
          (q.consumer === undefined || r.consumer === q.consumer),
      )
      .sort((a, b) => a.bucketStart - b.bucketStart);
    return q.merged === true ? sumConsumerRows(rows, q.instance ?? '') : rows.map(copyConsumer);
  }

  private readonly alertState = new Map<string, string>();

  async readAlertState(key: string): Promise<string | null> {
    this.check();
    return this.alertState.get(key) ?? null;
  }

  async writeAlertState(key: string, state: string, _savedAt?: number): Promise<void> {
    this.check();
    this.alertState.set(key, state);
  }

  async close(): Promise<void> {}
}
