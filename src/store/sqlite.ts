import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index.js';
import { COLUMNS, decodeRow, dedupe, encodeRows, READ_COLUMNS } from './row.js';
import type { RawRow } from './row.js';
import type { RowQuery, SnapshotRow, SnapshotStore } from './store.js';

/** The embedded default: what `api_metrics_store_url = ` (empty) means. */
export const DEFAULT_SQLITE_PATH = './data/apimeter.db';

/**
 * Snapshots in one SQLite file (WAL journal, so readers do not block the writer). better-sqlite3 is
 * loaded on first use; its calls are synchronous, so a write blocks the event loop for its duration
 * (measured in docs/store.md).
 *
 * @example
 * const store = await openSqliteStore('./data/apimeter.db');
 */
export class SqliteStore implements SnapshotStore {
  readonly kind = 'sqlite';
  private readonly insert: BetterSqlite3.Statement;
  private readonly writeAll: (values: readonly unknown[][]) => void;

  constructor(private readonly db: BetterSqlite3.Database) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    this.migrateSync();
    this.insert = db.prepare(
      `INSERT OR REPLACE INTO api_metric_snapshots (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
    );
    this.writeAll = db.transaction((values: readonly unknown[][]) => {
      for (const v of values) this.insert.run(v);
    });
  }

  private migrateSync(): number {
    const applied = new Set(
      (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
    );
    const record = this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      this.db.transaction(() => {
        for (const sql of m.sqlite) this.db.exec(sql);
        record.run(m.version, m.name, new Date().toISOString());
      })();
    }
    return this.version();
  }

  private version(): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    return row.v ?? 0;
  }

  async migrate(): Promise<number> {
    return this.migrateSync();
  }

  async writeSnapshot(rows: readonly SnapshotRow[]): Promise<void> {
    // Encoding yields between chunks; the transaction itself is synchronous (better-sqlite3).
    this.writeAll(await encodeRows(dedupe(rows)));
  }

  async readRows(q: RowQuery): Promise<SnapshotRow[]> {
    const where = ['bucket_start >= ?', 'bucket_start < ?'];
    const params: (string | number)[] = [q.from, q.to];
    const add = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      params.push(value);
    };
    add('instance', q.instance);
    add('endpoint', q.route);
    add('method', q.method);
    const raw = this.db
      .prepare(`SELECT ${READ_COLUMNS} FROM api_metric_snapshots WHERE ${where.join(' AND ')} ORDER BY bucket_start`)
      .all(...params) as RawRow[];
    return raw.map(decodeRow);
  }

  async newestBucketEnd(instance?: string): Promise<number> {
    const sql = 'SELECT MAX(bucket_start + bucket_seconds * 1000) AS e FROM api_metric_snapshots';
    const row = (
      instance === undefined ? this.db.prepare(sql).get() : this.db.prepare(sql + ' WHERE instance = ?').get(instance)
    ) as { e: number | null };
    return row.e ?? 0;
  }

  async deleteBefore(cutoff: number, options: { dryRun?: boolean } = {}): Promise<number> {
    if (options.dryRun === true) {
      const row = this.db
        .prepare('SELECT COUNT(*) AS n FROM api_metric_snapshots WHERE bucket_start < ?')
        .get(cutoff) as {
        n: number;
      };
      return row.n;
    }
    return this.db.prepare('DELETE FROM api_metric_snapshots WHERE bucket_start < ?').run(cutoff).changes;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** Opens (creating the file and its directory) and migrates a SQLite store. */
export async function openSqliteStore(path: string = DEFAULT_SQLITE_PATH): Promise<SqliteStore> {
  const { default: Database } = await import('better-sqlite3');
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  return new SqliteStore(new Database(path));
}
