import type { Meter } from '../core/meter.js';
import { ApimeterError } from '../errors.js';
import { BackgroundStore } from './background.js';
import { checkDriver } from './driver.js';
import { StoreHistory } from './history.js';
import { openTarget, parseStoreUrl } from './open.js';
import type { PostgresStoreOptions } from './postgres.js';
import { bucketSecondsFor, SnapshotTask } from './snapshot-task.js';
import type { SnapshotTaskOptions } from './snapshot-task.js';
import type { SnapshotStore } from './store.js';

export interface PersistenceOptions {
  /** Start whatever `api_metrics_persistence` says (default: the configuration decides). */
  enabled?: boolean;
  /** Where to store: `postgres://…`, `sqlite:PATH` or empty for `./data/apimeter.db`; default `api_metrics_store_url`. */
  url?: string;
  /** An open store to use instead of opening one (it is closed by `close()`). */
  store?: SnapshotStore;
  /** Take the final snapshot and close on SIGTERM and SIGINT (default true). */
  handleSignals?: boolean;
  /** Options of the snapshot task: `instance`, `intervalSeconds`, `retentionDays`, `onError`, … */
  task?: Omit<SnapshotTaskOptions, 'meter' | 'store' | 'history'>;
  /** PostgreSQL pool settings (timeouts, pool size, `application_name`); the URL comes from `url`. */
  postgres?: Omit<PostgresStoreOptions, 'url'>;
  /**
   * `startPersistence` waits this long at most for the first connection attempt, then resolves and keeps
   * connecting in the background. Default 3,000 ms for PostgreSQL; 30,000 ms for SQLite, a local file
   * whose worker thread may take a few seconds to start on a loaded machine.
   */
  startTimeoutMs?: number;
  /** Delay after a failed connection attempt, doubling from `min` up to `max` (defaults 1,000 and 60,000 ms). */
  connectRetryMs?: { min?: number; max?: number };
  /** `close()` resolves within this bound, whatever the store does (default 10,000 ms). */
  closeTimeoutMs?: number;
}

export interface Persistence {
  /** The store; until it is connected its calls reject with `APIMETER_ERR_STORE_UNAVAILABLE`. */
  readonly store: SnapshotStore;
  /** For the metrics API: `createMetricsApi({ meter, history })`, cluster-wide. */
  readonly history: StoreHistory;
  readonly task: SnapshotTask;
  /**
   * Writes the final snapshot (every unwritten bucket, the current partial one included), then closes the
   * store. Resolves within `closeTimeoutMs`; never rejects; safe to call twice.
   */
  close(): Promise<void>;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Resolves when `p` settles or after `ms`, whichever is first; never rejects. */
function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, ms));
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Persistence from the configuration, in one call: opens the store `api_metrics_store_url` names (the
 * SQLite file `./data/apimeter.db` by default) and migrates it, reads what earlier runs stored, starts
 * the snapshot task every `api_metrics_snapshot_interval` seconds (rollups after each write, retention
 * of `api_metrics_retention_days` hourly; its state in `/health` as `store:sqlite` / `store:postgres`),
 * and on SIGTERM or SIGINT takes a final snapshot and closes the store. Resolves null when
 * `api_metrics_persistence` is off.
 *
 * The store never holds the application hostage: this resolves once the first connection attempt has
 * settled or after `startTimeoutMs` (3 s; 30 s for SQLite), whichever is first. A store that is down, refuses or hangs is
 * retried in the background with backoff while snapshots are buffered (bounded by `maxBufferedRows`, the
 * excess dropped and counted); `/health` shows it `degraded`, then `failing`, with the last error. Only
 * what cannot work rejects, at once: a malformed URL or unknown scheme (`APIMETER_ERR_STORE_URL`), a
 * driver that is not installed (`APIMETER_ERR_STORE_DRIVER`).
 *
 * When no other listener handles the signal, it is raised again once the store is closed, so the
 * process ends as it would have. An application with its own shutdown should call `close()` from it
 * before exiting.
 *
 * @example
 * const meter = createMeter(); // apimeter.ini: [metrics] api_metrics_persistence = true
 * const persistence = await startPersistence(meter);
 * await app.register(apimeterApi, { meter, history: persistence?.history, token });
 */
export async function startPersistence(meter: Meter, options: PersistenceOptions = {}): Promise<Persistence | null> {
  if (!(options.enabled ?? meter.config.apiMetricsPersistence)) return null;
  const interval = options.task?.intervalSeconds ?? meter.config.apiMetricsSnapshotInterval;
  let task: SnapshotTask | undefined;
  let history: StoreHistory;
  let store: SnapshotStore;
  let background: BackgroundStore | undefined;
  if (options.store !== undefined) {
    store = options.store;
    history = new StoreHistory(store, { stepMs: bucketSecondsFor(interval) * 1000 });
    try {
      // What earlier runs (and other instances) persisted is history from the start.
      await history.refresh();
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
  } else {
    // What cannot work fails now: a bad URL, a driver that is not installed.
    const target = parseStoreUrl(options.url ?? meter.config.apiMetricsStoreUrl);
    checkDriver(target.kind === 'postgres' ? 'pg' : 'better-sqlite3');
    background = new BackgroundStore({
      kind: target.kind,
      open: () => openTarget(target, options.postgres),
      minRetryMs: options.connectRetryMs?.min,
      maxRetryMs: options.connectRetryMs?.max,
      onOpen: async () => {
        await history.refresh();
        task?.wake();
      },
      onError: (error) => options.task?.onError?.(error),
    });
    const connecting = background;
    store = connecting;
    history = new StoreHistory(store, { stepMs: bucketSecondsFor(interval) * 1000 });
    await bounded(connecting.firstAttempt, options.startTimeoutMs ?? (target.kind === 'sqlite' ? 30_000 : 3000));
    const failure = connecting.lastFailure;
    // Not a connection problem: the attempt says the configuration cannot work.
    if (connecting.status().state === 'connecting' && failure instanceof ApimeterError) {
      if (failure.code === 'APIMETER_ERR_STORE_URL' || failure.code === 'APIMETER_ERR_STORE_DRIVER') {
        await connecting.close();
        throw failure;
      }
    }
  }
  try {
    task = new SnapshotTask({ ...options.task, meter, store, history });
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  task.start();
  const running = task;

  const closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      const deadline = Date.now() + closeTimeoutMs;
      const giveUp = new AbortController();
      const timer = setTimeout(() => giveUp.abort(), closeTimeoutMs);
      timer.unref();
      try {
        // A connection attempt under way may still succeed in time to take the final snapshot.
        if (background !== undefined) await bounded(background.settled(), closeTimeoutMs / 2);
        // The final write may take most of the bound; closing the store gets what is left (past the bound
        // a pool still ending finishes on its own).
        await bounded(running.stop({ signal: giveUp.signal }), Math.max(0, deadline - Date.now()));
        await bounded(store.close(), Math.max(0, deadline - Date.now()));
      } finally {
        clearTimeout(timer);
      }
    })();
    return closing;
  };
  function onSignal(signal: NodeJS.Signals): void {
    void close().then(() => {
      // Nobody else listens: end the process the way the signal would have.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
  if (options.handleSignals ?? true) for (const signal of SIGNALS) process.once(signal, onSignal);
  return { store, history, task: running, close };
}
