import { STATUS_CLASSES, statusClassLabel } from '../core/counts.js';
import type { Counts } from '../core/counts.js';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { ERROR_TYPES } from '../core/record.js';
import type { Sketch } from '../core/sketch.js';
import { cumulativeBuckets, DURATION_BOUNDS_SECONDS, SIZE_BOUNDS_BYTES } from './prometheus-buckets.js';
import { bucketExemplars, detailFamilies } from './prometheus-detail.js';
import { alertFamilies } from './prometheus-alerts.js';
import { consumerFamilies } from './prometheus-consumers.js';
import { catalogueFamily, ExpositionWriter, formatLe, labelSet } from './prometheus-text.js';
import type { ExpositionFormat } from './prometheus-text.js';
import { prometheusOf } from './catalogue.js';
import type { MetricKey, PrometheusPreset } from './catalogue.js';

export { cumulativeBuckets, DURATION_BOUNDS_SECONDS, SIZE_BOUNDS_BYTES } from './prometheus-buckets.js';
export { escapeLabelValue, formatLe, goFloat } from './prometheus-text.js';
export type { ExpositionFormat } from './prometheus-text.js';

export interface PrometheusOptions {
  /** `text` (exposition 0.0.4, default) or `openmetrics` (1.0). */
  format?: ExpositionFormat;
  /** Metric names: `otel` (default) or `legacy` (`http_request_duration_seconds`, `http_requests_total{status_code}`). */
  naming?: 'otel' | 'legacy';
  /** Add the exact `status` label to the request counter (more series). Default false. */
  statusLabel?: boolean;
}

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/**
 * The format an Accept header prefers: OpenMetrics when `application/openmetrics-text` has a higher
 * q-value than any text/plain or wildcard entry, else the 0.0.4 text format (also when there is no header).
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined) return 'text';
  let om = -1;
  let text = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!(q > 0)) continue;
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*') text = Math.max(text, q);
  }
  return om > 0 && om >= text ? 'openmetrics' : 'text';
}

interface Names {
  requests: string;
  requestsHelp: string;
  duration: string;
  /** Label carrying the status: `status_class` (with opt-in `status`), or legacy `status_code`. */
  legacyStatus: boolean;
}

const presetNames = (preset: PrometheusPreset): Names => ({
  requests: prometheusOf('requests').names[preset],
  requestsHelp: prometheusOf('requests').help[preset],
  duration: prometheusOf('duration').names[preset],
  legacyStatus: preset === 'legacy',
});
const NAMES: Record<PrometheusPreset, Names> = { otel: presetNames('otel'), legacy: presetNames('legacy') };

const family = (w: ExpositionWriter, key: MetricKey): string => catalogueFamily(w, prometheusOf(key));

function histogram(
  w: ExpositionWriter,
  name: string,
  labels: readonly (readonly [string, string])[],
  sketch: Sketch,
  bounds: readonly number[],
  unit: number,
  exemplars?: readonly (string | undefined)[],
): void {
  const cumulative = cumulativeBuckets(sketch, bounds, unit);
  bounds.forEach((bound, i) => {
    const le = formatLe(bound, w.format);
    w.sample(`${name}_bucket`, labelSet([...labels, ['le', le]]), cumulative[i], exemplars?.[i]);
  });
  w.sample(`${name}_bucket`, labelSet([...labels, ['le', '+Inf']]), sketch.count, exemplars?.[bounds.length]);
  w.sample(`${name}_sum`, labelSet(labels), sketch.sum / unit);
  w.sample(`${name}_count`, labelSet(labels), sketch.count);
}

function requestSamples(
  w: ExpositionWriter,
  names: Names,
  base: [string, string][],
  counts: Counts,
  statusLabel: boolean,
): void {
  if (names.legacyStatus || statusLabel) {
    for (const [code, n] of counts.codes) {
      const labels: [string, string][] = names.legacyStatus
        ? [...base, ['status_code', String(code)]]
        : [...base, ['status_class', statusClassLabel(code)], ['status', String(code)]];
      w.sample(names.requests, labelSet(labels), n);
    }
    return;
  }
  // Status codes outside 100–599 are counted but belong to no class: `other`, last.
  for (const cls of STATUS_CLASSES) {
    const n = counts.classes[cls];
    if (n > 0) w.sample(names.requests, labelSet([...base, ['status_class', cls]]), n);
  }
}

/**
 * The meter's metrics as a Prometheus exposition, cumulative since the meter started (each endpoint's
 * `meter.reader.cumulative(ep)`). Names come from the metric catalogue (catalogue.ts; docs/prometheus.md lists them).
 *
 * @example
 * res.setHeader('content-type', TEXT_CONTENT_TYPE);
 * res.end(renderPrometheus(meter));
 */
export function renderPrometheus(meter: Meter, options: PrometheusOptions = {}): string {
  const w = new ExpositionWriter(options.format ?? 'text');
  const preset = options.naming ?? 'otel';
  const names = NAMES[preset];
  const statusLabel = options.statusLabel ?? false;
  const eps: readonly EndpointStats[] = meter.registry.endpoints();
  const counts = meter.reader.cumulativeAll(eps);
  const base = (ep: EndpointStats): [string, string][] => [
    ['method', ep.method],
    ['route', ep.route],
  ];

  w.family(names.requests, 'counter', names.requestsHelp);
  eps.forEach((ep, i) => requestSamples(w, names, base(ep), counts[i], statusLabel));

  const errors = family(w, 'errors');
  eps.forEach((ep, i) => {
    ERROR_TYPES.forEach((type) => {
      const n = counts[i].errors[type];
      if (n > 0) w.sample(errors, labelSet([...base(ep), ['error_type', type]]), n);
    });
  });

  const duration = prometheusOf('duration');
  w.family(names.duration, duration.type, duration.help[preset], duration.unit);
  // Trace exemplars (detailed mode) exist in OpenMetrics only: the 0.0.4 text format has no syntax for them.
  const exemplars = (ep: EndpointStats) =>
    w.format === 'openmetrics' && ep.detail !== null
      ? bucketExemplars(ep.detail.exemplars, DURATION_BOUNDS_SECONDS)
      : undefined;
  eps.forEach((ep, i) =>
    histogram(w, names.duration, base(ep), counts[i].latency, DURATION_BOUNDS_SECONDS, 1000, exemplars(ep)),
  );

  const active = family(w, 'active');
  for (const ep of eps) w.sample(active, labelSet(base(ep)), ep.inflight);

  const requestSize = family(w, 'requestSize');
  for (const ep of eps) histogram(w, requestSize, base(ep), ep.requestSize, SIZE_BOUNDS_BYTES, 1);

  const responseSize = family(w, 'responseSize');
  for (const ep of eps) histogram(w, responseSize, base(ep), ep.responseSize, SIZE_BOUNDS_BYTES, 1);

  const registry = meter.registry;
  w.sample(family(w, 'endpoints'), '', registry.size);
  w.sample(family(w, 'overflowedEndpoints'), '', registry.overflowedEndpoints);
  w.sample(family(w, 'overflowedRecords'), '', registry.overflowedRecords);
  if (meter.detailed || eps.some((ep) => ep.detail !== null)) detailFamilies(w, eps, counts, base);
  alertFamilies(w, meter);
  consumerFamilies(w, meter);
  return w.finish();
}
