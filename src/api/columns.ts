import { badParameter } from './http.js';
import type { Query } from './params.js';
import type { EndpointStatsJson } from './schemas.js';

type Value = number | string | null;

/** One column of the endpoint listing: a CSV column and an `order_by` key, under one name. */
export interface Column {
  readonly name: string;
  readonly description: string;
  readonly get: (s: EndpointStatsJson) => Value;
}

const col = (name: string, description: string, get: (s: EndpointStatsJson) => Value): Column => ({
  name,
  description,
  get,
});

export const COLUMNS: readonly Column[] = [
  col('method', 'HTTP method', (s) => s.method),
  col('route', 'route template', (s) => s.route),
  col('count', 'requests', (s) => s.count),
  col('errors', 'requests with an error type (5xx, 4xx, exceptions, validation, aborted)', (s) => s.errors),
  col('error_rate_5xx', 'share of 5xx responses, 0..1', (s) => s.error_rate_5xx),
  col('error_rate_4xx', 'share of 4xx responses (aborted requests as 499 included), 0..1', (s) => s.error_rate_4xx),
  col('rate_per_second', 'requests per second over the range', (s) => s.rate_per_second),
  col('min', 'fastest request, ms', (s) => s.latency_ms.min),
  col('mean', 'mean latency, ms', (s) => s.latency_ms.mean),
  col('p50', 'median latency, ms', (s) => s.latency_ms.p50),
  col('p90', '90th percentile latency, ms', (s) => s.latency_ms.p90),
  col('p95', '95th percentile latency, ms', (s) => s.latency_ms.p95),
  col('p99', '99th percentile latency, ms', (s) => s.latency_ms.p99),
  col('max', 'slowest request, ms', (s) => s.latency_ms.max),
  col('apdex', 'Apdex score at apdex_t_ms, 0..1 (empty without requests)', (s) => s.apdex),
  col('apdex_t_ms', 'Apdex target T used, ms', (s) => s.apdex_t_ms),
  ...(['1xx', '2xx', '3xx', '4xx', '5xx'] as const).map((k) =>
    col(`status_${k}`, `${k} responses`, (s) => s.status_classes[k]),
  ),
  ...(['server_error', 'client_error', 'exception', 'validation', 'aborted'] as const).map((k) =>
    col(k, `requests of error type ${k}`, (s) => s.error_types[k]),
  ),
  col('request_bytes_total', 'request body bytes', (s) => s.request_bytes.total),
  col('request_bytes_mean', 'mean request body, bytes', (s) => s.request_bytes.mean),
  col('request_bytes_max', 'largest request body, bytes', (s) => s.request_bytes.max),
  col('response_bytes_total', 'response body bytes', (s) => s.response_bytes.total),
  col('response_bytes_mean', 'mean response body, bytes', (s) => s.response_bytes.mean),
  col('response_bytes_max', 'largest response body, bytes', (s) => s.response_bytes.max),
  col('inflight', 'requests in progress now', (s) => s.inflight),
];

/** Detailed mode's columns: in CSV only when the answer has them; as `order_by` keys always (null without). */
export const DETAIL_COLUMNS: readonly Column[] = [
  col(
    'auth_attempts',
    'requests that presented credentials or were refused with 401/403',
    (s) => s.auth_attempts ?? null,
  ),
  col('auth_failures', 'auth attempts that failed', (s) => s.auth_failures ?? null),
  col('rate_limited', 'requests refused by a rate limiter', (s) => s.rate_limited ?? null),
  col('db_queries', 'database queries', (s) => s.db_queries ?? null),
  col('db_queries_per_request', 'database queries per request', (s) => s.db_queries_per_request ?? null),
];

/** The columns of an answer, detailed mode's included or not. */
export function columnsFor(detailed: boolean): readonly Column[] {
  return detailed ? [...COLUMNS, ...DETAIL_COLUMNS] : COLUMNS;
}

const BY_NAME = new Map([...COLUMNS, ...DETAIL_COLUMNS].map((c) => [c.name, c]));
export const ORDER_KEYS: readonly string[] = [...BY_NAME.keys()];

export interface Ordering {
  column: Column;
  descending: boolean;
  /** As given, for the answer: `-p95`. */
  text: string;
}

export function orderParam(query: Query, fallback: string): Ordering {
  const text = query.get('order_by') ?? fallback;
  const descending = text.startsWith('-');
  const column = BY_NAME.get(descending ? text.slice(1) : text);
  if (column === undefined) {
    throw badParameter(
      'order_by',
      `cannot order by ${JSON.stringify(text.slice(0, 60))}: give a column, with "-" in front for descending`,
      ORDER_KEYS,
    );
  }
  return { column, descending, text };
}

function compare(a: Value, b: Value): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/**
 * Sorts in place by the column; rows without a value (p95 of an endpoint with no request in the range)
 * come last in either direction; ties go by route, then method, so pages are stable.
 */
export function sortStats(items: EndpointStatsJson[], order: Ordering): EndpointStatsJson[] {
  const sign = order.descending ? -1 : 1;
  return items.sort((x, y) => {
    const a = order.column.get(x);
    const b = order.column.get(y);
    if (a === null || b === null) {
      if (a !== b) return a === null ? 1 : -1;
    } else {
      const c = compare(a, b);
      if (c !== 0) return sign * c;
    }
    return compare(x.route, y.route) || compare(x.method, y.method);
  });
}
