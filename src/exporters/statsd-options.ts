import type { ApimeterConfig } from '../core/config.js';
import { hostEnv } from '../core/runtime.js';
import { createError } from '../errors.js';
import { applyDatadogEnv } from './statsd-datadog-env.js';
import { patternMatcher } from './statsd-pattern.js';
import { detectContainerId } from './statsd-origin.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import type { HostResolverOptions } from './host-resolver.js';
import type { StatsdDialect } from './statsd-format.js';
import type { StatsdTransport } from './statsd-transport.js';

/**
 * How latencies and sizes travel:
 * - `values`: one value per request (each bucket's value repeated), no sample rate: every StatsD server
 *   computes exact counts and sums and percentiles within the sketch's bound. Volume grows with traffic.
 * - `sampled`: one value per non-empty bucket with `|@rate` = sample rate / values in the bucket.
 *   Compact; counts are right everywhere, but only servers that weight timer values by 1/rate
 *   (the DataDog Agent, Telegraf) get means and percentiles right — Etsy's statsd does not.
 * - `distribution`: DogStatsD only; like `sampled` with the distribution type `|d`.
 */
export type StatsdTimerMode = 'values' | 'sampled' | 'distribution';

export interface StatsdExporterOptions {
  host: string;
  port: number;
  /** Unix datagram socket path; when set, used instead of host/port. */
  udsPath: string;
  /** `statsd_prefix`, before every name sent (also the Stats facade's). */
  prefix: string;
  /** `api_metrics_prefix`, before the API metric names (`api` → `api.request.count`). */
  apiPrefix: string;
  dialect: StatsdDialect;
  /** DogStatsD constant tags, `key:value` (with the `DD_*` unified service tags, statsd-datadog-env.ts). */
  constantTags: readonly string[];
  /**
   * DogStatsD origin detection: the container id sent as `|c:<id>` on every line; empty = none.
   * From config: detected as hot-shots does (statsd-origin.ts) unless `DD_ORIGIN_DETECTION_ENABLED` is off.
   */
  containerId?: string;
  /**
   * `values` mode on DogStatsD: pack a timer's values into one line per datagram, `name:v1:v2:…|d|#tags`
   * (DogStatsD protocol v1.1, Agent ≥ 6.25 / 7.25). Default true for the `datadog` dialect; plain StatsD
   * servers (Etsy's) do not read packed values, so other dialects always send one line per value.
   */
  packValues?: boolean;
  /** Tag names left out (DogStatsD/Influx tags, and the matching name segments of plain StatsD). */
  disabledTags: readonly string[];
  /** Airflow's metrics_allow_list / metrics_block_list for the API metrics (names without statsd_prefix). */
  allowList: readonly string[];
  blockList: readonly string[];
  /** Milliseconds between flushes; 0 = no timer (call flush() yourself). */
  flushIntervalMs: number;
  maxDatagramBytes: number;
  maxBufferBytes: number;
  timerMode: StatsdTimerMode;
  /** Bucket scale of latencies/sizes in `sampled`/`distribution` modes (0–6). */
  timerScale: number;
  /** `values` mode: most values per timer per flush, 0 = no limit (`statsd_timer_max_values`). Default 1,000. */
  timerMaxValues?: number;
  /** Exact status codes as a `status` tag (`metrics_detailed`). */
  detailed: boolean;
  /** Replaces the UDP/UDS transport (tests, custom sockets). */
  transport?: StatsdTransport;
  circuit?: CircuitBreakerOptions;
  /** How long a flush waits for room in a full buffer before dropping. Default 1,000 ms. */
  drainTimeoutMs?: number;
  /** Distinct Stats facade series held between flushes; more are dropped and counted. Default 10,000. */
  maxPendingSeries?: number;
  /** Stats facade timing values held between flushes. Default 100,000. */
  maxPendingValues?: number;
  /** Told when the circuit opens or closes again. Default: console.warn. */
  onStateChange?: (message: string) => void;
  /** How `host` is resolved (c-ares, off libuv's thread pool; TTL, timeout, servers). */
  dns?: HostResolverOptions;
  /** Bytes of undelivered datagrams kept for the next flush; more are dropped and counted. 0 = none. Default 1 MiB. */
  retryBufferBytes?: number;
  /** Bytes of the retry queue one flush sends (first, before its own lines). Default 64 KiB. */
  retryBytesPerFlush?: number;
  /** How long a flush waits after its sends for the sink's refusal (ICMP port unreachable), ms. Default 20. */
  refusalWaitMs?: number;
  /** close() gives its last flush at most this long, ms. Default 3,000. */
  closeTimeoutMs?: number;
}

/** The exporter's options from the configuration keys (statsd_*, api_metrics_prefix, metrics_*_list). */
export function statsdOptionsFromConfig(
  config: ApimeterConfig,
  env: Record<string, string | undefined> = hostEnv(),
): StatsdExporterOptions {
  if (config.statsdDatadogEnabled && config.statsdInfluxdbEnabled) {
    throw createError(
      'APIMETER_ERR_CONFIG_INVALID',
      '[metrics] statsd_datadog_enabled and statsd_influxdb_enabled cannot both be on: choose DogStatsD tags or InfluxDB tags',
    );
  }
  if (config.statsdTimerMode === 'distribution' && !config.statsdDatadogEnabled) {
    throw createError(
      'APIMETER_ERR_CONFIG_INVALID',
      '[metrics] statsd_timer_mode = "distribution" needs statsd_datadog_enabled (distributions are a DogStatsD type)',
    );
  }
  if (config.statsdMaxBufferBytes < config.statsdMaxDatagramBytes) {
    throw createError(
      'APIMETER_ERR_CONFIG_INVALID',
      `[metrics] statsd_max_buffer_bytes (${config.statsdMaxBufferBytes}) must be at least statsd_max_datagram_bytes (${config.statsdMaxDatagramBytes})`,
    );
  }
  const datadog = config.statsdDatadogEnabled;
  const dd = applyDatadogEnv(
    { host: config.statsdHost, port: config.statsdPort, constantTags: config.statsdDatadogTags },
    env,
  );
  return {
    host: dd.host,
    port: dd.port,
    udsPath: config.statsdUdsPath,
    prefix: config.statsdPrefix,
    apiPrefix: config.apiMetricsPrefix,
    dialect: config.statsdDatadogEnabled ? 'datadog' : config.statsdInfluxdbEnabled ? 'influx' : 'statsd',
    constantTags: datadog ? dd.constantTags : config.statsdDatadogTags,
    containerId: datadog && dd.originDetection ? (detectContainerId() ?? '') : '',
    disabledTags: config.statsdDisabledTags,
    allowList: config.metricsAllowList,
    blockList: config.metricsBlockList,
    flushIntervalMs: config.statsdFlushIntervalMs,
    maxDatagramBytes: config.statsdMaxDatagramBytes,
    maxBufferBytes: config.statsdMaxBufferBytes,
    timerMode: config.statsdTimerMode,
    timerScale: config.statsdTimerScale,
    timerMaxValues: config.statsdTimerMaxValues,
    detailed: config.metricsDetailed,
  };
}

/** Airflow's allow/block lists (Airflow 3 patterns, {@link patternMatcher}); an allow list wins over a block list. */
export function nameFilter(allowList: readonly string[], blockList: readonly string[]): (name: string) => boolean {
  const allow = patternMatcher(allowList);
  if (allow !== null) return allow;
  const block = patternMatcher(blockList);
  return block === null ? () => true : (name) => !block(name);
}
