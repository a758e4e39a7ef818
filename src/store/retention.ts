/** The raw snapshot rows. */
export const RAW_TABLE = 'api_metric_snapshots';
/** Hourly and daily rollup rows (bucket_seconds 3600 and 86400). */
export const ROLLUP_TABLE = 'api_metric_rollups';
/** Per-consumer rows per snapshot interval (migration 6, src/store/consumer-rows.ts). */
export const CONSUMER_TABLE = 'api_metric_consumers';

/** Rows of one table and bucket length (counted, deleted, or that would be deleted). */
export interface RetentionCount {
  table: string;
  bucketSeconds: number;
  rows: number;
}

export interface RetentionProgress extends RetentionCount {
  /** Rows deleted so far of this table and bucket length (`rows` is the total counted before). */
  deleted: number;
}

export interface RetentionOptions {
  /** Only count what would be deleted. */
  dryRun?: boolean;
  /** Rows per DELETE statement (default 5,000): a large delete never holds a long lock or transaction. */
  chunkRows?: number;
  /** Called after each chunk. */
  onProgress?: (progress: RetentionProgress) => void;
  /** Stops between chunks (shutdown); the rest is deleted by the next run. */
  signal?: AbortSignal;
}

/** What a store provides to {@link applyRetention}; both functions apply to rows before one cutoff. */
export interface RetentionBackend {
  count(): Promise<RetentionCount[]>;
  /** Deletes up to `limit` rows of the table and bucket length; resolves how many it deleted. */
  deleteChunk(table: string, bucketSeconds: number, limit: number): Promise<number>;
}

export const DEFAULT_CHUNK_ROWS = 5000;

/**
 * Counts, then deletes in chunks, the rows before a cutoff, table by table and bucket length by bucket
 * length (raw rows first). Resolves what was deleted (or, with `dryRun`, what would be).
 */
export async function applyRetention(
  backend: RetentionBackend,
  options: RetentionOptions = {},
): Promise<RetentionCount[]> {
  const order = (c: RetentionCount) => (c.table === RAW_TABLE ? 0 : 1) * 1e9 + c.bucketSeconds;
  const counts = (await backend.count()).filter((c) => c.rows > 0).sort((a, b) => order(a) - order(b));
  if (options.dryRun === true) return counts;
  const chunk = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const removed: RetentionCount[] = [];
  for (const c of counts) {
    let deleted = 0;
    while (options.signal?.aborted !== true) {
      const n = await backend.deleteChunk(c.table, c.bucketSeconds, chunk);
      if (n === 0) break;
      deleted += n;
      options.onProgress?.({ ...c, rows: Math.max(c.rows, deleted), deleted });
      if (n < chunk) break;
    }
    removed.push({ ...c, rows: deleted });
  }
  return removed;
}

export { retentionCutoff } from '../core/history.js';
