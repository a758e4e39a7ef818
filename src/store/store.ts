import { Tally } from '../core/tally.js';

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

export interface RowQuery {
  /** Half-open [from, to) on bucket starts, ms since the epoch. */
  from: number;
  to: number;
  /** Only this instance; all instances (the cluster) when absent. */
  instance?: string;
  route?: string;
  method?: string;
}

/**
 * Where snapshots persist. SQLite and PostgreSQL implement it (src/store/sqlite.ts, postgres.ts);
 * {@link MemoryStore} is the test double. All methods may reject; callers (the snapshot task, the
 * history source) catch.
 */
export interface SnapshotStore {
  /** `sqlite`, `postgres`, `memory`: used in health names (`store:sqlite`) and messages. */
  readonly kind: string;
  /** Applies pending migrations; resolves the schema version now in effect. */
  migrate(): Promise<number>;
  /** Writes every row in one transaction; rows whose key exists replace the stored one. */
  writeSnapshot(rows: readonly SnapshotRow[]): Promise<void>;
  /** Rows whose bucket starts in [from, to), oldest first. */
  readRows(query: RowQuery): Promise<SnapshotRow[]>;
  /** End (ms) of the newest bucket stored, for `instance` or any; 0 when empty. */
  newestBucketEnd(instance?: string): Promise<number>;
  /** Rows with a bucket starting before `cutoff` (ms): deleted, or only counted when `dryRun`. */
  deleteBefore(cutoff: number, options?: { dryRun?: boolean }): Promise<number>;
  close(): Promise<void>;
}

function keyOf(r: SnapshotRow): string {
  return `${r.instance}\u0000${r.method}\u0000${r.route}\u0000${r.bucketStart}\u0000${r.bucketSeconds}`;
}

/** An in-memory {@link SnapshotStore}: the test double and the reference for the others' answers. */
export class MemoryStore implements SnapshotStore {
  readonly kind = 'memory';
  private readonly rows = new Map<string, SnapshotRow>();
  /** Set to an Error to make every call reject with it (fault tests). */
  failWith: Error | null = null;

  private check(): void {
    if (this.failWith !== null) throw this.failWith;
  }

  async migrate(): Promise<number> {
    this.check();
    return 1;
  }

  async writeSnapshot(rows: readonly SnapshotRow[]): Promise<void> {
    this.check();
    // Copies in and out, like a database: callers may merge into what they read.
    for (const r of rows) this.rows.set(keyOf(r), { ...r, tally: new Tally().merge(r.tally) });
  }

  async readRows(q: RowQuery): Promise<SnapshotRow[]> {
    this.check();
    return [...this.rows.values()]
      .filter(
        (r) =>
          r.bucketStart >= q.from &&
          r.bucketStart < q.to &&
          (q.instance === undefined || r.instance === q.instance) &&
          (q.route === undefined || r.route === q.route) &&
          (q.method === undefined || r.method === q.method),
      )
      .sort((a, b) => a.bucketStart - b.bucketStart)
      .map((r) => ({ ...r, tally: new Tally().merge(r.tally) }));
  }

  async newestBucketEnd(instance?: string): Promise<number> {
    this.check();
    let end = 0;
    for (const r of this.rows.values()) {
      if (instance === undefined || r.instance === instance)
        end = Math.max(end, r.bucketStart + r.bucketSeconds * 1000);
    }
    return end;
  }

  async deleteBefore(cutoff: number, options: { dryRun?: boolean } = {}): Promise<number> {
    this.check();
    let n = 0;
    for (const [k, r] of this.rows) {
      if (r.bucketStart < cutoff) {
        n++;
        if (options.dryRun !== true) this.rows.delete(k);
      }
    }
    return n;
  }

  async close(): Promise<void> {}
}
