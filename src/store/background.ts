import { createError } from '../errors.js';
import type { MergeQuery, MergedRow, RollupOptions, RollupReport, Watermarks } from './rollup.js';
import type { RetentionCount, RetentionOptions } from './retention.js';
import type { ConsumerQuery, ConsumerRow } from './consumer-rows.js';
import type { RowQuery, SnapshotRow, SnapshotStore, StoreStatus, WriteOptions } from './store.js';

export interface BackgroundStoreOptions {
  /** `sqlite` or `postgres`: known from the URL before anything connects. */
  kind: string;
  /** Opens (and migrates) the real store; one attempt per call. Its own timeouts bound an attempt. */
  open: () => Promise<SnapshotStore>;
  /** First delay after a failed attempt, doubling up to `maxRetryMs` (defaults 1,000 and 60,000 ms). */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Called once the store is open (reads what earlier runs stored, wakes the snapshot task). */
  onOpen?: (store: SnapshotStore) => Promise<void> | void;
  /** Receives every failed attempt. */
  onError?: (error: unknown) => void;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * A store that connects in the background: attempts to open the real one until it succeeds, with
 * exponential backoff, never two attempts at a time. Until then every call rejects with
 * `APIMETER_ERR_STORE_UNAVAILABLE` carrying the last error (the snapshot task buffers and retries), and
 * {@link status} says how it goes; afterwards every call goes to the real store.
 */
export class BackgroundStore implements SnapshotStore {
  readonly kind: string;
  private inner: SnapshotStore | null = null;
  private attempts = 0;
  private lastError: string | undefined;
  private lastErrorAt: number | undefined;
  /** The error of the last failed attempt (undefined once connected). */
  lastFailure: unknown;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt: Promise<void> | null = null;
  /** Settles when the first attempt has (successfully or not). */
  readonly firstAttempt: Promise<void>;

  constructor(private readonly options: BackgroundStoreOptions) {
    this.kind = options.kind;
    this.firstAttempt = this.tryOpen();
  }

  private tryOpen(): Promise<void> {
    this.attempt = (async () => {
      let store: SnapshotStore;
      try {
        store = await this.options.open();
      } catch (error) {
        this.attempts++;
        this.lastFailure = error;
        this.lastError = message(error);
        this.lastErrorAt = Date.now();
        try {
          this.options.onError?.(error);
        } catch {
          // An error hook that throws must not stop the retries.
        }
        this.retryLater();
        return;
      }
      if (this.closed) {
        await store.close().catch(() => undefined);
        return;
      }
      this.inner = store;
      this.attempts = 0;
      this.lastFailure = undefined;
      try {
        await this.options.onOpen?.(store);
      } catch (error) {
        this.options.onError?.(error);
      }
    })().finally(() => (this.attempt = null));
    return this.attempt;
  }

  private retryLater(): void {
    if (this.closed) return;
    const min = this.options.minRetryMs ?? 1000;
    const delay = Math.min(this.options.maxRetryMs ?? 60_000, min * 2 ** Math.min(30, this.attempts - 1));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tryOpen();
    }, delay);
    this.timer.unref();
  }

  /** Resolves when the attempt in progress (if any) has settled; never rejects. */
  settled(): Promise<void> {
    return this.attempt ?? Promise.resolve();
  }

  /** The real store once open, else null. */
  get current(): SnapshotStore | null {
    return this.inner;
  }

  status(): StoreStatus {
    return {
      state: this.closed ? 'closed' : this.inner !== null ? 'connected' : 'connecting',
      attempts: this.attempts,
      ...(this.lastError !== undefined && { lastError: this.lastError }),
      ...(this.lastErrorAt !== undefined && { lastErrorAt: this.lastErrorAt }),
    };
  }

  private get store(): SnapshotStore {
    if (this.inner !== null) return this.inner;
    const why = this.closed ? 'it is closed' : (this.lastError ?? 'still connecting');
    throw createError('APIMETER_ERR_STORE_UNAVAILABLE', `the ${this.kind} store is not connected: ${why}`);
  }

  async migrate(): Promise<number> {
    return this.store.migrate();
  }
  async writeSnapshot(rows: readonly SnapshotRow[], options?: WriteOptions): Promise<void> {
    return this.store.writeSnapshot(rows, options);
  }
  async readRows(query: RowQuery): Promise<SnapshotRow[]> {
    return this.store.readRows(query);
  }
  async mergeRows(query: MergeQuery): Promise<MergedRow[]> {
    return this.store.mergeRows(query);
  }
  async newestBucketEnd(instance?: string): Promise<number> {
    return this.store.newestBucketEnd(instance);
  }
  async rollupWatermarks(): Promise<Watermarks> {
    return this.store.rollupWatermarks();
  }
  async rollup(until: number, options?: RollupOptions): Promise<RollupReport> {
    return this.store.rollup(until, options);
  }
  async deleteBefore(cutoff: number, options?: RetentionOptions): Promise<RetentionCount[]> {
    return this.store.deleteBefore(cutoff, options);
  }

  async readConsumers(query: ConsumerQuery): Promise<ConsumerRow[]> {
    return this.store.readConsumers(query);
  }

  async readAlertState(key: string): Promise<string | null> {
    return this.store.readAlertState(key);
  }
  async writeAlertState(key: string, state: string, savedAt: number): Promise<void> {
    return this.store.writeAlertState(key, state, savedAt);
  }

  /** Stops the attempts; closes the real store if open (one still being opened is closed when it opens). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const inner = this.inner;
    this.inner = null;
    if (inner !== null) await inner.close();
  }
}
