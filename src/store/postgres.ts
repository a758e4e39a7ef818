import type { Pool, PoolClient } from 'pg';
import { MIGRATIONS } from './migrations/index.js';
import { COLUMNS, decodeRow, dedupe, encodeRows, KEY_COLUMNS, READ_COLUMNS } from './row.js';
import type { RawRow } from './row.js';
import type { RowQuery, SnapshotRow, SnapshotStore } from './store.js';

export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:5432/db`; never logged. */
  url: string;
  /** PostgreSQL schema holding the tables (created if missing); default: the connection's search_path. */
  schema?: string;
  /** Pool size (default 4). */
  max?: number;
}

/** Rows per INSERT statement: 19 columns × 250 rows stays far below PostgreSQL's 65,535 parameters. */
const ROWS_PER_STATEMENT = 250;
/** Serializes migrations of instances starting together (any constant shared by all apimeter processes). */
const MIGRATION_LOCK = 0x61706d74;

const UPDATE = COLUMNS.filter((c) => !(KEY_COLUMNS as readonly string[]).includes(c))
  .map((c) => `${c} = EXCLUDED.${c}`)
  .join(', ');

/**
 * Snapshots in PostgreSQL, so that many instances share one history: each writes its own rows
 * (instance column) and queries merge them. `pg` is loaded on first use.
 *
 * @example
 * const store = await openPostgresStore({ url: 'postgres://postgres@127.0.0.1:5432/metrics' });
 */
export class PostgresStore implements SnapshotStore {
  readonly kind = 'postgres';
  private readonly prefix: string;

  constructor(
    private readonly pool: Pool,
    private readonly schema?: string,
  ) {
    this.prefix = schema === undefined ? '' : `${quoteIdent(schema)}.`;
  }

  private table(name: string): string {
    return this.prefix + name;
  }

  private async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A connection lost while checked out is emitted as 'error' on the client; unheard, it would crash the
    // process. The failing query rejects as well, which is what callers see.
    const ignore = () => undefined;
    client.on('error', ignore);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      // Destroy rather than reuse a client whose transaction failed: its connection may be gone.
      broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.removeListener('error', ignore);
      client.release(broken);
    }
  }

  async migrate(): Promise<number> {
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      if (this.schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`);
      const migrations = this.table('schema_migrations');
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${migrations} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${migrations}`);
      const applied = new Set(rows.map((r) => r.version));
      let version = Math.max(0, ...applied);
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        for (const sql of m.postgres) await client.query(sql.replaceAll('{schema}', this.prefix));
        await client.query(`INSERT INTO ${migrations} (version, name) VALUES ($1, $2)`, [m.version, m.name]);
        version = Math.max(version, m.version);
      }
      return version;
    });
  }

  async writeSnapshot(rows: readonly SnapshotRow[]): Promise<void> {
    const unique = dedupe(rows);
    if (unique.length === 0) return;
    // Encoded before the transaction opens (yielding to the event loop between chunks).
    const encoded = await encodeRows(unique);
    await this.transaction(async (client) => {
      for (let i = 0; i < encoded.length; i += ROWS_PER_STATEMENT) {
        const chunk = encoded.slice(i, i + ROWS_PER_STATEMENT);
        const values: unknown[] = [];
        const tuples = chunk.map((row) => {
          const first = values.length;
          for (const v of row) values.push(v);
          return `(${COLUMNS.map((_, k) => `$${first + k + 1}`).join(', ')})`;
        });
        await client.query(
          `INSERT INTO ${this.table('api_metric_snapshots')} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}
           ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET ${UPDATE}`,
          values,
        );
      }
    });
  }

  async readRows(q: RowQuery): Promise<SnapshotRow[]> {
    const where = ['bucket_start >= $1', 'bucket_start < $2'];
    const params: (string | number)[] = [q.from, q.to];
    const add = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      params.push(value);
      where.push(`${column} = $${params.length}`);
    };
    add('instance', q.instance);
    add('endpoint', q.route);
    add('method', q.method);
    const { rows } = await this.pool.query<RawRow>(
      `SELECT ${READ_COLUMNS} FROM ${this.table('api_metric_snapshots')} WHERE ${where.join(' AND ')} ORDER BY bucket_start`,
      params,
    );
    return rows.map(decodeRow);
  }

  async newestBucketEnd(instance?: string): Promise<number> {
    const sql = `SELECT MAX(bucket_start + bucket_seconds * 1000) AS e FROM ${this.table('api_metric_snapshots')}`;
    const { rows } =
      instance === undefined
        ? await this.pool.query<{ e: string | null }>(sql)
        : await this.pool.query<{ e: string | null }>(sql + ' WHERE instance = $1', [instance]);
    return rows[0]?.e == null ? 0 : Number(rows[0].e);
  }

  async deleteBefore(cutoff: number, options: { dryRun?: boolean } = {}): Promise<number> {
    const table = this.table('api_metric_snapshots');
    if (options.dryRun === true) {
      const { rows } = await this.pool.query<{ n: string }>(
        `SELECT COUNT(*) AS n FROM ${table} WHERE bucket_start < $1`,
        [cutoff],
      );
      return Number(rows[0].n);
    }
    const result = await this.pool.query(`DELETE FROM ${table} WHERE bucket_start < $1`, [cutoff]);
    return result.rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Connects (lazily: the pool opens connections on first query) and migrates a PostgreSQL store. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: options.url, max: options.max ?? 4 });
  // An idle client losing its connection emits 'error' on the pool; without a listener that would crash the process.
  pool.on('error', () => undefined);
  const store = new PostgresStore(pool, options.schema);
  try {
    await store.migrate();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return store;
}
