/** Tags of one metric call (DogStatsD tags, OpenTelemetry attributes). */
export type StatsTags = Readonly<Record<string, string | number | boolean>>;

/**
 * Where the Stats facade sends metrics. Names arrive validated, prefixed and filtered; `rate` is the
 * sample rate the call was kept at (1 = every call), so a backend can scale counts by 1/rate.
 * Methods must not throw; the facade still isolates a backend that does.
 */
export interface StatsBackend {
  count(name: string, value: number, rate: number, tags: StatsTags): void;
  gauge(name: string, value: number, rate: number, delta: boolean, tags: StatsTags): void;
  timing(name: string, ms: number, rate: number, tags: StatsTags): void;
  close?(): Promise<void>;
}

/** Drops everything: the backend of a Stats facade with metrics turned off. */
export class NoopStatsBackend implements StatsBackend {
  count(): void {}
  gauge(): void {}
  timing(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export type StatsCall =
  | {
      readonly kind: 'count';
      readonly name: string;
      readonly value: number;
      readonly rate: number;
      readonly tags: StatsTags;
    }
  | {
      readonly kind: 'gauge';
      readonly name: string;
      readonly value: number;
      readonly rate: number;
      readonly delta: boolean;
      readonly tags: StatsTags;
    }
  | {
      readonly kind: 'timing';
      readonly name: string;
      readonly value: number;
      readonly rate: number;
      readonly tags: StatsTags;
    };

/**
 * A test double that keeps what it receives, aggregated as a StatsD server would (without scaling
 * by the sample rate: counters hold the sum of the values actually sent).
 *
 * @example
 * const memory = new MemoryStatsBackend();
 * createStats({ prefix: 'api', backends: [memory] }).incr('hits', 1, 1, { method: 'GET' });
 * memory.counters.get('api.hits|method=GET'); // 1
 */
export class MemoryStatsBackend implements StatsBackend {
  /** Sum of counts per series (see seriesKey). */
  readonly counters = new Map<string, number>();
  /** Last value per series; delta gauges add to it. */
  readonly gauges = new Map<string, number>();
  /** Every duration (ms) per series, in arrival order. */
  readonly timings = new Map<string, number[]>();
  /** Every call received, in order. */
  readonly calls: StatsCall[] = [];
  closed = false;

  count(name: string, value: number, rate: number, tags: StatsTags): void {
    const key = seriesKey(name, tags);
    this.counters.set(key, (this.counters.get(key) ?? 0) + value);
    this.calls.push({ kind: 'count', name, value, rate, tags: { ...tags } });
  }

  gauge(name: string, value: number, rate: number, delta: boolean, tags: StatsTags): void {
    const key = seriesKey(name, tags);
    this.gauges.set(key, delta ? (this.gauges.get(key) ?? 0) + value : value);
    this.calls.push({ kind: 'gauge', name, value, rate, delta, tags: { ...tags } });
  }

  timing(name: string, ms: number, rate: number, tags: StatsTags): void {
    const key = seriesKey(name, tags);
    const list = this.timings.get(key);
    if (list) list.push(ms);
    else this.timings.set(key, [ms]);
    this.calls.push({ kind: 'timing', name, value: ms, rate, tags: { ...tags } });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  reset(): void {
    this.counters.clear();
    this.gauges.clear();
    this.timings.clear();
    this.calls.length = 0;
    this.closed = false;
  }
}

/** `name` alone, or `name|k=v,k2=v2` with tags sorted by key: one key per series. */
export function seriesKey(name: string, tags: StatsTags): string {
  const keys = Object.keys(tags);
  if (keys.length === 0) return name;
  return `${name}|${keys
    .sort()
    .map((k) => `${k}=${String(tags[k])}`)
    .join(',')}`;
}
