import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { ComponentHealth } from '../core/health.js';
import type { Meter } from '../core/meter.js';
import { timeSlicer } from '../store/slice.js';
import { LIVE_KEEP_MS, openLiveTier } from './live-tier.js';
import type { InstanceHeader, LiveRow, LiveTier, LiveTierOptions } from './live-tier.js';

export interface LiveWriterOptions {
  meter: Meter;
  /** `postgres://…`; default `[metrics] api_metrics_store_url`. */
  url?: string;
  /** PostgreSQL schema of the store's tables (default: the connection's search_path). */
  schema?: string;
  /** An open live tier instead of `url` (tests, benchmarks). Closed by `stop()`. */
  tier?: LiveTier;
  /** Pool settings (timeouts, `application_name`). */
  postgres?: Omit<LiveTierOptions, 'url' | 'schema'>;
  /** This instance's id; default `hostname:pid` (the snapshot task's default, so both tiers agree). */
  instance?: string;
  /** How the process runs (`primary`, `worker 2`, `pm2 0`); default `process`. */
  role?: string;
  /**
   * Seconds between writes; default `[metrics] api_metrics_live_interval`, else the meter's fine slot.
   * A multiple of the fine slot (`rings.fineMs`, 10 s by default), which is the granularity of the rows.
   */
  intervalSeconds?: number;
  /** Rows held while the database is unreachable; beyond it the oldest are dropped and counted (default 60,000). */
  maxBufferedRows?: number;
  /** A write not done by then is given up on (its connection destroyed) and retried (default 10,000 ms). */
  writeTimeoutMs?: number;
  /** A slot is written this long after it ends (records are stamped by a 100 ms tick; default 1,500 ms). */
  graceMs?: number;
  /** End of this instance's durable snapshot buckets written (`persistence.task.writtenUntil`). */
  durableUntil?: () => number;
  /** Delay after a failed connection or write, doubling from `min` to `max` (defaults 1,000 and 30,000 ms). */
  retryMs?: { min?: number; max?: number };
  onError?: (error: unknown) => void;
}

export interface LiveWriterStats {
  /** Rows written. */
  written: number;
  /** Rows waiting for the next write. */
  buffered: number;
  /** Rows dropped from a full buffer (oldest first). */
  dropped: number;
  /** Slots that left the fine ring before they could be collected (the process was starved that long). */
  missedSlots: number;
  batches: number;
  failures: number;
  /** Ticks skipped because the previous write was still running. */
  skipped: number;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Writes the meter's closed fine slots to the live tier, one batch per interval (one transaction: the
 * instance's row and one row per endpoint that recorded in the slot, its tally serialized). Runs on an
 * unref'd timer, never on the request path: while PostgreSQL is down rows wait in a bounded buffer
 * (the oldest dropped and counted beyond it) and the write is retried with backoff; the state shows in
 * `/health` as `live:postgres`.
 *
 * @example
 * const live = startLiveWriter({ meter, url: 'postgres://127.0.0.1/metrics', intervalSeconds: 10 });
 * // on shutdown: await live.stop(); (a final write, marked stopped)
 */
export class LiveWriter {
  readonly instance: string;
  readonly intervalMs: number;
  readonly stats: LiveWriterStats = {
    written: 0,
    buffered: 0,
    dropped: 0,
    missedSlots: 0,
    batches: 0,
    failures: 0,
    skipped: 0,
  };
  private readonly meter: Meter;
  private readonly fineMs: number;
  private readonly graceMs: number;
  private readonly maxBuffered: number;
  private readonly writeTimeoutMs: number;
  private readonly header: InstanceHeader;
  private tier: LiveTier | null;
  private buffer: LiveRow[] = [];
  /** Id of the next fine slot to collect. */
  private nextSlot: number;
  private collectedUntil: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | null = null;
  private stopped = false;
  private retryAt = 0;
  private nextPruneAt = 0;
  private lastError: string | undefined;
  private lastErrorAt: number | undefined;
  private lastSuccessAt: number | undefined;
  private inflight: Promise<unknown> | null = null;
  private readonly removeHealth: () => void;

  constructor(private readonly options: LiveWriterOptions) {
    const { meter } = options;
    this.meter = meter;
    this.fineMs = meter.rings.fineMs;
    const seconds = options.intervalSeconds ?? (meter.config.apiMetricsLiveInterval || this.fineMs / 1000);
    this.intervalMs = Math.round(seconds * 1000);
    if (this.intervalMs <= 0 || this.intervalMs % this.fineMs !== 0) {
      throw new RangeError(`live interval ${seconds} s must be a multiple of the fine slot (${this.fineMs / 1000} s)`);
    }
    if (this.intervalMs > this.fineMs * (meter.rings.fineSlots - 2)) {
      throw new RangeError(
        `live interval ${seconds} s is longer than the fine ring holds (${meter.rings.fineSlots} slots of ${this.fineMs / 1000} s)`,
      );
    }
    this.graceMs = options.graceMs ?? 1500;
    this.maxBuffered = options.maxBufferedRows ?? 60_000;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
    this.instance = options.instance ?? `${hostname()}:${process.pid}`;
    this.tier = options.tier ?? null;
    this.nextSlot = Math.floor(meter.startedAt / this.fineMs);
    this.collectedUntil = this.nextSlot * this.fineMs;
    this.header = {
      instance: this.instance,
      version: packageVersion(),
      host: hostname(),
      pid: process.pid,
      role: options.role ?? 'process',
      startedAt: meter.startedAt,
      intervalMs: this.intervalMs,
      completeUntil: 0,
      durableUntil: 0,
      stoppedAt: null,
      dropped: 0,
    };
    this.removeHealth = meter.addHealthSource('live:postgres', () => this.health());
  }

  /** Writes on an unref'd timer, aligned to the interval (plus the grace), until {@link stop}. */
  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = Date.now();
    const next = (Math.floor((now - this.graceMs) / this.intervalMs) + 1) * this.intervalMs + this.graceMs;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (this.running !== null) this.stats.skipped++;
        else void this.runOnce();
        this.schedule();
      },
      Math.max(1, next - now),
    );
    this.timer.unref();
  }

  /** One collection and write; never rejects. Concurrent calls share the run in progress. */
  runOnce(): Promise<void> {
    this.running ??= this.run(false).finally(() => (this.running = null));
    return this.running;
  }

  private async run(final: boolean): Promise<void> {
    try {
      await this.collect(final);
      await this.flush(final);
    } catch (error) {
      this.fail(error);
    }
  }

  /** Buffers every slot that has ended (with `final`, the current one too) since the last collection. */
  private async collect(final: boolean): Promise<void> {
    const now = this.meter.clock.now();
    const current = Math.floor(now / this.fineMs);
    const last = final ? current : Math.floor((now - this.graceMs) / this.fineMs) - 1;
    // The fine ring holds fineSlots slots, the current one included.
    const oldest = current - this.meter.rings.fineSlots + 1;
    if (this.nextSlot < oldest) {
      this.stats.missedSlots += oldest - this.nextSlot;
      this.nextSlot = oldest;
    }
    const slice = timeSlicer();
    for (let id = this.nextSlot; id <= last; id++) {
      for (const ep of [...this.meter.registry.endpoints()]) {
        await slice();
        const t = ep.slotTally('fine', id);
        if (t === undefined || t.count === 0) continue;
        this.buffer.push({
          method: ep.method,
          route: ep.route,
          bucketStart: id * this.fineMs,
          bucketMs: this.fineMs,
          count: t.count,
          tally: JSON.stringify(t.toJSON()),
        });
      }
    }
    if (last >= this.nextSlot) {
      this.nextSlot = last + 1;
      this.collectedUntil = final ? now : this.nextSlot * this.fineMs;
    }
    const excess = this.buffer.length - this.maxBuffered;
    if (excess > 0) {
      this.buffer.splice(0, excess);
      this.stats.dropped += excess;
    }
    this.stats.buffered = this.buffer.length;
  }

  private async connect(): Promise<LiveTier | null> {
    if (this.tier !== null) return this.tier;
    if (Date.now() < this.retryAt) return null;
    const url = this.options.url ?? this.meter.config.apiMetricsStoreUrl;
    try {
      this.tier = await openLiveTier({ ...this.options.postgres, url, schema: this.options.schema });
    } catch (error) {
      this.fail(error);
      return null;
    }
    return this.tier;
  }

  private async flush(final: boolean): Promise<void> {
    const tier = await this.connect();
    if (tier === null) return;
    if (!final && Date.now() < this.retryAt) return;
    if (this.inflight !== null) {
      // A write given up on has not returned: a second one would take a second connection.
      this.fail(new Error('the previous live-tier write has not returned yet'));
      return;
    }
    const batch = this.buffer.slice();
    const header: InstanceHeader = {
      ...this.header,
      completeUntil: this.collectedUntil,
      durableUntil: this.options.durableUntil?.() ?? 0,
      stoppedAt: final ? this.meter.clock.now() : null,
      dropped: this.stats.dropped,
    };
    const abort = new AbortController();
    const write = tier.writeBatch(header, batch, abort.signal);
    const inflight = write.catch(() => undefined);
    this.inflight = inflight;
    void inflight.then(() => {
      if (this.inflight === inflight) this.inflight = null;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        write,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = new Error(`live-tier write timed out after ${this.writeTimeoutMs} ms`);
            abort.abort(error);
            reject(error);
          }, this.writeTimeoutMs);
          timer.unref();
        }),
      ]);
    } catch (error) {
      this.fail(error);
      return;
    } finally {
      clearTimeout(timer);
    }
    // Runs never overlap, so nothing touched the buffer during the write.
    this.buffer.splice(0, batch.length);
    this.stats.buffered = this.buffer.length;
    this.stats.written += batch.length;
    this.stats.batches++;
    this.stats.failures = 0;
    this.retryAt = 0;
    this.lastSuccessAt = Date.now();
    if (Date.now() >= this.nextPruneAt) {
      this.nextPruneAt = Date.now() + 60_000;
      await tier.prune(this.meter.clock.now() - LIVE_KEEP_MS, this.instance).catch((e: unknown) => this.fail(e));
    }
  }

  private fail(error: unknown): void {
    this.stats.failures++;
    this.lastError = message(error);
    this.lastErrorAt = Date.now();
    const min = this.options.retryMs?.min ?? 1000;
    const max = this.options.retryMs?.max ?? 30_000;
    this.retryAt = Date.now() + Math.min(max, min * 2 ** Math.min(20, this.stats.failures - 1));
    try {
      this.options.onError?.(error);
    } catch {
      // An error hook that throws must not stop the writer.
    }
  }

  /**
   * Stops the timer, writes every slot not written yet (the current, partial one included) marked as a
   * clean stop, and closes the pool. Resolves within the write timeout; never rejects.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    this.retryAt = 0;
    await this.run(true);
    this.removeHealth();
    await this.tier?.close().catch(() => undefined);
  }

  health(): ComponentHealth {
    const s = this.stats;
    const state: ComponentHealth['state'] = this.stopped
      ? 'off'
      : s.failures === 0
        ? s.dropped > 0
          ? 'degraded'
          : 'ok'
        : s.failures < 3
          ? 'degraded'
          : 'failing';
    return {
      name: 'live:postgres',
      state,
      ...(this.lastError !== undefined && { lastError: this.lastError.slice(0, 300) }),
      ...(this.lastErrorAt !== undefined && { lastErrorAt: new Date(this.lastErrorAt).toISOString() }),
      ...(this.lastSuccessAt !== undefined && { lastSuccessAt: new Date(this.lastSuccessAt).toISOString() }),
      counters: {
        written: s.written,
        buffered: s.buffered,
        dropped: s.dropped,
        missedSlots: s.missedSlots,
        batches: s.batches,
        failures: s.failures,
        skipped: s.skipped,
      },
    };
  }
}

/** Creates a {@link LiveWriter} and starts it. */
export function startLiveWriter(options: LiveWriterOptions): LiveWriter {
  const writer = new LiveWriter(options);
  writer.start();
  return writer;
}
