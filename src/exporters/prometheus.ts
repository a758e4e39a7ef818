import { STATUS_CLASSES, statusClassLabel } from '../core/counts.js';
import type { Counts } from '../core/counts.js';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { ERROR_TYPES, UNMATCHED_ROUTE } from '../core/record.js';
import { SIZE_BOUNDS_BYTES } from './prometheus-buckets.js';
import {
  colonRoute,
  presetDurationBuckets,
  presetRouteFormat,
  statusCodeDurations,
  valueRoute,
} from './prometheus-legacy.js';
import type { LegacyOptions, RouteFormat } from './prometheus-legacy.js';
import { bucketExemplars, detailFamilies } from './prometheus-detail.js';
import { alertFamilies } from './prometheus-alerts.js';
import { catalogueFamily, ExpositionWriter } from './prometheus-text.js';
import type { ExpositionFormat, MetricWriter, ScrapeFormat } from './prometheus-text.js';
import { ProtobufWriter } from './prometheus-protobuf.js';
import { registerFamilies } from './prometheus-prom-client.js';
import type { PromClientRegistryLike } from './prometheus-prom-client.js';
import { consumerFamilies } from './prometheus-consumers.js';
import { prometheusOf } from './catalogue.js';
import type { MetricKey, PrometheusPreset } from './catalogue.js';

export {
  cumulativeBuckets,
  DURATION_BOUNDS_SECONDS,
  EXPRESS_PROM_BUNDLE_BUCKETS,
  PROM_CLIENT_DEFAULT_BUCKETS,
  SIZE_BOUNDS_BYTES,
} from './prometheus-buckets.js';
export {
  colonRoute,
  LEGACY_FLAVORS,
  presetDurationBuckets,
  presetRouteFormat,
  valueRoute,
} from './prometheus-legacy.js';
export type { LegacyFlavor, LegacyOptions, RouteFormat } from './prometheus-legacy.js';
export { escapeLabelValue, formatLe, goFloat } from './prometheus-text.js';
export type { ExpositionFormat, ScrapeFormat } from './prometheus-text.js';
export { PROTOBUF_CONTENT_TYPE } from './prometheus-protobuf.js';
export { nativeEdgeFactor, nativeHistogram } from './prometheus-native.js';
export type {
  PromClientMetricData,
  PromClientMetricLike,
  PromClientRegistryLike,
  PromClientValue,
} from './prometheus-prom-client.js';
export type { NativeHistogram, NativeSpan } from './prometheus-native.js';

export interface PrometheusOptions {
  /** `text` (exposition 0.0.4, default) or `openmetrics` (1.0). */
  format?: ExpositionFormat;
  /**
   * Metric names: `otel` (default), `legacy` (`http_request_duration_seconds`, `http_requests_total{status_code}`)
   * or `airflow` (`http_request_duration_milliseconds`, `http_requests_total{status_family}`).
   */
  naming?: PrometheusPreset;
  /** Add the exact `status` label to the request counter (more series). Default false. */
  statusLabel?: boolean;
  /**
   * How `route` is written: `openapi` (`/items/{id}`; the default of `otel` and `airflow`) or `colon`
   * (`/items/:id`, as fastify-metrics and Express write it; wildcards stay `*`; the default of `legacy`).
   */
  routeFormat?: RouteFormat;
  /**
   * Classic bucket bounds of the duration histogram in the exposition's unit (seconds; milliseconds in
   * the `airflow` preset), ascending. Default `DURATION_BOUNDS_SECONDS` (× 1000 for `airflow`); for
   * `legacy`, `PROM_CLIENT_DEFAULT_BUCKETS` (fastify-metrics) or `EXPRESS_PROM_BUNDLE_BUCKETS`.
   */
  durationBuckets?: readonly number[];
  /** The `legacy` preset's flavour (`fastify-metrics`, the default, or `express-prom-bundle`) and its options. */
  legacy?: LegacyOptions;
}

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/**
 * The format an Accept header prefers, by q-value: the protobuf format (`application/vnd.google.protobuf`
 * with `proto=io.prometheus.client.MetricFamily` and `encoding=delimited`, what Prometheus asks for first
 * with native histograms enabled), OpenMetrics (`application/openmetrics-text`), else the 0.0.4 text
 * format (text/plain, wildcards, or no header). Ties go to protobuf, then OpenMetrics.
 */
export function negotiateFormat(accept: string | undefined): ScrapeFormat {
  if (accept === undefined) return 'text';
  let proto = -1;
  let om = -1;
  let text = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const param = (name: string) =>
      params
        .find((p) => p.startsWith(`${name}=`))
        ?.slice(name.length + 1)
        .replace(/^"|"$/g, '');
    const qParam = param('q');
    const q = qParam === undefined ? 1 : Number(qParam);
    if (!(q > 0)) continue;
    if (type === 'application/vnd.google.protobuf') {
      if (param('proto') === 'io.prometheus.client.metricfamily' && param('encoding') === 'delimited')
        proto = Math.max(proto, q);
    } else if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*') text = Math.max(text, q);
  }
  if (proto > 0 && proto >= om && proto >= text) return 'protobuf';
  return om > 0 && om >= text ? 'openmetrics' : 'text';
}

interface Names {
  requests: string;
  requestsHelp: string;
  duration: string;
  durationHelp: string;
  /** OpenMetrics unit of the duration histogram and sketch units (ms) per exposition unit. */
  durationUnit: 'seconds' | 'milliseconds';
  durationScale: number;
  /**
   * Label carrying the status: `status_class` (otel, with opt-in `status`), `status_code` (legacy) or
   * `status_family` (airflow: the class, `2xx`…`5xx`, `other`).
   */
  status: 'class' | 'code' | 'family';
}

const presetNames = (preset: PrometheusPreset): Names => {
  const duration = prometheusOf('duration');
  const ms = duration.presetUnit?.[preset] === 'milliseconds';
  return {
    requests: prometheusOf('requests').names[preset],
    requestsHelp: prometheusOf('requests').help[preset],
    duration: duration.names[preset],
    durationHelp: duration.help[preset],
    durationUnit: ms ? 'milliseconds' : 'seconds',
    durationScale: ms ? 1 : 1000,
    status: preset === 'legacy' ? 'code' : preset === 'airflow' ? 'family' : 'class',
  };
};
const NAMES: Record<PrometheusPreset, Names> = {
  otel: presetNames('otel'),
  legacy: presetNames('legacy'),
  airflow: presetNames('airflow'),
};

/** The `route` of requests that matched no route in the `airflow` preset, as Airflow's middleware writes it. */
export const AIRFLOW_UNMATCHED = 'unmatched';

const family = (w: MetricWriter, key: MetricKey): string => catalogueFamily(w, prometheusOf(key));

function requestSamples(
  w: MetricWriter,
  names: Names,
  base: [string, string][],
  counts: Counts,
  statusLabel: boolean,
): void {
  if (names.status === 'code' || (names.status === 'class' && statusLabel)) {
    for (const [code, n] of counts.codes) {
      const labels: [string, string][] =
        names.status === 'code'
          ? [...base, ['status_code', String(code)]]
          : [...base, ['status_class', statusClassLabel(code)], ['status', String(code)]];
      w.sample(names.requests, labels, n);
    }
    return;
  }
  // Status codes outside 100–599 are counted but belong to no class: `other`, last.
  const label = names.status === 'family' ? 'status_family' : 'status_class';
  for (const cls of STATUS_CLASSES) {
    const n = counts.classes[cls];
    if (n > 0) w.sample(names.requests, [...base, [label, cls]], n);
  }
}

/**
 * The meter's metrics as a Prometheus text exposition, cumulative since the meter started (each endpoint's
 * `meter.reader.cumulative(ep)`). Names come from the metric catalogue (catalogue.ts; docs/prometheus.md lists them).
 *
 * @example
 * res.setHeader('content-type', TEXT_CONTENT_TYPE);
 * res.end(renderPrometheus(meter));
 */
export function renderPrometheus(meter: Meter, options: PrometheusOptions = {}): string {
  const w = new ExpositionWriter(options.format ?? 'text');
  writeFamilies(w, meter, options);
  return w.finish();
}

/**
 * The same families in the protobuf exposition (`PROTOBUF_CONTENT_TYPE`), whose histograms carry the
 * native buckets (schema = the sketch's scale) next to the classic ones. `options.format` is ignored.
 *
 * @example
 * res.setHeader('content-type', PROTOBUF_CONTENT_TYPE);
 * res.end(renderPrometheusProtobuf(meter));
 */
export function renderPrometheusProtobuf(meter: Meter, options: PrometheusOptions = {}): Uint8Array {
  const w = new ProtobufWriter();
  writeFamilies(w, meter, options);
  return w.finish();
}

/**
 * Registers apimeter's families in a prom-client registry (prom-client 15, or anything with its
 * `registerMetric`), read from the meter at each scrape: one read per `registry.metrics()` call, shared
 * by the families. Registered are the families the meter writes now: detailed mode's when it is on, the
 * alert gauges when alerts already run. Names must not collide with the registry's own (prom-client
 * throws on a duplicate). Classic buckets only: exemplars and native histograms need apimeter's own
 * `/metrics`. Returns the family names registered.
 *
 * @example
 * import client from 'prom-client';
 * client.collectDefaultMetrics(); // process metrics, as fastify-metrics and express-prom-bundle add
 * registerApimeter(client.register, meter, { naming: 'legacy' });
 * app.get('/metrics', async (_req, reply) => reply.type(client.register.contentType).send(await client.register.metrics()));
 */
export function registerApimeter(
  registry: PromClientRegistryLike,
  meter: Meter,
  options: Omit<PrometheusOptions, 'format'> = {},
): readonly string[] {
  preparePrometheus(meter, options);
  return registerFamilies(registry, meter, options, writeFamilies);
}

/**
 * Switches on what the `legacy` preset's duration histogram reads: per-status latency sketches
 * (MeterReader.trackStatusLatency, as the OpenTelemetry producer does). Called where an exposition with
 * the preset is set up (the API's `/metrics`, `registerApimeter`) and, at the latest, by the first
 * render; requests before that are on the request counter but not on the histogram. Idempotent.
 */
export function preparePrometheus(meter: Meter, options: Pick<PrometheusOptions, 'naming'> = {}): void {
  if (options.naming === 'legacy') meter.reader.trackStatusLatency(meter.clock.now());
}

function writeFamilies(w: MetricWriter, meter: Meter, options: PrometheusOptions): void {
  const preset = options.naming ?? 'otel';
  preparePrometheus(meter, options);
  const names = NAMES[preset];
  const statusLabel = options.statusLabel ?? false;
  const eps: readonly EndpointStats[] = meter.registry.endpoints();
  const counts = meter.reader.cumulativeAll(eps);
  const colon = presetRouteFormat(preset, options.routeFormat) === 'colon';
  // Airflow's API metrics tag a request that matched no route `unmatched` (api_fastapi/common/http_metrics.py).
  const unmatched = preset === 'airflow' ? AIRFLOW_UNMATCHED : UNMATCHED_ROUTE;
  const route = (ep: EndpointStats) =>
    ep.route === UNMATCHED_ROUTE ? unmatched : colon ? colonRoute(ep.route) : ep.route;
  const durationBounds =
    options.durationBuckets ??
    presetDurationBuckets(preset, options.legacy).map((b) =>
      names.durationUnit === 'milliseconds' ? Math.round(b * 1000) : b,
    );
  const base = (ep: EndpointStats): [string, string][] => [
    ['method', ep.method],
    ['route', route(ep)],
  ];
  const express = preset === 'legacy' && options.legacy?.flavor === 'express-prom-bundle';

  w.family(names.requests, 'counter', names.requestsHelp);
  eps.forEach((ep, i) => requestSamples(w, names, base(ep), counts[i], statusLabel));

  const errors = family(w, 'errors');
  eps.forEach((ep, i) => {
    ERROR_TYPES.forEach((type) => {
      const n = counts[i].errors[type];
      if (n > 0) w.sample(errors, [...base(ep), ['error_type', type]], n);
    });
  });

  w.family(names.duration, 'histogram', names.durationHelp, names.durationUnit);
  // Trace exemplars (detailed mode) exist in OpenMetrics and protobuf: the 0.0.4 text format has no syntax for them.
  const exemplars = (ep: EndpointStats) =>
    w.format !== 'text' && ep.detail !== null
      ? bucketExemplars(ep.detail.exemplars, durationBounds, names.durationScale)
      : undefined;
  if (names.status === 'code') {
    // express-prom-bundle: status_code, then method and path when included (its label order).
    const path = (ep: EndpointStats) => (options.routeFormat === undefined ? valueRoute(ep.route) : route(ep));
    const labelsOf = express
      ? (ep: EndpointStats, code: number): [string, string][] => [
          ['status_code', String(code)],
          ...(options.legacy?.includeMethod === true ? [['method', ep.method] as [string, string]] : []),
          ...(options.legacy?.includePath === true ? [['path', path(ep)] as [string, string]] : []),
        ]
      : (ep: EndpointStats, code: number): [string, string][] => [...base(ep), ['status_code', String(code)]];
    statusCodeDurations(w, meter, names.duration, eps, labelsOf, !express, durationBounds, names.durationScale);
  } else
    eps.forEach((ep, i) =>
      w.histogram(names.duration, base(ep), counts[i].latency, durationBounds, names.durationScale, exemplars(ep)),
    );

  const active = family(w, 'active');
  for (const ep of eps) w.sample(active, base(ep), ep.inflight);

  const requestSize = family(w, 'requestSize');
  for (const ep of eps) w.histogram(requestSize, base(ep), ep.requestSize, SIZE_BOUNDS_BYTES, 1);

  const responseSize = family(w, 'responseSize');
  for (const ep of eps) w.histogram(responseSize, base(ep), ep.responseSize, SIZE_BOUNDS_BYTES, 1);

  const registry = meter.registry;
  w.sample(family(w, 'endpoints'), [], registry.size);
  w.sample(family(w, 'overflowedEndpoints'), [], registry.overflowedEndpoints);
  w.sample(family(w, 'overflowedRecords'), [], registry.overflowedRecords);
  if (meter.detailed || eps.some((ep) => ep.detail !== null)) detailFamilies(w, eps, counts, base);
  alertFamilies(w, meter);
  consumerFamilies(w, meter);
  if (express && options.legacy?.includeUp !== false) {
    w.family('up', 'gauge', '1 = up, 0 = not up');
    w.sample('up', [], 1);
  }
}
