import { AUTH_TYPES } from '../core/detail.js';
import type { EndpointDelta } from '../core/reader.js';
import type { MetricKey } from './catalogue.js';
import { decimal } from './statsd-format.js';
import type { StatsdFormat } from './statsd-format.js';
import type { DatagramSender } from './statsd-sender.js';

/**
 * Detailed mode's StatsD counters (`metrics_detailed`), per endpoint group: slots in a group's counter
 * array, read as differences of cumulative values like the request counters.
 */
export const DETAIL = {
  rateLimited: 0,
  dbQueries: 1,
  dbMs: 2,
  /** Auth attempts by [type * 2 + (success ? 1 : 0)], as EndpointDetail.auth. */
  auth: 3,
} as const;
export const DETAIL_SLOTS = DETAIL.auth + AUTH_TYPES.length * 2;

export type DetailMetric = 'auth' | 'rateLimited' | 'dbQueries' | 'dbDuration';

/** The detailed counters' catalogue entries (their names: catalogue.ts). */
export const DETAIL_METRICS: Record<DetailMetric, MetricKey> = {
  auth: 'auth',
  rateLimited: 'rateLimited',
  dbQueries: 'dbQueries',
  dbDuration: 'dbDuration',
};

/**
 * Adds what one endpoint gained since the last read (`d`, from the reader) to its group's slots
 * (`counts` from `at` on).
 */
export function addDetailDeltas(counts: Float64Array, at: number, d: EndpointDelta): void {
  counts[at + DETAIL.rateLimited] += d.rateLimited;
  counts[at + DETAIL.dbQueries] += d.dbQueries;
  counts[at + DETAIL.dbMs] += d.dbMs;
  const auth = d.auth;
  for (let i = 0; i < auth.length; i++) counts[at + DETAIL.auth + i] += auth[i];
}

/**
 * The lines of one group's detailed counters: `api.auth.count` by auth_type and success,
 * `api.ratelimit.hits`, `api.db.query.count`, and `api.db.query.duration` (milliseconds, a counter: the
 * summed query time, to the microsecond). Only counters that changed are sent.
 */
export function writeDetailLines(
  fmt: StatsdFormat,
  sender: DatagramSender,
  names: Record<DetailMetric, string>,
  on: Record<DetailMetric, boolean>,
  part: string,
  counts: Float64Array,
  at: number,
): void {
  const counter = (name: string, p: string, n: number) => {
    if (n > 0) sender.add(fmt.line(fmt.head(name, p), decimal(n), 'c', 1, fmt.tail(p)));
  };
  if (on.auth) {
    AUTH_TYPES.forEach((type, k) => {
      for (const success of [false, true]) {
        const n = counts[at + DETAIL.auth + k * 2 + (success ? 1 : 0)];
        if (!(n > 0)) continue;
        counter(names.auth, fmt.extend(fmt.extend(part, 'auth_type', type), 'success', String(success)), n);
      }
    });
  }
  if (on.rateLimited) counter(names.rateLimited, part, counts[at + DETAIL.rateLimited]);
  if (on.dbQueries) counter(names.dbQueries, part, counts[at + DETAIL.dbQueries]);
  if (on.dbDuration) counter(names.dbDuration, part, Math.round(counts[at + DETAIL.dbMs] * 1000) / 1000);
}
