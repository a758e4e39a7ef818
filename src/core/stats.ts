import type { Clock } from './clock.js';
import type { StatsBackend, StatsTags } from './stats-backends.js';

export { MemoryStatsBackend, NoopStatsBackend, seriesKey } from './stats-backends.js';
export type { StatsBackend, StatsCall, StatsTags } from './stats-backends.js';

export interface StatsOptions {
  /** Put before every name with a dot: `api` + `request.count` → `api.request.count`. */
  prefix?: string;
  /** If non-empty, only names (without the prefix) starting with one of these are sent; blockList is then ignored. */
  allowList?: readonly string[];
  /** Names (without the prefix) starting with one of these are dropped. */
  blockList?: readonly string[];
  /** Every call goes to each of these. Default: none (calls are checked, then dropped). */
  backends?: readonly StatsBackend[];
  /** Told once per name about a dropped call: invalid name, sample rate outside [0, 1], non-finite value. */
  onInvalidName?: (name: string, reason: string) => void;
  /** Told when a backend throws or its close() rejects. Default: console.warn, once per backend. */
  onBackendError?: (error: unknown, backend: StatsBackend) => void;
  /** Uniform in [0, 1); decides which sampled calls are sent. Default Math.random. */
  sampleRandom?: () => number;
  /** Milliseconds for timers; default performance.now(). */
  clock?: Clock;
}

/** Measures one duration: `const t = stats.timer('job').start(); …; t.stop();` */
export interface StatsTimer {
  start(): StatsTimer;
  /** Milliseconds since start(); sent as a timing unless `send` is false. */
  stop(send?: boolean): number;
  /** Set by stop(); undefined before. */
  readonly duration: number | undefined;
}

/**
 * Airflow's `Stats`, for Node: names are validated, prefixed, filtered by allow/block list and
 * sampled here, once, and then handed to every backend. No method throws; bad calls are dropped
 * and reported once per name.
 */
export interface Stats {
  incr(name: string, count?: number, rate?: number, tags?: StatsTags): void;
  decr(name: string, count?: number, rate?: number, tags?: StatsTags): void;
  gauge(name: string, value: number, rate?: number, delta?: boolean, tags?: StatsTags): void;
  timing(name: string, ms: number, tags?: StatsTags): void;
  timer(name: string, tags?: StatsTags): StatsTimer;
  /** Runs fn and records how long it took, also when it throws or its promise rejects. Returns what fn returns. */
  time<T>(name: string, fn: () => T, tags?: StatsTags): T;
  /** Closes every backend; later calls are dropped. */
  close(): Promise<void>;
}

/**
 * @example
 * const memory = new MemoryStatsBackend();
 * const stats = createStats({ prefix: 'api', backends: [memory] });
 * stats.incr('request.count', 1, 1, { method: 'GET' });
 * await stats.time('db.query', () => db.query(sql));
 */
export function createStats(options: StatsOptions = {}): Stats {
  return new StatsFacade(options);
}

const MAX_NAME_LENGTH = 250;
const NAME_PATTERN = /^[A-Za-z0-9_.\-/]+$/;
/** Bound of the per-name verdict cache and of the set of names already reported. */
const NAME_CACHE_LIMIT = 10_000;
const NO_TAGS: StatsTags = Object.freeze({});
const performanceClock: Clock = { now: () => performance.now() };

const defaultOnInvalidName = (name: string, reason: string): void =>
  console.warn(`apimeter: metric ${JSON.stringify(name)} dropped: ${reason}`);

/** Airflow's list semantics: trimmed, lower-cased prefixes, empty entries ignored. */
const toPrefixes = (list: readonly string[] | undefined): string[] =>
  (list ?? []).map((entry) => entry.trim().toLowerCase()).filter((entry) => entry !== '');

class StatsFacade implements Stats {
  private readonly prefix: string;
  private readonly allow: string[];
  private readonly block: string[];
  private readonly backends: readonly StatsBackend[];
  private readonly onInvalidName: (name: string, reason: string) => void;
  private readonly onBackendError: (error: unknown, backend: StatsBackend) => void;
  private readonly random: () => number;
  readonly clock: Clock;
  /** name → full name to send, or null when the name is invalid or filtered out. */
  private readonly verdicts = new Map<string, string | null>();
  private readonly reported = new Set<string>();
  private closed = false;

  constructor(options: StatsOptions) {
    this.prefix = options.prefix ?? '';
    this.allow = toPrefixes(options.allowList);
    this.block = toPrefixes(options.blockList);
    this.backends = [...(options.backends ?? [])];
    this.onInvalidName = options.onInvalidName ?? defaultOnInvalidName;
    this.onBackendError = options.onBackendError ?? warnOncePerBackend();
    this.random = options.sampleRandom ?? Math.random;
    this.clock = options.clock ?? performanceClock;
  }

  incr(name: string, count = 1, rate = 1, tags: StatsTags = NO_TAGS): void {
    const full = this.admit(name, count, rate);
    if (full !== null) this.each((b) => b.count(full, count, rate, tags));
  }

  decr(name: string, count = 1, rate = 1, tags: StatsTags = NO_TAGS): void {
    const full = this.admit(name, count, rate);
    if (full !== null) this.each((b) => b.count(full, -count, rate, tags));
  }

  gauge(name: string, value: number, rate = 1, delta = false, tags: StatsTags = NO_TAGS): void {
    const full = this.admit(name, value, rate);
    if (full !== null) this.each((b) => b.gauge(full, value, rate, delta, tags));
  }

  timing(name: string, ms: number, tags: StatsTags = NO_TAGS): void {
    const full = this.admit(name, ms, 1);
    if (full !== null) this.each((b) => b.timing(full, ms, 1, tags));
  }

  timer(name: string, tags: StatsTags = NO_TAGS): StatsTimer {
    return new Timer(this, name, tags);
  }

  time<T>(name: string, fn: () => T, tags: StatsTags = NO_TAGS): T {
    const started = this.clock.now();
    const record = () => this.timing(name, this.clock.now() - started, tags);
    let result: T;
    try {
      result = fn();
    } catch (error) {
      record();
      throw error;
    }
    if (!isThenable(result)) {
      record();
      return result;
    }
    return result.then(
      (value) => {
        record();
        return value;
      },
      (error: unknown) => {
        record();
        throw error;
      },
    ) as T;
  }

  async close(): Promise<void> {
    this.closed = true;
    const results = await Promise.allSettled(
      this.backends.map((backend) => Promise.resolve().then(() => backend.close?.())),
    );
    results.forEach((result, i) => {
      if (result.status === 'rejected') this.onBackendError(result.reason, this.backends[i]);
    });
  }

  /** Reports a dropped call, once per name and kind of mistake. */
  report(name: string, kind: string, reason: string): void {
    const key = `${kind}\0${name}`;
    if (this.reported.has(key) || this.reported.size >= NAME_CACHE_LIMIT) return;
    this.reported.add(key);
    this.onInvalidName(name, reason);
  }

  /** The full name to send, or null when this call is dropped (closed, invalid, filtered, not sampled). */
  private admit(name: string, value: number, rate: number): string | null {
    if (this.closed) return null;
    const full = this.resolve(name);
    if (full === null) return null;
    if (!Number.isFinite(value)) {
      this.report(name, 'value', `value ${String(value)} is not a finite number`);
      return null;
    }
    if (rate === 1) return full;
    if (!(rate >= 0 && rate <= 1)) {
      this.report(name, 'rate', `sample rate ${String(rate)} is outside [0, 1]`);
      return null;
    }
    return this.random() < rate ? full : null;
  }

  private resolve(name: string): string | null {
    const cached = this.verdicts.get(name);
    if (cached !== undefined) return cached;
    const verdict = this.check(name);
    if (this.verdicts.size < NAME_CACHE_LIMIT) this.verdicts.set(name, verdict);
    return verdict;
  }

  private check(name: string): string | null {
    const full = this.prefix ? `${this.prefix}.${name}` : name;
    let problem: string | undefined;
    if (typeof name !== 'string' || name === '') problem = 'the name is empty';
    else if (full.length > MAX_NAME_LENGTH) problem = `${full.length} characters, more than ${MAX_NAME_LENGTH}`;
    else if (!NAME_PATTERN.test(full)) problem = 'only A-Z a-z 0-9 _ . - / are allowed';
    if (problem !== undefined) {
      this.report(String(name), 'name', problem);
      return null;
    }
    const lower = name.toLowerCase();
    if (this.allow.length > 0) return this.allow.some((p) => lower.startsWith(p)) ? full : null;
    return this.block.some((p) => lower.startsWith(p)) ? null : full;
  }

  private each(send: (backend: StatsBackend) => void): void {
    for (const backend of this.backends) {
      try {
        send(backend);
      } catch (error) {
        this.onBackendError(error, backend);
      }
    }
  }
}

class Timer implements StatsTimer {
  private startedAt: number | undefined;
  duration: number | undefined;

  constructor(
    private readonly stats: StatsFacade,
    private readonly name: string,
    private readonly tags: StatsTags,
  ) {}

  start(): this {
    this.startedAt = this.stats.clock.now();
    return this;
  }

  stop(send = true): number {
    if (this.startedAt === undefined) {
      this.stats.report(this.name, 'timer', 'timer stopped before it was started');
      return 0;
    }
    this.duration = this.stats.clock.now() - this.startedAt;
    if (send) this.stats.timing(this.name, this.duration, this.tags);
    return this.duration;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function warnOncePerBackend(): (error: unknown, backend: StatsBackend) => void {
  const warned = new WeakSet<StatsBackend>();
  return (error, backend) => {
    if (warned.has(backend)) return;
    warned.add(backend);
    console.warn(`apimeter: stats backend ${backend.constructor.name} failed: ${String(error)}`);
  };
}
