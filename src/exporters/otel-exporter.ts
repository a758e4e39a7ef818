import net from 'node:net';
import type { ExportResult, ExportResultCode } from '@opentelemetry/core';
import { metrics } from '@opentelemetry/api';
import type { MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import type { OTLPMetricExporter as HttpOtlpExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import type { Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  ConsoleMetricExporter,
  DataPointType,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type {
  IMetricReader,
  MetricData,
  PushMetricExporter,
  ResourceMetrics,
  ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import type { ApimeterConfig } from '../core/config.js';
import type { ComponentHealth } from '../core/health.js';
import type { Meter } from '../core/meter.js';
import { redactUrl } from '../core/redact.js';
import type { StatsBackend } from '../core/stats-backends.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import { ApimeterMetricProducer } from './otel-producer.js';
import type { OtelProducerOptions } from './otel-producer.js';
import { HostResolver } from './host-resolver.js';
import type { HostResolverOptions } from './host-resolver.js';
import { OtelStatsBackend } from './otel-stats.js';
import { missingDependency, OTEL_PACKAGES } from './optional-deps.js';
import { OTLP_EXPORTER_PACKAGE, readOtelEnv } from './otel-env.js';
import type { OtlpProtocol } from './otel-env.js';
import { apimeterResource } from './otel-resource.js';
import { attachOtelProducer, detachOtelProducer } from './otel-producer.js';

const SUCCESS = 0 as ExportResultCode;
const FAILED = 1 as ExportResultCode;

/** Every URL inside `text` with its credentials hidden (see redactUrl). */
export function redactUrls(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi, (url) => redactUrl(url));
}

/** Delta sums and histograms of `batch`: what is lost if the batch is not delivered (cumulative points and gauges are superseded by the next collection). */
function deltaPart(batch: ResourceMetrics): ResourceMetrics {
  const scopeMetrics: ScopeMetrics[] = [];
  for (const scope of batch.scopeMetrics) {
    const metrics = scope.metrics.filter(
      (m) =>
        m.dataPointType !== DataPointType.GAUGE &&
        m.aggregationTemporality === AggregationTemporality.DELTA &&
        m.dataPoints.length > 0,
    );
    if (metrics.length > 0) scopeMetrics.push({ scope: scope.scope, metrics });
  }
  return { resource: batch.resource, scopeMetrics };
}

function pointsOf(batch: ResourceMetrics): number {
  let n = 0;
  for (const scope of batch.scopeMetrics) for (const m of scope.metrics) n += m.dataPoints.length;
  return n;
}

/**
 * `kept` (older undelivered delta batches) and `current` as one batch: per scope and metric, the data
 * points of every batch, oldest first. Delta points cover disjoint intervals, so a receiver adds them up.
 */
export function mergeBatches(kept: readonly ResourceMetrics[], current: ResourceMetrics): ResourceMetrics {
  const scopes = new Map<string, { scope: ScopeMetrics['scope']; metrics: Map<string, MetricData> }>();
  for (const batch of [...kept, current]) {
    for (const s of batch.scopeMetrics) {
      const scopeKey = `${s.scope.name}\0${s.scope.version ?? ''}`;
      let entry = scopes.get(scopeKey);
      if (entry === undefined) scopes.set(scopeKey, (entry = { scope: s.scope, metrics: new Map() }));
      for (const m of s.metrics) {
        const key = `${m.descriptor.name}\0${m.dataPointType}\0${m.aggregationTemporality}`;
        const have = entry.metrics.get(key);
        if (have === undefined) entry.metrics.set(key, { ...m, dataPoints: [...m.dataPoints] } as MetricData);
        else (have.dataPoints as unknown[]).push(...m.dataPoints);
      }
    }
  }
  return {
    resource: current.resource,
    scopeMetrics: [...scopes.values()].map((e) => ({ scope: e.scope, metrics: [...e.metrics.values()] })),
  };
}

/**
 * Wraps the real exporter: refuses at once while the circuit is open, gives up after `timeoutMs` on a
 * collector that accepts and hangs, and keeps what /health shows. Delta points of an export that failed
 * or was refused are kept (up to `maxRetainedPoints`; past that they are dropped and counted) and sent
 * again with the next export, so a collector that was down for a while still gets every count.
 */
class GuardedExporter implements PushMetricExporter {
  exports = 0;
  failures = 0;
  refused = 0;
  /** Delta data points given up because the retained batches were full. */
  pointsDropped = 0;
  lastError: string | undefined;
  lastErrorAt: string | undefined;
  lastSuccessAt: string | undefined;
  /** Set by close(): the last export is tried whatever the circuit says. */
  closing = false;
  private retained: ResourceMetrics[] = [];
  private retainedPoints = 0;
  readonly selectAggregationTemporality?: PushMetricExporter['selectAggregationTemporality'];
  readonly selectAggregation?: PushMetricExporter['selectAggregation'];

  constructor(
    private readonly inner: PushMetricExporter,
    private readonly breaker: CircuitBreaker,
    private readonly timeoutMs: number,
    private readonly tell: (message: string) => void,
    private readonly target: string,
    private readonly maxRetainedPoints: number,
  ) {
    this.selectAggregationTemporality = inner.selectAggregationTemporality?.bind(inner);
    this.selectAggregation = inner.selectAggregation?.bind(inner);
  }

  /** Delta data points waiting to be sent again. */
  get pendingPoints(): number {
    return this.retainedPoints;
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    const batch = this.retained.length > 0 ? mergeBatches(this.retained, metrics) : metrics;
    this.retained = [];
    this.retainedPoints = 0;
    if (!this.closing && !this.breaker.allow()) {
      this.refused++;
      this.retain(batch);
      resultCallback({ code: FAILED, error: new Error('apimeter: OTLP export skipped, circuit open') });
      return;
    }
    this.exports++;
    let done = false;
    const finish = (result: ExportResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (result.code === SUCCESS) this.succeeded();
      else {
        this.retain(batch);
        this.failed(result.error ?? new Error('export failed'));
      }
      resultCallback(result);
    };
    const timer = setTimeout(
      () => finish({ code: FAILED, error: new Error(`export timed out after ${this.timeoutMs} ms`) }),
      this.timeoutMs,
    );
    timer.unref();
    try {
      this.inner.export(batch, finish);
    } catch (error) {
      finish({ code: FAILED, error: error as Error });
    }
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  private retain(batch: ResourceMetrics): void {
    const delta = deltaPart(batch);
    const points = pointsOf(delta);
    if (points === 0) return;
    if (this.retainedPoints + points > this.maxRetainedPoints) {
      this.pointsDropped += points;
      return;
    }
    this.retained.push(delta);
    this.retainedPoints += points;
  }

  private succeeded(): void {
    const wasOpen = this.breaker.state !== 'closed';
    this.breaker.success();
    this.lastSuccessAt = new Date().toISOString();
    if (wasOpen) this.tell(`apimeter: otel exporter sending again to ${this.target}`);
  }

  private failed(error: Error): void {
    const before = this.breaker.opened;
    this.failures++;
    this.breaker.failure();
    const code = (error as NodeJS.ErrnoException).code;
    const prefix = typeof code === 'string' && !error.message.includes(code) ? `${code}: ` : '';
    this.lastError = redactUrls(`${prefix}${error.message} (${this.target})`);
    this.lastErrorAt = new Date().toISOString();
    if (this.breaker.opened > before) {
      const seconds = Math.round(this.breaker.retryInMs / 1000);
      this.tell(`apimeter: otel exporter failing, circuit open for ${seconds} s: ${this.lastError}`);
    }
  }
}

export interface OtelExporterOptions extends Partial<OtelProducerOptions> {
  /**
   * OTLP transport: `http/protobuf` (default, as the OTLP spec says), `http/json` or `grpc`. Default:
   * OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf.
   */
  protocol?: OtlpProtocol;
  /**
   * `attach` (default): when the application registered a global SDK MeterProvider
   * (`metrics.setGlobalMeterProvider`, NodeSDK), apimeter adds its producer to that provider's readers
   * and builds no pipeline of its own. `ignore`: always build apimeter's own.
   */
  globalProvider?: 'attach' | 'ignore';
  /** service.instance.id of the resource (default `otel_service_instance_id`, then OTEL_RESOURCE_ATTRIBUTES, then a per-process UUID). */
  serviceInstanceId?: string;
  /** The reader's limit for one collection and export, ms. Default OTEL_METRIC_EXPORT_TIMEOUT, else 30,000; at most intervalMs. */
  exportTimeoutMs?: number;
  /** OTLP endpoint. Default: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT if set, else from otel_ssl_active, otel_host and otel_port. */
  url?: string;
  /** Milliseconds between exports. Default OTEL_METRIC_EXPORT_INTERVAL, else `otel_interval_milliseconds`. */
  intervalMs?: number;
  /** Give up on one export after this many ms. Default: OTEL_EXPORTER_OTLP_TIMEOUT, else 10,000, at most intervalMs. */
  timeoutMs?: number;
  /** Replaces the OTLP exporter (tests: the SDK's InMemoryMetricExporter). */
  exporter?: PushMetricExporter;
  resource?: Resource;
  circuit?: CircuitBreakerOptions;
  /** Told when the circuit opens or closes again. Default: console.warn. */
  onStateChange?: (message: string) => void;
  /** Environment for the OTEL_* variables (default process.env). */
  env?: Record<string, string | undefined>;
  /** How the collector's host is resolved (c-ares, off libuv's thread pool; see HostResolverOptions). */
  dns?: HostResolverOptions;
  /** Delta data points kept from failed exports and sent again with the next one. Default 50,000. */
  maxRetainedPoints?: number;
  /** close() waits at most this long for the last export, ms. Default: the export timeout plus 1,000. */
  closeTimeoutMs?: number;
}

/**
 * apimeter's own OpenTelemetry pipeline: a MeterProvider whose PeriodicExportingMetricReader carries the
 * apimeter producer and exports over OTLP (http/protobuf, http/json or grpc), guarded by a circuit breaker. Its `stats` backend
 * lets the Stats facade's metrics ride the same exports.
 */
export class OtelExporter {
  private unregister: (() => void) | null;
  private closed = false;
  /** `own`: apimeter's MeterProvider and reader; `attached`: producers added to the application's global provider's readers. */
  mode: 'own' | 'attached' = 'own';
  /** The transport of the own pipeline (null when attached or given an exporter). */
  protocol: OtlpProtocol | null = null;
  /** More readers of the own pipeline (OTEL_METRICS_EXPORTER=otlp,console), or the application's readers when attached. */
  readers: IMetricReader[] = [];
  /** In attached mode: one producer per reader of the application's provider. */
  producers: ApimeterMetricProducer[] = [];

  constructor(
    readonly meter: Meter,
    readonly provider: MeterProvider,
    readonly reader: PeriodicExportingMetricReader,
    readonly producer: ApimeterMetricProducer,
    readonly stats: StatsBackend,
    private readonly guard: GuardedExporter | null,
    readonly breaker: CircuitBreaker,
    readonly target: string,
    private readonly closeTimeoutMs = 11_000,
  ) {
    this.unregister = meter.addHealthSource('otel', () => this.health());
  }

  /** Collects and exports now (resolves when the export finished or failed; never rejects). */
  async forceFlush(): Promise<void> {
    await this.reader.forceFlush().catch(() => undefined);
  }

  health(): ComponentHealth {
    const circuit = this.breaker.state;
    const g = this.guard;
    if (g === null) {
      return {
        name: 'otel',
        state: this.closed ? 'off' : 'ok',
        counters: {
          attachedReaders: this.producers.length,
          lastPoints: this.producers.reduce((n, p) => n + p.lastPoints, 0),
        },
      };
    }
    let state: ComponentHealth['state'] = 'ok';
    if (this.closed) state = 'off';
    else if (circuit !== 'closed') state = 'failing';
    else if (g.lastErrorAt !== undefined && (g.lastSuccessAt === undefined || g.lastErrorAt > g.lastSuccessAt))
      state = 'degraded';
    return {
      name: 'otel',
      state,
      circuit,
      ...(g.lastError !== undefined && { lastError: g.lastError, lastErrorAt: g.lastErrorAt }),
      ...(g.lastSuccessAt !== undefined && { lastSuccessAt: g.lastSuccessAt }),
      counters: {
        exports: g.exports,
        exportFailures: g.failures,
        exportsSkipped: g.refused,
        pointsPending: g.pendingPoints,
        pointsDropped: g.pointsDropped,
        lastPoints: this.producer.lastPoints,
        circuitOpened: this.breaker.opened,
      },
    };
  }

  /**
   * Exports what is pending — also while the circuit is open: this is the last chance — and shuts the
   * provider down, in at most `closeTimeoutMs`. Never rejects.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unregister?.();
    this.unregister = null;
    if (this.guard === null) {
      // Attached: the application's provider is the application's to shut down; only leave it.
      this.readers.forEach((reader, i) => detachOtelProducer(reader, this.producers[i]));
      return;
    }
    this.guard.closing = true;
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.closeTimeoutMs);
      timer.unref();
    });
    await Promise.race([this.provider.shutdown().catch(() => undefined), bounded]);
    clearTimeout(timer);
  }
}

/** The OTLP endpoint the exporter will use, and whether we must pass it (false: the SDK reads the env). */
export function otlpEndpoint(
  config: ApimeterConfig,
  env: Record<string, string | undefined>,
  protocol: OtlpProtocol = 'http/protobuf',
): { url: string; explicit: boolean } {
  const fromEnv = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const grpc = protocol === 'grpc';
  if (fromEnv) {
    // gRPC takes the endpoint as it is; OTLP/HTTP appends the signal path to the generic one.
    const url =
      env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || (grpc ? fromEnv : `${fromEnv.replace(/\/+$/, '')}/v1/metrics`);
    return { url, explicit: false };
  }
  const host = net.isIPv6(config.otelHost) ? `[${config.otelHost}]` : config.otelHost;
  const scheme = config.otelSslActive ? 'https' : 'http';
  // gRPC's port is 4317: the default otel_port (4318, OTLP/HTTP's) means 4317 there.
  if (grpc) return { url: `${scheme}://${host}:${config.otelPort === 4318 ? 4317 : config.otelPort}`, explicit: true };
  return { url: `${scheme}://${host}:${config.otelPort}/v1/metrics`, explicit: true };
}

/** The application's global MeterProvider when it is an SDK MeterProvider with readers (apimeter can attach), else null. */
export function globalSdkProvider(): { provider: ApiMeterProvider; readers: IMetricReader[] } | null {
  const provider = metrics.getMeterProvider();
  const collectors = (provider as unknown as { _sharedState?: { metricCollectors?: unknown } })._sharedState
    ?.metricCollectors;
  if (!Array.isArray(collectors)) return null;
  const readers = collectors
    .map((c) => (c as { _metricReader?: IMetricReader })._metricReader)
    .filter(
      (r): r is IMetricReader =>
        r !== undefined && Array.isArray((r as { _metricProducers?: unknown })._metricProducers),
    );
  return readers.length > 0 ? { provider, readers } : null;
}

type ExporterConfig = NonNullable<ConstructorParameters<typeof HttpOtlpExporter>[0]>;

/** The official OTLP exporter of `protocol`, loaded now (optional peer dependency). */
async function loadOtlpExporter(protocol: OtlpProtocol, config: ExporterConfig): Promise<PushMetricExporter> {
  const fail = (error: unknown): never => {
    throw (
      missingDependency(error, `OTLP over ${protocol}`, [...OTEL_PACKAGES, OTLP_EXPORTER_PACKAGE[protocol]]) ?? error
    );
  };
  if (protocol === 'http/protobuf') {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-proto').catch(fail);
    return new OTLPMetricExporter(config);
  }
  if (protocol === 'grpc') {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-grpc').catch(fail);
    // No HTTP agent in gRPC: grpc-js keeps its own channel (and resolver).
    const { httpAgentOptions: _agent, ...rest } = config;
    return new OTLPMetricExporter(rest);
  }
  const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-http').catch(fail);
  return new OTLPMetricExporter(config);
}

/**
 * Starts apimeter's OpenTelemetry export from `meter.config` (otel_* keys) and the standard OTEL_*
 * variables. When the application registered a global SDK MeterProvider, apimeter's producer joins
 * that provider's readers (mode `attached`, nothing exported by apimeter itself); otherwise apimeter
 * builds its own MeterProvider: OTLP over `http/protobuf` (or `http/json` / `grpc` as
 * OTEL_EXPORTER_OTLP_(METRICS_)PROTOCOL says) every OTEL_METRIC_EXPORT_INTERVAL /
 * `otel_interval_milliseconds`, plus a console reader with OTEL_METRICS_EXPORTER=console, health
 * source `otel`. Loads the exporter package of the protocol only here.
 *
 * @example
 * const otel = await startOtelExporter(createMeter({ otelOn: true, otelHost: 'collector' }));
 * // …
 * await otel.close();
 */
export async function startOtelExporter(meter: Meter, options: OtelExporterOptions = {}): Promise<OtelExporter> {
  const config = meter.config;
  const env = options.env ?? process.env;
  const std = readOtelEnv(env);
  const tell = (message: string) => {
    try {
      (options.onStateChange ?? console.warn)(redactUrls(message));
    } catch {
      // a logger that throws must not break the exporter
    }
  };
  const intervalMs = options.intervalMs ?? std.intervalMs ?? config.otelIntervalMilliseconds;
  const exportTimeoutMs = Math.min(intervalMs, options.exportTimeoutMs ?? std.exportTimeoutMs ?? 30_000);
  const timeoutMs = Math.min(exportTimeoutMs, options.timeoutMs ?? std.otlpTimeoutMs ?? 10_000);
  const breaker = new CircuitBreaker(options.circuit);

  if (options.exporter === undefined && (options.globalProvider ?? 'attach') === 'attach') {
    const global = globalSdkProvider();
    if (global !== null) {
      // The application exports already: one apimeter producer per reader of its provider (each keeps
      // its own delta baselines), no second MeterProvider, no exporter of ours.
      const producers = global.readers.map((reader) => {
        const producer = new ApimeterMetricProducer(meter, options);
        attachOtelProducer(reader, producer);
        return producer;
      });
      const stats = new OtelStatsBackend(global.provider.getMeter('apimeter'), config.otelPrefix);
      const attached = new OtelExporter(
        meter,
        global.provider as unknown as MeterProvider,
        global.readers[0] as PeriodicExportingMetricReader,
        producers[0],
        stats,
        null,
        breaker,
        'global MeterProvider',
        options.closeTimeoutMs ?? timeoutMs + 1000,
      );
      attached.mode = 'attached';
      attached.readers = global.readers;
      attached.producers = producers;
      return attached;
    }
  }

  const exponential =
    options.histogram === 'exponential' ||
    (options.histogram === undefined &&
      (config.otelExponentialHistograms ||
        env.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION === 'base2_exponential_bucket_histogram'));
  if (std.badProtocol !== undefined) {
    tell(
      `apimeter: OTEL_EXPORTER_OTLP_PROTOCOL=${std.badProtocol} is not http/protobuf, http/json or grpc; using http/protobuf`,
    );
  }
  if (std.unsupportedExporters.length > 0) {
    tell(
      `apimeter: OTEL_METRICS_EXPORTER ${std.unsupportedExporters.join(', ')} not handled by apimeter's OTLP pipeline (for Prometheus use apimeter's /metrics exporter)`,
    );
  }
  let protocol: OtlpProtocol = options.protocol ?? std.protocol ?? 'http/protobuf';
  const protocolChosen = options.protocol !== undefined || std.protocol !== undefined;
  let inner = options.exporter;
  let target = 'custom exporter';
  const wantOtlp = std.exporters.includes('otlp') || options.exporter !== undefined;
  if (inner === undefined && wantOtlp) {
    const endpoint = otlpEndpoint(config, env, protocol);
    // Passed even when it came from the variables: `options.env` may not be process.env, which the SDK reads.
    const url: string | undefined = options.url ?? endpoint.url;
    // The collector's host is resolved off libuv's thread pool (a hanging dns.lookup would hold its threads).
    const resolver = new HostResolver({ lookupTimeoutMs: timeoutMs, ...options.dns });
    const exporterConfig: ExporterConfig = {
      httpAgentOptions: { keepAlive: true, lookup: resolver.lookup },
      ...(options.temporality === 'delta' && { temporalityPreference: AggregationTemporality.DELTA }),
      ...(url !== undefined && { url }),
      timeoutMillis: timeoutMs,
      aggregationPreference: (type) =>
        exponential && type === InstrumentType.HISTOGRAM
          ? { type: AggregationType.EXPONENTIAL_HISTOGRAM }
          : { type: AggregationType.DEFAULT },
    };
    try {
      inner = await loadOtlpExporter(protocol, exporterConfig);
    } catch (error) {
      // The spec default needs the -proto package; an install made for older apimeter versions has
      // only -http: fall back to OTLP/JSON (unless a protocol was asked for).
      if (protocolChosen || (error as { code?: string }).code !== 'APIMETER_ERR_MISSING_DEPENDENCY') throw error;
      protocol = 'http/json';
      const jsonEndpoint = otlpEndpoint(config, env, protocol);
      inner = await loadOtlpExporter(protocol, {
        ...exporterConfig,
        url: options.url ?? jsonEndpoint.url,
      });
      tell(
        `apimeter: ${OTLP_EXPORTER_PACKAGE['http/protobuf']} is not installed; sending OTLP/JSON (install it for the default http/protobuf)`,
      );
    }
    target = redactUrl(options.url ?? endpoint.url);
  }
  const guard =
    inner === undefined
      ? null
      : new GuardedExporter(inner, breaker, timeoutMs, tell, target, options.maxRetainedPoints ?? 50_000);
  const producerOptions = { ...options, histogram: options.histogram ?? (exponential ? 'exponential' : 'auto') };
  const readers: PeriodicExportingMetricReader[] = [];
  const producers: ApimeterMetricProducer[] = [];
  const addReader = (exporter: PushMetricExporter, guarded: boolean) => {
    const producer = new ApimeterMetricProducer(meter, producerOptions);
    if (guarded) producer.breaker = breaker;
    const reader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: intervalMs,
      exportTimeoutMillis: exportTimeoutMs,
      metricProducers: [producer],
    });
    producer.bindReader(reader);
    readers.push(reader);
    producers.push(producer);
  };
  if (guard !== null) addReader(guard, true);
  if (std.exporters.includes('console') && options.exporter === undefined) {
    addReader(new ConsoleMetricExporter(), false);
  }
  const resource = options.resource ?? apimeterResource(options.serviceInstanceId ?? config.otelServiceInstanceId);
  const provider = new MeterProvider({ resource, readers });
  const stats = new OtelStatsBackend(provider.getMeter('apimeter'), config.otelPrefix);
  const exporter = new OtelExporter(
    meter,
    provider,
    readers[0],
    producers[0],
    stats,
    guard ?? new GuardedExporter(new ConsoleMetricExporter(), breaker, timeoutMs, tell, 'console', 0),
    breaker,
    guard === null ? 'console' : target,
    options.closeTimeoutMs ?? timeoutMs + 1000,
  );
  exporter.protocol = guard === null || options.exporter !== undefined ? null : protocol;
  exporter.readers = readers;
  exporter.producers = producers;
  return exporter;
}
