import type { Pool, PoolClient } from 'pg';
import { importDriver } from './driver.js';
import { MIGRATIONS } from './migrations/index.js';
import { applyRetention, CONSUMER_TABLE, RAW_TABLE, ROLLUP_TABLE } from './retention.js';
import { CONSUMER_COLUMNS, decodeConsumerRow, dedupeConsumerRows, encodeConsumerRow } from './consumer-rows.js';
import type { ConsumerQuery, ConsumerRow, ConsumerValue, RawConsumerRow } from './consumer-rows.js';
import type { RetentionCount, RetentionOptions } from './retention.js';
import { RollupMerger, RowMerger, runRollups } from './rollup.js';
import type { MergeQuery, MergedRow, RollupOptions, RollupReport, RollupTier, Watermarks } from './rollup.js';
import { COLUMNS, decodeRow, dedupe, encodeRows, KEY_COLUMNS, READ_COLUMNS } from './row.js';
import type { RawRow } from './row.js';
import { timeSlicer } from './slice.js';
import type { RowQuery, SnapshotRow, SnapshotStore, WriteOptions } from './store.js';
import { CONSUMER_LATENCY_SKETCH } from '../core/consumers/tracker.js';
import { Sketch } from '../core/sketch.js';
import { createError } from '../errors.js';

export interface PostgresStoreOptions {
  /** `postgres://user:pass@host:5432/db`; never logged. */
  url: string;
  /** PostgreSQL schema holding the tables (created if missing); default: the connection's search_path. */
  schema?: string;
  /** Pool size (default 4). */
  max?: number;
  /** Opening a connection (TCP, TLS, start-up) taking longer fails (default 10,000 ms). */
  connectTimeoutMs?: number;
  /**
   * A statement running longer is cancelled by the server (`statement_timeout`), and one whose answer has
   * not arrived this long plus 5 s later fails on the client (`query_timeout`, for a server or network that
   * hangs) and its connection is destroyed (default 30,000 ms).
   */
  statementTimeoutMs?: number;
  /** The server ends a session left idle inside a transaction this long (default 60,000 ms). */
  idleInTransactionTimeoutMs?: number;
  /** `application_name` of the connections, as `pg_stat_activity` shows it (default `apimeter`). */
  applicationName?: string;
}

/**
 * Rows per INSERT statement: 19 columns × 100 rows stays far below PostgreSQL's 65,535 parameters, and
 * pg builds each statement's message synchronously, so smaller statements mean shorter event-loop turns.
 */
const ROWS_PER_STATEMENT = 100;
/** Serializes migrations of instances starting together (any constant shared by all apimeter processes). */
const MIGRATION_LOCK = 0x61706d74;
/**
 * Snapshot writes and retention deletes hold it shared, a rollup step exclusively: a snapshot landing in
 * a period being rolled up either commits before the step reads (and is included) or after it (and
 * lowers the watermark it set), never in between.
 */
const ROLLUP_LOCK = 0x61706d75;
const TABLES: readonly string[] = [RAW_TABLE, ROLLUP_TABLE, CONSUMER_TABLE];
/** Rows per FETCH of a history or rollup read (~1 MB of day-long tallies). */
const FETCH_ROWS = 500;
/**
 * The JSON tally (read only for rows without a binary one) as text: pg would parse JSONB inside its
 * socket handler, all rows of a burst in one turn; as text it is parsed by decodeRow, time-sliced.
 */
const PG_READ_COLUMNS = READ_COLUMNS.replace(/\bTHEN tally END\b/, 'THEN tally::text END');

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

const UPDATE = COLUMNS.filter((c) => !(KEY_COLUMNS as readonly string[]).includes(c))
  .map((c) => `${c} = EXCLUDED.${c}`)
  .join(', ');

/**
 * Runs `fn` in a transaction on a client of `pool`. On any failure (or `signal` aborting) the client is
 * destroyed, not reused and not sent a ROLLBACK: its connection may hang or be gone, and the server
 * rolls back a transaction whose connection closes. So a hung database never keeps a pool slot. Used by
 * the snapshot store and the live tier (src/fleet/live-tier.ts).
 */
export async function transaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  begin = 'BEGIN',
  signal?: AbortSignal,
): Promise<T> {
  signal?.throwIfAborted();
  const client = await pool.connect();
  // A connection lost while checked out is emitted as 'error' on the client; unheard, it would crash the
  // process. The failing query rejects as well, which is what callers see.
  const ignore = () => undefined;
  client.on('error', ignore);
  // end() on a client with a query in flight destroys its socket: the query rejects at once.
  const onAbort = () => void client.end().catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  let broken: Error | undefined;
  try {
    signal?.throwIfAborted();
    await client.query(begin);
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw signal?.aborted === true ? (signal.reason as Error) : error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    client.removeListener('error', ignore);
    client.release(broken);
  }
}

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
  private cursors = 0;

  constructor(
    private readonly pool: Pool,
    private readonly schema?: string,
  ) {
    this.prefix = schema === undefined ? '' : `${quoteIdent(schema)}.`;
  }

  private table(name: string): string {
    return this.prefix + name;
  }

  private transaction<T>(fn: (client: PoolClient) => Promise<T>, begin = 'BEGIN', signal?: AbortSignal): Promise<T> {
    return transaction(this.pool, fn, begin, signal);
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

  /**
   * Upserts `rows`, ROWS_PER_STATEMENT per statement, each chunk encoded just before its statement: only
   * one chunk's column values exist at a time, however large the batch (a retried buffer can be 100,000 rows).
   */
  private async insert(client: PoolClient, table: string, rows: readonly SnapshotRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      if (i > 0) await turn();
      const chunk = await encodeRows(rows.slice(i, i + ROWS_PER_STATEMENT));
      const values: unknown[] = [];
      const tuples = chunk.map((row) => {
        const first = values.length;
        for (const v of row) values.push(v);
        return `(${COLUMNS.map((_, k) => `$${first + k + 1}`).join(', ')})`;
      });
      await client.query(
        `INSERT INTO ${this.table(table)} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}
         ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET ${UPDATE}`,
        values,
      );
    }
  }

  async writeSnapshot(rows: readonly SnapshotRow[], options: WriteOptions = {}): Promise<void> {
    const unique = dedupe(rows);
    const consumers = dedupeConsumerRows(options.consumers ?? []);
    if (unique.length === 0 && consumers.length === 0) return;
    let oldest = Infinity;
    for (const r of unique) oldest = Math.min(oldest, r.bucketStart);
    // Encoded once connected, chunk by chunk (insert): a write waiting for a connection holds no copy.
    await this.transaction(
      async (client) => {
        await this.lockRollups(client, true);
        if (unique.length > 0) {
          await this.insert(client, RAW_TABLE, unique);
          // A snapshot in a rolled-up period makes it, and what follows, pending again.
          await client.query(
            `UPDATE ${this.table('api_metric_rollup_state')}
           SET done_until = ($1::bigint / (bucket_seconds * 1000)) * (bucket_seconds * 1000)
           WHERE done_until > $1::bigint`,
            [oldest],
          );
        }
        await this.insertConsumers(client, consumers);
      },
      'BEGIN',
      options.signal,
    );
  }

  /** Upserts per-consumer rows, {@link ROWS_PER_STATEMENT} per statement, yielding between statements. */
  private async insertConsumers(client: PoolClient, rows: readonly ConsumerRow[]): Promise<void> {
    const n = CONSUMER_COLUMNS.length;
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      if (i > 0) await turn();
      const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
      const params: ConsumerValue[] = [];
      const tuples = chunk.map((r, j) => {
        params.push(...encodeConsumerRow(r));
        return `(${CONSUMER_COLUMNS.map((_, c) => `$${j * n + c + 1}`).join(', ')})`;
      });
      await client.query(
        `INSERT INTO ${this.table(CONSUMER_TABLE)} (${CONSUMER_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}
         ON CONFLICT (instance, bucket_start, consumer, method, endpoint) DO UPDATE SET
         bucket_seconds = EXCLUDED.bucket_seconds, requests = EXCLUDED.requests, errors = EXCLUDED.errors,
         errors_5xx = EXCLUDED.errors_5xx, latency = EXCLUDED.latency`,
        params,
      );
    }
  }

  async readConsumers(q: ConsumerQuery): Promise<ConsumerRow[]> {
    const where = ['bucket_start >= $1', 'bucket_start < $2'];
    const params: (string | number)[] = [q.from, q.to];
    if (q.instance !== undefined) {
      params.push(q.instance);
      where.push(`instance = $${params.length}`);
    }
    if (q.consumer !== undefined) {
      params.push(q.consumer);
      where.push(`consumer = $${params.length}`);
    }
    if (q.merged === true) return this.readMergedConsumers(q, where.join(' AND '), params);
    const { rows } = await this.pool.query<RawConsumerRow>(
      `SELECT ${CONSUMER_COLUMNS.join(', ')} FROM ${this.table(CONSUMER_TABLE)} WHERE ${where.join(' AND ')} ORDER BY bucket_start`,
      params,
    );
    const slice = timeSlicer();
    const out: ConsumerRow[] = [];
    for (const r of rows) {
      await slice();
      out.push(decodeConsumerRow(r));
    }
    return out;
  }

  /**
   * A `merged` read, summed by PostgreSQL: counts per (consumer, method, endpoint), and the consumers'
   * latency sketches added bucket by bucket in SQL (each stored JSON sketch's `counts` expanded with its
   * bucket index, summed per consumer and index), so what crosses is at most one row per key and one per
   * occupied bucket per consumer, whatever the number of intervals.
   */
  private async readMergedConsumers(
    q: ConsumerQuery,
    where: string,
    params: (string | number)[],
  ): Promise<ConsumerRow[]> {
    const table = this.table(CONSUMER_TABLE);
    const sketches = `${where} AND latency IS NOT NULL`;
    const [counts, totals, buckets] = await Promise.all([
      this.pool.query<RawConsumerRow>(
        `SELECT MIN(bucket_start) AS bucket_start, MAX(bucket_seconds) AS bucket_seconds, consumer, method, endpoint,
           SUM(requests) AS requests, SUM(errors) AS errors, SUM(errors_5xx) AS errors_5xx
         FROM ${table} WHERE ${where} GROUP BY consumer, method, endpoint`,
        params,
      ),
      this.pool.query<{
        consumer: string;
        lo: number;
        hi: number;
        n: string;
        s: number;
        zero: string;
        mn: number | null;
        mx: number | null;
      }>(
        `SELECT consumer, MIN((j->>'scale')::int) AS lo, MAX((j->>'scale')::int) AS hi,
           SUM((j->>'count')::float8) AS n, SUM((j->>'sum')::float8) AS s, SUM((j->>'zeroCount')::float8) AS zero,
           MIN((j->>'min')::float8) FILTER (WHERE (j->>'count')::float8 > 0) AS mn,
           MAX((j->>'max')::float8) FILTER (WHERE (j->>'count')::float8 > 0) AS mx
         FROM (SELECT consumer, latency::jsonb AS j FROM ${table} WHERE ${sketches}) t GROUP BY consumer`,
        params,
      ),
      this.pool.query<{ consumer: string; idx: number; n: number }>(
        `SELECT consumer, (j->>'offset')::int + (e.ord - 1)::int AS idx, SUM(e.n::float8) AS n
         FROM (SELECT consumer, latency::jsonb AS j FROM ${table} WHERE ${sketches}) t,
           LATERAL jsonb_array_elements_text(j->'counts') WITH ORDINALITY AS e(n, ord)
         WHERE e.n::float8 > 0 GROUP BY consumer, idx`,
        params,
      ),
    ]);
    const latency = new Map<string, Sketch>();
    const layout = CONSUMER_LATENCY_SKETCH;
    for (const t of totals.rows) {
      if (Number(t.lo) !== layout.scale || Number(t.hi) !== layout.scale) {
        throw createError(
          'APIMETER_ERR_SKETCH_LAYOUT',
          `stored consumer sketches of scale ${t.lo}…${t.hi} do not fit a layout of scale ${layout.scale}`,
        );
      }
      const sketch = new Sketch(layout);
      sketch.count = Number(t.n);
      sketch.sum = Number(t.s);
      sketch.zeroCount = Number(t.zero);
      if (t.mn !== null && t.mx !== null) {
        sketch.min = Number(t.mn);
        sketch.max = Number(t.mx);
      }
      latency.set(t.consumer, sketch);
    }
    const slice = timeSlicer();
    for (const b of buckets.rows) {
      await slice();
      latency.get(b.consumer)?.addIndex(Number(b.idx), Number(b.n));
    }
    const instance = q.instance ?? '';
    const out: ConsumerRow[] = [];
    for (const r of counts.rows) {
      await slice();
      const totalsRow = r.method === '' && r.endpoint === '';
      out.push({
        ...decodeConsumerRow({ ...r, instance, latency: null }),
        latency: totalsRow ? (latency.get(r.consumer) ?? null) : null,
      });
    }
    return out;
  }

  /** The rollup lock of this schema (shared by writers, exclusive for a rollup step), until the transaction ends. */
  private async lockRollups(client: PoolClient, shared: boolean): Promise<void> {
    const fn = shared ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
    await client.query(`SELECT ${fn}($1, hashtext($2))`, [ROLLUP_LOCK, this.schema ?? '']);
  }

  private select(q: RowQuery): [string, (string | number)[]] {
    const where = ['bucket_start >= $1', 'bucket_start < $2'];
    const params: (string | number)[] = [q.from, q.to];
    const add = (column: string, value: string | number | undefined) => {
      if (value === undefined) return;
      params.push(value);
      where.push(`${column} = $${params.length}`);
    };
    add('bucket_seconds', q.rollup);
    add('instance', q.instance);
    add('endpoint', q.route);
    add('method', q.method);
    const table = this.table(q.rollup === undefined ? RAW_TABLE : ROLLUP_TABLE);
    return [`SELECT ${PG_READ_COLUMNS} FROM ${table} WHERE ${where.join(' AND ')} ORDER BY bucket_start`, params];
  }

  async readRows(q: RowQuery): Promise<SnapshotRow[]> {
    const [sql, params] = this.select(q);
    const { rows } = await this.pool.query<RawRow>(sql, params);
    return decodeAll(rows);
  }

  /**
   * Runs a SELECT through a server-side cursor, FETCH_ROWS rows at a time, handing each row to `onRow`
   * time-sliced: a 30-day read never holds tens of thousands of rows, and no event-loop turn decodes more
   * than a couple of milliseconds' worth (pg would otherwise parse a whole 2 MB socket burst in one turn).
   * Must run inside a transaction.
   */
  private async cursor(client: PoolClient, sql: string, params: unknown[], onRow: (row: RawRow) => void) {
    const name = `apimeter_cursor_${++this.cursors}`;
    await client.query(`DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`, params);
    const slice = timeSlicer();
    for (;;) {
      const { rows } = await client.query<RawRow>(`FETCH ${FETCH_ROWS} FROM ${name}`);
      for (const row of rows) {
        await slice();
        onRow(row);
      }
      if (rows.length < FETCH_ROWS) break;
    }
    await client.query(`CLOSE ${name}`);
  }

  async mergeRows(q: MergeQuery): Promise<MergedRow[]> {
    // One snapshot for every range: a rollup committing meanwhile cannot make two ranges disagree.
    return this.transaction(async (client) => {
      const merger = new RowMerger(q);
      for (const range of q.ranges) {
        const [sql, params] = this.select({ ...q, ...range });
        // As SQLite's merge: each row's binary tally added into its group (Tally.mergeFrozen), the JSON
        // parsed only for rows written before schema 3; no tally is built per row.
        await this.cursor(client, sql, params, (raw) =>
          merger.addStored(raw.method, raw.endpoint, Number(raw.bucket_start), raw.tally_packed, raw.tally),
        );
      }
      return merger.rows();
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  }

  async newestBucketEnd(instance?: string): Promise<number> {
    const sql = `SELECT MAX(bucket_start + bucket_seconds * 1000) AS e FROM ${this.table(RAW_TABLE)}`;
    const { rows } =
      instance === undefined
        ? await this.pool.query<{ e: string | null }>(sql)
        : await this.pool.query<{ e: string | null }>(sql + ' WHERE instance = $1', [instance]);
    return rows[0]?.e == null ? 0 : Number(rows[0].e);
  }

  private async watermarks(client: Pool | PoolClient, lock = false): Promise<Watermarks> {
    const { rows } = await client.query<{ bucket_seconds: number; done_until: string }>(
      `SELECT bucket_seconds, done_until FROM ${this.table('api_metric_rollup_state')}${lock ? ' FOR UPDATE' : ''}`,
    );
    return Object.fromEntries(rows.map((r) => [r.bucket_seconds, Number(r.done_until)]));
  }

  async rollupWatermarks(): Promise<Watermarks> {
    return this.watermarks(this.pool);
  }

  async rollup(until: number, options: RollupOptions = {}): Promise<RollupReport> {
    return runRollups(
      {
        watermarks: () => this.watermarks(this.pool),
        firstSource: async (source, from, to) => {
          const { rows } =
            source === 0
              ? await this.pool.query<{ s: string | null }>(
                  `SELECT MIN(bucket_start) AS s FROM ${this.table(RAW_TABLE)} WHERE bucket_start >= $1 AND bucket_start < $2`,
                  [from, to],
                )
              : await this.pool.query<{ s: string | null }>(
                  `SELECT MIN(bucket_start) AS s FROM ${this.table(ROLLUP_TABLE)} WHERE bucket_seconds = $1 AND bucket_start >= $2 AND bucket_start < $3`,
                  [source, from, to],
                );
          return rows[0]?.s == null ? null : Number(rows[0].s);
        },
        step: (tier, expect, period, next) => this.step(tier, expect, period, next),
      },
      until,
      options,
    );
  }

  private step(tier: RollupTier, expect: number, period: number | null, next: number): Promise<number | null> {
    return this.transaction(async (client) => {
      await this.lockRollups(client, false);
      if ((await this.watermarks(client, true))[tier.seconds] !== expect) return null;
      await client.query(
        `DELETE FROM ${this.table(ROLLUP_TABLE)} WHERE bucket_seconds = $1 AND bucket_start >= $2 AND bucket_start < $3`,
        [tier.seconds, expect, next],
      );
      let written = 0;
      if (period !== null) {
        const to = period + tier.seconds * 1000;
        const [sql, params] = this.select(
          tier.source === 0 ? { from: period, to } : { from: period, to, rollup: tier.source },
        );
        const merger = new RollupMerger(period, tier.seconds);
        await this.cursor(client, sql, params, (raw) => merger.add(decodeRow(raw)));
        const merged = merger.rows();
        await this.insert(client, ROLLUP_TABLE, merged);
        written = merged.length;
      }
      await client.query(
        `UPDATE ${this.table('api_metric_rollup_state')} SET done_until = $1 WHERE bucket_seconds = $2`,
        [next, tier.seconds],
      );
      return written;
    });
  }

  async deleteBefore(cutoff: number, options: RetentionOptions = {}): Promise<RetentionCount[]> {
    return applyRetention(
      {
        count: async () => {
          const out: RetentionCount[] = [];
          for (const table of TABLES) {
            const { rows } = await this.pool.query<{ bucket_seconds: number; n: string }>(
              `SELECT bucket_seconds, COUNT(*) AS n FROM ${this.table(table)} WHERE bucket_start < $1
               GROUP BY bucket_seconds ORDER BY bucket_seconds`,
              [cutoff],
            );
            for (const r of rows) out.push({ table, bucketSeconds: r.bucket_seconds, rows: Number(r.n) });
          }
          return out;
        },
        deleteChunk: (table, bucketSeconds, limit) => {
          if (!TABLES.includes(table)) throw new RangeError(`unknown table ${table}`);
          const t = this.table(table);
          return this.transaction(async (client) => {
            await this.lockRollups(client, true);
            const result = await client.query(
              `DELETE FROM ${t} WHERE ctid = ANY(ARRAY(
                 SELECT ctid FROM ${t} WHERE bucket_start < $1 AND bucket_seconds = $2 LIMIT $3))`,
              [cutoff, bucketSeconds, limit],
            );
            return result.rowCount ?? 0;
          });
        },
      },
      options,
    );
  }

  async readAlertState(key: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ state: string }>(
      `SELECT state FROM ${this.table('apimeter_alert_state')} WHERE state_key = $1`,
      [key],
    );
    return rows[0]?.state ?? null;
  }

  async writeAlertState(key: string, state: string, savedAt: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.table('apimeter_alert_state')} (state_key, saved_at, state) VALUES ($1, $2, $3)
       ON CONFLICT (state_key) DO UPDATE SET saved_at = EXCLUDED.saved_at, state = EXCLUDED.state`,
      [key, savedAt, state],
    );
  }

  /** Connections open now (checked out or idle), as the pool counts them. */
  get connections(): number {
    return this.pool.totalCount;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Decodes rows (JSON already parsed by pg), yielding to the event loop between chunks. */
async function decodeAll(raw: readonly RawRow[]): Promise<SnapshotRow[]> {
  const slice = timeSlicer();
  const rows: SnapshotRow[] = [];
  for (const r of raw) {
    await slice();
    rows.push(decodeRow(r));
  }
  return rows;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The pool's settings: every wait is bounded by the driver itself (connecting, each statement on the
 * server, each answer on the client, a transaction left idle), and TCP keep-alive notices a peer gone
 * silent on an idle connection.
 */
export function poolConfig(options: PostgresStoreOptions) {
  const statementMs = options.statementTimeoutMs ?? 30_000;
  return {
    connectionString: options.url,
    max: options.max ?? 4,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    statement_timeout: statementMs,
    // The client gives up a little after the server would have: a server that answers reports its own error.
    query_timeout: statementMs + 5000,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
    application_name: options.applicationName ?? 'apimeter',
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/** Connects (lazily: the pool opens connections on first query) and migrates a PostgreSQL store. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { default: pg } = await importDriver('pg', () => import('pg'));
  const pool = new pg.Pool(poolConfig(options));
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
