import cluster from 'node:cluster';
import { hostname } from 'node:os';
import type { Meter } from '../core/meter.js';
import { redactUrl } from '../core/redact.js';
import { createError } from '../errors.js';
import { startPersistence } from '../store/persistence.js';
import type { Persistence, PersistenceOptions } from '../store/persistence.js';
import { startLiveWriter } from './live-writer.js';
import type { LiveWriter, LiveWriterOptions } from './live-writer.js';

export interface FleetInstanceOptions {
  /** `postgres://…`; default `[metrics] api_metrics_store_url`. */
  url?: string;
  /** PostgreSQL schema of the store's tables. */
  schema?: string;
  /** This process's instance id; default {@link instanceId}. */
  instance?: string;
  /** Live-tier seconds; default `[metrics] api_metrics_live_interval`, else the fine slot (10 s). */
  intervalSeconds?: number;
  /** The durable snapshot task (`startPersistence` options), or false for the live tier only. */
  persistence?: Omit<PersistenceOptions, 'url' | 'enabled' | 'handleSignals'> | false;
  /** More options of the live writer (buffer bound, timeouts, `onError`). */
  live?: Omit<LiveWriterOptions, 'meter' | 'url' | 'schema' | 'instance' | 'role' | 'intervalSeconds' | 'durableUntil'>;
  /** Final writes and close on SIGTERM / SIGINT, then re-raise the signal when nobody else listens (default true). */
  handleSignals?: boolean;
}

export interface FleetInstance {
  readonly instance: string;
  readonly role: string;
  readonly live: LiveWriter;
  readonly persistence: Persistence | null;
  /** Final live write (marked stopped) and final snapshot, then closes both pools; never rejects. */
  close(): Promise<void>;
}

/**
 * How this process runs: `worker N` in a `node:cluster` worker, `pm2 N` under PM2 (`NODE_APP_INSTANCE`,
 * also set by PM2's cluster mode), `primary` for a cluster primary that forked workers, else `process`.
 */
export function processRole(): string {
  if (cluster.isWorker && cluster.worker !== undefined) return `worker ${cluster.worker.id}`;
  const pm2 = process.env.NODE_APP_INSTANCE ?? process.env.pm_id;
  if (pm2 !== undefined && pm2 !== '') return `pm2 ${pm2}`;
  if (Object.keys(cluster.workers ?? {}).length > 0) return 'primary';
  return 'process';
}

/**
 * This process's instance id: `hostname:pid`, distinct for every worker of a cluster and every PM2
 * process, and for a restarted process (its old id is reported stopped or gone, never overwritten).
 */
export function instanceId(): string {
  return `${hostname()}:${process.pid}`;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Makes this process one instance of the fleet `apimeter serve` shows: the durable snapshots
 * (`startPersistence`) and the live tier (`startLiveWriter`) under one instance id. Call it in every
 * `node:cluster` worker or PM2 process, after `createMeter`; the primary needs none unless it serves
 * requests itself. Migrations run once however many start together (a PostgreSQL advisory lock).
 * A database that is down delays nothing: both writers buffer (bounded) and retry in the background.
 *
 * @example
 * // worker.js, run by node:cluster or `pm2 start worker.js -i 4`
 * const meter = createMeter();
 * const fleet = await startFleetInstance(meter, { url: process.env.METRICS_DB });
 * await app.register(apimeter, { meter });
 */
export async function startFleetInstance(meter: Meter, options: FleetInstanceOptions = {}): Promise<FleetInstance> {
  const instance = options.instance ?? instanceId();
  const role = processRole();
  const url = options.url ?? meter.config.apiMetricsStoreUrl;
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw createError(
      'APIMETER_ERR_STORE_URL',
      `a fleet shares one PostgreSQL store: give url postgres://… or set [metrics] api_metrics_store_url (now ${url === '' ? 'empty' : redactUrl(url)})`,
    );
  }
  const p = options.persistence;
  const persistence =
    p === false
      ? null
      : await startPersistence(meter, {
          ...p,
          enabled: true,
          url,
          handleSignals: false,
          task: { ...p?.task, instance },
          postgres: { ...p?.postgres, schema: options.schema },
        });
  const live = startLiveWriter({
    ...options.live,
    meter,
    url,
    schema: options.schema,
    instance,
    role,
    intervalSeconds: options.intervalSeconds,
    durableUntil: () => persistence?.task.writtenUntil ?? 0,
  });
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const s of SIGNALS) process.off(s, onSignal);
      await Promise.all([live.stop(), persistence?.close()]);
    })();
    return closing;
  };
  function onSignal(signal: NodeJS.Signals): void {
    void close().then(() => {
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
  if (options.handleSignals ?? true) for (const s of SIGNALS) process.once(s, onSignal);
  return { instance, role, live, persistence, close };
}
