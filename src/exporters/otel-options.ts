import type { ApimeterConfig } from '../core/config.js';
import { DURATION_BOUNDARIES_S, SIZE_BOUNDARIES_BYTES } from './otel-convert.js';

export interface OtelProducerOptions {
  /** `otel_prefix`: names of apimeter's own metrics (`apimeter.http.server.requests`). */
  prefix: string;
  /** Exact `http.response.status_code` instead of `apimeter.http.response.status_class` (`metrics_detailed`). */
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
  /**
   * `http.route`: `framework` (the adapter's own syntax: `/users/:id` for Fastify, Express and Hono;
   * OpenAPI-style `{id}` for route tables and the proxy) or `openapi` (always `/users/{id}`).
   */
  routeStyle: 'framework' | 'openapi';
  /** `url.scheme` on every point (`otel_url_scheme`): the scheme clients use, `http` or `https`. */
  urlScheme: string;
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
    maxBuckets: config.otelExponentialMaxBuckets,
    routeStyle: config.otelRouteStyle,
    urlScheme: config.otelUrlScheme,
    durationBoundaries: DURATION_BOUNDARIES_S,
    sizeBoundaries: SIZE_BOUNDARIES_BYTES,
    allowList: config.metricsAllowList,
    blockList: config.metricsBlockList,
  };
}
