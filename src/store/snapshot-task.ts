import { hostname } from 'node:os';
import type { ComponentHealth } from '../core/health.js';
import type { Meter } from '../core/meter.js';
import { ringHorizon, ringSlots } from '../core/query.js';
import { Tally } from '../core/tally.js';
import type { StoreHistory } from './history.js';
import { retentionCutoff } from './retention.js';
import { timeSlicer } from './slice.js';
import type { SnapshotRow, SnapshotStore } from './store.js';
import { drainConsumerRows, emptyBaseline } from './consumer-rows.js';
import type { ConsumerRow } from './consumer-rows.js';

export interface SnapshotTaskOptions {
  meter: Meter;
  store: SnapshotStore;
  /** Written in every row; default `hostname:pid`, unique per process so restarts never overwrite rows. */
  instance?: string;
  /** Seconds per bucket; default `api_metrics_snapshot_interval`, made a whole number of minutes dividing an hour (bucketSecondsFor). */
  intervalSeconds?: number;
  /** A bucket is written this long after it ends, for records stamped by the 100 ms tick (default 2,000 ms). */
  graceMs?: number;
  /** Rows kept while the store fails; beyond it the oldest are dropped and counted (default 100,000). */
  maxBufferedRows?: number;
  /** First retry delay after a failed write, doubling up to `maxRetryMs` (defaults 1,000 and 60,000 ms). */
  minRetryMs?: number;
  maxRetryMs?: number;
  /**
   * A write taking longer counts as failed and is retried (idempotent), default 30,000 ms. The write is
   * aborted (the store destroys the connection it held), and no other write starts until it has returned.
   */
  writeTimeoutMs?: number;
  /** Told how far history is persisted after each successful write. */
  history?: StoreHistory;
  /** Receives store failures (the task never throws them). */
  onError?: (error: unknown) => void;
  /** Roll completed hours and days up after a successful write (default true). */
  rollups?: boolean;
  /**
   * Rollups cover hours that ended at least this long ago (default 10 minutes), so that every instance's
   * snapshots of the hour are in; a later one reopens the hour (exactly) until the next rollup.
   */
  rollupLagMs?: number;
  /** Rollup buckets computed per run at most (default 48): a backlog is worked off over several runs. */
  maxRollupPeriods?: number;
  /** Days of history kept, applied at most once an hour; default `api_metrics_retention_days`; 0: keep all. */
  retentionDays?: number;
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
  /** Rollup buckets (hours and days) computed. */
  rolledUp: number;
  /** Rows deleted by retention. */
  deleted: number;
  /** Failed rollup or retention runs (retried at the next run; history stays exact meanwhile). */
  maintenanceErrors: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const noop = () => undefined;
/** Bucket lengths (minutes) that divide an hour, so hourly rollups hold whole buckets. */
const DIVISORS_OF_AN_HOUR = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60];

/**
 * Seconds per bucket for a configured interval: the nearest whole number of minutes (the coarse ring's
 * slot) that divides an hour (so hourly rollups hold whole buckets), from 1 to 60; ties go to the shorter.
 */
export function bucketSecondsFor(intervalSeconds: number): number {
  const minutes = intervalSeconds / 60;
  let best = DIVISORS_OF_AN_HOUR[0];
  for (const d of DIVISORS_OF_AN_HOUR) if (Math.abs(d - minutes) < Math.abs(best - minutes)) best = d;
  return best * 60;
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
  /** Per-consumer rows (meter.consumers), written in the same store call as `buffer`; bounded likewise. */
  private consumerBuffer: ConsumerRow[] = [];
  private readonly consumerBaseline = emptyBaseline();
  /** End of the complete buckets collected so far (what persistedUntil becomes once the buffer is written). */
  private collectedUntil: number;
  /** End of this instance's buckets written to the store (0 before the first write): the fleet view's split. */
  writtenUntil = 0;
  private running: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private retryAt = 0;
  private lastError: string | undefined;
  private lastErrorAt: number | undefined;
  private lastSuccessAt: number | undefined;
  private readonly removeHealth: () => void;
  private readonly rollups: boolean;
  private readonly rollupLagMs: number;
  private readonly maxRollupPeriods: number;
  private readonly retentionDays: number;
  /** Clock times before which rollups / retention are not tried again. */
  private nextRollupAt = 0;
  private nextRetentionAt = 0;
  /** Aborted by stop(), so a long rollup or delete does not hold up the final snapshot. */
  private readonly shutdown = new AbortController();
  /** The store write in flight (also one given up on by the write timeout, until it returns). */
  private inflight: { settled: Promise<void>; abort: AbortController } | null = null;
  readonly stats: SnapshotTaskStats = {
    written: 0,
    buffered: 0,
    dropped: 0,
    missedBuckets: 0,
    failures: 0,
    rolledUp: 0,
    deleted: 0,
    maintenanceErrors: 0,
  };

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
    this.rollups = options.rollups ?? true;
    this.rollupLagMs = options.rollupLagMs ?? 10 * MINUTE;
    this.maxRollupPeriods = options.maxRollupPeriods ?? 48;
    this.retentionDays = options.retentionDays ?? this.meter.config.apiMetricsRetentionDays;
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
    if (this.buffer.length > 0 || this.consumerBuffer.length > 0) at = Math.min(at, this.retryAt);
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

  /**
   * Retries a buffered write now instead of at the next backoff step (the store has just connected).
   * Nothing happens while a run is in progress or after {@link stop}.
   */
  wake(): void {
    if (this.stopped || this.running !== null || this.timer === undefined) return;
    clearTimeout(this.timer);
    this.retryAt = 0;
    this.schedule();
  }

  /**
   * Stops the timer and writes a final snapshot: every bucket with data not yet written, the current
   * partial one included. Never rejects. `signal` aborting gives the write in flight up (the caller's
   * shutdown deadline).
   */
  async stop(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.shutdown.abort();
    const onAbort = () => this.inflight?.abort.abort(new Error('the snapshot task was stopped'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.running !== null) await this.running;
      if (options.signal?.aborted !== true) await this.run(true);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.removeHealth();
    }
  }

  private async run(final: boolean): Promise<void> {
    try {
      await this.collect(this.meter.clock.now(), final);
      if ((await this.flush()) && !final) await this.maintain(this.meter.clock.now());
    } catch (error) {
      // A bug rather than a store failure: still never let it out of the background task.
      this.fail(error);
    }
  }

  /**
   * After a successful write: applies retention at most once an hour, then rolls up the hours (and
   * days) completed since the last time. Failures are reported and retried at the next run; neither touches
   * the snapshot buffer.
   */
  private async maintain(now: number): Promise<void> {
    const signal = this.shutdown.signal;
    if (this.retentionDays > 0 && now >= this.nextRetentionAt && !signal.aborted) {
      this.nextRetentionAt = now + HOUR;
      try {
        const removed = await this.store.deleteBefore(retentionCutoff(now, this.retentionDays), { signal });
        for (const r of removed) this.stats.deleted += r.rows;
      } catch (error) {
        this.maintenanceFailed(error);
      }
    }
    if (this.rollups && now >= this.nextRollupAt && !signal.aborted) {
      const until = now - this.rollupLagMs;
      try {
        const report = await this.store.rollup(until, { maxPeriods: this.maxRollupPeriods, signal });
        for (const t of Object.values(report.tiers)) this.stats.rolledUp += t.periods;
        // Next when another hour has completed, or at the next run while a backlog remains.
        this.nextRollupAt = report.pending ? now : (Math.floor(until / HOUR) + 1) * HOUR + this.rollupLagMs;
      } catch (error) {
        this.maintenanceFailed(error);
      }
    }
  }

  private maintenanceFailed(error: unknown): void {
    this.stats.maintenanceErrors++;
    this.lastError = error instanceof Error ? error.message : String(error);
    this.lastErrorAt = Date.now();
    try {
      this.options.onError?.(error);
    } catch {
      // An error hook that throws must not stop the task.
    }
  }

  /** Adds the rows of buckets that have ended to the buffer; `final` adds the current partial one too. */
  private async collect(now: number, final: boolean): Promise<void> {
    const horizon = ringHorizon(this.meter.rings, now).coarse;
    let last: number | null = null;
    while (this.nextBucket + this.bucketMs + this.graceMs <= now) {
      const start = this.nextBucket;
      this.nextBucket += this.bucketMs;
      if (start < horizon) this.stats.missedBuckets++;
      else {
        this.push(await this.rowsOf(start, now));
        last = start;
      }
    }
    this.collectedUntil = this.nextBucket;
    if (final) {
      // Every bucket not collected yet: one that ended within the grace, and the current, partial one. They
      // are written but not counted as persisted (the partial bucket's end lies in the future).
      for (let start = this.nextBucket; start <= now; start += this.bucketMs) {
        if (start < horizon) this.stats.missedBuckets++;
        else {
          this.push(await this.rowsOf(start, now));
          last = start;
        }
      }
    }
    if (last !== null) this.collectConsumers(last);
  }

  /**
   * The consumer tracker's figures since the last drain, as rows of the bucket just collected (requests
   * of the grace period after it included: the next drain does not count them again). A meter without
   * consumers (`metrics_consumers` off) writes none.
   */
  private collectConsumers(bucketStart: number): void {
    const tracker = this.meter.consumers?.tracker;
    if (tracker === undefined) return;
    const rows = drainConsumerRows(
      tracker,
      this.meter.registry.endpoints(),
      this.consumerBaseline,
      this.instance,
      bucketStart,
      this.bucketMs / 1000,
    );
    for (const r of rows) this.consumerBuffer.push(r);
    const excess = this.consumerBuffer.length - this.maxBuffered;
    if (excess > 0) {
      this.consumerBuffer.splice(0, excess);
      this.stats.dropped += excess;
    }
  }

  /**
   * Each endpoint's slots of [start, start + bucket), merged. Time-sliced (timeSlicer); each endpoint is
   * read in one go, and a completed bucket's slots only move
   * (fine slot folded into its minute) between yields, which ringSlots reads the same either way.
   */
  private async rowsOf(start: number, now: number): Promise<SnapshotRow[]> {
    const end = start + this.bucketMs;
    const rows: SnapshotRow[] = [];
    const slice = timeSlicer();
    for (const ep of [...this.meter.registry.endpoints()]) {
      await slice();
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

  /** Writes the buffer; resolves whether the store took it (or there was nothing to write). */
  private async flush(): Promise<boolean> {
    const until = this.collectedUntil;
    if (this.buffer.length === 0 && this.consumerBuffer.length === 0) {
      this.writtenUntil = Math.max(this.writtenUntil, until);
      this.options.history?.advance(until);
      return true;
    }
    if (this.inflight !== null) {
      // A write given up on has not returned yet: a second one would take a second connection.
      this.fail(new Error('the previous store write has not returned yet'));
      return false;
    }
    const batch = this.buffer.slice();
    const consumers = this.consumerBuffer.slice();
    const abort = new AbortController();
    const write = this.store.writeSnapshot(batch, {
      signal: abort.signal,
      ...(consumers.length > 0 && { consumers }),
    });
    const inflight = { settled: write.then(noop, noop), abort };
    this.inflight = inflight;
    void inflight.settled.then(() => {
      if (this.inflight === inflight) this.inflight = null;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        write,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = new Error(`store write timed out after ${this.writeTimeoutMs} ms`);
            abort.abort(error);
            reject(error);
          }, this.writeTimeoutMs);
          timer.unref();
        }),
      ]);
    } catch (error) {
      this.fail(error);
      return false;
    } finally {
      clearTimeout(timer);
    }
    // Nothing else touches the buffer while a run is in progress (runs never overlap).
    this.buffer.splice(0, batch.length);
    this.consumerBuffer.splice(0, consumers.length);
    this.stats.buffered = this.buffer.length;
    this.stats.written += batch.length;
    this.stats.failures = 0;
    this.lastSuccessAt = Date.now();
    this.writtenUntil = Math.max(this.writtenUntil, until);
    this.options.history?.advance(until);
    return true;
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
    let state: ComponentHealth['state'] =
      s.failures === 0 ? (this.stopped ? 'off' : 'ok') : s.failures < 3 ? 'degraded' : 'failing';
    let lastError = this.lastError;
    let lastErrorAt = this.lastErrorAt;
    // A store still connecting in the background (startPersistence): its own attempts decide.
    const link = this.store.status?.();
    if (link !== undefined && link.state !== 'connected' && !this.stopped) {
      state = link.attempts >= 3 ? 'failing' : 'degraded';
      lastError = `not connected (${link.attempts} failed attempts): ${link.lastError ?? 'connecting'}`;
      lastErrorAt = link.lastErrorAt ?? lastErrorAt;
    }
    return {
      name: `store:${this.store.kind}`,
      state,
      ...(lastError !== undefined && { lastError: lastError.slice(0, 300) }),
      ...(lastErrorAt !== undefined && { lastErrorAt: new Date(lastErrorAt).toISOString() }),
      ...(this.lastSuccessAt !== undefined && { lastSuccessAt: new Date(this.lastSuccessAt).toISOString() }),
      counters: {
        written: s.written,
        buffered: s.buffered,
        dropped: s.dropped,
        missedBuckets: s.missedBuckets,
        rolledUp: s.rolledUp,
        deleted: s.deleted,
        maintenanceErrors: s.maintenanceErrors,
        ...(link !== undefined && { connected: link.state === 'connected' ? 1 : 0, connectFailures: link.attempts }),
      },
    };
  }
}
