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
import type { ApimeterConfig } from '../core/config.js';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { AUTH_TYPES } from '../core/detail.js';
import { ERROR_TYPES } from '../core/record.js';
import { ERROR_FIELD, F } from '../core/tally.js';
import { createError } from '../errors.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { SketchBaseline } from './delta.js';
import {
  DURATION_BOUNDARIES_S,
  PairSource,
  SIZE_BOUNDARIES_BYTES,
  sketchSource,
  toExplicitHistogram,
  toExponentialHistogram,
} from './otel-convert.js';
import type { BucketSource } from './otel-convert.js';
import { nameFilter } from './statsd-options.js';

export interface OtelProducerOptions {
  /** `otel_prefix`: names of apimeter's own metrics (`apimeter.http.server.requests`). */
  prefix: string;
  /** Exact `http.response.status_code` instead of `http.response.status_class` (`metrics_detailed`). */
  detailed: boolean;
  /** explicit, exponential, or auto: what the bound reader asks for (explicit when none is bound). */
  histogram: 'explicit' | 'exponential' | 'auto';
  /** cumulative, delta, or auto: what the bound reader asks for (cumulative when none is bound). */
  temporality: 'cumulative' | 'delta' | 'auto';
  /** Most buckets in an exponential histogram (OTel's default 160); the scale drops until they fit. */
  maxBuckets: number;
  /** Upper-inclusive boundaries of explicit duration histograms, in seconds. */
  durationBoundaries: readonly number[];
  /** Upper-inclusive boundaries of explicit body-size histograms, in bytes. */
  sizeBoundaries: readonly number[];
  /** metrics_allow_list / metrics_block_list, matched against the OTel metric names. */
  allowList: readonly string[];
  blockList: readonly string[];
}

/** Producer options from the configuration keys. */
export function otelProducerOptionsFromConfig(config: ApimeterConfig): OtelProducerOptions {
  return {
    prefix: config.otelPrefix,
    detailed: config.metricsDetailed,
    histogram: config.otelExponentialHistograms ? 'exponential' : 'auto',
    temporality: 'auto',
    maxBuckets: 160,
    durationBoundaries: DURATION_BOUNDARIES_S,
    sizeBoundaries: SIZE_BOUNDARIES_BYTES,
    allowList: config.metricsAllowList,
    blockList: config.metricsBlockList,
  };
}

const SCOPE = { name: 'apimeter' };
const CLASS_NAMES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

const hrTime = (ms: number): HrTime => {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6))];
};

/** Per endpoint, for delta temporality: cumulative values at the last collection. */
class DeltaState {
  readonly c: Float64Array;
  codes = new Map<number, number>();
  readonly latency = new SketchBaseline();
  readonly requestSize = new SketchBaseline();
  readonly responseSize = new SketchBaseline();
  /** Auth attempts by kind and outcome (detailed mode; kept since start-up, not in the tally). */
  readonly auth = new Float64Array(AUTH_TYPES.length * 2);
  constructor(fields: number) {
    this.c = new Float64Array(fields);
  }
}

interface Collected {
  duration: DataPoint<Histogram | ExponentialHistogram>[];
  requestSize: DataPoint<Histogram | ExponentialHistogram>[];
  responseSize: DataPoint<Histogram | ExponentialHistogram>[];
  active: DataPoint<number>[];
  requests: DataPoint<number>[];
  errors: DataPoint<number>[];
  auth: DataPoint<number>[];
  rateLimited: DataPoint<number>[];
  dbQueries: DataPoint<number>[];
  dbDuration: DataPoint<number>[];
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
 * - detailed mode (`metrics_detailed`) only: `<prefix>.auth.attempts` by `apimeter.auth.type` and
 *   `apimeter.auth.success`, `<prefix>.ratelimit.hits`, `<prefix>.db.client.queries` (monotonic sums) and
 *   `<prefix>.db.client.duration` (s, a monotonic sum of query time).
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
  private readonly deltas: (DeltaState | undefined)[] = [];
  private lastCollect: number;
  private scratch: Float64Array | null = null;
  private readonly names: {
    duration: string;
    active: string;
    requestSize: string;
    responseSize: string;
    requests: string;
    errors: string;
    auth: string;
    rateLimited: string;
    dbQueries: string;
    dbDuration: string;
  };
  private readonly on: Record<keyof ApimeterMetricProducer['names'], boolean>;
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
    const own = (suffix: string) => [this.options.prefix, suffix].filter((p) => p !== '').join('.');
    this.names = {
      duration: 'http.server.request.duration',
      active: 'http.server.active_requests',
      requestSize: 'http.server.request.body.size',
      responseSize: 'http.server.response.body.size',
      requests: own('http.server.requests'),
      errors: own('http.server.errors'),
      auth: own('auth.attempts'),
      rateLimited: own('ratelimit.hits'),
      dbQueries: own('db.client.queries'),
      dbDuration: own('db.client.duration'),
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
      auth: [],
      rateLimited: [],
      dbQueries: [],
      dbDuration: [],
    };
    let detailed = meter.detailed;
    const since = hrTime(this.lastCollect);
    const start = hrTime(meter.startedAt);
    const end = hrTime(now);
    for (const ep of meter.registry.endpoints()) {
      if (ep.detail !== null) detailed = true;
      this.collectEndpoint(ep, out, {
        histogramDelta,
        counterDelta,
        exponential,
        histogramStart: histogramDelta ? since : start,
        counterStart: counterDelta ? since : start,
        start,
        end,
      });
    }
    this.lastCollect = now;
    const metrics: MetricData[] = [];
    const histogram = (name: string, unit: string, description: string, points: Collected['duration']) => {
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
    const sum = (
      name: string,
      description: string,
      points: DataPoint<number>[],
      monotonic: boolean,
      unit = '{request}',
      valueType = ValueType.INT,
    ) =>
      metrics.push({
        descriptor: { name, unit, description, valueType },
        aggregationTemporality:
          monotonic && counterDelta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: monotonic,
        dataPoints: points,
      });
    const on = this.on;
    if (on.duration) histogram(this.names.duration, 's', 'Duration of HTTP server requests.', out.duration);
    if (on.active) sum(this.names.active, 'Number of active HTTP server requests.', out.active, false);
    if (on.requestSize) histogram(this.names.requestSize, 'By', 'Size of HTTP server request bodies.', out.requestSize);
    if (on.responseSize)
      histogram(this.names.responseSize, 'By', 'Size of HTTP server response bodies.', out.responseSize);
    if (on.requests) sum(this.names.requests, 'HTTP server requests by status.', out.requests, true);
    if (on.errors) sum(this.names.errors, 'HTTP server requests that failed, by error type.', out.errors, true);
    if (detailed) {
      const names = this.names;
      if (on.auth)
        sum(names.auth, 'Authentication attempts by kind of credentials and outcome.', out.auth, true, '{attempt}');
      if (on.rateLimited)
        sum(names.rateLimited, 'HTTP server requests refused by a rate limiter.', out.rateLimited, true);
      if (on.dbQueries)
        sum(names.dbQueries, 'Database queries made while serving requests.', out.dbQueries, true, '{query}');
      if (on.dbDuration) {
        const what = 'Time spent in database queries while serving requests.';
        sum(names.dbDuration, what, out.dbDuration, true, 's', ValueType.DOUBLE);
      }
    }
    this.lastPoints = metrics.reduce((n, m) => n + m.dataPoints.length, 0);
    this.lastCollectMs = performance.now() - started;
    return { resource: emptyResource(), scopeMetrics: [{ scope: SCOPE, metrics }] };
  }

  private collectEndpoint(
    ep: EndpointStats,
    out: Collected,
    how: {
      histogramDelta: boolean;
      counterDelta: boolean;
      exponential: boolean;
      histogramStart: HrTime;
      counterStart: HrTime;
      start: HrTime;
      end: HrTime;
    },
  ): void {
    const on = this.on;
    const attributes: Attributes = { 'http.route': ep.route, 'http.request.method': ep.method };
    const { end } = how;
    if (on.active) out.active.push({ startTime: how.start, endTime: end, attributes, value: ep.inflight });
    const delta = how.histogramDelta || how.counterDelta ? this.deltaState(ep) : undefined;
    // Cumulative = since-start total + the current fine slot (what windowTally('all') merges), read in place.
    const open = ep.unfolded();
    const total = ep.total;
    const histogram = (source: BucketSource, divisor: number, boundaries: readonly number[]) =>
      how.exponential
        ? toExponentialHistogram(source, divisor, this.options.maxBuckets)
        : toExplicitHistogram(source, divisor, boundaries);
    const distributions = [
      [on.duration, total.latency, open?.latency, out.duration, 1000, this.options.durationBoundaries, delta?.latency],
      [on.requestSize, ep.requestSize, undefined, out.requestSize, 1, this.options.sizeBoundaries, delta?.requestSize],
      [
        on.responseSize,
        ep.responseSize,
        undefined,
        out.responseSize,
        1,
        this.options.sizeBoundaries,
        delta?.responseSize,
      ],
    ] as const;
    for (const [wanted, sketch, more, points, divisor, boundaries, baseline] of distributions) {
      if (!wanted) continue;
      let source: BucketSource = sketchSource(sketch, more);
      if (how.histogramDelta && baseline !== undefined) {
        const diff = new PairSource(sketch.layout.scale);
        baseline.advance(sketch, 0, diff.sink, more);
        diff.count = baseline.addedCount;
        diff.zeroCount = baseline.addedZeros;
        diff.sum = baseline.addedSum;
        source = diff;
      }
      if (source.count === 0) continue;
      points.push({
        startTime: how.histogramStart,
        endTime: end,
        attributes,
        value: histogram(source, divisor, boundaries),
      });
    }
    const c = this.sum(total.c, open?.c);
    const last = how.counterDelta ? delta?.c : undefined;
    const value = (f: number) => c[f] - (last === undefined ? 0 : last[f]);
    const counter = (points: DataPoint<number>[], attrs: Attributes, n: number) => {
      if (n > 0) points.push({ startTime: how.counterStart, endTime: end, attributes: attrs, value: n });
    };
    if (on.requests) {
      if (this.options.detailed) {
        const seen = delta?.codes;
        const codes = total.statusCodes();
        if (open !== undefined) for (const [code, n] of open.statusCodes()) codes.set(code, (codes.get(code) ?? 0) + n);
        for (const [code, n] of codes) {
          const gained = how.counterDelta && seen !== undefined ? n - (seen.get(code) ?? 0) : n;
          seen?.set(code, n);
          counter(out.requests, { ...attributes, 'http.response.status_code': code }, gained);
        }
      } else {
        let classes = 0;
        for (let k = 0; k < 5; k++) {
          classes += value(F.status1xx + k);
          counter(
            out.requests,
            { ...attributes, 'http.response.status_class': CLASS_NAMES[k] },
            value(F.status1xx + k),
          );
        }
        counter(out.requests, { ...attributes, 'http.response.status_class': 'other' }, value(F.count) - classes);
      }
    }
    if (on.errors) {
      ERROR_TYPES.forEach((type, e) =>
        counter(out.errors, { ...attributes, 'error.type': type }, value(ERROR_FIELD[e])),
      );
    }
    if (ep.detail !== null) {
      if (on.auth) {
        const seen = how.counterDelta ? delta?.auth : undefined;
        const auth = ep.detail.auth;
        AUTH_TYPES.forEach((type, k) => {
          for (const success of [false, true]) {
            const i = k * 2 + (success ? 1 : 0);
            const attrs = { ...attributes, 'apimeter.auth.type': type, 'apimeter.auth.success': success };
            counter(out.auth, attrs, auth[i] - (seen === undefined ? 0 : seen[i]));
            if (seen !== undefined) seen[i] = auth[i];
          }
        });
      }
      if (on.rateLimited) counter(out.rateLimited, attributes, value(F.rateLimited));
      if (on.dbQueries) counter(out.dbQueries, attributes, value(F.dbQueries));
      if (on.dbDuration) counter(out.dbDuration, attributes, value(F.dbMs) / 1000);
    }
    if (last !== undefined) last.set(c);
  }

  /** `a + b` field by field, in a scratch array (valid until the next call). */
  private sum(a: ArrayLike<number>, b: ArrayLike<number> | undefined): Float64Array {
    const out = (this.scratch ??= new Float64Array(a.length));
    for (let i = 0; i < a.length; i++) out[i] = b === undefined ? a[i] : a[i] + b[i];
    return out;
  }

  private deltaState(ep: EndpointStats): DeltaState {
    let state = this.deltas[ep.id];
    if (state === undefined) {
      state = new DeltaState(ep.total.c.length);
      this.deltas[ep.id] = state;
    }
    return state;
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
