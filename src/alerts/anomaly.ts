import type { MeterSource } from './source.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Days of history a baseline looks back over, and how many of them must hold data. */
export const BASELINE_DAYS = 7;
export const BASELINE_MIN_DAYS = 3;
/** Requests a day's hour needs before its p95 counts in a latency baseline. */
const P95_MIN_REQUESTS = 20;
/** The value of an endpoint that went silent (and the cap of every value). */
export const SILENT = 99;
const MAD_TO_SIGMA = 1.4826;

/** Per endpoint: the request rate (req/s) and p95 (ms, when busy enough) of the same hour on past days. */
export interface Baseline {
  readonly hour: number;
  readonly rates: ReadonlyMap<string, number[]>;
  readonly p95s: ReadonlyMap<string, number[]>;
  /** Days whose hour held any data at all (the store was recording). */
  readonly days: number;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// Baseline samples live for an hour: their median and MAD are computed once, not per tick.
const stats = new WeakMap<readonly number[], Map<number, { median: number; mad: number }>>();

/**
 * Median and scale (1.4826 MAD, floored at 10 % of the median and at `minScale`) of samples, padded with
 * zeros to `days` samples.
 */
export function robust(
  samples: readonly number[],
  minScale: number,
  days = samples.length,
): { median: number; scale: number } {
  let byDays = stats.get(samples);
  if (byDays === undefined) stats.set(samples, (byDays = new Map()));
  let s = byDays.get(days);
  if (s === undefined) {
    const all = [...samples];
    while (all.length < days) all.push(0);
    const m = median(all);
    s = { median: m, mad: median(all.map((x) => Math.abs(x - m))) };
    byDays.set(days, s);
  }
  return { median: s.median, scale: Math.max(MAD_TO_SIGMA * s.mad, 0.1 * s.median, minScale) };
}

const NO_SAMPLES: readonly number[] = [];

/**
 * The request-rate anomaly of one endpoint: |rate − median| / scale over the baseline, capped at
 * {@link SILENT}; SILENT when the endpoint saw no request while its baseline expects at least
 * `minRequests` in the window. Null when there is no baseline (fewer than 3 days) or the volume is under
 * the floor (neither the baseline nor the window reaches `minRequests`).
 */
export function rateAnomaly(
  samples: readonly number[] | undefined,
  days: number,
  count: number,
  seconds: number,
  minRequests: number,
): number | null {
  if (days < BASELINE_MIN_DAYS || seconds <= 0) return null;
  // A day the store recorded but this endpoint had no request is a zero, not a missing day.
  const { median: m, scale } = robust(samples ?? NO_SAMPLES, (0.1 * Math.max(minRequests, 1)) / seconds, days);
  const expected = m * seconds;
  if (expected < minRequests && count < minRequests) return null;
  if (count === 0) return SILENT;
  return Math.min(SILENT, Math.abs(count / seconds - m) / scale);
}

/** The p95 anomaly of one endpoint (ms against past p95s); null without 3 days or under `minRequests`. */
export function p95Anomaly(
  samples: readonly number[] | undefined,
  p95: number,
  count: number,
  minRequests: number,
): number | null {
  if (samples === undefined || samples.length < BASELINE_MIN_DAYS || count < Math.max(minRequests, 1)) return null;
  const { median: m, scale } = robust(samples, 1e-6);
  return Math.min(SILENT, Math.abs(p95 - m) / scale);
}

/** Reads and caches the baseline of the current hour of day (7 history reads once an hour). */
export class BaselineCache {
  private current: Promise<Baseline | null> | null = null;
  private hour = -1;

  constructor(private readonly source: MeterSource) {}

  at(now: number): Promise<Baseline | null> {
    if (this.source.history === null) return Promise.resolve(null);
    const hour = Math.floor(now / HOUR) * HOUR;
    if (hour !== this.hour || this.current === null) {
      this.hour = hour;
      this.current = this.read(hour, now);
      // A failed read is retried on the next tick.
      this.current.catch(() => (this.current = null));
    }
    return this.current;
  }

  private async read(hour: number, now: number): Promise<Baseline> {
    const rates = new Map<string, number[]>();
    const p95s = new Map<string, number[]>();
    let days = 0;
    for (let d = 1; d <= BASELINE_DAYS; d++) {
      const from = hour - d * DAY;
      const data = await this.source.range(from, from + HOUR, now);
      if (!data.rows.some((r) => r.tally.count > 0)) continue;
      days++;
      for (const row of data.rows) {
        if (row.tally.count === 0) continue;
        let r = rates.get(row.endpoint);
        if (r === undefined) rates.set(row.endpoint, (r = []));
        r.push(row.tally.count / 3600);
        if (row.tally.latency.count >= P95_MIN_REQUESTS) {
          let p = p95s.get(row.endpoint);
          if (p === undefined) p95s.set(row.endpoint, (p = []));
          p.push(row.tally.latency.quantile(0.95));
        }
      }
    }
    return { hour, rates, p95s, days };
  }
}
