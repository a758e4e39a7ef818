import * as v from 'valibot';
import { Meter } from '../core/meter.js';
import { createError } from '../errors.js';
import {
  expectedObject,
  isMissingKeyIssue,
  isUnknownKeyIssue,
  mapping,
  missingText,
  PARSE_CONFIG,
  pathKeys,
} from '../core/issue-text.js';
import type { HistorySource } from '../core/history.js';
import type { ApiRequest } from './http.js';
import { LEGACY_FLAVORS } from '../exporters/prometheus-legacy.js';
import type { LegacyOptions } from '../exporters/prometheus-legacy.js';

export interface HealthThresholds {
  /** Requests the window needs before the latency and error checks may fail. */
  minRequests: number;
  p95DegradedMs: number;
  p95UnhealthyMs: number;
  /** Share of 5xx responses, 0..1. */
  errorRateDegraded: number;
  errorRateUnhealthy: number;
  /** Answer 503 instead of 200 when unhealthy. */
  failOnUnhealthy: boolean;
}

export interface MetricsApiOptions {
  meter: Meter;
  /** Path prefix of the routes. Default: `[api] metrics_api_prefix` (`/api/v2/metrics`). */
  prefix?: string;
  /** Bearer token every request must carry. Default: `[api] metrics_api_token`; empty and no `authorize` = every request refused (401). */
  token?: string;
  /**
   * Decides access instead of the token check: true lets the request through; false answers 403 when the
   * request carried an Authorization header and 401 when it carried none. A function that throws or
   * rejects answers 500 (and is reported to `onError`).
   */
  authorize?: (request: ApiRequest) => boolean | Promise<boolean>;
  /** Serve the Prometheus exposition without access check. Default: `[api] metrics_api_open_prometheus`. */
  openPrometheus?: boolean;
  /** Path of the Prometheus exposition (not under the prefix); '' = not served. Default: `[api] metrics_prometheus_path`. */
  prometheusPath?: string;
  /** Seconds expensive answers are reused; 0 = never. Default: `[api] metrics_api_cache_seconds`. */
  cacheSeconds?: number;
  /** Most answers kept in the cache (oldest evicted first). Default 256. */
  cacheEntries?: number;
  /** Persisted history for windows and ranges older than the in-memory hour. Default: none. */
  history?: HistorySource | null;
  /** Overrides of the `[api] metrics_health_*` keys. */
  health?: Partial<HealthThresholds>;
  /** Prometheus naming preset (default `[metrics] prometheus_naming`) and exact `status` label (default `[api] metrics_detailed`). */
  prometheus?: {
    naming?: 'otel' | 'legacy' | 'airflow';
    statusLabel?: boolean;
    /** `openapi` (`/items/{id}`) or `colon` (`/items/:id`). Default: `colon` for `legacy`, else `openapi`. */
    routeFormat?: 'openapi' | 'colon';
    /** Classic duration bucket bounds in seconds (default: OpenTelemetry's advice; the flavour's for `legacy`). */
    durationBuckets?: readonly number[];
    /** The `legacy` preset's flavour and options (docs/prometheus.md). */
    legacy?: LegacyOptions;
  };
  /** Receives unexpected failures (a throwing authorize function, a failing history store, a bug). */
  onError?: (error: unknown) => void;
}

export interface ResolvedOptions {
  readonly meter: Meter;
  readonly prefix: string;
  readonly token: string;
  readonly authorize: ((request: ApiRequest) => boolean | Promise<boolean>) | null;
  readonly openPrometheus: boolean;
  readonly prometheusPath: string;
  readonly cacheMs: number;
  readonly cacheEntries: number;
  readonly history: HistorySource | null;
  readonly health: Readonly<HealthThresholds>;
  readonly naming: 'otel' | 'legacy' | 'airflow';
  readonly statusLabel: boolean;
  readonly routeFormat: 'openapi' | 'colon' | undefined;
  readonly durationBuckets: readonly number[] | undefined;
  readonly legacy: Readonly<LegacyOptions> | undefined;
  readonly onError: (error: unknown) => void;
}

const FUNCTION = v.custom<(...args: never[]) => unknown>((x) => typeof x === 'function', 'expected a function');
const PATH = v.pipe(v.string(), v.regex(/^\/[^\s?#]*$/));
const NUMBER = v.pipe(v.number(), v.finite());
const HEALTH_ENTRIES = {
  minRequests: v.optional(v.pipe(NUMBER, v.safeInteger(), v.minValue(0))),
  p95DegradedMs: v.optional(v.pipe(NUMBER, v.gtValue(0))),
  p95UnhealthyMs: v.optional(v.pipe(NUMBER, v.gtValue(0))),
  errorRateDegraded: v.optional(v.pipe(NUMBER, v.minValue(0), v.maxValue(1))),
  errorRateUnhealthy: v.optional(v.pipe(NUMBER, v.minValue(0), v.maxValue(1))),
  failOnUnhealthy: v.optional(v.boolean()),
};
const LEGACY_ENTRIES = {
  flavor: v.optional(v.picklist(LEGACY_FLAVORS)),
  includeMethod: v.optional(v.boolean()),
  includePath: v.optional(v.boolean()),
  includeUp: v.optional(v.boolean()),
};
const PROMETHEUS_ENTRIES = {
  naming: v.optional(v.picklist(['otel', 'legacy', 'airflow'])),
  statusLabel: v.optional(v.boolean()),
  routeFormat: v.optional(v.picklist(['openapi', 'colon'])),
  durationBuckets: v.optional(
    v.pipe(
      v.array(v.pipe(NUMBER, v.gtValue(0))),
      v.minLength(1),
      v.check((b) => b.every((x, i) => i === 0 || x > b[i - 1]), 'expected ascending bounds'),
    ),
  ),
  legacy: v.optional(v.pipe(mapping(expectedObject), v.strictObject(LEGACY_ENTRIES))),
};
const SHAPE_ENTRIES = {
  meter: v.instance(Meter),
  prefix: v.optional(PATH),
  token: v.optional(v.pipe(v.string(), v.regex(/^[\x21-\x7e]*$/))),
  authorize: v.optional(FUNCTION),
  openPrometheus: v.optional(v.boolean()),
  prometheusPath: v.optional(v.union([v.literal(''), PATH])),
  cacheSeconds: v.optional(v.pipe(NUMBER, v.minValue(0), v.maxValue(3600))),
  cacheEntries: v.optional(v.pipe(NUMBER, v.safeInteger(), v.minValue(1), v.maxValue(100_000))),
  history: v.optional(
    v.nullable(v.custom<HistorySource>((h) => typeof h === 'object' && h !== null, 'expected a HistorySource')),
  ),
  health: v.optional(v.pipe(mapping(expectedObject), v.strictObject(HEALTH_ENTRIES))),
  prometheus: v.optional(v.pipe(mapping(expectedObject), v.strictObject(PROMETHEUS_ENTRIES))),
  onError: v.optional(FUNCTION),
};
const SHAPE = v.pipe(mapping(expectedObject), v.strictObject(SHAPE_ENTRIES));

/** The problem text of one issue: the first unknown key stands for all of its object's, as "Unrecognized keys". */
function issueMessage(options: unknown, issue: v.BaseIssue<unknown>): string {
  const path = pathKeys(issue);
  if (isUnknownKeyIssue(issue)) {
    let parent: unknown = options;
    for (const key of path.slice(0, -1)) parent = (parent as Record<string, unknown>)[key];
    const known =
      path.length === 1
        ? SHAPE_ENTRIES
        : path[0] === 'health'
          ? HEALTH_ENTRIES
          : path.length === 3
            ? LEGACY_ENTRIES
            : PROMETHEUS_ENTRIES;
    const unknown = Object.keys(parent as object).filter((key) => !Object.hasOwn(known, key));
    return `Unrecognized key${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  if (isMissingKeyIssue(issue)) return missingText(SHAPE_ENTRIES[path[0] as 'meter']);
  return issue.message;
}

/** Checks the options once, fills the rest from the meter's configuration and freezes the result. */
export function resolveOptions(options: MetricsApiOptions): ResolvedOptions {
  const checked = v.safeParse(SHAPE, options, PARSE_CONFIG);
  if (!checked.success) {
    const problems = checked.issues.map((i) => {
      // An unknown key is reported on its object, as before.
      const path = isUnknownKeyIssue(i) ? pathKeys(i).slice(0, -1) : pathKeys(i);
      const where = path.join('.') || 'options';
      const value = where === 'token' ? '' : ` (${issueMessage(options, i)})`;
      return `createMetricsApi option ${where}: invalid${value}`;
    });
    throw createError('APIMETER_ERR_CONFIG_INVALID', problems.join('; '), problems);
  }
  const { meter } = options;
  const c = meter.config;
  const health: HealthThresholds = {
    minRequests: c.metricsHealthMinRequests,
    p95DegradedMs: c.metricsHealthP95DegradedMs,
    p95UnhealthyMs: c.metricsHealthP95UnhealthyMs,
    errorRateDegraded: c.metricsHealthErrorRateDegraded,
    errorRateUnhealthy: c.metricsHealthErrorRateUnhealthy,
    failOnUnhealthy: c.metricsHealthFailOnUnhealthy,
    ...options.health,
  };
  const problems: string[] = [];
  if (health.p95DegradedMs > health.p95UnhealthyMs) {
    problems.push(
      `[api] metrics_health_p95_degraded_ms (${health.p95DegradedMs}) must not exceed metrics_health_p95_unhealthy_ms (${health.p95UnhealthyMs})`,
    );
  }
  if (health.errorRateDegraded > health.errorRateUnhealthy) {
    problems.push(
      `[api] metrics_health_error_rate_degraded (${health.errorRateDegraded}) must not exceed metrics_health_error_rate_unhealthy (${health.errorRateUnhealthy})`,
    );
  }
  if (problems.length > 0) throw createError('APIMETER_ERR_CONFIG_INVALID', problems.join('; '), problems);
  const prefix = (options.prefix ?? c.metricsApiPrefix).replace(/\/+$/, '');
  return Object.freeze({
    meter,
    prefix,
    token: options.token ?? c.metricsApiToken,
    authorize: options.authorize ?? null,
    openPrometheus: options.openPrometheus ?? c.metricsApiOpenPrometheus,
    prometheusPath: options.prometheusPath ?? c.metricsPrometheusPath,
    cacheMs: (options.cacheSeconds ?? c.metricsApiCacheSeconds) * 1000,
    cacheEntries: options.cacheEntries ?? 256,
    history: options.history ?? null,
    health: Object.freeze(health),
    naming: options.prometheus?.naming ?? c.prometheusNaming,
    statusLabel: options.prometheus?.statusLabel ?? c.metricsDetailed,
    routeFormat: options.prometheus?.routeFormat,
    durationBuckets:
      options.prometheus?.durationBuckets === undefined
        ? undefined
        : Object.freeze([...options.prometheus.durationBuckets]),
    legacy: options.prometheus?.legacy === undefined ? undefined : Object.freeze({ ...options.prometheus.legacy }),
    onError: options.onError ?? (() => {}),
  });
}
