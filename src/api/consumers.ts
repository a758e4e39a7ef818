import type { Consumers, ConsumerFigures } from '../core/consumers.js';
import type { EndpointStats } from '../core/endpoint.js';
import { CSV_TYPE, toCsv } from '../core/csv.js';
import { ApiProblem, badParameter, headerOf, jsonResponse } from './http.js';
import type { ApiResponse } from './http.js';
import { choiceParam, integerParam, Query, shown, textParam } from './params.js';
import type { ParamDef } from './params.js';
import type { ResolvedOptions } from './options.js';
import type { Route, RouteInput, RouteOutput } from './route.js';
import type { ConsumerDetailJson, ConsumerListJson, ConsumerRangeJson, ConsumerStatsJson } from './consumer-schemas.js';
import { HISTORY_WINDOWS, parseRange, rangeParams } from './range.js';
import type { RangeSpec } from './range.js';
import type { HistoryConsumer } from '../core/history.js';
import { OTHER_CONSUMER } from '../core/consumers/identify.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const MAX_ID = 1024;
const ORDER_KEYS = ['requests', 'errors', 'error_rate', 'p95', 'endpoints_used', 'id'] as const;

const CONSUMER_WINDOWS = ['all', ...Object.keys(HISTORY_WINDOWS)];
const [, START_PARAM, END_PARAM] = rangeParams('all');
const WINDOW_PARAM: ParamDef = {
  name: 'window',
  description:
    'all (the default): since start-up, from memory; 6h, 24h, 7d, 30d (or start/end): from the per-consumer ' +
    'rows of the snapshot store (the top K of each interval exact, the rest as `other`). Not with start/end.',
  schema: { type: 'string', enum: CONSUMER_WINDOWS, default: 'all' },
};
const RANGE_PARAMS: readonly ParamDef[] = [WINDOW_PARAM, START_PARAM, END_PARAM];
const FORMAT_PARAM: ParamDef = {
  name: 'format',
  description: 'json (default) or csv; `Accept: text/csv` also asks for CSV.',
  schema: { type: 'string', enum: ['json', 'csv'] },
};

/** The `consumer` filter of `/endpoints` and `/endpoints/{endpoint}`. */
export const CONSUMER_PARAM: ParamDef = {
  name: 'consumer',
  description:
    'Only endpoints this consumer called (`metrics_consumers`); each gets a `consumer` object with its requests and errors there: ' +
    'over the range from the snapshot store when there is one and the range is stored (6h…30d, start/end), else since start-up from memory (`consumer.source`).',
  schema: { type: 'string', maxLength: MAX_ID },
};

const LIST_PARAMS: readonly ParamDef[] = [
  {
    name: 'limit',
    description: `Consumers per page (default ${DEFAULT_LIMIT}, at most ${MAX_LIMIT}).`,
    schema: { type: 'integer', minimum: 1, default: DEFAULT_LIMIT },
  },
  { name: 'offset', description: 'Consumers to skip.', schema: { type: 'integer', minimum: 0, default: 0 } },
  {
    name: 'order_by',
    description: 'Column to sort by, `-` in front for descending (default -requests).',
    schema: { type: 'string', enum: ORDER_KEYS.flatMap((k) => [k, `-${k}`]), default: '-requests' },
  },
  { name: 'group', description: 'Only consumers of this group.', schema: { type: 'string', maxLength: 128 } },
  FORMAT_PARAM,
  ...RANGE_PARAMS,
];

function consumersOf(opts: ResolvedOptions): Consumers {
  const consumers = opts.meter.consumers;
  if (consumers === null) {
    throw new ApiProblem(
      404,
      'consumers are not tracked: set [api] metrics_consumers = true (APIMETER__API__METRICS_CONSUMERS) and a way to identify them (docs/consumers.md)',
    );
  }
  return consumers;
}

/** The range asked for: null for since start-up (memory), else a span only the store answers. */
function consumerSpan(opts: ResolvedOptions, query: Query): { from: number; to: number } | null {
  const w = query.get('window');
  if (w !== undefined && !CONSUMER_WINDOWS.includes(w)) {
    throw badParameter(
      'window',
      `${shown(w)}: consumer figures are kept since start-up in memory (all) or per interval in the store (6h, 24h, 7d, 30d, start/end)`,
      CONSUMER_WINDOWS,
    );
  }
  const spec = parseRange(query, opts.meter.clock.now(), 'all');
  if (spec.kind === 'window') return null;
  return { from: spec.from, to: spec.to };
}

/** The stored consumers of a span, or the 400 saying a store is needed. */
async function storedConsumers(
  opts: ResolvedOptions,
  span: { from: number; to: number },
  consumer?: string,
): Promise<{ from: number; to: number; consumers: HistoryConsumer[] }> {
  const history = opts.history;
  if (history?.consumers === undefined) {
    throw badParameter(
      'window',
      'consumer figures over a time range are read from the snapshot store; it needs [metrics] api_metrics_persistence = true and a store (docs/consumers.md); window=all answers from memory',
      ['all'],
    );
  }
  return history.consumers({ ...span, ...(consumer !== undefined && { consumer }) });
}

/** A stored consumer as the figures consumerStats reads (counts exact: no Space-Saving bound). */
function storedFigures(c: HistoryConsumer): ConsumerFigures {
  return {
    id: c.id,
    requests: c.requests,
    errorBound: 0,
    tracked: c.requests,
    errors: c.errors,
    serverErrors: c.serverErrors,
    latency: c.latency,
    endpoints: new Map(c.endpoints.map((e, i) => [i, [e.requests, e.errors]])),
  };
}

function storedRange(
  consumers: Consumers,
  answer: { from: number; to: number; consumers: HistoryConsumer[] },
): ConsumerRangeJson {
  let requests = 0;
  let other = 0;
  for (const c of answer.consumers) {
    requests += c.requests;
    if (c.id === OTHER_CONSUMER) other += c.requests;
  }
  return {
    source: 'store',
    since: new Date(answer.from).toISOString(),
    until: new Date(answer.to).toISOString(),
    requests,
    other_requests: other,
    // A consumer not listed was outside the top K of every interval: all its requests are in `other`.
    unlisted_bound: other,
    top: consumers.tracker.limits.top,
  };
}

function wantsCsv(request: RouteInput['request'], query: Query): boolean {
  const format = choiceParam(query, 'format', ['json', 'csv'], 'json');
  if (query.has('format')) return format === 'csv';
  return /\btext\/csv\b/i.test(headerOf(request, 'accept') ?? '');
}

const round = (v: number): number | null => (Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null);

export function consumerStats(consumers: Consumers, f: ConsumerFigures): ConsumerStatsJson {
  const [p50, p95, p99] = f.latency.quantiles([0.5, 0.95, 0.99]);
  return {
    id: f.id,
    group: consumers.groupOf(f.id),
    requests: f.requests,
    error_bound: f.errorBound,
    tracked_requests: f.tracked,
    errors: f.errors,
    server_errors: f.serverErrors,
    error_rate: f.tracked > 0 ? f.errors / f.tracked : 0,
    latency_ms: {
      p50: round(p50),
      p95: round(p95),
      p99: round(p99),
      max: f.latency.count > 0 ? round(f.latency.max) : null,
    },
    endpoints_used: f.endpoints.size,
  };
}

export function consumerRange(
  opts: ResolvedOptions,
  consumers: Consumers,
  listed: readonly ConsumerFigures[],
): ConsumerRangeJson {
  const t = consumers.tracker;
  let tracked = 0;
  for (const f of listed) tracked += f.tracked;
  return {
    source: 'memory',
    since: new Date(opts.meter.startedAt).toISOString(),
    requests: t.requests,
    other_requests: Math.max(0, t.requests - tracked),
    unlisted_bound: t.unlistedBound(),
    top: t.limits.top,
  };
}

function sortKey(s: ConsumerStatsJson, key: (typeof ORDER_KEYS)[number]): number | string | null {
  if (key === 'p95') return s.latency_ms.p95;
  return s[key];
}

const CSV_COLUMNS = [
  'id',
  'group',
  'requests',
  'error_bound',
  'tracked_requests',
  'errors',
  'server_errors',
  'error_rate',
  'p50_ms',
  'p95_ms',
  'p99_ms',
  'endpoints_used',
];

function csvAnswer(page: ConsumerListJson): ApiResponse {
  const rows = page.consumers.map((c) => [
    c.id,
    c.group,
    c.requests,
    c.error_bound,
    c.tracked_requests,
    c.errors,
    c.server_errors,
    c.error_rate,
    c.latency_ms.p50,
    c.latency_ms.p95,
    c.latency_ms.p99,
    c.endpoints_used,
  ]);
  return {
    status: 200,
    headers: {
      'content-type': CSV_TYPE,
      'content-disposition': 'attachment; filename="apimeter-consumers.csv"',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-total-count': String(page.total_entries),
    },
    body: toCsv(CSV_COLUMNS, rows),
  };
}

/** `GET {prefix}/consumers`: the top K consumers with their figures. */
export const listConsumers: Route = {
  params: LIST_PARAMS,
  async run(input: RouteInput): Promise<RouteOutput> {
    const { opts } = input;
    const query = Query.parse(input.search, LIST_PARAMS);
    const span = consumerSpan(opts, query);
    const consumers = consumersOf(opts);
    const limit = integerParam(query, 'limit', DEFAULT_LIMIT, { min: 1, max: MAX_LIMIT, cap: true });
    const offset = integerParam(query, 'offset', 0, { min: 0 });
    const orderText = query.get('order_by') ?? '-requests';
    const desc = orderText.startsWith('-');
    const key = (desc ? orderText.slice(1) : orderText) as (typeof ORDER_KEYS)[number];
    if (!ORDER_KEYS.includes(key)) {
      throw badParameter(
        'order_by',
        `${shown(orderText)} is not a column`,
        ORDER_KEYS.flatMap((k) => [k, `-${k}`]),
      );
    }
    const group = textParam(query, 'group', 128);
    const csv = wantsCsv(input.request, query);
    let figures: ConsumerFigures[];
    let range: ConsumerRangeJson;
    if (span === null) {
      figures = consumers.tracker.list();
      range = consumerRange(opts, consumers, figures);
    } else {
      const answer = await storedConsumers(opts, span);
      figures = answer.consumers.filter((c) => c.id !== OTHER_CONSUMER).map(storedFigures);
      range = storedRange(consumers, answer);
    }
    let stats = figures.map((f) => consumerStats(consumers, f));
    if (group !== undefined) stats = stats.filter((s) => s.group === group);
    stats.sort((a, b) => {
      const x = sortKey(a, key);
      const y = sortKey(b, key);
      if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
      const c = x < y ? -1 : x > y ? 1 : 0;
      return (desc ? -c : c) || (a.id < b.id ? -1 : 1);
    });
    const page: ConsumerListJson = {
      consumers: stats.slice(offset, offset + limit),
      total_entries: stats.length,
      limit,
      offset,
      range,
    };
    return { response: csv ? csvAnswer(page) : jsonResponse(200, page), cacheable: false };
  },
};

/** Endpoint handles by id (the tracker keys per-endpoint figures by handle id). */
export function endpointsById(opts: ResolvedOptions): Map<number, EndpointStats> {
  return new Map(opts.meter.registry.endpoints().map((ep) => [ep.id, ep]));
}

const DETAIL_PARAMS: readonly ParamDef[] = RANGE_PARAMS;

/** `GET {prefix}/consumers/{id}`: one consumer, with its endpoints. */
export const consumerDetail: Route = {
  params: DETAIL_PARAMS,
  async run(input: RouteInput): Promise<RouteOutput> {
    const { opts } = input;
    const query = Query.parse(input.search, DETAIL_PARAMS);
    const span = consumerSpan(opts, query);
    const consumers = consumersOf(opts);
    const id = input.endpoint ?? '';
    if (span !== null) {
      const answer = await storedConsumers(opts, span);
      const c = answer.consumers.find((x) => x.id === id);
      if (c === undefined) {
        throw new ApiProblem(
          404,
          `consumer ${shown(id)} has no stored rows from ${new Date(answer.from).toISOString()} to ` +
            `${new Date(answer.to).toISOString()} (outside the top ${consumers.tracker.limits.top} of every interval, ` +
            `it is counted as ${OTHER_CONSUMER}); GET ${opts.prefix}/consumers?window=… lists them`,
        );
      }
      const endpoints = [...c.endpoints].sort((a, b) => b.requests - a.requests || (a.route < b.route ? -1 : 1));
      const body: ConsumerDetailJson = {
        ...consumerStats(consumers, storedFigures(c)),
        endpoints,
        range: storedRange(consumers, answer),
      };
      return { response: jsonResponse(200, body), cacheable: false };
    }
    const f = consumers.tracker.get(id);
    if (f === undefined) {
      throw new ApiProblem(
        404,
        `consumer ${shown(id)} is not among the ${consumers.tracker.limits.top} tracked consumers (it has at most ` +
          `${consumers.tracker.unlistedBound()} requests); GET ${opts.prefix}/consumers lists them`,
      );
    }
    const byId = endpointsById(opts);
    const endpoints = [...f.endpoints]
      .map(([epId, [requests, errors]]) => {
        const ep = byId.get(epId);
        return { method: ep?.method ?? '_OTHER', route: ep?.route ?? '?', requests, errors };
      })
      .sort((a, b) => b.requests - a.requests || (a.route < b.route ? -1 : 1));
    const body: ConsumerDetailJson = {
      ...consumerStats(consumers, f),
      endpoints,
      range: consumerRange(opts, consumers, consumers.tracker.list()),
    };
    return { response: jsonResponse(200, body), cacheable: false };
  },
};

/**
 * The `consumer` filter: that consumer's requests and errors per endpoint. With a snapshot store and a
 * stored range (`window=6h…30d`, `start`/`end`), from its per-consumer endpoint rows (exact for the
 * intervals it was in the top K); otherwise since start-up from memory. A 404 when the consumer is not
 * tracked (memory) or has no stored rows in the range (store). Undefined when the query has no filter.
 */
export interface ConsumerFilter {
  id: string;
  source: 'memory' | 'store';
  /** Store answers: the range read, snapped to the snapshot interval. */
  since?: number;
  until?: number;
  /** [requests, errors] of the consumer on this endpoint, undefined when it did not call it. */
  of(row: { ep: EndpointStats | null; method: string; route: string }): [number, number] | undefined;
}

export async function consumerFilter(
  opts: ResolvedOptions,
  query: Query,
  spec: RangeSpec,
): Promise<ConsumerFilter | undefined> {
  const id = query.get('consumer');
  if (id === undefined) return undefined;
  if (id.length > MAX_ID) throw badParameter('consumer', `${id.length} characters; at most ${MAX_ID}`);
  const consumers = consumersOf(opts);
  if (spec.kind === 'span' && opts.history?.consumers !== undefined) {
    const answer = await storedConsumers(opts, { from: spec.from, to: spec.to }, id);
    const c = answer.consumers.find((x) => x.id === id);
    if (c === undefined) {
      throw new ApiProblem(
        404,
        `consumer ${shown(id)} has no stored rows from ${new Date(answer.from).toISOString()} to ` +
          `${new Date(answer.to).toISOString()}; GET ${opts.prefix}/consumers?window=… lists the stored ones`,
      );
    }
    const byKey = new Map(
      c.endpoints.map((e) => [`${e.method} ${e.route}`, [e.requests, e.errors] as [number, number]]),
    );
    return {
      id,
      source: 'store',
      since: answer.from,
      until: answer.to,
      of: (r) => byKey.get(`${r.method} ${r.route}`),
    };
  }
  const f = consumers.tracker.get(id);
  if (f === undefined) {
    throw new ApiProblem(
      404,
      `consumer ${shown(id)} is not among the tracked consumers; GET ${opts.prefix}/consumers lists them`,
    );
  }
  return { id, source: 'memory', of: (r) => (r.ep === null ? undefined : f.endpoints.get(r.ep.id)) };
}

/** The `consumer` object of an endpoint answer: the figures and where they come from. */
export function consumerOnEndpoint(
  filter: ConsumerFilter,
  requests: number,
  errors: number,
): { id: string; requests: number; errors: number; source: 'memory' | 'store'; since?: string; until?: string } {
  return {
    id: filter.id,
    requests,
    errors,
    source: filter.source,
    ...(filter.since !== undefined && { since: new Date(filter.since).toISOString() }),
    ...(filter.until !== undefined && { until: new Date(filter.until).toISOString() }),
  };
}
