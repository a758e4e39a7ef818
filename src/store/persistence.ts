import type { Meter } from '../core/meter.js';
import { StoreHistory } from './history.js';
import { openStore } from './open.js';
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
}

export interface Persistence {
  readonly store: SnapshotStore;
  /** For the metrics API: `createMetricsApi({ meter, history })`, cluster-wide. */
  readonly history: StoreHistory;
  readonly task: SnapshotTask;
  /** Writes the final snapshot (the current, partial bucket included), then closes the store. Never rejects; safe to call twice. */
  close(): Promise<void>;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Persistence from the configuration, in one call: opens the store `api_metrics_store_url` names (the
 * SQLite file `./data/apimeter.db` by default) and migrates it, reads what earlier runs stored, starts
 * the snapshot task every `api_metrics_snapshot_interval` seconds (rollups after each write, retention
 * of `api_metrics_retention_days` hourly; its state in `/health` as `store:sqlite` / `store:postgres`),
 * and on SIGTERM or SIGINT takes a final snapshot and closes the store. Resolves null when
 * `api_metrics_persistence` is off.
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
  const store = options.store ?? (await openStore(options.url ?? meter.config.apiMetricsStoreUrl));
  const interval = options.task?.intervalSeconds ?? meter.config.apiMetricsSnapshotInterval;
  const history = new StoreHistory(store, { stepMs: bucketSecondsFor(interval) * 1000 });
  let task: SnapshotTask;
  try {
    // What earlier runs (and other instances) persisted is history from the start.
    await history.refresh();
    task = new SnapshotTask({ ...options.task, meter, store, history });
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  task.start();

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      await task.stop();
      await store.close().catch(() => undefined);
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
  return { store, history, task, close };
}
