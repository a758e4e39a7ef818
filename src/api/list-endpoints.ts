import { APDEX_PARAM, apdexTargets } from './apdex.js';
import { columnsFor, orderParam, ORDER_KEYS, sortStats } from './columns.js';
import { CSV_TYPE, toCsv } from '../core/csv.js';
import { collect } from './dataset.js';
import { matchesStatus, methodsParam, statusParam } from './filters.js';
import { headerOf, jsonResponse } from './http.js';
import type { ApiResponse } from './http.js';
import { choiceParam, integerParam, Query, textParam } from './params.js';
import type { ParamDef } from './params.js';
import { parseRange, rangeParams } from './range.js';
import { readsHistory } from './route.js';
import type { Route, RouteInput, RouteOutput } from './route.js';
import type { EndpointListJson } from './schemas.js';
import { hasDetail, rangeJson, rowStats } from './stats.js';
import { CONSUMER_PARAM, consumerFilter, consumerOnEndpoint } from './consumers.js';

export const DEFAULT_LIMIT = 100;
/** Larger limits are lowered to this, not refused. */
export const MAX_LIMIT = 1000;
const MAX_SEARCH = 200;

const PARAMS: readonly ParamDef[] = [
  {
    name: 'limit',
    description: `Endpoints per page (default ${DEFAULT_LIMIT}; larger values are capped at ${MAX_LIMIT}).`,
    schema: { type: 'integer', minimum: 1, default: DEFAULT_LIMIT },
  },
  { name: 'offset', description: 'Endpoints to skip.', schema: { type: 'integer', minimum: 0, default: 0 } },
  {
    name: 'order_by',
    description:
      'Column to sort by, `-` in front for descending (default -count). Endpoints without a value come last.',
    schema: { type: 'string', enum: ORDER_KEYS.flatMap((k) => [k, `-${k}`]), default: '-count' },
  },
  {
    name: 'method',
    description: 'Only these methods, comma-separated (GET,POST); unknown methods are recorded as _OTHER.',
    schema: { type: 'string' },
  },
  {
    name: 'status',
    description:
      'Only endpoints that answered one of these status codes or classes in the range, comma-separated (404,5xx).',
    schema: { type: 'string' },
  },
  {
    name: 'search',
    description: `Only route templates containing this text (case-insensitive, at most ${MAX_SEARCH} characters).`,
    schema: { type: 'string', maxLength: MAX_SEARCH },
  },
  {
    name: 'format',
    description: 'json (default) or csv; `Accept: text/csv` also asks for CSV.',
    schema: { type: 'string', enum: ['json', 'csv'] },
  },
  APDEX_PARAM,
  CONSUMER_PARAM,
  ...rangeParams('1h'),
];

function wantsCsv(input: RouteInput, query: Query): boolean {
  const format = choiceParam(query, 'format', ['json', 'csv'], 'json');
  if (query.has('format')) return format === 'csv';
  return /\btext\/csv\b/i.test(headerOf(input.request, 'accept') ?? '');
}

function csvResponse(page: EndpointListJson, detailed: boolean): ApiResponse {
  const columns = columnsFor(detailed);
  const body = toCsv(
    columns.map((c) => c.name),
    page.endpoints.map((s) => columns.map((c) => c.get(s))),
  );
  return {
    status: 200,
    headers: {
      'content-type': CSV_TYPE,
      'content-disposition': 'attachment; filename="apimeter-endpoints.csv"',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-total-count': String(page.total_entries),
    },
    body,
  };
}

/** `GET {prefix}/endpoints`: every endpoint's statistics over a range, filtered, sorted and paginated. */
export const listEndpoints: Route = {
  params: PARAMS,
  async run(input: RouteInput): Promise<RouteOutput> {
    const { opts } = input;
    const query = Query.parse(input.search, PARAMS);
    const limit = integerParam(query, 'limit', DEFAULT_LIMIT, { min: 1, max: MAX_LIMIT, cap: true });
    const offset = integerParam(query, 'offset', 0, { min: 0 });
    const order = orderParam(query, '-count');
    const methods = methodsParam(query);
    const statuses = statusParam(query);
    const search = textParam(query, 'search', MAX_SEARCH)?.toLowerCase();
    const csv = wantsCsv(input, query);
    const apdexT = apdexTargets(opts, query);
    const spec = parseRange(query, opts.meter.clock.now(), '1h');

    const byConsumer = await consumerFilter(opts, query, spec);
    const data = await collect(opts, spec);
    const rows = data.rows.filter(
      (r) =>
        (byConsumer === undefined || byConsumer.of(r) !== undefined) &&
        (methods === undefined || methods.includes(r.method)) &&
        (search === undefined || r.route.toLowerCase().includes(search)) &&
        (statuses === undefined || matchesStatus(r.tally, statuses)),
    );
    const detailed = hasDetail(opts.meter.detailed, data.rows);
    const sorted = sortStats(
      rows.map((r) => {
        const stats = rowStats(r, data, apdexT, detailed);
        const cell = byConsumer?.of(r);
        return cell === undefined ? stats : { ...stats, consumer: consumerOnEndpoint(byConsumer!, cell[0], cell[1]) };
      }),
      order,
    );
    const page: EndpointListJson = {
      endpoints: sorted.slice(offset, offset + limit),
      total_entries: sorted.length,
      limit,
      offset,
      order_by: order.text,
      range: rangeJson(data),
    };
    const cacheable = readsHistory(data);
    return { response: csv ? csvResponse(page, detailed) : jsonResponse(200, page), cacheable };
  },
};
