import type { EndpointStats } from '../core/endpoint.js';
import { ERROR_TYPES } from '../core/record.js';
import type { Sketch } from '../core/sketch.js';
import { ERROR_FIELD, F, Tally } from '../core/tally.js';
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

function sizes(t: Tally, bytes: number, sized: number, max: number, sketch: Sketch | null): SizeStatsJson {
  const n = t.c[sized];
  const has = sketch !== null && sketch.count > 0;
  return {
    count: n,
    total: t.c[bytes],
    mean: n === 0 ? null : t.c[bytes] / n,
    max: n === 0 ? null : t.c[max],
    p50: has ? finite(sketch.quantile(0.5)) : null,
    p95: has ? finite(sketch.quantile(0.95)) : null,
  };
}

export function errorsOf(t: Tally): number {
  let e = 0;
  for (const f of ERROR_FIELD) e += t.c[f];
  return e;
}

export const fiveXx = (t: Tally): number => t.c[F.status1xx + 4];

export function statusClasses(t: Tally): EndpointStatsJson['status_classes'] {
  const c = t.c;
  const k = F.status1xx;
  return { '1xx': c[k], '2xx': c[k + 1], '3xx': c[k + 2], '4xx': c[k + 3], '5xx': c[k + 4] };
}

export function errorTypes(t: Tally): EndpointStatsJson['error_types'] {
  const out = {} as EndpointStatsJson['error_types'];
  ERROR_TYPES.forEach((type, i) => (out[type] = t.c[ERROR_FIELD[i]]));
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
  const count = t.count;
  const errors = errorsOf(t);
  const codes: Record<string, number> = {};
  for (const [code, n] of t.statusCodes()) codes[String(code)] = n;
  return {
    method,
    route,
    count,
    errors,
    error_rate: count === 0 ? 0 : errors / count,
    rate_per_second: seconds > 0 ? count / seconds : 0,
    status_classes: statusClasses(t),
    status_codes: codes,
    error_types: errorTypes(t),
    latency_ms: distribution(t.latency),
    request_bytes: sizes(t, F.requestBytes, F.requestSized, F.requestBytesMax, sizeSketches?.request ?? null),
    response_bytes: sizes(t, F.responseBytes, F.responseSized, F.responseBytesMax, sizeSketches?.response ?? null),
    inflight,
    ...(detailed ? detailCounts(t) : {}),
  };
}

/** Detailed mode's window counts of an endpoint, as the listing's flat fields. */
export function detailCounts(t: Tally): Required<Pick<EndpointStatsJson, DetailCountKey>> {
  const c = t.c;
  return {
    auth_attempts: c[F.authAttempts],
    auth_failures: c[F.authFailures],
    rate_limited: c[F.rateLimited],
    db_queries: c[F.dbQueries],
    db_queries_per_request: c[F.detailed] === 0 ? null : c[F.dbQueries] / c[F.detailed],
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
  return detailedMeter || rows.some((r) => (r.ep !== null && r.ep.detail !== null) || r.tally.c[F.detailed] > 0);
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
