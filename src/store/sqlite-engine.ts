import type BetterSqlite3 from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index.js';
import { CONSUMER_TABLE, RAW_TABLE, ROLLUP_TABLE } from './retention.js';
import { CONSUMER_COLUMNS } from './consumer-rows.js';
import { CONSUMER_LATENCY_SKETCH } from '../core/consumers/tracker.js';
import { Sketch } from '../core/sketch.js';
import type { SketchJSON } from '../core/sketch.js';
import type { ConsumerQuery, ConsumerValue, RawConsumerRow } from './consumer-rows.js';
import type { RetentionCount } from './retention.js';
import { ROLLUP_TIERS, rollUp } from './rollup.js';
import type { MergeQuery, Watermarks } from './rollup.js';
import { COLUMNS, decodeRow, encodeRow, encodeWireRow, packedFrozen, READ_COLUMNS } from './row.js';
import { Tally } from '../core/tally.js';
import type { TallyJSON } from '../core/tally.js';
import type { RawRow, WireRow } from './row.js';
import type { RowQuery, SnapshotRow } from './store.js';

/**
 * Merged rows as they cross back to the main thread: four strings per row (method, route, bucket start,
 * the merged tally frozen as pack.ts writes it). Strings are copied between threads as bytes, where
 * cloning objects or parsing JSON would cost the main thread.
 */
export type WireMergedRows = string[];

const TABLES: readonly string[] = [RAW_TABLE, ROLLUP_TABLE, CONSUMER_TABLE];

/** What a merge reads of each row, in this order. */
const MERGE_COLUMNS =
  'method, endpoint, bucket_start, tally_packed AS p, CASE WHEN tally_packed IS NULL THEN tally END AS j';

/**
 * The SQLite store's synchronous work, on one better-sqlite3 connection. It runs in the store's worker
 * thread (src/store/sqlite-worker.ts), so none of it blocks the application's event loop.
 */
export class SqliteEngine {
  private readonly insertRaw: BetterSqlite3.Statement;
  private readonly insertRollup: BetterSqlite3.Statement;
  private readonly insertConsumer: BetterSqlite3.Statement;
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
    this.insertConsumer = db.prepare(
      `INSERT OR REPLACE INTO ${CONSUMER_TABLE} (${CONSUMER_COLUMNS.join(', ')}) VALUES (${CONSUMER_COLUMNS.map(() => '?').join(', ')})`,
    );
    // A snapshot written into a rolled-up period makes that period (and everything after it) pending
    // again: the watermark drops to the start of the period holding the row.
    this.lowerMarks = db.prepare(
      `UPDATE api_metric_rollup_state
       SET done_until = (CAST(? AS INTEGER) / (bucket_seconds * 1000)) * (bucket_seconds * 1000)
       WHERE done_until > CAST(? AS INTEGER)`,
    );
    this.getMarks = db.prepare('SELECT bucket_seconds, done_until FROM api_metric_rollup_state');
    // apimeter_merge(tally_packed, tally): the merge of a group's stored tallies, frozen (pack.ts). Each
    // row is added from its binary tally, or from its JSON when it has none (rows before schema 3).
    const step = (t: Tally, packed: Buffer | null, json: string | null): void => {
      if (packed !== null) t.mergeFrozen(packedFrozen(packed));
      else if (json !== null) t.mergeJSON(JSON.parse(json) as TallyJSON);
      else throw new TypeError('a stored row has neither tally_packed nor tally');
    };
    db.aggregate('apimeter_merge', {
      start: () => new Tally(),
      // better-sqlite3's types declare one argument after the accumulator; SQLite passes both.
      step: step as unknown as (t: Tally, next: Tally) => void,
      result: (t: Tally) => t.freeze(0),
    });
    // apimeter_merge_sketch(latency): the merge of a group's consumer latency sketches (JSON, NULLs
    // skipped), as JSON; NULL when the group holds none (per-endpoint rows, `other`).
    db.aggregate('apimeter_merge_sketch', {
      start: () => null,
      step: ((acc: Sketch | null, json: string | null): Sketch | null => {
        if (json === null) return acc;
        return (acc ?? new Sketch(CONSUMER_LATENCY_SKETCH)).mergeJSON(JSON.parse(json) as SketchJSON);
      }) as unknown as (acc: Sketch | null, next: Sketch | null) => Sketch | null,
      result: (acc: Sketch | null) => (acc === null ? null : JSON.stringify(acc.toJSON())),
    });
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

  /**
   * One transaction: every row (JSON chunks of WireRow arrays) upserted, the rollup watermarks lowered
   * below the oldest, and the per-consumer rows of the same intervals (encodeConsumerRow's values) upserted.
   */
  write(chunks: readonly string[], consumers: readonly ConsumerValue[][] = []): void {
    const rows = chunks.flatMap((c) => JSON.parse(c) as WireRow[]);
    if (rows.length === 0 && consumers.length === 0) return;
    const values = rows.map(encodeWireRow);
    let oldest = Infinity;
    for (const r of rows) oldest = Math.min(oldest, r.bucketStart);
    this.db
      .transaction(() => {
        for (const v of values) this.insertRaw.run(v);
        if (rows.length > 0) this.lowerMarks.run(oldest, oldest);
        for (const v of consumers) this.insertConsumer.run(v);
      })
      .immediate();
  }

  readConsumers(q: ConsumerQuery): RawConsumerRow[] {
    const where = ['bucket_start >= ?', 'bucket_start < ?'];
    const params: (string | number)[] = [q.from, q.to];
    if (q.instance !== undefined) {
      where.push('instance = ?');
      params.push(q.instance);
    }
    if (q.consumer !== undefined) {
      where.push('consumer = ?');
      params.push(q.consumer);
    }
    const sql =
      q.merged === true
        ? // One row per key over the range, summed here: sketches by apimeter_merge_sketch (JSON in, JSON out).
          `SELECT ${q.instance === undefined ? "''" : 'MIN(instance)'} AS instance, MIN(bucket_start) AS bucket_start,
             MAX(bucket_seconds) AS bucket_seconds, consumer, method, endpoint, SUM(requests) AS requests,
             SUM(errors) AS errors, SUM(errors_5xx) AS errors_5xx, apimeter_merge_sketch(latency) AS latency
           FROM ${CONSUMER_TABLE} WHERE ${where.join(' AND ')} GROUP BY consumer, method, endpoint`
        : `SELECT ${CONSUMER_COLUMNS.join(', ')} FROM ${CONSUMER_TABLE} WHERE ${where.join(' AND ')} ORDER BY bucket_start`;
    return this.db.prepare(sql).all(...params) as RawConsumerRow[];
  }

  private select(q: RowQuery, columns = READ_COLUMNS): BetterSqlite3.Statement {
    return this.db.prepare(`${this.selectSql(q, columns)} ORDER BY bucket_start`);
  }

  private selectSql(q: RowQuery, columns: string): string {
    const where = ['bucket_start >= ?', 'bucket_start < ?'];
    if (q.rollup !== undefined) where.push('bucket_seconds = ?');
    if (q.instance !== undefined) where.push('instance = ?');
    if (q.route !== undefined) where.push('endpoint = ?');
    if (q.method !== undefined) where.push('method = ?');
    const table = q.rollup === undefined ? RAW_TABLE : ROLLUP_TABLE;
    return `SELECT ${columns} FROM ${table} WHERE ${where.join(' AND ')}`;
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
   * Merged rows as {@link WireMergedRows}, merged by SQLite itself: one query over every range (UNION
   * ALL), grouped by endpoint (or bucket), each group's stored tallies added by the `apimeter_merge`
   * aggregate (see the constructor). No row object, key string or tally is built per stored row: the
   * aggregate adds each row's binary tally (`Tally.mergeFrozen`, no parsing), or for rows written before
   * schema 3 its JSON (`Tally.mergeJSON`). A 30-day SLO reads about 100 rows per endpoint.
   */
  mergeRows(q: MergeQuery): WireMergedRows {
    if (q.ranges.length === 0) return [];
    const parts: string[] = [];
    const params: (string | number)[] = [];
    for (const range of q.ranges) {
      const rq = { ...q, ...range };
      parts.push(this.selectSql(rq, MERGE_COLUMNS));
      params.push(...this.params(rq));
    }
    let sql: string;
    if (q.by === 'bucket') {
      const step = q.stepMs ?? 1;
      if (!Number.isSafeInteger(step) || step <= 0) throw new RangeError(`bad merge step ${step}`);
      const bucket = `(bucket_start / ${step}) * ${step}`;
      sql = `SELECT MIN(method), MIN(endpoint), ${bucket}, apimeter_merge(p, j) FROM (${parts.join(' UNION ALL ')}) GROUP BY ${bucket} ORDER BY ${bucket}`;
    } else {
      sql = `SELECT method, endpoint, MIN(bucket_start), apimeter_merge(p, j) FROM (${parts.join(' UNION ALL ')}) GROUP BY method, endpoint`;
    }
    // One read transaction: every range sees the same state (a concurrent rollup cannot slip between).
    return this.db.transaction(() => {
      const out: WireMergedRows = [];
      const rows = this.db
        .prepare(sql)
        .raw(true)
        .iterate(...params) as Iterable<[string, string, number, string]>;
      for (const [method, route, start, frozen] of rows) out.push(method, route, String(start), frozen);
      return out;
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

  readAlertState(key: string): string | null {
    const row = this.db.prepare('SELECT state FROM apimeter_alert_state WHERE state_key = ?').get(key) as
      { state: string } | undefined;
    return row?.state ?? null;
  }

  writeAlertState(key: string, state: string, savedAt: number): void {
    this.db
      .prepare('INSERT OR REPLACE INTO apimeter_alert_state (state_key, saved_at, state) VALUES (?, ?, ?)')
      .run(key, savedAt, state);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
