import { ValueType } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import { AggregationTemporality, AggregationType, DataPointType, InstrumentType } from '@opentelemetry/sdk-metrics';
import type {
  AggregationOption,
  CollectionResult,
  DataPoint,
  ExponentialHistogram,
  Histogram,
  IMetricReader,
  MetricData,
  MetricProducer,
  ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { STATUS_CLASSES } from '../core/counts.js';
import type { Counters } from '../core/counts.js';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import type { DeltaConsumer, EndpointDelta } from '../core/reader.js';
import { ERROR_TYPES, OVERFLOW_ROUTE, UNMATCHED_ROUTE } from '../core/record.js';
import { ABORTED_KEY } from '../core/status-latency.js';
import type { StatusLatencyTable } from '../core/status-latency.js';
import { bracesToColon } from '../routing/template-syntax.js';
import { createError } from '../errors.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { sketchSource, toExplicitHistogram, toExponentialHistogram } from './otel-convert.js';
import type { BucketSource } from './otel-convert.js';
import { collectDetail, detailMetrics, detailNames, emptyDetailPoints } from './otel-detail.js';
import type { DetailMetric, DetailPoints, SumMetric } from './otel-detail.js';
import { otelName, otelOf } from './catalogue.js';
import type { MetricKey } from './catalogue.js';
import { otelProducerOptionsFromConfig } from './otel-options.js';
import type { OtelProducerOptions } from './otel-options.js';
import { nameFilter } from './statsd-options.js';

export { otelProducerOptionsFromConfig } from './otel-options.js';
export type { OtelProducerOptions } from './otel-options.js';

const SCOPE = { name: 'apimeter' };
const hrTime = (ms: number): HrTime => {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6))];
};

interface Collected {
  duration: DataPoint<Histogram | ExponentialHistogram>[];
  requestSize: DataPoint<Histogram | ExponentialHistogram>[];
  responseSize: DataPoint<Histogram | ExponentialHistogram>[];
  active: DataPoint<number>[];
  requests: DataPoint<number>[];
  errors: DataPoint<number>[];
  detail: DetailPoints;
}

type CoreMetric = 'duration' | 'active' | 'requestSize' | 'responseSize' | 'requests' | 'errors';

interface How {
  histogramDelta: boolean;
  /** Start of cumulative duration points: when the per-status sketches began. */
  durationStart: HrTime;
  counterDelta: boolean;
  exponential: boolean;
  histogramStart: HrTime;
  counterStart: HrTime;
  start: HrTime;
  end: HrTime;
}

/**
 * Turns apimeter's registry into OpenTelemetry metric data at collection time — no instrument is called
 * per request. Register it with a reader (`metricProducers: [producer]`) of your MeterProvider, or let
 * {@link startOtelExporter} do it. Produces semantic-convention metrics:
 *
 * - `http.server.request.duration` (s): histogram per `http.route` × `http.request.method`;
 * - `http.server.active_requests` ({request}): in-flight requests (non-monotonic sum);
 * - `http.server.request.body.size`, `http.server.response.body.size` (By): histograms;
 * - `<prefix>.http.server.requests` ({request}): requests per status class (or exact code);
 * - `<prefix>.http.server.errors` ({request}): requests per `error.type` (server_error, client_error,
 *   exception, validation, aborted);
 * - detailed mode (`metrics_detailed`) only: the series of otel-detail.ts.
 *
 * Values come from the meter's reader: cumulative counts, or in delta temporality the deltas of its
 * consumer `otel` (committed at each collection).
 *
 * Histograms are exponential when the reader asks for them (its histogram aggregation is
 * `base2_exponential_bucket_histogram`), built straight from the latency sketch; explicit otherwise.
 *
 * @example
 * const producer = createOtelProducer(meter);
 * const reader = new PeriodicExportingMetricReader({ exporter, metricProducers: [producer] });
 * producer.bindReader(reader);
 * new MeterProvider({ readers: [reader] });
 */
export class ApimeterMetricProducer implements MetricProducer {
  readonly options: Readonly<OtelProducerOptions>;
  private reader: IMetricReader | null = null;
  /** The reader's delta consumer, made at the first collection in delta temporality. */
  private deltas: DeltaConsumer | null = null;
  private lastCollect: number;
  private readonly names: Record<CoreMetric | DetailMetric, string>;
  private readonly on: Record<CoreMetric | DetailMetric, boolean>;
  /** Per-endpoint attributes (`http.request.method`, `url.scheme`, `http.route`), by endpoint id. */
  private readonly baseAttributes: (Attributes | undefined)[] = [];
  /** `http.response.status_code` / `error.type` per status key (StatusLatency keys). */
  private readonly statusAttributes = new Map<number, Attributes>();
  /** The per-status latency sketches the duration histogram is made of (null: duration not exported). */
  private readonly byStatus: StatusLatencyTable | null;
  /** When set and open, collect() returns nothing (the export would be refused anyway). */
  breaker: CircuitBreaker | null = null;
  /** Points and milliseconds of the last collection (health, benchmarks). */
  lastPoints = 0;
  lastCollectMs = 0;

  constructor(
    readonly meter: Meter,
    options: Partial<OtelProducerOptions> = {},
  ) {
    this.options = Object.freeze({ ...otelProducerOptionsFromConfig(meter.config), ...options });
    const prefix = this.options.prefix;
    this.names = {
      duration: otelName('duration', prefix),
      active: otelName('active', prefix),
      requestSize: otelName('requestSize', prefix),
      responseSize: otelName('responseSize', prefix),
      requests: otelName('requests', prefix),
      errors: otelName('errors', prefix),
      ...detailNames(prefix),
    };
    const allowed = nameFilter(this.options.allowList, this.options.blockList);
    this.on = {
      duration: allowed(this.names.duration),
      active: allowed(this.names.active),
      requestSize: allowed(this.names.requestSize),
      responseSize: allowed(this.names.responseSize),
      requests: allowed(this.names.requests),
      errors: allowed(this.names.errors),
      auth: allowed(this.names.auth),
      rateLimited: allowed(this.names.rateLimited),
      dbQueries: allowed(this.names.dbQueries),
      dbDuration: allowed(this.names.dbDuration),
    };
    this.lastCollect = meter.startedAt;
    this.byStatus = this.on.duration ? meter.reader.trackStatusLatency(meter.clock.now()) : null;
  }

  /** The semantic-convention attributes every point of `ep` carries; `http.route` omitted for unmatched and overflow. */
  attributesOf(ep: EndpointStats): Attributes {
    let a = this.baseAttributes[ep.id];
    if (a === undefined) {
      a = { 'http.request.method': ep.method, 'url.scheme': this.options.urlScheme };
      if (ep.route !== UNMATCHED_ROUTE && ep.route !== OVERFLOW_ROUTE) {
        const colon = this.options.routeStyle === 'framework' && this.meter.routeSyntax === 'colon';
        a['http.route'] = colon ? bracesToColon(ep.route) : ep.route;
      }
      this.baseAttributes[ep.id] = a;
    }
    return a;
  }

  /** `http.response.status_code` and `error.type` (the code for 5xx; `aborted` for an abandoned request). */
  private statusAttributesOf(key: number): Attributes {
    let a = this.statusAttributes.get(key);
    if (a === undefined) {
      if (key === ABORTED_KEY) a = { 'error.type': 'aborted' };
      else if (key >= 500 && key <= 599) a = { 'http.response.status_code': key, 'error.type': String(key) };
      else a = { 'http.response.status_code': key };
      this.statusAttributes.set(key, a);
    }
    return a;
  }

  /** Follow this reader's histogram aggregation and temporality (options `auto`). */
  bindReader(reader: IMetricReader): void {
    this.reader = reader;
  }

  /** Exponential histograms for this collection? */
  exponential(): boolean {
    const choice = this.options.histogram;
    if (choice !== 'auto') return choice === 'exponential';
    const selected: AggregationOption | undefined = this.reader?.selectAggregation(InstrumentType.HISTOGRAM);
    return selected?.type === AggregationType.EXPONENTIAL_HISTOGRAM;
  }

  /** Temporality for counters and histograms in this collection. */
  temporality(instrument: InstrumentType): AggregationTemporality {
    const choice = this.options.temporality;
    if (choice === 'cumulative') return AggregationTemporality.CUMULATIVE;
    if (choice === 'delta') return AggregationTemporality.DELTA;
    return this.reader?.selectAggregationTemporality(instrument) ?? AggregationTemporality.CUMULATIVE;
  }

  async collect(): Promise<CollectionResult> {
    try {
      return { resourceMetrics: this.produce(), errors: [] };
    } catch (error) {
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [error] };
    }
  }

  /** The metrics of every endpoint, now. */
  produce(): ResourceMetrics {
    const started = performance.now();
    if (this.breaker?.state === 'open') return { resource: emptyResource(), scopeMetrics: [] };
    const meter = this.meter;
    const now = meter.clock.now();
    const histogramDelta = this.temporality(InstrumentType.HISTOGRAM) === AggregationTemporality.DELTA;
    const counterDelta = this.temporality(InstrumentType.COUNTER) === AggregationTemporality.DELTA;
    const exponential = this.exponential();
    const out: Collected = {
      duration: [],
      requestSize: [],
      responseSize: [],
      active: [],
      requests: [],
      errors: [],
      detail: emptyDetailPoints(),
    };
    let detailed = meter.detailed;
    const since = hrTime(this.lastCollect);
    const start = hrTime(meter.startedAt);
    const end = hrTime(now);
    const how: How = {
      histogramDelta,
      durationStart: histogramDelta ? since : hrTime(Math.max(meter.startedAt, this.byStatus?.since ?? 0)),
      counterDelta,
      exponential,
      histogramStart: histogramDelta ? since : start,
      counterStart: counterDelta ? since : start,
      start,
      end,
    };
    const deltas = histogramDelta || counterDelta ? this.deltaConsumer() : null;
    for (const ep of meter.registry.endpoints()) {
      if (ep.detail !== null) detailed = true;
      this.collectEndpoint(ep, out, how, deltas?.read(ep));
    }
    // The points are handed to the SDK now; a failed export is not collected again.
    deltas?.commit();
    this.lastCollect = now;
    const metrics: MetricData[] = [];
    const histogram = (key: MetricKey, points: Collected['duration']) => {
      const { unit, description } = otelOf(key);
      const name = this.names[key as CoreMetric];
      const temporality = histogramDelta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
      const descriptor = { name, unit, description, valueType: ValueType.DOUBLE };
      if (exponential) {
        metrics.push({
          descriptor,
          aggregationTemporality: temporality,
          dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
          dataPoints: points as DataPoint<ExponentialHistogram>[],
        });
      } else {
        metrics.push({
          descriptor,
          aggregationTemporality: temporality,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: points as DataPoint<Histogram>[],
        });
      }
    };
    const sum: SumMetric = (key, points, monotonic, valueType = ValueType.INT) => {
      const { unit, description } = otelOf(key);
      const name = this.names[key as CoreMetric | DetailMetric];
      metrics.push({
        descriptor: { name, unit, description, valueType },
        aggregationTemporality:
          monotonic && counterDelta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: monotonic,
        dataPoints: points,
      });
    };
    const on = this.on;
    if (on.duration) histogram('duration', out.duration);
    if (on.active) sum('active', out.active, false);
    if (on.requestSize) histogram('requestSize', out.requestSize);
    if (on.responseSize) histogram('responseSize', out.responseSize);
    if (on.requests) sum('requests', out.requests, true);
    if (on.errors) sum('errors', out.errors, true);
    if (detailed) detailMetrics(on, out.detail, sum);
    this.lastPoints = metrics.reduce((n, m) => n + m.dataPoints.length, 0);
    this.lastCollectMs = performance.now() - started;
    return { resource: emptyResource(), scopeMetrics: [{ scope: SCOPE, metrics }] };
  }

  private collectEndpoint(ep: EndpointStats, out: Collected, how: How, delta: EndpointDelta | undefined): void {
    const on = this.on;
    const attributes = this.attributesOf(ep);
    const { end } = how;
    if (on.active) out.active.push({ startTime: how.start, endTime: end, attributes, value: ep.inflight });
    const histogramDelta = how.histogramDelta && delta !== undefined;
    const counterDelta = how.counterDelta && delta !== undefined;
    // Cumulative = since-start total + the current fine slot (the reader's scratch, valid in this call).
    const cumulative = histogramDelta && counterDelta ? null : this.meter.reader.cumulative(ep, undefined, false);
    const histogram = (source: BucketSource, divisor: number, boundaries: readonly number[]) =>
      how.exponential
        ? toExponentialHistogram(source, divisor, this.options.maxBuckets)
        : toExplicitHistogram(source, divisor, boundaries);
    if (on.duration) {
      // One point per status code (and one for aborted requests): semconv's duration attributes.
      const resolved = histogramDelta ? undefined : this.meter.reader.byStatus(ep);
      const keys = histogramDelta ? delta.statusKeys : (resolved?.keys ?? []);
      const sketches = resolved?.sketches;
      for (let k = 0; k < keys.length; k++) {
        const source: BucketSource = histogramDelta ? delta.byStatus[k] : sketchSource(sketches![k]);
        if (source === undefined || source.count === 0) continue;
        out.duration.push({
          startTime: how.durationStart,
          endTime: end,
          attributes: { ...attributes, ...this.statusAttributesOf(keys[k]) },
          value: histogram(source, 1000, this.options.durationBoundaries),
        });
      }
    }
    const distributions = [
      [on.requestSize, out.requestSize, this.options.sizeBoundaries],
      [on.responseSize, out.responseSize, this.options.sizeBoundaries],
    ] as const;
    for (let i = 0; i < distributions.length; i++) {
      const [wanted, points, boundaries] = distributions[i];
      const divisor = 1;
      if (!wanted) continue;
      const source: BucketSource = histogramDelta
        ? i === 0
          ? delta.requestSize
          : delta.responseSize
        : sketchSource(i === 0 ? ep.requestSize : ep.responseSize);
      if (source.count === 0) continue;
      points.push({
        startTime: how.histogramStart,
        endTime: end,
        attributes,
        value: histogram(source, divisor, boundaries),
      });
    }
    const c: Counters = counterDelta ? delta : cumulative!;
    const counter = (points: DataPoint<number>[], attrs: Attributes, n: number) => {
      if (n > 0) points.push({ startTime: how.counterStart, endTime: end, attributes: attrs, value: n });
    };
    if (on.requests) {
      if (this.options.detailed) {
        for (const [code, n] of c.codes) counter(out.requests, { ...attributes, 'http.response.status_code': code }, n);
      } else {
        for (const cls of STATUS_CLASSES) {
          counter(out.requests, { ...attributes, 'apimeter.http.response.status_class': cls }, c.classes[cls]);
        }
      }
    }
    if (on.errors) {
      for (const type of ERROR_TYPES)
        counter(out.errors, { ...attributes, 'apimeter.error.type': type }, c.errors[type]);
    }
    if (ep.detail !== null) {
      collectDetail(out.detail, on, attributes, c, counterDelta ? delta.auth : ep.detail.auth, counter);
    }
  }

  /** Drops the delta consumer's baselines (the producer is no longer collected). */
  close(): void {
    this.deltas?.close();
    this.deltas = null;
  }

  private deltaConsumer(): DeltaConsumer {
    const on = this.on;
    return (this.deltas ??= this.meter.reader.consumer('otel', {
      latencyShift: null,
      byStatus: on.duration,
      requestSizeShift: on.requestSize ? 0 : null,
      responseSizeShift: on.responseSize ? 0 : null,
      codes: this.options.detailed,
    }));
  }
}

/** A producer for `meter`, options from `meter.config` unless given. */
export function createOtelProducer(meter: Meter, options: Partial<OtelProducerOptions> = {}): ApimeterMetricProducer {
  return new ApimeterMetricProducer(meter, options);
}

/**
 * Adds `producer` to a reader that already exists (one your MeterProvider was built with), so its next
 * collection includes apimeter's metrics. Prefer passing the producer as `metricProducers` when you
 * create the reader; this relies on the SDK reader keeping its producers in a list, and throws
 * APIMETER_ERR_OTEL_READER when it does not.
 */
export function attachOtelProducer(reader: IMetricReader, producer: ApimeterMetricProducer): void {
  const list = (reader as unknown as { _metricProducers?: unknown })._metricProducers;
  if (!Array.isArray(list)) {
    throw createError(
      'APIMETER_ERR_OTEL_READER',
      'this MetricReader keeps no list of metric producers; create it with `metricProducers: [producer]` instead',
    );
  }
  if (!list.includes(producer)) list.push(producer);
  producer.bindReader(reader);
}

/** Takes `producer` off `reader` again (see {@link attachOtelProducer}) and drops its delta baselines. */
export function detachOtelProducer(reader: IMetricReader, producer: ApimeterMetricProducer): void {
  const list = (reader as unknown as { _metricProducers?: unknown })._metricProducers;
  if (Array.isArray(list)) {
    const at = list.indexOf(producer);
    if (at >= 0) list.splice(at, 1);
  }
  producer.close();
}
