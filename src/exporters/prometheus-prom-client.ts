/**
 * apimeter's families served from an existing prom-client registry: for apps that already expose
 * `/metrics` with prom-client (fastify-metrics, express-prom-bundle, their own metrics, default process
 * metrics) and want apimeter's series in the same scrape. Nothing is imported from prom-client: the
 * registry is the caller's, and the objects registered have the shape its `Registry` reads (`name`,
 * `help`, `type`, `aggregator`, `get()`, `reset()`), like prom-client's own metrics.
 */
import type { Sketch } from '../core/sketch.js';
import type { Meter } from '../core/meter.js';
import { cumulativeBuckets } from './prometheus-buckets.js';
import { formatLe } from './prometheus-text.js';
import type { Labels, MetricType, MetricWriter } from './prometheus-text.js';
import type { PrometheusOptions } from './prometheus.js';

/** One sample as prom-client's registry prints it. */
export interface PromClientValue {
  labels: Record<string, string>;
  value: number;
  metricName?: string;
}

export interface PromClientMetricData {
  name: string;
  help: string;
  type: MetricType;
  aggregator: 'sum';
  values: PromClientValue[];
}

/** What `registerApimeter` needs of a prom-client `Registry` (15.x). */
export interface PromClientRegistryLike {
  /** prom-client types its parameter as its own metric classes; ours has the shape its registry reads. */
  registerMetric(metric: never): void;
}

/** The metric shape prom-client's registry serialises. */
export interface PromClientMetricLike {
  name: string;
  help: string;
  type: MetricType;
  aggregator: 'sum';
  get(): Promise<PromClientMetricData>;
  reset(): void;
}

const record = (labels: Labels): Record<string, string> => Object.fromEntries(labels);

/** Collects families as prom-client metric data (classic buckets only; no exemplars). */
class PromClientWriter implements MetricWriter {
  readonly format = 'text' as const;
  readonly families = new Map<string, PromClientMetricData>();
  private current: PromClientMetricData | undefined;

  family(name: string, type: MetricType, help: string): void {
    this.current = { name, help, type, aggregator: 'sum', values: [] };
    this.families.set(name, this.current);
  }

  sample(_name: string, labels: Labels, value: number): void {
    this.current?.values.push({ labels: record(labels), value });
  }

  histogram(name: string, labels: Labels, sketch: Sketch, bounds: readonly number[], unit: number): void {
    const values = this.current?.values;
    if (values === undefined) return;
    const cumulative = cumulativeBuckets(sketch, bounds, unit);
    bounds.forEach((b, i) =>
      values.push({
        labels: record([...labels, ['le', formatLe(b, 'text')]]),
        value: cumulative[i],
        metricName: `${name}_bucket`,
      }),
    );
    values.push({ labels: record([...labels, ['le', '+Inf']]), value: sketch.count, metricName: `${name}_bucket` });
    values.push({ labels: record(labels), value: sketch.sum / unit, metricName: `${name}_sum` });
    values.push({ labels: record(labels), value: sketch.count, metricName: `${name}_count` });
  }
}

/** Registers the families `render` writes for `meter` in `registry`; see `registerApimeter` in prometheus.ts. */
export function registerFamilies(
  registry: PromClientRegistryLike,
  meter: Meter,
  options: Omit<PrometheusOptions, 'format'> = {},
  render: (w: MetricWriter, meter: Meter, options: PrometheusOptions) => void,
): readonly string[] {
  let cached: Map<string, PromClientMetricData> | undefined;
  const read = (): Map<string, PromClientMetricData> => {
    if (cached === undefined) {
      const w = new PromClientWriter();
      render(w, meter, options);
      cached = w.families;
      // One registry.metrics() call asks every family in the same turn; the next scrape reads again.
      setTimeout(() => (cached = undefined), 0);
    }
    return cached;
  };
  const names = [...read().keys()];
  cached = undefined;
  for (const key of names) {
    const metric: PromClientMetricLike = {
      name: key,
      help: '',
      type: 'gauge',
      aggregator: 'sum',
      async get() {
        const data = read().get(key);
        // `name` as the registry holds it: prom-client renames counters (drops `_total`) for OpenMetrics.
        return data === undefined
          ? { name: metric.name, help: metric.help, type: metric.type, aggregator: 'sum', values: [] }
          : { ...data, name: metric.name };
      },
      reset() {},
    };
    const first = read().get(key)!;
    metric.help = first.help;
    metric.type = first.type;
    registry.registerMetric(metric as never);
  }
  return names;
}
