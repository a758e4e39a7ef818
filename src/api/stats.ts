import { Counters, readCounters } from '../core/counts.js';
import type { ByteCounts } from '../core/counts.js';
import type { EndpointStats } from '../core/endpoint.js';
import { ERROR_TYPES } from '../core/record.js';
import type { Sketch } from '../core/sketch.js';
import { Tally } from '../core/tally.js';
import type { Dataset, Row } from './dataset.js';
import type { DistributionJson, EndpointStatsJson, RangeJson, SeriesPointJson, SizeStatsJson } from './schemas.js';

/** JSON has no NaN or Infinity: anything not finite becomes null. */
export const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

export const iso = (ms: number): string => new Date(ms).toISOString();

export function rangeJson(data: Dataset): RangeJson {
  return {
    window: data.window,
    from: iso(data.from),
    to: iso(data.to),
    seconds: data.seconds,
    resolution_seconds: data.resolutionMs / 1000,
    source: data.source,
  };
}

export function distribution(s: Sketch): DistributionJson {
  const empty = s.count === 0;
  const q = (p: number) => (empty ? null : finite(s.quantile(p)));
  return {
    count: s.count,
    min: empty ? null : finite(s.min),
    mean: empty ? null : finite(s.mean),
    p50: q(0.5),
    p90: q(0.9),
    p95: q(0.95),
    p99: q(0.99),
    max: empty ? null : finite(s.max),
  };
}

const scratch = new Counters();

/** `t`'s counters (codes left out) in one scratch object: valid until the next call. */
function countersOf(t: Tally): Counters {
  return readCounters(scratch, t, undefined, false);
}

function sizes(b: ByteCounts, sketch: Sketch | null): SizeStatsJson {
  const n = b.sized;
  const has = sketch !== null && sketch.count > 0;
  return {
    count: n,
    total: b.total,
    mean: n === 0 ? null : b.total / n,
    max: n === 0 ? null : b.max,
    p50: has ? finite(sketch.quantile(0.5)) : null,
    p95: has ? finite(sketch.quantile(0.95)) : null,
  };
}

export function errorsOf(t: Tally): number {
  return countersOf(t).errorTotal;
}

export const fiveXx = (t: Tally): number => countersOf(t).classes['5xx'];

export function statusClasses(t: Tally): EndpointStatsJson['status_classes'] {
  return classesJson(countersOf(t));
}

function classesJson(c: Counters): EndpointStatsJson['status_classes'] {
  const k = c.classes;
  return { '1xx': k['1xx'], '2xx': k['2xx'], '3xx': k['3xx'], '4xx': k['4xx'], '5xx': k['5xx'] };
}

export function errorTypes(t: Tally): EndpointStatsJson['error_types'] {
  return errorTypesJson(countersOf(t));
}

function errorTypesJson(c: Counters): EndpointStatsJson['error_types'] {
  const out = {} as EndpointStatsJson['error_types'];
  for (const type of ERROR_TYPES) out[type] = c.errors[type];
  return out;
}

/**
 * An endpoint's statistics over a range. Size percentiles come from the since-start size sketches, so
 * they are given for window=all only (`sizeSketches`).
 */
export function endpointStats(
  method: string,
  route: string,
  t: Tally,
  seconds: number,
  inflight: number,
  sizeSketches: { request: Sketch; response: Sketch } | null,
  detailed = false,
): EndpointStatsJson {
  const c = countersOf(t);
  const count = c.count;
  const errors = c.errorTotal;
  const codes: Record<string, number> = {};
  for (const [code, n] of t.statusCodes()) codes[String(code)] = n;
  return {
    method,
    route,
    count,
    errors,
    error_rate: count === 0 ? 0 : errors / count,
    rate_per_second: seconds > 0 ? count / seconds : 0,
    status_classes: classesJson(c),
    status_codes: codes,
    error_types: errorTypesJson(c),
    latency_ms: distribution(t.latency),
    request_bytes: sizes(c.request, sizeSketches?.request ?? null),
    response_bytes: sizes(c.response, sizeSketches?.response ?? null),
    inflight,
    ...(detailed ? detailCountsJson(c) : {}),
  };
}

/** Detailed mode's window counts of an endpoint, as the listing's flat fields. */
export function detailCounts(t: Tally): Required<Pick<EndpointStatsJson, DetailCountKey>> {
  return detailCountsJson(countersOf(t));
}

function detailCountsJson(c: Counters): Required<Pick<EndpointStatsJson, DetailCountKey>> {
  return {
    auth_attempts: c.authAttempts,
    auth_failures: c.authFailures,
    rate_limited: c.rateLimited,
    db_queries: c.dbQueries,
    db_queries_per_request: c.detailed === 0 ? null : c.dbQueries / c.detailed,
  };
}

type DetailCountKey = 'auth_attempts' | 'auth_failures' | 'rate_limited' | 'db_queries' | 'db_queries_per_request';

export function rowStats(row: Row, data: Dataset, detailed = false): EndpointStatsJson {
  const ep = row.ep;
  const sketches = data.window === 'all' && ep !== null ? { request: ep.requestSize, response: ep.responseSize } : null;
  return endpointStats(row.method, row.route, row.tally, data.seconds, row.inflight, sketches, detailed);
}

/**
 * Whether answers carry detailed mode's fields: the meter runs in detailed mode, or the data holds some
 * (a live endpoint with detail, or stored slots recorded in detailed mode). Otherwise the answers are
 * exactly those of a meter without it.
 */
export function hasDetail(detailedMeter: boolean, rows: readonly Row[]): boolean {
  return detailedMeter || rows.some((r) => (r.ep !== null && r.ep.detail !== null) || countersOf(r.tally).detailed > 0);
}

/** Merges several rows (the methods of one route) into one tally, size sketches included. */
export function mergeRows(rows: readonly Row[]): { tally: Tally; inflight: number; eps: EndpointStats[] } {
  const tally = new Tally();
  let inflight = 0;
  const eps: EndpointStats[] = [];
  for (const r of rows) {
    tally.merge(r.tally);
    inflight += r.inflight;
    if (r.ep !== null) eps.push(r.ep);
  }
  return { tally, inflight, eps };
}

export function seriesPoint(start: number, t: Tally): SeriesPointJson {
  const count = t.count;
  const errors = errorsOf(t);
  const empty = t.latency.count === 0;
  return {
    start: iso(start),
    count,
    errors,
    error_rate: count === 0 ? 0 : errors / count,
    p50: empty ? null : finite(t.latency.quantile(0.5)),
    p95: empty ? null : finite(t.latency.quantile(0.95)),
    p99: empty ? null : finite(t.latency.quantile(0.99)),
  };
}
