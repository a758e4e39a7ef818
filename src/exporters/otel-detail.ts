import { ValueType } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import type { Counters } from '../core/counts.js';
import { AUTH_TYPES } from '../core/detail.js';

/**
 * Detailed mode's OpenTelemetry series (`metrics_detailed`), for endpoints that recorded in it:
 * `<prefix>.auth.attempts` by `apimeter.auth.type` and `apimeter.auth.success`, `<prefix>.ratelimit.hits`,
 * `<prefix>.db.client.queries` (monotonic sums) and `<prefix>.db.client.duration` (s, a monotonic sum
 * of query time). The core series are in otel-producer.ts.
 */
export type DetailMetric = 'auth' | 'rateLimited' | 'dbQueries' | 'dbDuration';

/** Names of the detailed series, `own(suffix)` adding `otel_prefix`. */
export function detailNames(own: (suffix: string) => string): Record<DetailMetric, string> {
  return {
    auth: own('auth.attempts'),
    rateLimited: own('ratelimit.hits'),
    dbQueries: own('db.client.queries'),
    dbDuration: own('db.client.duration'),
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

/** Adds a monotonic or not sum metric (the producer's, which knows the temporality). */
export type SumMetric = (
  name: string,
  description: string,
  points: DataPoint<number>[],
  monotonic: boolean,
  unit?: string,
  valueType?: ValueType,
) => void;

/** The detailed metrics, after the core ones. */
export function detailMetrics(
  names: Readonly<Record<DetailMetric, string>>,
  on: Readonly<Record<DetailMetric, boolean>>,
  out: DetailPoints,
  sum: SumMetric,
): void {
  if (on.auth)
    sum(names.auth, 'Authentication attempts by kind of credentials and outcome.', out.auth, true, '{attempt}');
  if (on.rateLimited) sum(names.rateLimited, 'HTTP server requests refused by a rate limiter.', out.rateLimited, true);
  if (on.dbQueries)
    sum(names.dbQueries, 'Database queries made while serving requests.', out.dbQueries, true, '{query}');
  if (on.dbDuration) {
    const what = 'Time spent in database queries while serving requests.';
    sum(names.dbDuration, what, out.dbDuration, true, 's', ValueType.DOUBLE);
  }
}
