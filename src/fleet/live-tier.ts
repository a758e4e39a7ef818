import type { Pool, PoolClient } from 'pg';
import { importDriver } from '../store/driver.js';
import { PostgresStore, poolConfig, transaction } from '../store/postgres.js';
import type { PostgresStoreOptions } from '../store/postgres.js';

/**
 * The live tier in PostgreSQL (migration 5, src/store/migrations/index.ts): `api_metric_live` holds one
 * row per (instance, fine slot, endpoint) with the slot's serialized tally, pruned after an hour;
 * `api_metric_instances` one row per instance, rewritten with every batch (its sequence number, how far
 * it is complete, the database's time of the write). A batch is one transaction, so a reader that sees
 * an instance's sequence number `n` sees every row of batches up to `n`.
 */
export const LIVE_TABLE = 'api_metric_live';
export const INSTANCES_TABLE = 'api_metric_instances';
/** Live rows are kept this long (the in-memory ring's hour, plus margin for a late reader). */
export const LIVE_KEEP_MS = 65 * 60_000;

/** One endpoint's fine slot as written to the live tier. */
export interface LiveRow {
  method: string;
  route: string;
  /** ms since the epoch. */
  bucketStart: number;
  bucketMs: number;
  count: number;
  /** `JSON.stringify(tally.toJSON())`. */
  tally: string;
}

/** What an instance says about itself with every batch. */
export interface InstanceHeader {
  instance: string;
  version: string;
  host: string;
  pid: number;
  /** `primary`, `worker 3`, `pm2 2`, `process`. */
  role: string;
  startedAt: number;
  intervalMs: number;
  /** End of the newest slot of this batch or an earlier one: the instance's data before it is written. */
  completeUntil: number;
  /** End of the instance's durable snapshot buckets written (0: none, or no persistence). */
  durableUntil: number;
  /** Set by the final write of a clean shutdown. */
  stoppedAt: number | null;
  /** Live rows dropped so far (buffer bound). */
  dropped: number;
}

/** An instance as the fleet reader sees it. */
export interface InstanceRecord extends InstanceHeader {
  seq: number;
  /** The database's clock at the instance's last write, ms. */
  lastWriteAt: number;
}

const ROWS_PER_STATEMENT = 500;
const DB_NOW = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface LiveTierOptions extends PostgresStoreOptions {
  /** Pool size (default 2: a writer needs one connection, the reader of `serve` two). */
  max?: number;
}

/** A pool on the store's database, with the live tier's statements. */
export class LiveTier {
  private readonly prefix: string;

  constructor(
    readonly pool: Pool,
    readonly schema?: string,
  ) {
    this.prefix = schema === undefined ? '' : `${quoteIdent(schema)}.`;
  }

  table(name: string): string {
    return this.prefix + name;
  }

  /**
   * Writes a batch in one transaction: the instance's row (sequence number + 1) and every live row with
   * that number. Rows whose key exists (a retried batch) are replaced. Resolves the batch's sequence number.
   * A failed or aborted batch's connection is destroyed, never reused (the store's `transaction`).
   */
  writeBatch(header: InstanceHeader, rows: readonly LiveRow[], signal?: AbortSignal): Promise<number> {
    return transaction(
      this.pool,
      async (client) => {
        const seq = await this.upsertInstance(client, header);
        for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
          const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
          const values: unknown[] = [];
          const tuples = chunk.map((r) => {
            const n = values.length;
            values.push(header.instance, r.bucketStart, r.method, r.route, r.bucketMs, seq, r.count, r.tally);
            return `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}, $${n + 7}, $${n + 8})`;
          });
          await client.query(
            `INSERT INTO ${this.table(LIVE_TABLE)} (instance, bucket_start, method, endpoint, bucket_ms, seq, request_count, tally)
             VALUES ${tuples.join(', ')}
             ON CONFLICT (instance, bucket_start, method, endpoint)
             DO UPDATE SET seq = EXCLUDED.seq, bucket_ms = EXCLUDED.bucket_ms, request_count = EXCLUDED.request_count, tally = EXCLUDED.tally`,
            values,
          );
        }
        return seq;
      },
      'BEGIN',
      signal,
    );
  }

  private async upsertInstance(client: PoolClient, h: InstanceHeader): Promise<number> {
    const { rows } = await client.query<{ seq: string }>(
      `INSERT INTO ${this.table(INSTANCES_TABLE)} (instance, version, host, pid, role, started_at, interval_ms, seq,
         last_write_at, complete_until, durable_until, stopped_at, dropped)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 1, ${DB_NOW}, $8, $9, $10, $11)
       ON CONFLICT (instance) DO UPDATE SET version = EXCLUDED.version, host = EXCLUDED.host, pid = EXCLUDED.pid,
         role = EXCLUDED.role, started_at = EXCLUDED.started_at, interval_ms = EXCLUDED.interval_ms,
         seq = ${this.table(INSTANCES_TABLE)}.seq + 1, last_write_at = EXCLUDED.last_write_at,
         complete_until = GREATEST(${this.table(INSTANCES_TABLE)}.complete_until, EXCLUDED.complete_until),
         durable_until = EXCLUDED.durable_until, stopped_at = EXCLUDED.stopped_at, dropped = EXCLUDED.dropped
       RETURNING seq`,
      [
        h.instance,
        h.version,
        h.host,
        h.pid,
        h.role,
        h.startedAt,
        h.intervalMs,
        h.completeUntil,
        h.durableUntil,
        h.stoppedAt,
        h.dropped,
      ],
    );
    return Number(rows[0].seq);
  }

  /** Every instance, and the database's clock now (ms): lags are measured on one clock. */
  async instances(): Promise<{ now: number; instances: InstanceRecord[] }> {
    const { rows } = await this.pool.query<Record<string, string | number | null>>(
      `SELECT *, ${DB_NOW} AS db_now FROM ${this.table(INSTANCES_TABLE)} ORDER BY instance`,
    );
    const now = rows.length > 0 ? Number(rows[0].db_now) : await this.now();
    return {
      now,
      instances: rows.map((r) => ({
        instance: String(r.instance),
        version: String(r.version),
        host: String(r.host),
        pid: Number(r.pid),
        role: String(r.role),
        startedAt: Number(r.started_at),
        intervalMs: Number(r.interval_ms),
        seq: Number(r.seq),
        lastWriteAt: Number(r.last_write_at),
        completeUntil: Number(r.complete_until),
        durableUntil: Number(r.durable_until),
        stoppedAt: r.stopped_at === null ? null : Number(r.stopped_at),
        dropped: Number(r.dropped),
      })),
    };
  }

  async now(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(`SELECT ${DB_NOW} AS n`);
    return Number(rows[0].n);
  }

  /** The live rows of `instance` written by batches `(afterSeq, uptoSeq]`, bucket starts from `from`. */
  async rowsOf(instance: string, afterSeq: number, uptoSeq: number, from: number): Promise<LiveRow[]> {
    const { rows } = await this.pool.query<{
      method: string;
      endpoint: string;
      bucket_start: string;
      bucket_ms: number;
      request_count: string;
      tally: string;
    }>(
      `SELECT method, endpoint, bucket_start, bucket_ms, request_count, tally FROM ${this.table(LIVE_TABLE)}
       WHERE instance = $1 AND seq > $2 AND seq <= $3 AND bucket_start >= $4 ORDER BY bucket_start`,
      [instance, afterSeq, uptoSeq, from],
    );
    return rows.map((r) => ({
      method: r.method,
      route: r.endpoint,
      bucketStart: Number(r.bucket_start),
      bucketMs: r.bucket_ms,
      count: Number(r.request_count),
      tally: r.tally,
    }));
  }

  /** Deletes live rows older than `before` (of one instance, or all); resolves how many. */
  async prune(before: number, instance?: string): Promise<number> {
    const result =
      instance === undefined
        ? await this.pool.query(`DELETE FROM ${this.table(LIVE_TABLE)} WHERE bucket_start < $1`, [before])
        : await this.pool.query(`DELETE FROM ${this.table(LIVE_TABLE)} WHERE instance = $1 AND bucket_start < $2`, [
            instance,
            before,
          ]);
    return result.rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Opens a pool and runs the store's migrations (one transaction under an advisory lock, so instances
 * starting together migrate once). Rejects when PostgreSQL cannot be reached: callers retry.
 */
export async function openLiveTier(options: LiveTierOptions): Promise<LiveTier> {
  const { default: pg } = await importDriver('pg', () => import('pg'));
  const pool = new pg.Pool({ ...poolConfig(options), max: options.max ?? 2 });
  pool.on('error', () => undefined);
  try {
    await new PostgresStore(pool, options.schema).migrate();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return new LiveTier(pool, options.schema);
}
