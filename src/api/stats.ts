import { apdexTOf } from '../core/apdex.js';
import type { ApdexT } from '../core/apdex.js';
import type { EndpointStats } from '../core/endpoint.js';
import { detailCounts, detailedRequests, tallyFigures } from '../core/query.js';
import type { DetailCounts, Distribution, Figures, SizeSketches, SizeStats } from '../core/query.js';
import { Tally } from '../core/tally.js';
import type { Dataset, Row } from './dataset.js';
import type { DistributionJson, EndpointStatsJson, RangeJson, SeriesPointJson, SizeStatsJson } from './schemas.js';

/*
 * The API's JSON is core's snapshot model (`tallyFigures`, `detailCounts`, `detailSnapshot` in
 * src/core/query.ts) with its keys in snake_case and non-finite numbers as null: no figure is computed
 * here, so `meter.snapshot()` and the API cannot disagree.
 */

/** JSON has no NaN or Infinity: anything not finite becomes null. */
export const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);
const maybe = (n: number | null): number | null => (n === null ? null : finite(n));

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

export function distributionJson(d: Distribution): DistributionJson {
  return {
    count: d.count,
    min: maybe(d.min),
    mean: maybe(d.mean),
    p50: maybe(d.p50),
    p90: maybe(d.p90),
    p95: maybe(d.p95),
    p99: maybe(d.p99),
    max: maybe(d.max),
  };
}

function sizesJson(s: SizeStats): SizeStatsJson {
  return { count: s.count, total: s.totalBytes, mean: s.mean, max: s.max, p50: maybe(s.p50), p95: maybe(s.p95) };
}

/** The figures every answer shares, by their API names. */
export function figuresJson(
  f: Figures,
): Pick<
  EndpointStatsJson,
  | 'count'
  | 'errors'
  | 'error_rate_5xx'
  | 'error_rate_4xx'
  | 'rate_per_second'
  | 'status_classes'
  | 'status_codes'
  | 'error_types'
  | 'latency_ms'
  | 'apdex'
  | 'apdex_t_ms'
  | 'request_bytes'
  | 'response_bytes'
> {
  return {
    count: f.count,
    errors: f.errors,
    error_rate_5xx: f.errorRate5xx,
    error_rate_4xx: f.errorRate4xx,
    rate_per_second: f.ratePerSecond,
    status_classes: { ...f.statusClasses },
    status_codes: f.statusCodes,
    error_types: { ...f.errorTypes },
    latency_ms: distributionJson(f.latencyMs),
    apdex: maybe(f.apdex.score),
    apdex_t_ms: f.apdex.tMs,
    request_bytes: sizesJson(f.requestBytes),
    response_bytes: sizesJson(f.responseBytes),
  };
}

/** Detailed mode's window counts of an endpoint, as the listing's flat fields. */
export function detailCountsJson(d: DetailCounts): Required<Pick<EndpointStatsJson, DetailCountKey>> {
  return {
    auth_attempts: d.authAttempts,
    auth_failures: d.authFailures,
    rate_limited: d.rateLimited,
    db_queries: d.dbQueries,
    db_queries_per_request: d.queriesPerRequestMean,
  };
}

type DetailCountKey = 'auth_attempts' | 'auth_failures' | 'rate_limited' | 'db_queries' | 'db_queries_per_request';

/**
 * An endpoint's statistics over a range, Apdex at `apdexTMs`. Size percentiles come from the since-start
 * size sketches, so they are given for window=all only (`sizeSketches`).
 */
export function endpointStats(
  method: string,
  route: string,
  t: Tally,
  seconds: number,
  inflight: number,
  sizeSketches: SizeSketches | null,
  apdexTMs: number,
  detailed = false,
): EndpointStatsJson {
  return {
    method,
    route,
    ...figuresJson(tallyFigures(t, seconds, apdexTMs, sizeSketches)),
    inflight,
    ...(detailed ? detailCountsJson(detailCounts(t)) : {}),
  };
}

/** A row's statistics, Apdex at the row's T from `apdexT`. */
export function rowStats(row: Row, data: Dataset, apdexT: ApdexT, detailed = false): EndpointStatsJson {
  const ep = row.ep;
  const sketches = data.window === 'all' && ep !== null ? { request: ep.requestSize, response: ep.responseSize } : null;
  const t = apdexTOf(apdexT, row.method, row.route);
  return endpointStats(row.method, row.route, row.tally, data.seconds, row.inflight, sketches, t, detailed);
}

/**
 * Whether answers carry detailed mode's fields: the meter runs in detailed mode, or the data holds some
 * (a live endpoint with detail, or stored slots recorded in detailed mode). Otherwise the answers are
 * exactly those of a meter without it.
 */
export function hasDetail(detailedMeter: boolean, rows: readonly Row[]): boolean {
  return detailedMeter || rows.some((r) => (r.ep !== null && r.ep.detail !== null) || detailedRequests(r.tally) > 0);
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

export function seriesPoint(start: number, t: Tally, stepSeconds: number, apdexTMs: number): SeriesPointJson {
  const f = tallyFigures(t, stepSeconds, apdexTMs);
  return {
    start: iso(start),
    count: f.count,
    errors: f.errors,
    error_rate_5xx: f.errorRate5xx,
    error_rate_4xx: f.errorRate4xx,
    p50: maybe(f.latencyMs.p50),
    p95: maybe(f.latencyMs.p95),
    p99: maybe(f.latencyMs.p99),
    apdex: maybe(f.apdex.score),
  };
}
