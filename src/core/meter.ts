import type { Clock } from './clock.js';
import { systemClock, tickNow } from './clock.js';
import type { ApimeterConfig } from './config.js';
import { DEFAULT_RINGS } from './endpoint.js';
import type { EndpointStats, RingLayout } from './endpoint.js';
import { knownMethodsFrom, normalizeMethod } from './methods.js';
import { ABORTED_STATUS, ErrorKind, OVERFLOW_ROUTE, UNMATCHED_ROUTE } from './record.js';
import type { RequestRecord } from './record.js';
import { Registry } from './registry.js';
import { LATENCY_RANGE_MS, LATENCY_SKETCH, Sketch } from './sketch.js';
import { MeterReader } from './reader.js';
import { hostEnv } from './runtime.js';
import { ABORTED_KEY } from './status-latency.js';
import { ERROR_FIELD, statusClassOf, ZERO_INDEX } from './tally.js';
import { endpointSnapshot, summarize } from './query.js';
import { apdexTOf } from './apdex.js';
import type { ApdexT } from './apdex.js';
import type { EndpointSnapshot, MeterSummary, WindowName } from './query.js';
import { HealthSources } from './health.js';
import { Declarations } from './declarations.js';
import type { DeclarationMeta } from './declarations.js';
import type { ComponentHealth, HealthSource } from './health.js';
import { cleanMessage, defaultTraceSource, EndpointDetail, normalizeMessage, requestContext } from './detail.js';
import type { AuthHeaderRules, HeaderReader, RequestContext, TraceSource } from './detail.js';
import { meterConfig } from './meter-options.js';
import type { MeterOptions } from './meter-options.js';
import { addRequestContext, noteAuthOutcome, noteRateLimitOutcome, openRequestContext } from './meter-detail.js';
import type { AuthOutcome, RateLimitOutcome } from './meter-detail.js';
import { createConsumers, topConsumers } from './consumers.js';
import type { Consumers } from './consumers.js';

export type { MeterOptions } from './meter-options.js';
export type { AuthOutcome, RateLimitOutcome } from './meter-detail.js';

// Computes bucket indices for the three latency sketches (total, fine slot, coarse slot) once.
const indexer = new Sketch(LATENCY_SKETCH);
const LATENCY_LOW = LATENCY_RANGE_MS.low;
const LATENCY_HIGH = LATENCY_RANGE_MS.high;

/**
 * The framework-free core: adapters resolve an endpoint once per route with {@link Meter.endpoint} and
 * then call {@link Meter.record} per request. Recording does no I/O, creates no promise or timer and
 * allocates nothing in steady state.
 *
 * @example
 * const meter = createMeter({ metricsSampleRate: 1 });
 * const ep = meter.endpoint('GET', '/dags/{dag_id}');
 * if (ep) meter.record(ep, 200, 12.5, -1, 512, ErrorKind.None);
 */
export class Meter {
  readonly config: ApimeterConfig;
  readonly registry: Registry;
  readonly clock: Clock;
  readonly rings: RingLayout;
  readonly startedAt: number;
  /** The one reader of this meter's data for exporters (cumulative counts, per-consumer deltas). */
  readonly reader: MeterReader;
  private readonly random: () => number;
  private readonly sampleRate: number;
  /** Record with the shared tick instead of calling the clock (system clock only). */
  private readonly ticking: boolean;
  private readonly excluded: readonly string[];
  private readonly healthSources = new HealthSources();
  /** Every operation the application declares, called or not (the inventory reads it). */
  readonly declarations = new Declarations();
  private readonly unmatchedByMethod = new Map<string, EndpointStats>();
  /** OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS when set (a full override, case-sensitive), else null. */
  private readonly knownMethods: ReadonlySet<string> | null;
  /**
   * How the framework writing this meter's routes spells parameters: `colon` (`/users/:id`: Fastify,
   * Express, Hono; set by their adapters) or `braces` (OpenAPI style: route tables, the proxy). The
   * OpenTelemetry `http.route` follows it (docs/exporters.md).
   */
  routeSyntax: 'colon' | 'braces' = 'braces';
  /** `metrics_detailed` (and metrics on): adapters open a request context per request. */
  readonly detailed: boolean;
  private readonly traceSource: TraceSource | null;
  private readonly authRules: AuthHeaderRules;
  private readonly redactHook: ((message: string, error: unknown) => string) | null;
  /** Messages the `redactMessage` hook threw on or returned a non-string for (each dropped). */
  messageRedactionFailures = 0;
  /** Per-consumer figures (`metrics_consumers`), null when off; adapters feed it with `noteConsumer`. */
  readonly consumers: Consumers | null;
  /**
   * The last latency {@link record} bucketed and its bucket index (LATENCY_SKETCH): the consumer
   * tracker, called right after with the same duration, derives its own bucket from it instead of a
   * second logarithm.
   */
  lastDurationMs = NaN;
  lastLatencyIndex = 0;
  // The last message the hook rewrote: record() and finishContext() keep the same exception's message.
  private lastRawMessage = '';
  private lastRawError: unknown = undefined;
  private lastKeptMessage = '';

  constructor(options: MeterOptions = {}) {
    this.config = meterConfig(options);
    this.clock = options.clock ?? systemClock;
    this.ticking = this.clock === systemClock;
    this.random = options.random ?? Math.random;
    this.knownMethods = knownMethodsFrom((options.env ?? hostEnv()).OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS);
    this.rings = Object.freeze({ ...DEFAULT_RINGS, ...options.rings });
    if (this.rings.coarseMs % this.rings.fineMs !== 0) {
      throw new RangeError(
        `rings.coarseMs (${this.rings.coarseMs}) must be a multiple of rings.fineMs (${this.rings.fineMs})`,
      );
    }
    this.registry = new Registry(this.config.metricsMaxEndpoints, this.rings);
    this.reader = new MeterReader(this.registry);
    this.sampleRate = this.config.metricsSampleRate;
    this.excluded = this.config.metricsExcludedEndpoints;
    this.startedAt = this.clock.now();
    // OpenTelemetry's duration histogram is per status code, and so is the Prometheus `legacy` preset's
    // (status_code): with otel_on or prometheus_naming = legacy, from the first request on (a producer or
    // exposition made later starts them itself, from then on).
    const byStatus = this.config.otelOn || this.config.prometheusNaming === 'legacy';
    if (byStatus && this.config.metricsEnabled) this.reader.trackStatusLatency(this.startedAt);
    this.detailed = this.config.metricsEnabled && this.config.metricsDetailed;
    this.traceSource =
      options.traceSource === false ? null : (options.traceSource ?? (this.detailed ? defaultTraceSource() : null));
    this.authRules = {
      apiKeyHeaders: this.config.metricsApiKeyHeaders.map((h) => h.toLowerCase()),
      sessionCookies: this.config.metricsSessionCookies,
    };
    this.redactHook = typeof options.redactMessage === 'function' ? options.redactMessage : null;
    this.consumers = createConsumers(this.config, options);
    if (this.consumers !== null) {
      // The inventory's "deprecated but called by": the endpoint's top consumers since start-up (the
      // consumer tracker keeps no per-window tables; docs/inventory.md).
      this.declarations.setTopConsumers((endpoint) =>
        topConsumers(this, endpoint, 10).map((c) => ({ consumer: c.id, requests: c.requests })),
      );
    }
    if (this.redactHook !== null) {
      this.addHealthSource('message_redaction', () => ({
        name: 'message_redaction',
        state: this.messageRedactionFailures > 0 ? 'degraded' : 'ok',
        counters: { failures: this.messageRedactionFailures },
      }));
    }
  }

  /**
   * An exception message as it is kept: `redactMessage` first, then `metrics_error_messages`
   * (normalized, full, or none = ''). Never throws.
   */
  keptMessage(raw: string, error: unknown): string {
    const mode = this.config.metricsErrorMessages;
    if (mode === 'none' || raw === '') return '';
    if (this.redactHook !== null) {
      if (raw === this.lastRawMessage && error === this.lastRawError) return this.lastKeptMessage;
      let out: unknown;
      try {
        out = this.redactHook(raw, error);
      } catch {
        out = undefined;
      }
      this.lastRawMessage = raw;
      this.lastRawError = error;
      if (typeof out !== 'string') {
        this.messageRedactionFailures++;
        return (this.lastKeptMessage = '');
      }
      return (this.lastKeptMessage = mode === 'full' ? cleanMessage(out) : normalizeMessage(out));
    }
    return mode === 'full' ? cleanMessage(raw) : normalizeMessage(raw);
  }

  get enabled(): boolean {
    return this.config.metricsEnabled;
  }

  /**
   * The endpoint for a route template, or null when metrics are off or the route is excluded (the
   * adapter then adds no hooks to it at all). Call once per route, not per request. `declared`: the
   * route comes from a route table or an OpenAPI document, so it keeps its own endpoint whatever the
   * cardinality cap (templates invented from raw paths compete for the places left).
   */
  endpoint(method: string, route: string, declared = false): EndpointStats | null {
    if (!this.config.metricsEnabled || this.isExcluded(route)) return null;
    return this.registry.get(normalizeMethod(method, this.knownMethods), route, declared);
  }

  /**
   * Declares an operation of the application's route table or API document: it is listed in
   * `meter.declarations` (the inventory) from now on, called or not, and its endpoint keeps its place
   * in the cardinality cap ({@link endpoint} with `declared`). Method `*`: a route answering every
   * method (listed, no endpoint: each method gets its own on first use). Null when excluded or off.
   */
  declare(method: string, route: string, meta?: DeclarationMeta): EndpointStats | null {
    if (method === '*') {
      if (this.config.metricsEnabled && !this.isExcluded(route)) this.declarations.add('*', route, meta);
      return null;
    }
    const ep = this.endpoint(method, route, true);
    if (ep !== null) this.declarations.add(ep.method, route, meta);
    return ep;
  }

  /** The shared endpoint for requests that matched no route, or null if their raw path is excluded. */
  unmatched(method: string, path?: string): EndpointStats | null {
    if (!this.config.metricsEnabled) return null;
    if (path !== undefined && this.excluded.length > 0 && this.isExcluded(stripQuery(path))) return null;
    // The inventory's undocumented candidates (grouped by template there); off until it installs one.
    const observe = this.declarations.unmatchedObserver;
    if (observe !== null && path !== undefined) observe(method, path);
    // Scanner floods arrive here: a per-method cache avoids building a string key per 404.
    let ep = this.unmatchedByMethod.get(method);
    if (ep === undefined) {
      ep = this.registry.get(normalizeMethod(method, this.knownMethods), UNMATCHED_ROUTE);
      if (this.unmatchedByMethod.size < 64) this.unmatchedByMethod.set(method, ep);
    }
    return ep;
  }

  /** True when `route` equals an excluded entry or lies under one (`/api/v2/metrics` excludes `/api/v2/metrics/x`). */
  isExcluded(route: string): boolean {
    for (const e of this.excluded) {
      if (route === e) return true;
      if (route.startsWith(e) && (e.endsWith('/') || route.charCodeAt(e.length) === 47)) return true;
    }
    return false;
  }

  /** A request started on `ep` (in-flight gauge). Pair with {@link end}. */
  begin(ep: EndpointStats): void {
    if (!ep.listed) ep = this.registry.activate(ep);
    ep.inflight++;
  }

  end(ep: EndpointStats): void {
    if (ep.redirect !== null) ep = ep.redirect;
    if (ep.inflight > 0) ep.inflight--;
  }

  /**
   * Records one finished request. Never throws. Counts are exact; with `metrics_sample_rate` < 1 only
   * the latency and size sketches are fed by a random sample (an unbiased sample of the distribution),
   * so rates, status and error counts are never estimated.
   *
   * Positional arguments instead of a record object keep the per-request path allocation-free.
   * Sizes are bytes, or -1 when unknown.
   */
  record(
    ep: EndpointStats,
    status: number,
    durationMs: number,
    requestBytes: number,
    responseBytes: number,
    errorKind: ErrorKind,
    errorClass?: string,
    errorMessage?: string,
    error?: unknown,
  ): void {
    const now = this.ticking ? tickNow() : this.clock.now();
    if (!ep.listed) ep = this.registry.activate(ep);
    if (ep.route === OVERFLOW_ROUTE) this.registry.overflowedRecords++;
    if (errorKind === ErrorKind.Aborted) status = ABORTED_STATUS;
    const statusClass = statusClassOf(status);
    const errorField =
      errorKind === ErrorKind.Aborted
        ? ERROR_FIELD[4]
        : errorKind === ErrorKind.Validation
          ? ERROR_FIELD[3]
          : errorKind === ErrorKind.Exception
            ? ERROR_FIELD[2]
            : statusClass === 5
              ? ERROR_FIELD[0]
              : statusClass === 4
                ? ERROR_FIELD[1]
                : -1;
    const sampled = this.sampleRate >= 1 || this.random() < this.sampleRate;
    let latencyIndex = NaN;
    if (sampled) {
      if (durationMs > 0) {
        latencyIndex = indexer.indexOf(durationMs);
        this.lastDurationMs = durationMs;
        this.lastLatencyIndex = latencyIndex;
        // Outside the sketch's range: clamped into its first or last bucket; counted, so it is not silent.
        if (durationMs <= LATENCY_LOW || durationMs > LATENCY_HIGH) ep.latencyClamped++;
      } else if (durationMs === 0) latencyIndex = ZERO_INDEX;
    }
    if (!(requestBytes >= 0)) requestBytes = -1;
    if (!(responseBytes >= 0)) responseBytes = -1;
    const fineId = Math.floor(now / this.rings.fineMs);
    const slot = fineId === ep.currentFine ? ep.current! : ep.rotate(fineId);
    slot.add(status, statusClass, errorField, durationMs, latencyIndex, requestBytes, responseBytes);
    if (sampled) {
      const byStatus = this.reader.statusLatency;
      if (byStatus !== null)
        byStatus.record(ep.id, errorKind === ErrorKind.Aborted ? ABORTED_KEY : status, latencyIndex, durationMs);
      if (requestBytes >= 0) ep.requestSize.record(requestBytes);
      if (responseBytes >= 0) ep.responseSize.record(responseBytes);
    }
    if (errorKind === ErrorKind.Exception) {
      ep.noteException(errorClass || 'Error', this.keptMessage(errorMessage ?? '', error), now);
    }
  }

  /**
   * Detailed mode: the context for a request that starts now. Reads which kind of credentials the
   * request presents (never their value) and the active trace. Adapters run the rest of the request
   * inside it (`requestContext.run(ctx, …)`) and hand it to {@link finishContext} after {@link record}.
   */
  openContext(header: HeaderReader): RequestContext {
    return openRequestContext(header, this.authRules, this.traceSource);
  }

  /**
   * Detailed mode: adds a finished request's context to `ep` (call right after {@link record} for the
   * same request). `error` is what the handler threw, if anything; `responseHeader` reads the
   * rate-limit headers a limiter set. Never throws.
   */
  finishContext(
    ep: EndpointStats,
    ctx: RequestContext,
    status: number,
    durationMs: number,
    error?: unknown,
    responseHeader?: HeaderReader,
  ): void {
    try {
      this.addContext(ep, ctx, status, durationMs, error, responseHeader);
    } catch {
      // metrics never fail a request
    }
  }

  private addContext(
    ep: EndpointStats,
    ctx: RequestContext,
    status: number,
    durationMs: number,
    error: unknown,
    responseHeader: HeaderReader | undefined,
  ): void {
    const now = this.ticking ? tickNow() : this.clock.now();
    if (!ep.listed) ep = this.registry.activate(ep);
    const fineId = Math.floor(now / this.rings.fineMs);
    const slot = fineId === ep.currentFine ? ep.current! : ep.rotate(fineId);
    const detail = (ep.detail ??= new EndpointDetail());
    addRequestContext(
      slot,
      detail,
      ctx,
      status,
      durationMs,
      error,
      responseHeader,
      now,
      this.config.metricsErrorSamples,
      this.random,
      this,
    );
  }

  /**
   * Reports how the current request authenticated (detailed mode; a no-op outside a request or with
   * detailed mode off). Without such a call the outcome is inferred: credentials presented (Bearer,
   * Basic, API-key header, session cookie) and the answer (401/403 = failure).
   *
   * @example
   * if (!valid) { meter.recordAuth({ type: 'bearer', success: false }); return reply.code(401).send(); }
   */
  recordAuth(outcome: AuthOutcome, ctx: RequestContext | undefined = requestContext.getStore()): void {
    noteAuthOutcome(outcome, ctx);
  }

  /**
   * Reports the rate limiter's verdict and quota for the current request (detailed mode; no-op
   * otherwise). Without it, 429 answers count as limited and `RateLimit-*` / `X-RateLimit-*` response
   * headers give the quota.
   */
  recordRateLimit(outcome: RateLimitOutcome, ctx: RequestContext | undefined = requestContext.getStore()): void {
    noteRateLimitOutcome(outcome, ctx);
  }

  /**
   * Convenience for proxies and custom adapters: resolves the endpoint by strings on every call, so it
   * is slower than holding the endpoint from {@link endpoint}.
   */
  recordRequest(r: RequestRecord): void {
    const ep = r.route === undefined ? this.unmatched(r.method) : this.endpoint(r.method, r.route);
    if (ep === null) return;
    this.record(
      ep,
      r.status,
      r.durationMs,
      r.requestBytes ?? -1,
      r.responseBytes ?? -1,
      r.errorKind ?? ErrorKind.None,
      r.errorClass,
      r.errorMessage,
    );
  }

  /**
   * Registers a background part (exporter, store) whose state `/health` shows. Returns a function that
   * unregisters it. A source that throws is reported as failing, never propagated.
   */
  addHealthSource(name: string, source: HealthSource): () => void {
    return this.healthSources.add(name, source);
  }

  /** The state of every registered background part. */
  componentHealth(): ComponentHealth[] {
    return this.healthSources.read();
  }

  /**
   * Statistics of every endpoint over a window (`1m`, `5m`, `15m`, `1h`, or `all` since start-up). Apdex
   * is at `apdexTMs`: one T, or one per endpoint (`apdexTargetsOf(meter)` gives the alerts rules file's);
   * default `[alerts] apdex_t_ms`.
   */
  snapshot(
    window: WindowName = 'all',
    { apdexTMs = this.config.alertsApdexTMs }: SnapshotOptions = {},
  ): EndpointSnapshot[] {
    const now = this.clock.now();
    return this.registry
      .endpoints()
      .map((ep) => endpointSnapshot(ep, window, now, this.startedAt, apdexTOf(apdexTMs, ep.method, ep.route)));
  }

  /** One endpoint, or undefined when the registry has never seen it. */
  endpointSnapshot(
    method: string,
    route: string,
    window: WindowName = 'all',
    { apdexTMs = this.config.alertsApdexTMs }: SnapshotOptions = {},
  ): EndpointSnapshot | undefined {
    const ep = this.registry.find(normalizeMethod(method, this.knownMethods), route);
    return (
      ep && endpointSnapshot(ep, window, this.clock.now(), this.startedAt, apdexTOf(apdexTMs, ep.method, ep.route))
    );
  }

  /** Totals over all endpoints, with percentiles from merged sketches; Apdex at one T (default `[alerts] apdex_t_ms`). */
  summary(
    window: WindowName = 'all',
    { apdexTMs = this.config.alertsApdexTMs }: { apdexTMs?: number } = {},
  ): MeterSummary {
    return summarize(this.registry, window, this.clock.now(), this.startedAt, apdexTMs);
  }
}

/** Options of `meter.snapshot()` and `meter.endpointSnapshot()`. */
export interface SnapshotOptions {
  /** Apdex T in ms, one for all or per endpoint; default `[alerts] apdex_t_ms`. */
  apdexTMs?: ApdexT;
}

function stripQuery(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

/** Creates a meter; reads `apimeter.ini` and `APIMETER__…` variables unless `config` is given. */
export function createMeter(options: MeterOptions = {}): Meter {
  return new Meter(options);
}
