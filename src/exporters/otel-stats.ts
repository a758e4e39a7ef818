import type { Gauge, Histogram, Meter as OtelMeter, UpDownCounter } from '@opentelemetry/api';
import type { StatsBackend, StatsTags } from '../core/stats-backends.js';

/** Distinct instruments (and gauge series) kept; more names are dropped and counted. */
const LIMIT = 1000;

/**
 * The Stats facade on OpenTelemetry instruments, as Airflow's OTel logger does: `incr`/`decr` on an
 * UpDownCounter (scaled by 1/rate), `gauge` on a synchronous Gauge (deltas added to the last value
 * recorded here), `timing` on a histogram in milliseconds. Names get `otel_prefix` in front.
 */
export class OtelStatsBackend implements StatsBackend {
  dropped = 0;
  private readonly counters = new Map<string, UpDownCounter>();
  private readonly gauges = new Map<string, Gauge>();
  private readonly histograms = new Map<string, Histogram>();
  private readonly gaugeValues = new Map<string, number>();

  constructor(
    private readonly meter: OtelMeter,
    private readonly prefix: string,
  ) {}

  count(name: string, value: number, rate: number, tags: StatsTags): void {
    const counter = this.instrument(this.counters, name, (n) => this.meter.createUpDownCounter(n));
    counter?.add(rate > 0 && rate < 1 ? value / rate : value, tags);
  }

  gauge(name: string, value: number, _rate: number, delta: boolean, tags: StatsTags): void {
    const gauge = this.instrument(this.gauges, name, (n) => this.meter.createGauge(n));
    if (gauge === undefined) return;
    let next = value;
    if (delta) {
      const key = `${name}|${JSON.stringify(tags)}`;
      const known = this.gaugeValues.get(key);
      if (known === undefined && this.gaugeValues.size >= LIMIT) {
        this.dropped++;
        return;
      }
      next = (known ?? 0) + value;
      this.gaugeValues.set(key, next);
    }
    gauge.record(next, tags);
  }

  timing(name: string, ms: number, _rate: number, tags: StatsTags): void {
    const histogram = this.instrument(this.histograms, name, (n) => this.meter.createHistogram(n, { unit: 'ms' }));
    histogram?.record(ms > 0 ? ms : 0, tags);
  }

  private instrument<T>(map: Map<string, T>, name: string, create: (fullName: string) => T): T | undefined {
    let found = map.get(name);
    if (found === undefined) {
      if (map.size >= LIMIT) {
        this.dropped++;
        return undefined;
      }
      found = create(this.prefix === '' ? name : `${this.prefix}.${name}`);
      map.set(name, found);
    }
    return found;
  }
}
