import * as v from 'valibot';

/**
 * The configuration schema: one row per key, in the seed's names (`[api] metrics_sample_rate`),
 * reachable as an INI key, an `APIMETER__SECTION__KEY` environment variable and a camelCase option.
 * config.ts reads the sources; this file only says what each key is.
 */

export type ConfigSection = 'api' | 'metrics' | 'alerts';
export type ConfigValueType = 'boolean' | 'number' | 'integer' | 'string' | 'list';
export type ConfigValue = boolean | number | string | readonly string[];

/** The validated, frozen configuration. Every key is present. */
export interface ApimeterConfig {
  readonly metricsEnabled: boolean;
  readonly metricsExcludedEndpoints: readonly string[];
  readonly metricsDetailed: boolean;
  readonly metricsSampleRate: number;
  readonly metricsErrorSamples: number;
  readonly metricsErrorMessages: 'full' | 'normalized' | 'none';
  readonly metricsApiKeyHeaders: readonly string[];
  readonly metricsSessionCookies: readonly string[];
  readonly metricsConsumers: boolean;
  readonly metricsConsumerHeader: string;
  readonly metricsConsumerJwt: boolean;
  readonly metricsConsumerApiKeyHeaders: readonly string[];
  readonly metricsConsumerSecret: string;
  readonly metricsConsumerMaxLength: number;
  readonly metricsConsumerTop: number;
  readonly metricsConsumerEndpointTop: number;
  readonly metricsConsumerGroups: readonly string[];
  readonly metricsConsumerLabels: readonly string[];
  readonly metricsMaxEndpoints: number;
  readonly metricsApiPrefix: string;
  readonly metricsApiToken: string;
  readonly metricsApiCacheSeconds: number;
  readonly metricsApiOpenPrometheus: boolean;
  readonly metricsPrometheusPath: string;
  readonly metricsHealthMinRequests: number;
  readonly metricsHealthP95DegradedMs: number;
  readonly metricsHealthP95UnhealthyMs: number;
  readonly metricsHealthErrorRateDegraded: number;
  readonly metricsHealthErrorRateUnhealthy: number;
  readonly metricsHealthFailOnUnhealthy: boolean;
  readonly metricsUiTraceUrl: string;
  readonly apiMetricsPrefix: string;
  readonly apiMetricsPersistence: boolean;
  readonly apiMetricsRetentionDays: number;
  readonly apiMetricsSnapshotInterval: number;
  readonly apiMetricsStoreUrl: string;
  readonly apiMetricsLiveInterval: number;
  readonly apiMetricsFleetGoneSeconds: number;
  readonly statsdOn: boolean;
  readonly statsdHost: string;
  readonly statsdPort: number;
  readonly statsdPrefix: string;
  readonly statsdDatadogEnabled: boolean;
  readonly statsdDatadogTags: readonly string[];
  readonly statsdDisabledTags: readonly string[];
  readonly statsdInfluxdbEnabled: boolean;
  readonly statsdUdsPath: string;
  readonly statsdFlushIntervalMs: number;
  readonly statsdMaxDatagramBytes: number;
  readonly statsdMaxBufferBytes: number;
  readonly statsdTimerMode: 'values' | 'sampled' | 'distribution';
  readonly statsdTimerScale: number;
  readonly statsdTimerMaxValues: number;
  readonly otelOn: boolean;
  readonly otelHost: string;
  readonly otelPort: number;
  readonly otelSslActive: boolean;
  readonly otelIntervalMilliseconds: number;
  readonly otelPrefix: string;
  readonly otelExponentialHistograms: boolean;
  readonly otelExponentialMaxBuckets: number;
  readonly otelRouteStyle: 'framework' | 'openapi';
  readonly otelUrlScheme: 'http' | 'https';
  readonly otelServiceInstanceId: string;
  readonly prometheusNaming: 'otel' | 'legacy' | 'airflow';
  readonly metricsAllowList: readonly string[];
  readonly metricsBlockList: readonly string[];
  readonly alertsEnabled: boolean;
  readonly alertsEvaluationInterval: number;
  readonly alertsRulesFile: string;
  readonly alertsDefaultRules: boolean;
  readonly alertsErrorRateThreshold: number;
  readonly alertsP95ThresholdMs: number;
  readonly alertsAuthFailureThreshold: number;
  readonly alertsAnomalyThreshold: number;
  readonly alertsAnomalyMinRequests: number;
  readonly alertsApdexTMs: number;
  readonly alertsService: string;
}

export type ConfigOption = keyof ApimeterConfig;

/** In code a list may also be given as one comma-separated string. */
type OptionValue<T> = T extends readonly string[] ? readonly string[] | string : T;

/** Options passed in code: the camelCase names of the INI keys, all optional. */
export type ApimeterOptions = { readonly [K in ConfigOption]?: OptionValue<ApimeterConfig[K]> };

/** One row of the public key table (docs and tests read it). */
export interface ConfigKey {
  readonly section: ConfigSection;
  /** snake_case name, as in the INI file. */
  readonly key: string;
  /** camelCase name, as passed in code. */
  readonly option: ConfigOption;
  /** The environment variable that sets it. */
  readonly env: string;
  readonly type: ConfigValueType;
  readonly default: ConfigValue;
  readonly description: string;
  /** What a valid value looks like, as shown in error messages ("a number between 0 and 1"). */
  readonly expected: string;
  /** Secret values are shown as "***" in every message. */
  readonly secret: boolean;
}

interface KeySpec<T> {
  section: ConfigSection;
  key: string;
  type: ConfigValueType;
  default: T;
  description: string;
  expected: string;
  schema: v.GenericSchema<unknown, T>;
  secret?: boolean;
}

// Metric-name rules are Airflow's (at most 250 characters of [A-Za-z0-9_.-/]); a prefix additionally
// may not start or end with a dot or hold an empty segment, so `${prefix}.${name}` stays well formed.
const METRIC_PREFIX = v.pipe(v.string(), v.maxLength(250), v.regex(/^(?:[A-Za-z0-9_\-/]+(?:\.[A-Za-z0-9_\-/]+)*)?$/));
const METRIC_PREFIX_EXPECTED =
  'a metric name prefix: segments of A-Z a-z 0-9 _ - / joined by single dots, at most 250 characters';
const HOST = v.pipe(v.string(), v.regex(/^\S+$/));
const PORT = v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(65535));
const POSITIVE_INT = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
const BOOL = v.boolean();
const BOOL_EXPECTED = 'a boolean';
// Airflow 3's allow/block lists and statsd_disabled_tags: regular expressions (lower-cased, searched
// anywhere in the name; src/exporters/statsd-pattern.ts), checked to compile here.
const compiles = (p: string): boolean => {
  try {
    new RegExp(p.trim().toLowerCase());
    return true;
  } catch {
    return false;
  }
};
const NAME_PATTERNS = v.array(v.pipe(v.string(), v.check(compiles)));
const NAME_PATTERNS_EXPECTED =
  'a comma-separated list of regular expressions (Airflow 3: searched anywhere in the lower-cased name)';

/** The table itself. Typed so that every ApimeterConfig key has exactly one row. */
const SPECS: { [K in ConfigOption]: KeySpec<ApimeterConfig[K]> } = {
  metricsEnabled: {
    section: 'api',
    key: 'metrics_enabled',
    type: 'boolean',
    default: true,
    description: 'Collect metrics for API endpoints.',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  metricsExcludedEndpoints: {
    section: 'api',
    key: 'metrics_excluded_endpoints',
    type: 'list',
    default: [],
    description:
      'Route templates or path prefixes that are not measured, comma-separated (e.g. /health,/api/v2/metrics).',
    expected: 'a comma-separated list of paths, each starting with "/"',
    schema: v.pipe(v.array(v.pipe(v.string(), v.regex(/^\/\S*$/))), v.readonly()),
  },
  metricsDetailed: {
    section: 'api',
    key: 'metrics_detailed',
    type: 'boolean',
    default: false,
    description:
      'Also record auth outcomes, database queries per request, rate-limit quota, normalized error messages, sampled 5xx stack traces and trace exemplars; costs more per request.',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  metricsSampleRate: {
    section: 'api',
    key: 'metrics_sample_rate',
    type: 'number',
    default: 1,
    description: 'Fraction of requests measured, from 0.0 (none) to 1.0 (all).',
    expected: 'a number between 0 and 1',
    schema: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  },
  metricsErrorSamples: {
    section: 'api',
    key: 'metrics_error_samples',
    type: 'integer',
    default: 5,
    description:
      'Detailed mode: 5xx responses kept per endpoint as samples (time, status, class, normalized message, stack frames, trace id), reservoir-sampled.',
    expected: 'a whole number from 0 to 100',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(100)),
  },
  metricsErrorMessages: {
    section: 'api',
    key: 'metrics_error_messages',
    type: 'string',
    default: 'normalized',
    description:
      "Exception message text kept (last message per class, detailed mode's grouped messages and 5xx samples): normalized (ids, numbers, quoted values, tokens and key=value credentials replaced), full (only key=value credentials and control characters replaced, length capped) or none (classes only, no message text).",
    expected: 'full, normalized or none',
    schema: v.picklist(['full', 'normalized', 'none']),
  },
  metricsApiKeyHeaders: {
    section: 'api',
    key: 'metrics_api_key_headers',
    type: 'list',
    default: ['x-api-key', 'api-key', 'apikey'],
    description:
      'Detailed mode: request headers whose presence means API-key authentication (only presence is read, never the value).',
    expected: 'a comma-separated list of header names',
    schema: v.pipe(v.array(v.pipe(v.string(), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/))), v.readonly()),
  },
  metricsSessionCookies: {
    section: 'api',
    key: 'metrics_session_cookies',
    type: 'list',
    default: ['session', 'sessionid', 'sid', 'connect.sid', 'JSESSIONID', '_session_id'],
    description:
      'Detailed mode: cookie names whose presence means session authentication (only presence is read, never the value).',
    expected: 'a comma-separated list of cookie names',
    schema: v.pipe(v.array(v.pipe(v.string(), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/))), v.readonly()),
  },
  metricsConsumers: {
    section: 'api',
    key: 'metrics_consumers',
    type: 'boolean',
    default: false,
    description:
      'Identify the consumer (caller) of every request and keep per-consumer figures in bounded memory (docs/consumers.md).',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  metricsConsumerHeader: {
    section: 'api',
    key: 'metrics_consumer_header',
    type: 'string',
    default: '',
    description:
      'Request header whose value is the consumer id (e.g. X-Client-Id), kept as sent; empty = none. Ids longer than metrics_consumer_max_length or with control characters count as unknown.',
    expected: 'a header name, or empty',
    schema: v.pipe(v.string(), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/)),
  },
  metricsConsumerJwt: {
    section: 'api',
    key: 'metrics_consumer_jwt',
    type: 'boolean',
    default: false,
    description:
      'Take the consumer from the `sub` claim of an `Authorization: Bearer` JWT (decoded, not verified), kept only as a keyed hash (needs metrics_consumer_secret).',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  metricsConsumerApiKeyHeaders: {
    section: 'api',
    key: 'metrics_consumer_api_key_headers',
    type: 'list',
    default: [],
    description:
      'Request headers holding an API key that identifies the consumer, kept only as a keyed hash (needs metrics_consumer_secret); empty = none.',
    expected: 'a comma-separated list of header names',
    schema: v.pipe(v.array(v.pipe(v.string(), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/))), v.readonly()),
  },
  metricsConsumerSecret: {
    section: 'api',
    key: 'metrics_consumer_secret',
    type: 'string',
    default: '',
    description:
      'HMAC-SHA256 key for consumer ids derived from credentials (JWT subjects, API keys); the same secret gives the same ids across restarts and instances. Never logged.',
    expected: 'a string (at least 16 characters when JWT or API-key identification is on)',
    schema: v.string(),
    secret: true,
  },
  metricsConsumerMaxLength: {
    section: 'api',
    key: 'metrics_consumer_max_length',
    type: 'integer',
    default: 128,
    description: 'Longest consumer id kept from the header or the consumer function; longer ids count as unknown.',
    expected: 'a whole number from 1 to 1024',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(1024)),
  },
  metricsConsumerTop: {
    section: 'api',
    key: 'metrics_consumer_top',
    type: 'integer',
    default: 100,
    description:
      'K: consumers with full figures (requests, errors, p95, endpoints used) in memory and per snapshot interval in the store; the rest count as `other`.',
    expected: 'a whole number from 1 to 10000',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(10000)),
  },
  metricsConsumerEndpointTop: {
    section: 'api',
    key: 'metrics_consumer_endpoint_top',
    type: 'integer',
    default: 20,
    description: 'k: top consumers counted per endpoint (Space-Saving counters, with their error bound).',
    expected: 'a whole number from 1 to 1000',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(1000)),
  },
  metricsConsumerGroups: {
    section: 'api',
    key: 'metrics_consumer_groups',
    type: 'list',
    default: [],
    description:
      'Consumer groups as id=group pairs, comma-separated (acme=partners,web=internal); unlisted ids have no group.',
    expected: 'a comma-separated list of id=group pairs',
    schema: v.pipe(v.array(v.pipe(v.string(), v.regex(/^[^=\s]+=[^=\s]+$/))), v.readonly()),
  },
  metricsConsumerLabels: {
    section: 'api',
    key: 'metrics_consumer_labels',
    type: 'list',
    default: [],
    description:
      'Consumer ids or groups exported as a `consumer` label by Prometheus (one series set per entry: mind the cardinality); empty = no consumer label.',
    expected: 'a comma-separated list of consumer ids or group names',
    schema: v.pipe(v.array(v.pipe(v.string(), v.regex(/^\S+$/))), v.readonly()),
  },
  metricsMaxEndpoints: {
    section: 'api',
    key: 'metrics_max_endpoints',
    type: 'integer',
    default: 1000,
    description: 'Most endpoints tracked (cardinality cap); further endpoints share one overflow endpoint.',
    expected: 'a whole number of at least 1',
    schema: POSITIVE_INT,
  },
  metricsApiPrefix: {
    section: 'api',
    key: 'metrics_api_prefix',
    type: 'string',
    default: '/api/v2/metrics',
    description: 'URL path under which the metrics REST API is served.',
    expected: 'a URL path starting with "/" (no spaces, "?" or "#")',
    schema: v.pipe(v.string(), v.regex(/^\/[^\s?#]*$/)),
  },
  metricsApiToken: {
    section: 'api',
    key: 'metrics_api_token',
    type: 'string',
    default: '',
    description:
      'Bearer token required by the metrics REST API; empty (and no authorize function) = the API refuses every request. Never logged.',
    expected: 'a token without spaces',
    schema: v.pipe(v.string(), v.regex(/^\S*$/)),
    secret: true,
  },
  metricsApiCacheSeconds: {
    section: 'api',
    key: 'metrics_api_cache_seconds',
    type: 'number',
    default: 5,
    description:
      'Seconds the metrics REST API reuses an answer read from persisted history (sent with Cache-Control: private, max-age); answers from memory are never cached; 0 = no cache.',
    expected: 'a number of seconds from 0 to 3600',
    schema: v.pipe(v.number(), v.minValue(0), v.maxValue(3600)),
  },
  metricsApiOpenPrometheus: {
    section: 'api',
    key: 'metrics_api_open_prometheus',
    type: 'boolean',
    default: false,
    description: 'Serve the Prometheus exposition without the token check (the rest of the API stays protected).',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  metricsPrometheusPath: {
    section: 'api',
    key: 'metrics_prometheus_path',
    type: 'string',
    default: '/metrics',
    description: 'URL path of the Prometheus exposition; empty = not served.',
    expected: 'empty, or a URL path starting with "/" (no spaces, "?" or "#")',
    schema: v.pipe(v.string(), v.regex(/^(?:\/[^\s?#]*)?$/)),
  },
  metricsHealthMinRequests: {
    section: 'api',
    key: 'metrics_health_min_requests',
    type: 'integer',
    default: 20,
    description: 'Requests a /health window needs before its latency and error-rate checks can fail.',
    expected: 'a whole number of at least 0',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  },
  metricsHealthP95DegradedMs: {
    section: 'api',
    key: 'metrics_health_p95_degraded_ms',
    type: 'number',
    default: 1000,
    description: '/health is degraded when the p95 latency (ms) over all endpoints is above this.',
    expected: 'a number of milliseconds above 0',
    schema: v.pipe(v.number(), v.gtValue(0)),
  },
  metricsHealthP95UnhealthyMs: {
    section: 'api',
    key: 'metrics_health_p95_unhealthy_ms',
    type: 'number',
    default: 5000,
    description: '/health is unhealthy when the p95 latency (ms) over all endpoints is above this.',
    expected: 'a number of milliseconds above 0',
    schema: v.pipe(v.number(), v.gtValue(0)),
  },
  metricsHealthErrorRateDegraded: {
    section: 'api',
    key: 'metrics_health_error_rate_degraded',
    type: 'number',
    default: 0.01,
    description: '/health is degraded when the share of 5xx responses is above this (0.01 = 1 %).',
    expected: 'a number between 0 and 1',
    schema: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  },
  metricsHealthErrorRateUnhealthy: {
    section: 'api',
    key: 'metrics_health_error_rate_unhealthy',
    type: 'number',
    default: 0.1,
    description: '/health is unhealthy when the share of 5xx responses is above this.',
    expected: 'a number between 0 and 1',
    schema: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  },
  metricsHealthFailOnUnhealthy: {
    section: 'api',
    key: 'metrics_health_fail_on_unhealthy',
    type: 'boolean',
    default: false,
    description:
      'Answer GET /health with HTTP 503 (instead of 200) when the status is unhealthy, for load-balancer probes.',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  metricsUiTraceUrl: {
    section: 'api',
    key: 'metrics_ui_trace_url',
    type: 'string',
    default: '',
    description:
      "Link template of the web page's trace-id exemplars and error samples: {trace_id} (and {span_id}) are replaced by the URL-encoded ids; empty = trace ids shown without links.",
    expected: 'empty, or an http(s) URL containing {trace_id}',
    schema: v.union([v.literal(''), v.pipe(v.string(), v.regex(/^https?:\/\/\S*\{trace_id\}\S*$/))]),
  },
  apiMetricsPrefix: {
    section: 'metrics',
    key: 'api_metrics_prefix',
    type: 'string',
    default: 'api',
    description: 'Name prefix of the API metrics (api.request.count, …); empty for none.',
    expected: METRIC_PREFIX_EXPECTED,
    schema: METRIC_PREFIX,
  },
  apiMetricsPersistence: {
    section: 'metrics',
    key: 'api_metrics_persistence',
    type: 'boolean',
    default: false,
    description: 'Persist periodic snapshots to the store (history across restarts).',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  apiMetricsRetentionDays: {
    section: 'metrics',
    key: 'api_metrics_retention_days',
    type: 'integer',
    default: 30,
    description: 'Days persisted snapshots are kept.',
    expected: 'a whole number of days, at least 1',
    schema: POSITIVE_INT,
  },
  apiMetricsSnapshotInterval: {
    section: 'metrics',
    key: 'api_metrics_snapshot_interval',
    type: 'integer',
    default: 300,
    description: 'Seconds between snapshots written to the store.',
    expected: 'a whole number of seconds, at least 1',
    schema: POSITIVE_INT,
  },
  apiMetricsStoreUrl: {
    section: 'metrics',
    key: 'api_metrics_store_url',
    type: 'string',
    default: '',
    description:
      'Where snapshots are stored: postgres://… or sqlite:PATH; empty = the default SQLite file. Never logged.',
    expected: 'empty, or a URL starting with postgres://, postgresql:// or sqlite:',
    schema: v.pipe(v.string(), v.regex(/^(?:(?:postgres|postgresql):\/\/\S+|sqlite:\S+)?$/)),
    // May hold a password.
    secret: true,
  },
  apiMetricsLiveInterval: {
    section: 'metrics',
    key: 'api_metrics_live_interval',
    type: 'integer',
    default: 0,
    description:
      'Seconds between live-tier writes to a PostgreSQL store, for the fleet view (apimeter serve); 0 = off. Must divide 60.',
    expected: 'a whole number of seconds dividing 60 (1, 2, 5, 10, 15, 20, 30, 60), or 0',
    schema: v.pipe(
      v.number(),
      v.safeInteger(),
      v.minValue(0),
      v.maxValue(60),
      v.check((n) => n === 0 || 60 % n === 0),
    ),
  },
  apiMetricsFleetGoneSeconds: {
    section: 'metrics',
    key: 'api_metrics_fleet_gone_seconds',
    type: 'integer',
    default: 600,
    description:
      'apimeter serve: an instance that has not written its live tier for this long is reported gone (and no longer expected); before, after 3 intervals, lagging.',
    expected: 'a whole number of seconds, at least 1',
    schema: POSITIVE_INT,
  },
  statsdOn: {
    section: 'metrics',
    key: 'statsd_on',
    type: 'boolean',
    default: false,
    description: 'Send metrics to a StatsD server.',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  statsdHost: {
    section: 'metrics',
    key: 'statsd_host',
    type: 'string',
    default: 'localhost',
    description: 'StatsD server host.',
    expected: 'a host name or IP address',
    schema: HOST,
  },
  statsdPort: {
    section: 'metrics',
    key: 'statsd_port',
    type: 'integer',
    default: 8125,
    description: 'StatsD server UDP port.',
    expected: 'a port number from 1 to 65535',
    schema: PORT,
  },
  statsdPrefix: {
    section: 'metrics',
    key: 'statsd_prefix',
    type: 'string',
    default: 'apimeter',
    description: 'Prefix put before every StatsD metric name.',
    expected: METRIC_PREFIX_EXPECTED,
    schema: METRIC_PREFIX,
  },
  statsdDatadogEnabled: {
    section: 'metrics',
    key: 'statsd_datadog_enabled',
    type: 'boolean',
    default: false,
    description: 'Speak DogStatsD (tags) instead of plain StatsD.',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  statsdDatadogTags: {
    section: 'metrics',
    key: 'statsd_datadog_tags',
    type: 'list',
    default: [],
    description: 'Tags added to every DogStatsD metric, comma-separated key:value pairs (e.g. env:prod,team:api).',
    expected: 'a comma-separated list of key:value tags',
    schema: v.pipe(v.array(v.pipe(v.string(), v.regex(/^[^\s:]+:\S+$/))), v.readonly()),
  },
  statsdDisabledTags: {
    section: 'metrics',
    key: 'statsd_disabled_tags',
    type: 'list',
    default: [],
    description:
      'Tags never sent (DogStatsD/Influx tags, plain StatsD name segments): comma-separated patterns, as in Airflow 3, matched anywhere in the tag name (status also drops status_class; ^status$ only status).',
    expected: NAME_PATTERNS_EXPECTED,
    schema: v.pipe(NAME_PATTERNS, v.readonly()),
  },
  statsdInfluxdbEnabled: {
    section: 'metrics',
    key: 'statsd_influxdb_enabled',
    type: 'boolean',
    default: false,
    description:
      'Plain StatsD with InfluxDB/Telegraf tags (name,endpoint=/x,method=GET:1|c) instead of dimensions folded into the name.',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  statsdUdsPath: {
    section: 'metrics',
    key: 'statsd_uds_path',
    type: 'string',
    default: '',
    description:
      'Unix datagram socket to send to instead of statsd_host:statsd_port (DogStatsD: /var/run/datadog/dsd.socket); empty = UDP.',
    expected: 'empty, or a socket path without spaces',
    schema: v.pipe(v.string(), v.regex(/^\S*$/)),
  },
  statsdFlushIntervalMs: {
    section: 'metrics',
    key: 'statsd_flush_interval_ms',
    type: 'integer',
    default: 10000,
    description: 'Milliseconds between StatsD flushes (the registry is read and sent once per flush).',
    expected: 'a whole number of milliseconds from 100 to 3600000',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(100), v.maxValue(3_600_000)),
  },
  statsdMaxDatagramBytes: {
    section: 'metrics',
    key: 'statsd_max_datagram_bytes',
    type: 'integer',
    default: 1432,
    description:
      'Largest StatsD datagram in bytes; many lines share one (1432 fits a 1500-byte MTU; 8192 suits a Unix socket).',
    expected: 'a whole number of bytes from 64 to 65507',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(64), v.maxValue(65_507)),
  },
  statsdMaxBufferBytes: {
    section: 'metrics',
    key: 'statsd_max_buffer_bytes',
    type: 'integer',
    default: 1_048_576,
    description:
      'Bytes handed to the socket and not yet sent; when full (after a 1 s wait) the rest of the flush is dropped and counted.',
    expected: 'a whole number of bytes from 1024 to 1073741824, at least statsd_max_datagram_bytes',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(1024), v.maxValue(1_073_741_824)),
  },
  statsdTimerMode: {
    section: 'metrics',
    key: 'statsd_timer_mode',
    type: 'string',
    default: 'values',
    description:
      'How latencies and sizes are sent: values (one value per request, exact on every server), sampled (one value per bucket with |@rate) or distribution (DogStatsD |d per bucket).',
    expected: 'values, sampled or distribution',
    schema: v.picklist(['values', 'sampled', 'distribution']),
  },
  statsdTimerScale: {
    section: 'metrics',
    key: 'statsd_timer_scale',
    type: 'integer',
    default: 4,
    description:
      'Bucket scale of latencies and sizes in the sampled and distribution modes: 2^scale buckets per doubling (4: 2.2 % error, 6: 0.54 %).',
    expected: 'a whole number from 0 to 6',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(6)),
  },
  statsdTimerMaxValues: {
    section: 'metrics',
    key: 'statsd_timer_max_values',
    type: 'integer',
    default: 1000,
    description:
      'values mode: most values sent per timer (endpoint) per flush; beyond it a systematic sample of the values (always the smallest and largest) goes with |@rate = sent/total, so the cost per flush stays bounded at any request rate (0 = no limit).',
    expected: 'a whole number from 0 (no limit) up',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  },
  otelOn: {
    section: 'metrics',
    key: 'otel_on',
    type: 'boolean',
    default: false,
    description:
      "Export metrics over OTLP to an OpenTelemetry Collector (http/protobuf unless OTEL_EXPORTER_OTLP_PROTOCOL says http/json or grpc), or into the application's global MeterProvider when it has one.",
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  otelHost: {
    section: 'metrics',
    key: 'otel_host',
    type: 'string',
    default: 'localhost',
    description: 'OpenTelemetry Collector host.',
    expected: 'a host name or IP address',
    schema: HOST,
  },
  otelPort: {
    section: 'metrics',
    key: 'otel_port',
    type: 'integer',
    default: 4318,
    description:
      'OpenTelemetry Collector OTLP port (4318 is OTLP/HTTP; with OTEL_EXPORTER_OTLP_PROTOCOL=grpc the default means 4317).',
    expected: 'a port number from 1 to 65535',
    schema: PORT,
  },
  otelSslActive: {
    section: 'metrics',
    key: 'otel_ssl_active',
    type: 'boolean',
    default: false,
    description: 'Use HTTPS to reach the OpenTelemetry Collector.',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  otelIntervalMilliseconds: {
    section: 'metrics',
    key: 'otel_interval_milliseconds',
    type: 'integer',
    default: 60000,
    description: 'Milliseconds between OTLP exports.',
    expected: 'a whole number of milliseconds, at least 1',
    schema: POSITIVE_INT,
  },
  otelPrefix: {
    section: 'metrics',
    key: 'otel_prefix',
    type: 'string',
    default: 'apimeter',
    description: 'Prefix of apimeter-specific OpenTelemetry metric names.',
    expected: METRIC_PREFIX_EXPECTED,
    schema: METRIC_PREFIX,
  },
  otelExponentialHistograms: {
    section: 'metrics',
    key: 'otel_exponential_histograms',
    type: 'boolean',
    default: false,
    description:
      'Export latency and size histograms as OTLP exponential histograms (also on when OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram); explicit buckets otherwise.',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  otelExponentialMaxBuckets: {
    section: 'metrics',
    key: 'otel_exponential_max_buckets',
    type: 'integer',
    default: 1280,
    description:
      'Most buckets of an exported exponential histogram; the scale drops until the data fits. 1280 keeps latency quantiles within 1 % from 0.1 ms to 60 s (scale 6); the SDK default 160 drops such a spread to scale 3 (4.3 %).',
    expected: 'a whole number from 2 up',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(2)),
  },
  otelRouteStyle: {
    section: 'metrics',
    key: 'otel_route_style',
    type: 'string',
    default: 'framework',
    description:
      "OpenTelemetry http.route: framework (the framework's own syntax, /users/:id for Fastify, Express and Hono; OpenAPI style for route tables and the proxy) or openapi (/users/{id} always).",
    expected: 'framework or openapi',
    schema: v.picklist(['framework', 'openapi']),
  },
  otelUrlScheme: {
    section: 'metrics',
    key: 'otel_url_scheme',
    type: 'string',
    default: 'http',
    description:
      'OpenTelemetry url.scheme on every point: the scheme clients use to reach this server (https behind a TLS-terminating proxy).',
    expected: 'http or https',
    schema: v.picklist(['http', 'https']),
  },
  otelServiceInstanceId: {
    section: 'metrics',
    key: 'otel_service_instance_id',
    type: 'string',
    default: '',
    description:
      "service.instance.id of apimeter's own OTLP resource. Empty: service.instance.id from OTEL_RESOURCE_ATTRIBUTES, else a random UUID made once per process.",
    expected: 'any text (empty for a per-process UUID)',
    schema: v.string(),
  },
  prometheusNaming: {
    section: 'metrics',
    key: 'prometheus_naming',
    type: 'string',
    default: 'otel',
    description:
      "Prometheus metric names: otel (http_server_request_duration_seconds, …), legacy (http_request_duration_seconds, http_requests_total, as express-prom-bundle and fastify-metrics name them) or airflow (http_request_duration_milliseconds, http_requests_total{status_family}, as Airflow's API metrics).",
    expected: 'otel, legacy or airflow',
    schema: v.picklist(['otel', 'legacy', 'airflow']),
  },
  metricsAllowList: {
    section: 'metrics',
    key: 'metrics_allow_list',
    type: 'list',
    default: [],
    description:
      'If set, only metrics whose name (without statsd_prefix) matches one of these comma-separated patterns are sent; Airflow 3 semantics: lower-cased regular expressions searched anywhere in the name (^api.request for a prefix).',
    expected: NAME_PATTERNS_EXPECTED,
    schema: v.pipe(NAME_PATTERNS, v.readonly()),
  },
  metricsBlockList: {
    section: 'metrics',
    key: 'metrics_block_list',
    type: 'list',
    default: [],
    description:
      'Metrics whose name matches one of these comma-separated patterns (as metrics_allow_list) are not sent; ignored if an allow list is set.',
    expected: NAME_PATTERNS_EXPECTED,
    schema: v.pipe(NAME_PATTERNS, v.readonly()),
  },

  alertsEnabled: {
    section: 'alerts',
    key: 'enabled',
    type: 'boolean',
    default: true,
    description:
      'Evaluate alert rules and SLOs in process when the application calls startAlerts(); false makes startAlerts() a no-op.',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  alertsEvaluationInterval: {
    section: 'alerts',
    key: 'evaluation_interval',
    type: 'integer',
    default: 30,
    description: 'Seconds between evaluations of the alert rules and SLOs (a timer, never on the request path).',
    expected: 'a whole number of seconds from 1 to 3600',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(3600)),
  },
  alertsRulesFile: {
    section: 'alerts',
    key: 'rules_file',
    type: 'string',
    default: '',
    description:
      'YAML file of alert rules, SLOs and Apdex targets (docs/alerts.md), validated at start-up; empty = default rules only.',
    expected: 'a file path, or empty',
    schema: v.string(),
  },
  alertsDefaultRules: {
    section: 'alerts',
    key: 'default_rules',
    type: 'boolean',
    default: true,
    description:
      'Run the default rules (HighErrorRate, HighLatencyP95, TrafficAnomaly, AuthFailureSpike); a rule of the same name in the rules file replaces one.',
    expected: BOOL_EXPECTED,
    schema: BOOL,
  },
  alertsErrorRateThreshold: {
    section: 'alerts',
    key: 'error_rate_threshold',
    type: 'number',
    default: 0.05,
    description: 'Default rule HighErrorRate: share of 5xx responses over 5 minutes above which an endpoint alerts.',
    expected: 'a number between 0 and 1',
    schema: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  },
  alertsP95ThresholdMs: {
    section: 'alerts',
    key: 'p95_threshold_ms',
    type: 'number',
    default: 1000,
    description: 'Default rule HighLatencyP95: p95 latency (ms) over 5 minutes above which an endpoint alerts.',
    expected: 'a number of milliseconds above 0',
    schema: v.pipe(v.number(), v.gtValue(0)),
  },
  alertsAuthFailureThreshold: {
    section: 'alerts',
    key: 'auth_failure_threshold',
    type: 'number',
    default: 0.2,
    description:
      'Default rule AuthFailureSpike: share of failed authentication attempts over 5 minutes above which an endpoint alerts (detailed mode).',
    expected: 'a number between 0 and 1',
    schema: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  },
  alertsAnomalyThreshold: {
    section: 'alerts',
    key: 'anomaly_threshold',
    type: 'number',
    default: 6,
    description:
      'Default rule TrafficAnomaly: robust deviations (|rate - median| / (1.4826 MAD)) from the same hour of the last 7 days above which an endpoint alerts.',
    expected: 'a number above 0',
    schema: v.pipe(v.number(), v.gtValue(0)),
  },
  alertsAnomalyMinRequests: {
    section: 'alerts',
    key: 'anomaly_min_requests',
    type: 'integer',
    default: 50,
    description:
      'Default rule TrafficAnomaly: requests the baseline must expect in the 15-minute window before an endpoint is judged (quiet endpoints never alert).',
    expected: 'a whole number of 0 or more',
    schema: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  },
  alertsApdexTMs: {
    section: 'alerts',
    key: 'apdex_t_ms',
    type: 'number',
    default: 500,
    description:
      'Apdex target T in ms (satisfied at or below T, tolerating at or below 4T) for endpoints without their own T in the rules file.',
    expected: 'a number of milliseconds above 0',
    schema: v.pipe(v.number(), v.gtValue(0)),
  },
  alertsService: {
    section: 'alerts',
    key: 'service',
    type: 'string',
    default: 'api',
    description: 'Value of the `service` label on every alert sent to notifiers.',
    expected: 'a non-empty name without spaces',
    schema: v.pipe(v.string(), v.regex(/^\S+$/)),
  },
};

export const envVarName = (section: ConfigSection, key: string): string =>
  `APIMETER__${section.toUpperCase()}__${key.toUpperCase()}`;

interface InternalKey extends ConfigKey {
  readonly schema: v.GenericSchema<unknown, ConfigValue>;
}

const INTERNAL_KEYS: readonly InternalKey[] = (Object.keys(SPECS) as ConfigOption[]).map((option) => {
  const spec: KeySpec<ConfigValue> = SPECS[option];
  return Object.freeze({
    ...spec,
    option,
    env: envVarName(spec.section, spec.key),
    secret: spec.secret === true,
    default: Array.isArray(spec.default) ? Object.freeze([...spec.default]) : spec.default,
  });
});

/** Every configuration key, in documentation order. */
export const CONFIG_KEYS: readonly ConfigKey[] = Object.freeze(
  INTERNAL_KEYS.map(({ schema: _schema, ...row }) => Object.freeze(row)),
);

/** For config.ts: the row with its valibot schema. */
export const keyByOption = new Map<string, InternalKey>(INTERNAL_KEYS.map((k) => [k.option, k]));
export const keyBySectionKey = new Map<string, InternalKey>(INTERNAL_KEYS.map((k) => [`${k.section}.${k.key}`, k]));
export const CONFIG_SECTIONS: readonly ConfigSection[] = ['api', 'metrics', 'alerts'];
export type { InternalKey };
