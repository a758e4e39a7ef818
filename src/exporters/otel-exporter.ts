import net from 'node:net';
import type { ExportResult, ExportResultCode } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import {
  AggregationType,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ApimeterConfig } from '../core/config.js';
import type { ComponentHealth } from '../core/health.js';
import type { Meter } from '../core/meter.js';
import type { StatsBackend } from '../core/stats-backends.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import { ApimeterMetricProducer } from './otel-producer.js';
import type { OtelProducerOptions } from './otel-producer.js';
import { OtelStatsBackend } from './otel-stats.js';
import { missingDependency, OTEL_PACKAGES } from './optional-deps.js';

const SUCCESS = 0 as ExportResultCode;
const FAILED = 1 as ExportResultCode;

/**
 * Wraps the real exporter: refuses at once while the circuit is open, gives up after `timeoutMs` on a
 * collector that accepts and hangs, and keeps what /health shows.
 */
class GuardedExporter implements PushMetricExporter {
  exports = 0;
  failures = 0;
  refused = 0;
  lastError: string | undefined;
  lastErrorAt: string | undefined;
  lastSuccessAt: string | undefined;
  readonly selectAggregationTemporality?: PushMetricExporter['selectAggregationTemporality'];
  readonly selectAggregation?: PushMetricExporter['selectAggregation'];

  constructor(
    private readonly inner: PushMetricExporter,
    private readonly breaker: CircuitBreaker,
    private readonly timeoutMs: number,
    private readonly tell: (message: string) => void,
    private readonly target: string,
  ) {
    this.selectAggregationTemporality = inner.selectAggregationTemporality?.bind(inner);
    this.selectAggregation = inner.selectAggregation?.bind(inner);
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    if (!this.breaker.allow()) {
      this.refused++;
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
      else this.failed(result.error ?? new Error('export failed'));
      resultCallback(result);
    };
    const timer = setTimeout(
      () => finish({ code: FAILED, error: new Error(`export timed out after ${this.timeoutMs} ms`) }),
      this.timeoutMs,
    );
    timer.unref();
    try {
      this.inner.export(metrics, finish);
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
    this.lastError = `${prefix}${error.message} (${this.target})`;
    this.lastErrorAt = new Date().toISOString();
    if (this.breaker.opened > before) {
      const seconds = Math.round(this.breaker.retryInMs / 1000);
      this.tell(`apimeter: otel exporter failing, circuit open for ${seconds} s: ${this.lastError}`);
    }
  }
}

export interface OtelExporterOptions extends Partial<OtelProducerOptions> {
  /** OTLP/HTTP endpoint. Default: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT if set, else from otel_ssl_active, otel_host and otel_port. */
  url?: string;
  /** Milliseconds between exports (`otel_interval_milliseconds`). */
  intervalMs?: number;
  /** Give up on one export after this many ms. Default: OTEL_EXPORTER_OTLP_TIMEOUT, else 10,000, at most intervalMs. */
  timeoutMs?: number;
  /** Replaces the OTLP/HTTP exporter (tests: the SDK's InMemoryMetricExporter). */
  exporter?: PushMetricExporter;
  resource?: Resource;
  circuit?: CircuitBreakerOptions;
  /** Told when the circuit opens or closes again. Default: console.warn. */
  onStateChange?: (message: string) => void;
  /** Environment for the OTEL_* variables (default process.env). */
  env?: Record<string, string | undefined>;
}

/**
 * apimeter's own OpenTelemetry pipeline: a MeterProvider whose PeriodicExportingMetricReader carries the
 * apimeter producer and exports over OTLP/HTTP (JSON), guarded by a circuit breaker. Its `stats` backend
 * lets the Stats facade's metrics ride the same exports.
 */
export class OtelExporter {
  private unregister: (() => void) | null;
  private closed = false;

  constructor(
    readonly meter: Meter,
    readonly provider: MeterProvider,
    readonly reader: PeriodicExportingMetricReader,
    readonly producer: ApimeterMetricProducer,
    readonly stats: StatsBackend,
    private readonly guard: GuardedExporter,
    readonly breaker: CircuitBreaker,
    readonly target: string,
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
        lastPoints: this.producer.lastPoints,
        circuitOpened: this.breaker.opened,
      },
    };
  }

  /** Exports what is pending (unless the circuit is open) and shuts the provider down. Never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unregister?.();
    this.unregister = null;
    await this.provider.shutdown().catch(() => undefined);
  }
}

/** The OTLP endpoint the exporter will use, and whether we must pass it (false: the SDK reads the env). */
export function otlpEndpoint(
  config: ApimeterConfig,
  env: Record<string, string | undefined>,
): { url: string; explicit: boolean } {
  const fromEnv = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (fromEnv) {
    const url = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || `${fromEnv.replace(/\/+$/, '')}/v1/metrics`;
    return { url, explicit: false };
  }
  const host = net.isIPv6(config.otelHost) ? `[${config.otelHost}]` : config.otelHost;
  return { url: `${config.otelSslActive ? 'https' : 'http'}://${host}:${config.otelPort}/v1/metrics`, explicit: true };
}

/**
 * Starts apimeter's OpenTelemetry export from `meter.config` (otel_* keys) and the standard OTEL_*
 * variables: OTLP/HTTP JSON every `otel_interval_milliseconds` to the collector, health source `otel`.
 * Loads the OTLP exporter package only here.
 *
 * @example
 * const otel = await startOtelExporter(createMeter({ otelOn: true, otelHost: 'collector' }));
 * // …
 * await otel.close();
 */
export async function startOtelExporter(meter: Meter, options: OtelExporterOptions = {}): Promise<OtelExporter> {
  const config = meter.config;
  const env = options.env ?? process.env;
  const intervalMs = options.intervalMs ?? config.otelIntervalMilliseconds;
  const envTimeout = Number(env.OTEL_EXPORTER_OTLP_METRICS_TIMEOUT || env.OTEL_EXPORTER_OTLP_TIMEOUT);
  const timeoutMs = Math.min(intervalMs, options.timeoutMs ?? (envTimeout > 0 ? envTimeout : 10_000));
  const exponential =
    options.histogram === 'exponential' ||
    (options.histogram === undefined &&
      (config.otelExponentialHistograms ||
        env.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION === 'base2_exponential_bucket_histogram'));
  const endpoint = otlpEndpoint(config, env);
  let inner = options.exporter;
  let target = options.exporter !== undefined ? 'custom exporter' : (options.url ?? endpoint.url);
  if (inner === undefined) {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-http').catch((error: unknown) => {
      throw missingDependency(error, 'the OTLP exporter', OTEL_PACKAGES) ?? error;
    });
    const url = options.url ?? (endpoint.explicit ? endpoint.url : undefined);
    target = options.url ?? endpoint.url;
    inner = new OTLPMetricExporter({
      ...(url !== undefined && { url }),
      timeoutMillis: timeoutMs,
      aggregationPreference: (type) =>
        exponential && type === InstrumentType.HISTOGRAM
          ? { type: AggregationType.EXPONENTIAL_HISTOGRAM }
          : { type: AggregationType.DEFAULT },
    });
  }
  const breaker = new CircuitBreaker(options.circuit);
  const tell = (message: string) => {
    try {
      (options.onStateChange ?? console.warn)(message);
    } catch {
      // a logger that throws must not break the exporter
    }
  };
  const guard = new GuardedExporter(inner, breaker, timeoutMs, tell, target);
  const producer = new ApimeterMetricProducer(meter, {
    ...options,
    histogram: options.histogram ?? (exponential ? 'exponential' : 'auto'),
  });
  producer.breaker = breaker;
  const reader = new PeriodicExportingMetricReader({
    exporter: guard,
    exportIntervalMillis: intervalMs,
    exportTimeoutMillis: timeoutMs,
    metricProducers: [producer],
  });
  producer.bindReader(reader);
  const resource = options.resource ?? defaultOtelResource();
  const provider = new MeterProvider({ resource, readers: [reader] });
  const stats = new OtelStatsBackend(provider.getMeter('apimeter'), config.otelPrefix);
  return new OtelExporter(meter, provider, reader, producer, stats, guard, breaker, target);
}

/** The SDK's default resource (service.name unknown_service:node, telemetry.sdk.*) with OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. */
function defaultOtelResource(): Resource {
  return defaultResource().merge(detectResources({ detectors: [envDetector] }));
}
