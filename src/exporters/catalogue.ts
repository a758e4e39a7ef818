import { LATENCY_SKETCH, relativeErrorText } from '../core/sketch.js';

/**
 * The metric catalogue: every metric apimeter exports, with its name, type, unit, description and
 * tags in each backend. Data only — the Prometheus, StatsD/DogStatsD and OpenTelemetry exporters read
 * their names and descriptions from here, and `npm run docs:catalogue` writes the metric tables of
 * docs/prometheus.md and docs/exporters.md from it (test/docs.test.ts checks they match).
 *
 * A metric missing from a backend has `null` there (the Prometheus-only registry gauges, for example).
 */

/** The latency sketch's worst-case relative error as the descriptions write it: `0.54 %` at scale 6. */
export const LATENCY_ERROR_TEXT = relativeErrorText(LATENCY_SKETCH);

/**
 * Prometheus naming presets: `otel` (OpenTelemetry's names), `legacy` (express-prom-bundle's and
 * fastify-metrics' names), `airflow` (the names of Airflow's API metrics: `http_requests_total{status_family}`,
 * `http_request_duration_milliseconds`).
 */
export type PrometheusPreset = 'otel' | 'legacy' | 'airflow';
export const PROMETHEUS_PRESETS: readonly PrometheusPreset[] = ['otel', 'legacy', 'airflow'];
/** The presets the generated rules and dashboards (`apimeter export`) support. */
export type ArtifactPreset = Exclude<PrometheusPreset, 'airflow'>;
export const ARTIFACT_PRESETS: readonly ArtifactPreset[] = ['otel', 'legacy'];

export interface StatsdMetric {
  /** Name after `statsd_prefix` and `api_metrics_prefix`: `request.count` → `apimeter.api.request.count`. */
  readonly suffix: string;
  /**
   * Line type: `c`, `g`, `ms`; `h` is `ms` for plain StatsD (Etsy's daemon counts an `h` as a counter)
   * and `h` for DogStatsD. Timers and histograms are `d` in distribution mode.
   */
  readonly type: 'c' | 'g' | 'ms' | 'h';
  /** Dimensions, in the order they are folded into a plain StatsD name; `(…)` ones are conditional. */
  readonly tags: readonly string[];
  /** What the docs table says about it. */
  readonly doc: string;
}

export interface OtelMetric {
  /** Instrument name; `prefixed` ones get `otel_prefix` + `.` in front. */
  readonly name: string;
  readonly prefixed: boolean;
  readonly kind: 'histogram' | 'monotonic sum' | 'non-monotonic sum';
  readonly unit: string;
  readonly description: string;
  /** Attribute keys besides `http.route` and `http.request.method`. */
  readonly attributes: readonly string[];
  readonly doc: string;
}

export interface PrometheusMetric {
  /** Sample name (counters with `_total`) per naming preset. */
  readonly names: Readonly<Record<PrometheusPreset, string>>;
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** OpenMetrics `# UNIT`. */
  readonly unit?: 'seconds' | 'bytes';
  /** A preset whose unit differs (the `airflow` preset's duration in milliseconds). */
  readonly presetUnit?: Readonly<Partial<Record<PrometheusPreset, 'milliseconds'>>>;
  readonly help: Readonly<Record<PrometheusPreset, string>>;
  /** Labels per preset (`(status)`: only with the status label on). */
  readonly labels: Readonly<Record<PrometheusPreset, readonly string[]>>;
  readonly doc: string;
}

export interface CatalogueMetric {
  /** Only with `[api] metrics_detailed` on. */
  readonly detailed: boolean;
  readonly statsd: StatsdMetric | null;
  readonly otel: OtelMetric | null;
  readonly prometheus: PrometheusMetric | null;
}

const EP = ['endpoint', 'method'] as const;
const ROUTE = ['method', 'route'] as const;
const ERROR_TYPES_TEXT = '`server_error`, `client_error`, `exception`, `validation`, `aborted`';
const AUTH_TYPES_TEXT = '`bearer`, `basic`, `api_key`, `session`, `other`, `none`';

const same = <T>(value: T): Record<PrometheusPreset, T> => ({ otel: value, legacy: value, airflow: value });

function prom(
  name: string,
  type: PrometheusMetric['type'],
  help: string,
  labels: readonly string[],
  doc: string,
  unit?: PrometheusMetric['unit'],
): PrometheusMetric {
  return { names: same(name), type, help: same(help), labels: same(labels), doc, ...(unit ? { unit } : {}) };
}

export const CATALOGUE = {
  requests: {
    detailed: false,
    statsd: {
      suffix: 'request.count',
      type: 'c',
      tags: [...EP, 'status_class', '(status)'],
      doc: 'requests answered; `status_class` is `1xx`…`5xx` or `other`; `status` (the code) with `metrics_detailed`',
    },
    otel: {
      name: 'http.server.requests',
      prefixed: true,
      kind: 'monotonic sum',
      unit: '{request}',
      description: 'HTTP server requests by status.',
      attributes: ['url.scheme', 'apimeter.http.response.status_class'],
      doc: 'requests by status class (`2xx`…, `other`); with `metrics_detailed` by the exact `http.response.status_code` instead',
    },
    prometheus: {
      names: { otel: 'http_server_requests_total', legacy: 'http_requests_total', airflow: 'http_requests_total' },
      type: 'counter',
      help: {
        otel: 'HTTP requests answered, by method, route template and status class.',
        legacy: 'HTTP requests answered, by method, route template and status code.',
        airflow: 'HTTP requests answered, by method, route template and status family (aborted requests are 499, 4xx).',
      },
      labels: {
        otel: [...ROUTE, 'status_class', '(status)'],
        legacy: [...ROUTE, 'status_code'],
        airflow: [...ROUTE, 'status_family'],
      },
      doc: 'requests answered; `status_class` is `1xx`…`5xx`, or `other` (e.g. 999)',
    },
  },
  errors: {
    detailed: false,
    statsd: {
      suffix: 'request.error',
      type: 'c',
      tags: [...EP, 'error_type'],
      doc: `requests that ended in an error, by exclusive type: ${ERROR_TYPES_TEXT}`,
    },
    otel: {
      name: 'http.server.errors',
      prefixed: true,
      kind: 'monotonic sum',
      unit: '{request}',
      description: 'HTTP server requests that failed, by error type.',
      attributes: ['url.scheme', 'apimeter.error.type'],
      doc: `requests that ended in an error, by exclusive type: ${ERROR_TYPES_TEXT} (apimeter's types, 4xx included; semconv's \`error.type\` is on the duration histogram)`,
    },
    prometheus: prom(
      'http_server_errors_total',
      'counter',
      'Requests that ended in an error, by exclusive error type (aborted, validation, exception, server_error, client_error).',
      [...ROUTE, 'error_type'],
      '`aborted`, `validation`, `exception`, `server_error`, `client_error`',
    ),
  },
  duration: {
    detailed: false,
    statsd: {
      suffix: 'request.duration',
      type: 'ms',
      tags: [...EP],
      doc: 'latency in milliseconds (see [Timers](#timers-and-sizes))',
    },
    otel: {
      name: 'http.server.request.duration',
      prefixed: false,
      kind: 'histogram',
      unit: 's',
      description: 'Duration of HTTP server requests.',
      attributes: ['url.scheme', 'http.response.status_code', 'error.type'],
      doc: 'latency, one point per status code; `error.type` is the status code for 5xx, `aborted` when the client gave up (no status code then); 4xx are not errors',
    },
    prometheus: {
      names: {
        otel: 'http_server_request_duration_seconds',
        legacy: 'http_request_duration_seconds',
        airflow: 'http_request_duration_milliseconds',
      },
      type: 'histogram',
      unit: 'seconds',
      presetUnit: { airflow: 'milliseconds' },
      help: {
        ...same(
          `Duration of HTTP requests in seconds (buckets derived from a ${LATENCY_ERROR_TEXT} latency sketch; sampled when metrics_sample_rate < 1).`,
        ),
        airflow: `Duration of HTTP requests in milliseconds (buckets derived from a ${LATENCY_ERROR_TEXT} latency sketch; sampled when metrics_sample_rate < 1).`,
      },
      labels: { ...same(ROUTE), legacy: [...ROUTE, 'status_code'] },
      doc: 'latency; buckets below (`legacy`: one histogram per status code, as fastify-metrics)',
    },
  },
  active: {
    detailed: false,
    statsd: { suffix: 'request.active', type: 'g', tags: [...EP], doc: 'requests in progress' },
    otel: {
      name: 'http.server.active_requests',
      prefixed: false,
      kind: 'non-monotonic sum',
      unit: '{request}',
      description: 'Number of active HTTP server requests.',
      attributes: ['url.scheme'],
      doc: 'requests in progress (always cumulative)',
    },
    prometheus: prom(
      'http_server_active_requests',
      'gauge',
      'HTTP requests in progress.',
      ROUTE,
      'requests in progress',
    ),
  },
  requestSize: {
    detailed: false,
    statsd: { suffix: 'request.size.bytes', type: 'h', tags: [...EP], doc: 'request body sizes in bytes, where known' },
    otel: {
      name: 'http.server.request.body.size',
      prefixed: false,
      kind: 'histogram',
      unit: 'By',
      description: 'Size of HTTP server request bodies.',
      attributes: ['url.scheme'],
      doc: 'request body sizes, where known',
    },
    prometheus: prom(
      'http_server_request_body_size_bytes',
      'histogram',
      'Size of HTTP request bodies in bytes, where known.',
      ROUTE,
      'request body sizes, where known',
      'bytes',
    ),
  },
  responseSize: {
    detailed: false,
    statsd: {
      suffix: 'response.size.bytes',
      type: 'h',
      tags: [...EP],
      doc: 'response body sizes in bytes, where known',
    },
    otel: {
      name: 'http.server.response.body.size',
      prefixed: false,
      kind: 'histogram',
      unit: 'By',
      description: 'Size of HTTP server response bodies.',
      attributes: ['url.scheme'],
      doc: 'response body sizes, where known',
    },
    prometheus: prom(
      'http_server_response_body_size_bytes',
      'histogram',
      'Size of HTTP response bodies in bytes, where known.',
      ROUTE,
      'response body sizes, where known',
      'bytes',
    ),
  },
  endpoints: {
    detailed: false,
    statsd: null,
    otel: null,
    prometheus: prom(
      'apimeter_endpoints',
      'gauge',
      'Endpoints tracked (the unmatched and overflow endpoints included).',
      [],
      'endpoints tracked (the unmatched and overflow endpoints included)',
    ),
  },
  overflowedEndpoints: {
    detailed: false,
    statsd: null,
    otel: null,
    prometheus: prom(
      'apimeter_overflowed_endpoints_total',
      'counter',
      'Distinct (method, route) pairs refused by the metrics_max_endpoints cap.',
      [],
      '(method, route) pairs refused by `metrics_max_endpoints`',
    ),
  },
  overflowedRecords: {
    detailed: false,
    statsd: null,
    otel: null,
    prometheus: prom(
      'apimeter_overflowed_records_total',
      'counter',
      'Requests recorded on the overflow endpoint past the cap.',
      [],
      'requests recorded on the overflow endpoint',
    ),
  },
  auth: {
    detailed: true,
    statsd: {
      suffix: 'auth.count',
      type: 'c',
      tags: [...EP, 'auth_type', 'success'],
      doc: `authentication attempts; \`auth_type\` is ${AUTH_TYPES_TEXT}; \`success\` is \`true\` or \`false\``,
    },
    otel: {
      name: 'auth.attempts',
      prefixed: true,
      kind: 'monotonic sum',
      unit: '{attempt}',
      description: 'Authentication attempts by kind of credentials and outcome.',
      attributes: ['url.scheme', 'apimeter.auth.type', 'apimeter.auth.success'],
      doc: `authentication attempts; \`apimeter.auth.type\` is ${AUTH_TYPES_TEXT}; \`apimeter.auth.success\` a boolean`,
    },
    prometheus: prom(
      'apimeter_auth_attempts_total',
      'counter',
      'Authentication attempts (credentials presented, or refused with 401/403), by kind of credentials and outcome.',
      [...ROUTE, 'auth_type', 'success'],
      'requests that presented credentials or were refused with 401/403; `success` is `true` or `false`',
    ),
  },
  rateLimited: {
    detailed: true,
    statsd: {
      suffix: 'ratelimit.hits',
      type: 'c',
      tags: [...EP],
      doc: 'requests refused by a rate limiter (429, or `meter.recordRateLimit({ limited: true })`)',
    },
    otel: {
      name: 'ratelimit.hits',
      prefixed: true,
      kind: 'monotonic sum',
      unit: '{request}',
      description: 'HTTP server requests refused by a rate limiter.',
      attributes: ['url.scheme'],
      doc: 'requests refused by a rate limiter',
    },
    prometheus: prom(
      'apimeter_rate_limited_total',
      'counter',
      'Requests refused by a rate limiter (answered 429, or reported by the application).',
      ROUTE,
      'requests refused by a rate limiter (429, or reported with `meter.recordRateLimit`)',
    ),
  },
  rateLimitLimit: {
    detailed: true,
    statsd: null,
    otel: null,
    prometheus: prom(
      'apimeter_rate_limit_limit',
      'gauge',
      'Requests the rate limiter allows per window, as last reported.',
      ROUTE,
      'the quota the limiter last reported (`RateLimit-Limit` or `meter.recordRateLimit`)',
    ),
  },
  rateLimitRemaining: {
    detailed: true,
    statsd: null,
    otel: null,
    prometheus: prom(
      'apimeter_rate_limit_remaining',
      'gauge',
      'Requests left in the rate limiter window, as last reported.',
      ROUTE,
      'what was left of it then',
    ),
  },
  dbQueries: {
    detailed: true,
    statsd: { suffix: 'db.query.count', type: 'c', tags: [...EP], doc: 'database queries made while serving requests' },
    otel: {
      name: 'db.client.queries',
      prefixed: true,
      kind: 'monotonic sum',
      unit: '{query}',
      description: 'Database queries made while serving requests.',
      attributes: ['url.scheme'],
      doc: 'database queries made while serving requests',
    },
    prometheus: prom(
      'apimeter_db_queries_total',
      'counter',
      'Database queries made while serving requests.',
      ROUTE,
      'database queries made while serving requests',
    ),
  },
  dbDuration: {
    detailed: true,
    statsd: {
      suffix: 'db.query.duration',
      type: 'c',
      tags: [...EP],
      doc: 'their summed time in **milliseconds** (to the µs), a counter rather than a timer',
    },
    otel: {
      name: 'db.client.duration',
      prefixed: true,
      kind: 'monotonic sum',
      unit: 's',
      description: 'Time spent in database queries while serving requests.',
      attributes: ['url.scheme'],
      doc: 'summed query time (a double-valued sum, not a histogram: apimeter has per-request totals, not per-query durations)',
    },
    prometheus: prom(
      'apimeter_db_query_duration_seconds_total',
      'counter',
      'Time spent in database queries while serving requests, in seconds.',
      ROUTE,
      'their summed time in seconds',
      'seconds',
    ),
  },
} as const satisfies Record<string, CatalogueMetric>;

export type MetricKey = keyof typeof CATALOGUE;

/** Every metric, in the catalogue's order (the order the exporters write them). */
export const METRIC_KEYS = Object.keys(CATALOGUE) as MetricKey[];

/** The keys of the metrics a backend has, in catalogue order. */
export function metricsOf(backend: 'statsd' | 'otel' | 'prometheus', detailed?: boolean): MetricKey[] {
  return METRIC_KEYS.filter((k) => {
    const m: CatalogueMetric = CATALOGUE[k];
    return m[backend] !== null && (detailed === undefined || m.detailed === detailed);
  });
}

/** The StatsD entry of a metric that has one. */
export function statsdOf(key: MetricKey): StatsdMetric {
  const m: CatalogueMetric = CATALOGUE[key];
  if (m.statsd === null) throw new Error(`${key} has no StatsD name`);
  return m.statsd;
}

/** The OpenTelemetry entry of a metric that has one. */
export function otelOf(key: MetricKey): OtelMetric {
  const m: CatalogueMetric = CATALOGUE[key];
  if (m.otel === null) throw new Error(`${key} has no OpenTelemetry name`);
  return m.otel;
}

/** The Prometheus entry of a metric that has one. */
export function prometheusOf(key: MetricKey): PrometheusMetric {
  const m: CatalogueMetric = CATALOGUE[key];
  if (m.prometheus === null) throw new Error(`${key} has no Prometheus name`);
  return m.prometheus;
}

/** An OpenTelemetry instrument's full name, with `otel_prefix` (`''`: none) where it takes one. */
export function otelName(key: MetricKey, prefix: string): string {
  const m = otelOf(key);
  return m.prefixed && prefix !== '' ? `${prefix}.${m.name}` : m.name;
}
