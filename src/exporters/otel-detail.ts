import { ValueType } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import type { Counters } from '../core/counts.js';
import { AUTH_TYPES } from '../core/detail.js';
import { otelName } from './catalogue.js';
import type { MetricKey } from './catalogue.js';

/**
 * Detailed mode's OpenTelemetry series (`metrics_detailed`), for endpoints that recorded in it:
 * `<prefix>.auth.attempts` by `apimeter.auth.type` and `apimeter.auth.success`, `<prefix>.ratelimit.hits`,
 * `<prefix>.db.client.queries` (monotonic sums) and `<prefix>.db.client.duration` (s, a monotonic sum
 * of query time). The core series are in otel-producer.ts.
 */
export type DetailMetric = 'auth' | 'rateLimited' | 'dbQueries' | 'dbDuration';

/** Names of the detailed series, with `otel_prefix` (catalogue.ts). */
export function detailNames(prefix: string): Record<DetailMetric, string> {
  return {
    auth: otelName('auth', prefix),
    rateLimited: otelName('rateLimited', prefix),
    dbQueries: otelName('dbQueries', prefix),
    dbDuration: otelName('dbDuration', prefix),
  };
}

export type DetailPoints = Record<DetailMetric, DataPoint<number>[]>;

export function emptyDetailPoints(): DetailPoints {
  return { auth: [], rateLimited: [], dbQueries: [], dbDuration: [] };
}

/** Adds a counter point when `n > 0` (the producer's, so start and end times match the core series). */
export type CounterPoint = (points: DataPoint<number>[], attributes: Attributes, n: number) => void;

/**
 * One endpoint's detailed points: `c` its counters (cumulative, or a delta), `auth` its auth attempts by
 * [type * 2 + (success ? 1 : 0)] over the same span.
 */
export function collectDetail(
  out: DetailPoints,
  on: Readonly<Record<DetailMetric, boolean>>,
  attributes: Attributes,
  c: Counters,
  auth: ArrayLike<number>,
  counter: CounterPoint,
): void {
  if (on.auth) {
    AUTH_TYPES.forEach((type, k) => {
      for (const success of [false, true]) {
        const attrs = { ...attributes, 'apimeter.auth.type': type, 'apimeter.auth.success': success };
        counter(out.auth, attrs, auth[k * 2 + (success ? 1 : 0)]);
      }
    });
  }
  if (on.rateLimited) counter(out.rateLimited, attributes, c.rateLimited);
  if (on.dbQueries) counter(out.dbQueries, attributes, c.dbQueries);
  if (on.dbDuration) counter(out.dbDuration, attributes, c.dbMs / 1000);
}

/** Adds a monotonic or not sum metric of the catalogue (the producer's, which knows the names and temporality). */
export type SumMetric = (
  key: MetricKey,
  points: DataPoint<number>[],
  monotonic: boolean,
  valueType?: ValueType,
) => void;

/** The detailed metrics, after the core ones. */
export function detailMetrics(on: Readonly<Record<DetailMetric, boolean>>, out: DetailPoints, sum: SumMetric): void {
  if (on.auth) sum('auth', out.auth, true);
  if (on.rateLimited) sum('rateLimited', out.rateLimited, true);
  if (on.dbQueries) sum('dbQueries', out.dbQueries, true);
  if (on.dbDuration) sum('dbDuration', out.dbDuration, true, ValueType.DOUBLE);
}
