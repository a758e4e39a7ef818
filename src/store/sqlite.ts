import { mkdirSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Tally } from '../core/tally.js';
import { createError } from '../errors.js';
import { checkDriver, driverMissing, isMissing } from './driver.js';
import { applyRetention } from './retention.js';
import type { RetentionCount, RetentionOptions } from './retention.js';
import { runRollups } from './rollup.js';
import type { MergeQuery, MergedRow, RollupOptions, RollupReport, Watermarks } from './rollup.js';
import { decodeRow, dedupe, toWireChunks } from './row.js';
import type { RawRow } from './row.js';
import type { WireMergedRows } from './sqlite-engine.js';
import type { WorkerReply } from './sqlite-worker.js';
import { timeSlicer } from './slice.js';
import { decodeConsumerRow, dedupeConsumerRows, encodeConsumerRow } from './consumer-rows.js';
import type { ConsumerQuery, ConsumerRow, RawConsumerRow } from './consumer-rows.js';
import type { RowQuery, SnapshotRow, SnapshotStore, WriteOptions } from './store.js';

/** The embedded default: what `api_metrics_store_url = ` (empty) means. */
export const DEFAULT_SQLITE_PATH = './data/apimeter.db';

/**
 * Flags a worker thread is given, from the process's: only those that shape how modules load (`--import`,
 * `--require`, `--loader`, `--conditions`: tsx and other loaders) and a few harmless ones. Node refuses
 * a worker given V8 or per-process flags (`--max-old-space-size`, `--expose-gc`, `--stack-size`, `--title`:
 * `ERR_WORKER_INVALID_EXEC_ARGV`), and flags about the main entry (`--input-type`, `-e`) would make a
 * worker that loads a file fail.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (WITH_VALUE.has(name)) {
      if (eq !== -1) out.push(arg);
      else if (i + 1 < execArgv.length) out.push(arg, execArgv[++i]);
    } else if (FLAGS.has(name)) out.push(arg);
  }
  return out;
}

const WITH_VALUE = new Set([
  '--import',
  '--require',
  '-r',
  '--loader',
  '--experimental-loader',
  '--conditions',
  '-C',
  '--unhandled-rejections',
]);
const FLAGS = new Set([
  '--enable-source-maps',
  '--no-warnings',
  '--no-deprecation',
  '--trace-warnings',
  '--trace-deprecation',
  '--preserve-symlinks',
  '--experimental-vm-modules',
  '--experimental-strip-types',
  '--experimental-transform-types',
]);

function spawnWorker(path: string): Worker {
  const workerData = { path };
  if (import.meta.url.endsWith('.ts')) {
    // Running from the TypeScript sources under tsx (tests, benches, the demo): a worker does not
    // inherit tsx's loader, so it registers it before importing the worker module.
    const entry = new URL('./sqlite-worker.ts', import.meta.url).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    return new Worker(
      `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`,
      { eval: true, workerData },
    );
  }
  return new Worker(new URL('./sqlite-worker.js', import.meta.url), {
    workerData,
    execArgv: workerExecArgv(process.execArgv),
  });
}

const OPEN_CODES = new Set(['SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_AUTH']);
const FS_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'ENOENT']);

/**
 * An error of the database at `path` as the user should see it: a file or directory that cannot be
 * created, opened or written, or a full disk, as a coded error naming the path and what to do; a missing
 * better-sqlite3 as the driver error; anything else unchanged.
 */
export function sqliteError(error: unknown, path: string): unknown {
  if (isMissing(error, 'better-sqlite3')) return driverMissing('better-sqlite3', error);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return error;
  const where = path === ':memory:' ? path : resolvePath(path);
  const reason = error instanceof Error ? error.message : String(error);
  let coded;
  if (code.startsWith('SQLITE_FULL')) {
    coded = createError(
      'APIMETER_ERR_STORE_FULL',
      `the disk holding the SQLite database ${where} is full (${reason}); free space there, or point ` +
        `api_metrics_store_url at another disk (sqlite:/other/path/apimeter.db). Snapshots stay buffered meanwhile.`,
    );
  } else if (OPEN_CODES.has(code.replace(/_[A-Z]+$/, '')) || OPEN_CODES.has(code) || FS_CODES.has(code)) {
    coded = createError(
      'APIMETER_ERR_STORE_OPEN',
      `cannot create or write the SQLite database ${where} (${code}: ${reason}); make ${dirname(where)} ` +
        `writable by this process (user and permissions, or a writable volume), or set api_metrics_store_url ` +
        `= sqlite:/writable/path/apimeter.db`,
    );
  } else return error;
  coded.cause = error;
  return coded;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * Snapshots in one SQLite file (WAL journal, so readers do not block the writer). better-sqlite3's calls
 * are synchronous, so the connection lives in a worker thread: this class sends it serialized rows and
 * queries, and the application's event loop never waits for SQLite (a 1,000-endpoint snapshot costs the
 * main thread the serialization only, in chunks; figures in docs/store.md). better-sqlite3 is loaded by
 * the worker, on first use.
 *
 * @example
 * const store = await openSqliteStore('./data/apimeter.db');
 */
export class SqliteStore implements SnapshotStore {
  readonly kind = 'sqlite';
  private nextId = 1;
  private readonly calls = new Map<number, Pending>();
  private broken: Error | null = null;
  private closing: Promise<void> | null = null;
  /** Resolves once the worker has opened and migrated the database. */
  readonly ready: Promise<void>;

  constructor(
    private readonly worker: Worker,
    /** The database file. */
    readonly path: string,
  ) {
    worker.on('message', (m: WorkerReply) => this.answer(m));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`the SQLite store's worker thread exited (code ${code})`)));
    this.ready = new Promise<unknown>((resolve, reject) => this.calls.set(0, { resolve, reject })).then(() => {
      // An idle store does not keep the process alive; a pending call does (see call()).
      if (this.calls.size === 0) worker.unref();
    });
  }

  private answer(m: WorkerReply): void {
    const pending = this.calls.get(m.id);
    if (pending === undefined) return;
    this.calls.delete(m.id);
    if (this.calls.size === 0) this.worker.unref();
    if ('error' in m) {
      const error = new Error(m.error.message) as Error & { code?: string };
      error.name = m.error.name;
      if (m.error.code !== undefined) error.code = m.error.code;
      pending.reject(sqliteError(error, this.path) as Error);
    } else pending.resolve(m.value);
  }

  private fail(cause: Error): void {
    // The worker failing to start: better-sqlite3 missing is the usual reason.
    const error = sqliteError(cause, this.path) as Error;
    this.broken ??= error;
    for (const pending of this.calls.values()) pending.reject(error);
    this.calls.clear();
  }

  private call<T>(op: string, ...args: unknown[]): Promise<T> {
    if (this.broken !== null) return Promise.reject(this.broken);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.ref();
      this.worker.postMessage({ id, op, args });
    });
  }

  async migrate(): Promise<number> {
    return this.call<number>('migrate');
  }

  // A write in the worker is one local transaction: nothing to give up (the signal is not needed).
  async writeSnapshot(rows: readonly SnapshotRow[], options: WriteOptions = {}): Promise<void> {
    // The main thread only serializes (in chunks); quantiles, SQL and the commit happen in the worker.
    const consumers = dedupeConsumerRows(options.consumers ?? []).map(encodeConsumerRow);
    await this.call('write', await toWireChunks(dedupe(rows)), consumers);
  }

  async readConsumers(q: ConsumerQuery): Promise<ConsumerRow[]> {
    const raw = await this.call<RawConsumerRow[]>('readConsumers', q);
    const slice = timeSlicer();
    const rows: ConsumerRow[] = [];
    for (const r of raw) {
      await slice();
      rows.push(decodeConsumerRow(r));
    }
    return rows;
  }

  async readRows(q: RowQuery): Promise<SnapshotRow[]> {
    const raw = await this.call<RawRow[]>('readRows', q);
    const slice = timeSlicer();
    const rows: SnapshotRow[] = [];
    for (const r of raw) {
      await slice();
      rows.push(decodeRow(r));
    }
    return rows;
  }

  async mergeRows(q: MergeQuery): Promise<MergedRow[]> {
    // Merged in the worker: only one row per endpoint (or per bucket) crosses to this thread.
    const wire = await this.call<WireMergedRows>('mergeRows', q);
    const slice = timeSlicer();
    const rows: MergedRow[] = [];
    for (let i = 0; i < wire.length; i += 4) {
      await slice();
      rows.push({
        method: wire[i],
        route: wire[i + 1],
        bucketStart: Number(wire[i + 2]),
        tally: new Tally().mergeFrozen(wire[i + 3]),
      });
    }
    return rows;
  }

  async newestBucketEnd(instance?: string): Promise<number> {
    return this.call<number>('newestBucketEnd', instance);
  }

  async rollupWatermarks(): Promise<Watermarks> {
    return this.call<Watermarks>('watermarks');
  }

  async rollup(until: number, options: RollupOptions = {}): Promise<RollupReport> {
    return runRollups(
      {
        watermarks: () => this.call<Watermarks>('watermarks'),
        firstSource: (source, from, to) => this.call<number | null>('firstSource', source, from, to),
        step: (tier, expect, period, next) => this.call<number | null>('step', tier.seconds, expect, period, next),
      },
      until,
      options,
    );
  }

  async deleteBefore(cutoff: number, options: RetentionOptions = {}): Promise<RetentionCount[]> {
    return applyRetention(
      {
        count: () => this.call<RetentionCount[]>('count', cutoff),
        deleteChunk: (table, bucketSeconds, limit) =>
          this.call<number>('deleteChunk', table, bucketSeconds, cutoff, limit),
      },
      options,
    );
  }

  async readAlertState(key: string): Promise<string | null> {
    return this.call<string | null>('readAlertState', key);
  }

  async writeAlertState(key: string, state: string, savedAt: number): Promise<void> {
    await this.call('writeAlertState', key, state, savedAt);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        if (this.broken === null) await this.call('close');
      } finally {
        await this.worker.terminate();
      }
    })();
    return this.closing;
  }
}

/** Opens (creating the file and its directory) and migrates a SQLite store, in its worker thread. */
export async function openSqliteStore(path: string = DEFAULT_SQLITE_PATH): Promise<SqliteStore> {
  checkDriver('better-sqlite3');
  if (path !== ':memory:') {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (error) {
      throw sqliteError(error, path);
    }
  }
  const store = new SqliteStore(spawnWorker(path), path);
  try {
    await store.ready;
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
