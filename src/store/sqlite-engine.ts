import type BetterSqlite3 from 'better-sqlite3';
import type { TallyJSON } from '../core/tally.js';
import { MIGRATIONS } from './migrations/index.js';
import { RAW_TABLE, ROLLUP_TABLE } from './retention.js';
import type { RetentionCount } from './retention.js';
import { ROLLUP_TIERS, rollUp, RowMerger } from './rollup.js';
import type { MergeQuery, Watermarks } from './rollup.js';
import { COLUMNS, decodeRow, encodeRow, encodeWireRow, READ_COLUMNS } from './row.js';
import type { RawRow, WireRow } from './row.js';
import type { RowQuery, SnapshotRow } from './store.js';

/** A merged row as it crosses back to the main thread (one JSON string each). */
export interface WireMergedRow {
  method: string;
  route: string;
  bucketStart: number;
  tally: TallyJSON;
}

const TABLES: readonly string[] = [RAW_TABLE, ROLLUP_TABLE];

/** What a merge reads of each row, in this order. */
const MERGE_COLUMNS = 'method, endpoint, bucket_start, tally';

/**
 * The SQLite store's synchronous work, on one better-sqlite3 connection. It runs in the store's worker
 * thread (src/store/sqlite-worker.ts), so none of it blocks the application's event loop.
 */
export class SqliteEngine {
  private readonly insertRaw: BetterSqlite3.Statement;
  private readonly insertRollup: BetterSqlite3.Statement;
  private readonly lowerMarks: BetterSqlite3.Statement;
  private readonly getMarks: BetterSqlite3.Statement;

  constructor(private readonly db: BetterSqlite3.Database) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Another process (apimeter cleanup, a second instance) may hold the write lock for a moment.
    db.pragma('busy_timeout = 10000');
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    this.migrate();
    const insert = (table: string) =>
      db.prepare(
        `INSERT OR REPLACE INTO ${table} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
      );
    this.insertRaw = insert(RAW_TABLE);
    this.insertRollup = insert(ROLLUP_TABLE);
    // A snapshot written into a rolled-up period makes that period (and everything after it) pending
    // again: the watermark drops to the start of the period holding the row.
    this.lowerMarks = db.prepare(
      `UPDATE api_metric_rollup_state
       SET done_until = (CAST(? AS INTEGER) / (bucket_seconds * 1000)) * (bucket_seconds * 1000)
       WHERE done_until > CAST(? AS INTEGER)`,
    );
    this.getMarks = db.prepare('SELECT bucket_seconds, done_until FROM api_metric_rollup_state');
  }

  migrate(): number {
    const applied = new Set(
      (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
    );
    const record = this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      this.db
        .transaction(() => {
          // Another process may have migrated between the check and the write lock.
          if (this.db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version)) return;
          for (const sql of m.sqlite) this.db.exec(sql.replaceAll('{schema}', ''));
          record.run(m.version, m.name, new Date().toISOString());
        })
        .immediate();
    }
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    return row.v ?? 0;
  }

  /** One transaction: every row (JSON chunks of WireRow arrays) upserted, the rollup watermarks lowered below the oldest. */
  write(chunks: readonly string[]): void {
    const rows = chunks.flatMap((c) => JSON.parse(c) as WireRow[]);
    if (rows.length === 0) return;
    const values = rows.map(encodeWireRow);
    let oldest = Infinity;
    for (const r of rows) oldest = Math.min(oldest, r.bucketStart);
    this.db
      .transaction(() => {
        for (const v of values) this.insertRaw.run(v);
        this.lowerMarks.run(oldest, oldest);
      })
      .immediate();
  }

  private select(q: RowQuery, columns = READ_COLUMNS): BetterSqlite3.Statement {
    const where = ['bucket_start >= ?', 'bucket_start < ?'];
    if (q.rollup !== undefined) where.push('bucket_seconds = ?');
    if (q.instance !== undefined) where.push('instance = ?');
    if (q.route !== undefined) where.push('endpoint = ?');
    if (q.method !== undefined) where.push('method = ?');
    const table = q.rollup === undefined ? RAW_TABLE : ROLLUP_TABLE;
    return this.db.prepare(`SELECT ${columns} FROM ${table} WHERE ${where.join(' AND ')} ORDER BY bucket_start`);
  }

  private params(q: RowQuery): (string | number)[] {
    const params: (string | number)[] = [q.from, q.to];
    for (const v of [q.rollup, q.instance, q.route, q.method]) if (v !== undefined) params.push(v);
    return params;
  }

  readRows(q: RowQuery): RawRow[] {
    return this.select(q).all(...this.params(q)) as RawRow[];
  }

  private *iterate(q: RowQuery): Iterable<SnapshotRow> {
    for (const raw of this.select(q).iterate(...this.params(q))) yield decodeRow(raw as RawRow);
  }

  /**
   * Merged rows, each a JSON string of a {@link WireMergedRow} (strings cross threads cheaply). Rows
   * are read as arrays of the four columns the merge needs, and each stored tally is parsed and added
   * into its group's tally (`Tally.mergeJSON`) without building a tally per row: a 30-day SLO reads
   * about 100 rows per endpoint.
   */
  mergeRows(q: MergeQuery): string[] {
    // One read transaction: every range sees the same state (a concurrent rollup cannot slip between).
    return this.db.transaction(() => {
      const merger = new RowMerger(q);
      for (const range of q.ranges) {
        const rq = { ...q, ...range };
        const rows = this.select(rq, MERGE_COLUMNS)
          .raw(true)
          .iterate(...this.params(rq));
        for (const [method, route, start, tally] of rows as Iterable<[string, string, number, string]>) {
          merger.addJSON(method, route, Number(start), JSON.parse(tally) as TallyJSON);
        }
      }
      return merger
        .rows()
        .map((r) =>
          JSON.stringify({ method: r.method, route: r.route, bucketStart: r.bucketStart, tally: r.tally.toJSON() }),
        );
    })();
  }

  newestBucketEnd(instance?: string): number {
    const sql = `SELECT MAX(bucket_start + bucket_seconds * 1000) AS e FROM ${RAW_TABLE}`;
    const row = (
      instance === undefined ? this.db.prepare(sql).get() : this.db.prepare(sql + ' WHERE instance = ?').get(instance)
    ) as { e: number | null };
    return row.e ?? 0;
  }

  watermarks(): Watermarks {
    const marks: Watermarks = {};
    for (const r of this.getMarks.all() as { bucket_seconds: number; done_until: number }[]) {
      marks[r.bucket_seconds] = r.done_until;
    }
    return marks;
  }

  firstSource(source: number, from: number, to: number): number | null {
    const row = (
      source === 0
        ? this.db
            .prepare(`SELECT MIN(bucket_start) AS s FROM ${RAW_TABLE} WHERE bucket_start >= ? AND bucket_start < ?`)
            .get(from, to)
        : this.db
            .prepare(
              `SELECT MIN(bucket_start) AS s FROM ${ROLLUP_TABLE} WHERE bucket_seconds = ? AND bucket_start >= ? AND bucket_start < ?`,
            )
            .get(source, from, to)
    ) as { s: number | null };
    return row.s;
  }

  /** See RollupBackend.step: one IMMEDIATE transaction, so no snapshot lands between read and write. */
  step(seconds: number, expect: number, period: number | null, next: number): number | null {
    const tier = ROLLUP_TIERS.find((t) => t.seconds === seconds);
    if (tier === undefined) throw new RangeError(`no rollup tier of ${seconds} s`);
    return this.db
      .transaction(() => {
        if (this.watermarks()[seconds] !== expect) return null;
        this.db
          .prepare(`DELETE FROM ${ROLLUP_TABLE} WHERE bucket_seconds = ? AND bucket_start >= ? AND bucket_start < ?`)
          .run(seconds, expect, next);
        let written = 0;
        if (period !== null) {
          const to = period + seconds * 1000;
          const source = this.iterate(
            tier.source === 0 ? { from: period, to } : { from: period, to, rollup: tier.source },
          );
          for (const row of rollUp(source, period, seconds)) {
            this.insertRollup.run(encodeRow(row));
            written++;
          }
        }
        this.db
          .prepare('UPDATE api_metric_rollup_state SET done_until = ? WHERE bucket_seconds = ?')
          .run(next, seconds);
        return written;
      })
      .immediate();
  }

  count(cutoff: number): RetentionCount[] {
    const out: RetentionCount[] = [];
    for (const table of TABLES) {
      const rows = this.db
        .prepare(
          `SELECT bucket_seconds, COUNT(*) AS n FROM ${table} WHERE bucket_start < ? GROUP BY bucket_seconds ORDER BY bucket_seconds`,
        )
        .all(cutoff) as { bucket_seconds: number; n: number }[];
      for (const r of rows) out.push({ table, bucketSeconds: r.bucket_seconds, rows: r.n });
    }
    return out;
  }

  deleteChunk(table: string, bucketSeconds: number, cutoff: number, limit: number): number {
    if (!TABLES.includes(table)) throw new RangeError(`unknown table ${table}`);
    return this.db
      .prepare(
        `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE bucket_start < ? AND bucket_seconds = ? LIMIT ?)`,
      )
      .run(cutoff, bucketSeconds, limit).changes;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
