import { seriesKey } from '../core/stats-backends.js';
import type { StatsTags } from '../core/stats-backends.js';
import { decimal } from './statsd-format.js';
import type { StatsdFormat } from './statsd-format.js';

interface Series {
  readonly name: string;
  readonly tags: StatsTags;
}
interface CounterSeries extends Series {
  value: number;
}
interface GaugeSeries extends Series {
  /** Absolute value set (or, for DogStatsD, tracked) this interval; null when only deltas came. */
  value: number | null;
  delta: number;
}
interface TimingSeries extends Series {
  readonly values: number[];
  /** Sample rate of each value, only once a value came with a rate below 1. */
  rates: number[] | null;
}

const NAME_CACHE_LIMIT = 10_000;

/**
 * The Stats facade's calls between two flushes, aggregated as a StatsD server would: counters summed
 * (scaled by 1/rate, so they are sent unsampled), gauges as their last value, timings kept as values with
 * their sample rates. Bounded: past `maxSeries` distinct series or `maxValues` timing values, calls are
 * dropped and counted.
 *
 * Plain StatsD has no tags: as in Airflow, tags of facade calls are left out (series differing only by
 * tags then share a name). Gauge deltas (`gauge(name, 5, 1, true)`) stay deltas (`+5|g`) for StatsD and
 * Telegraf; DogStatsD has no delta gauges, so the value is tracked here and sent absolute.
 */
export class StatsAggregator {
  dropped = 0;
  private readonly counters = new Map<string, CounterSeries>();
  private readonly gauges = new Map<string, GaugeSeries>();
  private readonly timings = new Map<string, TimingSeries>();
  /** DogStatsD: current gauge values, for deltas. */
  private readonly gaugeValues = new Map<string, number>();
  private readonly names = new Map<string, string>();
  private values = 0;

  constructor(
    private readonly format: StatsdFormat,
    private readonly prefix: string,
    private readonly timerMode: 'values' | 'sampled' | 'distribution',
    private readonly maxSeries: number,
    private readonly maxValues: number,
  ) {}

  count(name: string, value: number, rate: number, tags: StatsTags): void {
    const key = seriesKey(name, tags);
    let series = this.counters.get(key);
    if (series === undefined) {
      if (this.full()) return;
      series = { name, tags, value: 0 };
      this.counters.set(key, series);
    }
    series.value += rate > 0 && rate < 1 ? value / rate : value;
  }

  gauge(name: string, value: number, delta: boolean, tags: StatsTags): void {
    const key = seriesKey(name, tags);
    let series = this.gauges.get(key);
    if (series === undefined) {
      if (this.full()) return;
      series = { name, tags, value: null, delta: 0 };
      this.gauges.set(key, series);
    }
    if (this.format.dialect === 'datadog') {
      const known = this.gaugeValues.get(key);
      if (known === undefined && this.gaugeValues.size >= this.maxSeries) {
        this.dropped++;
        return;
      }
      const next = delta ? (known ?? 0) + value : value;
      this.gaugeValues.set(key, next);
      series.value = next;
    } else if (!delta) {
      series.value = value;
      series.delta = 0;
    } else if (series.value !== null) {
      series.value += value;
    } else {
      series.delta += value;
    }
  }

  timing(name: string, ms: number, rate: number, tags: StatsTags): void {
    if (this.values >= this.maxValues) {
      this.dropped++;
      return;
    }
    const key = seriesKey(name, tags);
    let series = this.timings.get(key);
    if (series === undefined) {
      if (this.full()) return;
      series = { name, tags, values: [], rates: null };
      this.timings.set(key, series);
    }
    if (rate < 1 && series.rates === null) series.rates = series.values.map(() => 1);
    series.values.push(ms > 0 ? ms : 0);
    series.rates?.push(rate);
    this.values++;
  }

  /** Formats every pending series through `add(text, lines)` and empties the aggregator. */
  drain(add: (text: string, lines: number) => void): void {
    const fmt = this.format;
    for (const s of this.counters.values()) {
      if (s.value === 0) continue;
      const part = this.part(s.tags);
      add(fmt.line(fmt.head(this.nameOf(s.name), part), decimal(s.value), 'c', 1, fmt.tail(part)), 1);
    }
    for (const s of this.gauges.values()) {
      const part = this.part(s.tags);
      const head = fmt.head(this.nameOf(s.name), part);
      const tail = fmt.tail(part);
      if (s.value === null) {
        if (s.delta !== 0) add(fmt.line(head, (s.delta > 0 ? '+' : '') + decimal(s.delta), 'g', 1, tail), 1);
      } else if (s.value < 0 && fmt.dialect !== 'datadog') {
        // A leading "-" means "decrease" to StatsD: set 0 first, in the same datagram.
        add(`${fmt.line(head, '0', 'g', 1, tail)}\n${fmt.line(head, decimal(s.value), 'g', 1, tail)}`, 2);
      } else {
        add(fmt.line(head, decimal(s.value), 'g', 1, tail), 1);
      }
    }
    const type = this.timerMode === 'distribution' ? 'd' : 'ms';
    for (const s of this.timings.values()) {
      const part = this.part(s.tags);
      const head = fmt.head(this.nameOf(s.name), part);
      const tail = fmt.tail(part);
      s.values.forEach((v, i) => add(fmt.line(head, decimal(v), type, s.rates?.[i] ?? 1, tail), 1));
    }
    this.counters.clear();
    this.gauges.clear();
    this.timings.clear();
    this.values = 0;
  }

  private full(): boolean {
    if (this.counters.size + this.gauges.size + this.timings.size < this.maxSeries) return false;
    this.dropped++;
    return true;
  }

  private nameOf(name: string): string {
    let full = this.names.get(name);
    if (full === undefined) {
      full = this.format.name(this.prefix, name);
      if (this.names.size < NAME_CACHE_LIMIT) this.names.set(name, full);
    }
    return full;
  }

  /** Tag part of a facade series; plain StatsD sends none (Airflow's behaviour). */
  private part(tags: StatsTags): string {
    if (this.format.dialect === 'statsd') return '';
    const keys = Object.keys(tags).sort();
    return this.format.dims(keys.map((k) => [k, String(tags[k])] as const));
  }
}
