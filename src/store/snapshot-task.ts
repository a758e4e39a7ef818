import { hostname } from 'node:os';
import type { ComponentHealth } from '../core/health.js';
import type { Meter } from '../core/meter.js';
import { ringHorizon, ringSlots } from '../core/query.js';
import { Tally } from '../core/tally.js';
import type { StoreHistory } from './history.js';
import type { SnapshotRow, SnapshotStore } from './store.js';

export interface SnapshotTaskOptions {
  meter: Meter;
  store: SnapshotStore;
  /** Written in every row; default `hostname:pid`, unique per process so restarts never overwrite rows. */
  instance?: string;
  /** Seconds per bucket; default `api_metrics_snapshot_interval`. Rounded to whole minutes, 1 to 60. */
  intervalSeconds?: number;
  /** A bucket is written this long after it ends, for records stamped by the 100 ms tick (default 2,000 ms). */
  graceMs?: number;
  /** Rows kept while the store fails; beyond it the oldest are dropped and counted (default 100,000). */
  maxBufferedRows?: number;
  /** First retry delay after a failed write, doubling up to `maxRetryMs` (defaults 1,000 and 60,000 ms). */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** A write taking longer counts as failed and is retried (idempotent), default 30,000 ms. */
  writeTimeoutMs?: number;
  /** Told how far history is persisted after each successful write. */
  history?: StoreHistory;
  /** Receives store failures (the task never throws them). */
  onError?: (error: unknown) => void;
}

export interface SnapshotTaskStats {
  /** Rows written successfully. */
  written: number;
  buffered: number;
  /** Rows dropped because the buffer was full while the store failed. */
  dropped: number;
  /** Buckets that fell out of the ring before the task could read them (the task was stalled over an hour). */
  missedBuckets: number;
  failures: number;
}

const MINUTE = 60_000;
/** Endpoints read per event-loop turn while collecting a bucket. */
const COLLECT_CHUNK = 200;

/** Seconds per bucket for a configured interval: whole minutes (the coarse ring's slot), at most the ring's hour. */
export function bucketSecondsFor(intervalSeconds: number): number {
  return Math.min(60, Math.max(1, Math.round(intervalSeconds / 60))) * 60;
}

/**
 * Writes each endpoint's completed buckets to the store: one batched write per run, computed from the
 * coarse ring (which includes the not-yet-folded fine slot), each bucket once, after it has ended.
 * Store failures buffer rows, retry with backoff and never reach requests.
 *
 * @example
 * const task = new SnapshotTask({ meter, store, history });
 * task.start();
 * process.once('SIGTERM', () => void task.stop().then(() => process.exit(0)));
 */
export class SnapshotTask {
  readonly instance: string;
  readonly bucketMs: number;
  private readonly meter: Meter;
  private readonly store: SnapshotStore;
  private readonly graceMs: number;
  private readonly maxBuffered: number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly writeTimeoutMs: number;
  /** Start of the next bucket to collect; every bucket before it is buffered or written. */
  private nextBucket: number;
  private buffer: SnapshotRow[] = [];
  /** End of the complete buckets collected so far (what persistedUntil becomes once the buffer is written). */
  private collectedUntil: number;
  private running: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private retryAt = 0;
  private lastError: string | undefined;
  private lastErrorAt: number | undefined;
  private lastSuccessAt: number | undefined;
  private readonly removeHealth: () => void;
  readonly stats: SnapshotTaskStats = { written: 0, buffered: 0, dropped: 0, missedBuckets: 0, failures: 0 };

  constructor(private readonly options: SnapshotTaskOptions) {
    this.meter = options.meter;
    this.store = options.store;
    this.instance = options.instance ?? `${hostname()}:${process.pid}`;
    this.bucketMs = bucketSecondsFor(options.intervalSeconds ?? this.meter.config.apiMetricsSnapshotInterval) * 1000;
    if (this.meter.rings.coarseMs !== MINUTE) {
      throw new RangeError(`the snapshot task needs 60 s coarse slots; rings.coarseMs is ${this.meter.rings.coarseMs}`);
    }
    this.graceMs = options.graceMs ?? 2000;
    this.maxBuffered = options.maxBufferedRows ?? 100_000;
    this.minRetryMs = options.minRetryMs ?? 1000;
    this.maxRetryMs = options.maxRetryMs ?? 60_000;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 30_000;
    this.nextBucket = Math.floor(this.meter.startedAt / this.bucketMs) * this.bucketMs;
    this.collectedUntil = this.nextBucket;
    this.removeHealth = this.meter.addHealthSource(`store:${this.store.kind}`, () => this.health());
  }

  /** Runs on a timer (unref'd) until {@link stop}. */
  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = this.meter.clock.now();
    let at = this.nextBucket + this.bucketMs + this.graceMs;
    if (this.buffer.length > 0) at = Math.min(at, this.retryAt);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.runOnce().finally(() => this.schedule());
      },
      Math.max(0, at - now),
    );
    this.timer.unref();
  }

  /**
   * Collects every completed bucket and writes the buffer. Never rejects. A call while a run is in
   * progress returns that run instead of starting another.
   */
  runOnce(): Promise<void> {
    this.running ??= this.run(false).finally(() => (this.running = null));
    return this.running;
  }

  /** Stops the timer and writes a final snapshot, including the current partial bucket. Never rejects. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running !== null) await this.running;
    await this.run(true);
    this.removeHealth();
  }

  private async run(final: boolean): Promise<void> {
    try {
      await this.collect(this.meter.clock.now(), final);
      await this.flush();
    } catch (error) {
      // A bug rather than a store failure: still never let it out of the background task.
      this.fail(error);
    }
  }

  /** Adds the rows of buckets that have ended to the buffer; `final` adds the current partial one too. */
  private async collect(now: number, final: boolean): Promise<void> {
    const horizon = ringHorizon(this.meter.rings, now).coarse;
    while (this.nextBucket + this.bucketMs + this.graceMs <= now) {
      const start = this.nextBucket;
      this.nextBucket += this.bucketMs;
      if (start < horizon) this.stats.missedBuckets++;
      else this.push(await this.rowsOf(start, now));
    }
    this.collectedUntil = this.nextBucket;
    // The partial bucket is written but not counted as persisted: its end lies in the future.
    if (final && this.nextBucket <= now) this.push(await this.rowsOf(this.nextBucket, now));
  }

  /**
   * Each endpoint's slots of [start, start + bucket), merged. Yields to the event loop every
   * COLLECT_CHUNK endpoints; each endpoint is read in one go, and a completed bucket's slots only move
   * (fine slot folded into its minute) between yields, which ringSlots reads the same either way.
   */
  private async rowsOf(start: number, now: number): Promise<SnapshotRow[]> {
    const end = start + this.bucketMs;
    const rows: SnapshotRow[] = [];
    const endpoints = [...this.meter.registry.endpoints()];
    for (let i = 0; i < endpoints.length; i++) {
      if (i > 0 && i % COLLECT_CHUNK === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const ep = endpoints[i];
      const slots = ringSlots(ep, 'coarse', start, end, now);
      if (slots.length === 0) continue;
      const tally = new Tally();
      for (const s of slots) tally.merge(s.tally);
      rows.push({
        instance: this.instance,
        method: ep.method,
        route: ep.route,
        bucketStart: start,
        bucketSeconds: this.bucketMs / 1000,
        tally,
      });
    }
    return rows;
  }

  private push(rows: SnapshotRow[]): void {
    for (const r of rows) this.buffer.push(r);
    const excess = this.buffer.length - this.maxBuffered;
    if (excess > 0) {
      this.buffer.splice(0, excess);
      this.stats.dropped += excess;
    }
    this.stats.buffered = this.buffer.length;
  }

  private async flush(): Promise<void> {
    const until = this.collectedUntil;
    if (this.buffer.length === 0) {
      this.options.history?.advance(until);
      return;
    }
    const batch = this.buffer.slice();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.store.writeSnapshot(batch),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`store write timed out after ${this.writeTimeoutMs} ms`)),
            this.writeTimeoutMs,
          );
          timer.unref();
        }),
      ]);
    } catch (error) {
      this.fail(error);
      return;
    } finally {
      clearTimeout(timer);
    }
    // Nothing else touches the buffer while a run is in progress (runs never overlap).
    this.buffer.splice(0, batch.length);
    this.stats.buffered = this.buffer.length;
    this.stats.written += batch.length;
    this.stats.failures = 0;
    this.lastSuccessAt = Date.now();
    this.options.history?.advance(until);
  }

  private fail(error: unknown): void {
    this.stats.failures++;
    this.lastError = error instanceof Error ? error.message : String(error);
    this.lastErrorAt = Date.now();
    const delay = Math.min(this.maxRetryMs, this.minRetryMs * 2 ** Math.min(30, this.stats.failures - 1));
    this.retryAt = this.meter.clock.now() + delay;
    try {
      this.options.onError?.(error);
    } catch {
      // An error hook that throws must not stop the task.
    }
  }

  health(): ComponentHealth {
    const s = this.stats;
    return {
      name: `store:${this.store.kind}`,
      state: s.failures === 0 ? (this.stopped ? 'off' : 'ok') : s.failures < 3 ? 'degraded' : 'failing',
      ...(this.lastError !== undefined && { lastError: this.lastError.slice(0, 300) }),
      ...(this.lastErrorAt !== undefined && { lastErrorAt: new Date(this.lastErrorAt).toISOString() }),
      ...(this.lastSuccessAt !== undefined && { lastSuccessAt: new Date(this.lastSuccessAt).toISOString() }),
      counters: { written: s.written, buffered: s.buffered, dropped: s.dropped, missedBuckets: s.missedBuckets },
    };
  }
}
