import type { EndpointStats } from '../core/endpoint.js';
import { exceptionList } from '../core/query.js';
import { Sketch } from '../core/sketch.js';
import { apdexFigures, apdexTOf } from '../core/apdex.js';
import { APDEX_PARAM, apdexCountsJson, apdexTargets } from './apdex.js';
import { collect, collectSeries } from './dataset.js';
import { detailJson } from './detail.js';
import { METHOD_CHOICES, methodOf } from './filters.js';
import { ApiProblem, badParameter, jsonResponse } from './http.js';
import { Query, shown } from './params.js';
import type { ParamDef } from './params.js';
import { parseRange, rangeParams } from './range.js';
import { readsHistory } from './route.js';
import type { Route, RouteInput, RouteOutput } from './route.js';
import type { EndpointDetailJson } from './schemas.js';
import { endpointStats, hasDetail, mergeRows, rangeJson, rowStats, seriesPoint } from './stats.js';
import { CONSUMER_PARAM, consumerFilter } from './consumers.js';
import { endpointConsumers } from './endpoint-consumers.js';

const PARAMS: readonly ParamDef[] = [
  {
    name: 'method',
    description: 'Only this method (default: every method of the route, merged).',
    schema: { type: 'string', enum: [...METHOD_CHOICES] },
  },
  APDEX_PARAM,
  CONSUMER_PARAM,
  ...rangeParams('1h'),
];

function exceptions(eps: readonly EndpointStats[]): EndpointDetailJson['exceptions'] {
  return exceptionList(eps).map((e) => ({
    class: e.class,
    count: e.count,
    last_message: e.lastMessage,
    last_at: e.lastAt,
  }));
}

/**
 * The `{endpoint}` segment: a route template (`/dags/{dag_id}`), or an endpoint as the API lists and
 * names it elsewhere, `METHOD route` (`GET /dags/{dag_id}`), which also selects the method.
 */
export function endpointTarget(segment: string, methodParam: string | undefined): { route: string; method?: string } {
  const space = segment.indexOf(' ');
  const named = space > 0 ? methodOf(segment.slice(0, space)) : undefined;
  const method = methodParam === undefined ? undefined : methodOf(methodParam);
  if (methodParam !== undefined && method === undefined) {
    throw badParameter('method', `${shown(methodParam)} is not a valid value`, METHOD_CHOICES);
  }
  // Only the upper-case spelling the API lists, so a route template containing a space stays a route.
  if (named === undefined || segment.slice(0, space) !== named || space === segment.length - 1) {
    return { route: segment, method };
  }
  if (method !== undefined && method !== named) {
    throw badParameter('method', `${method} contradicts the endpoint ${shown(segment)}; give one of them`);
  }
  return { route: segment.slice(space + 1), method: named };
}

function notFound(input: RouteInput, route: string, method: string | undefined, known: string[]): ApiProblem {
  const list = `GET ${input.opts.prefix}/endpoints lists the recorded ones`;
  if (method !== undefined && known.length > 0) {
    return new ApiProblem(
      404,
      `endpoint ${shown(route)} has no ${method} requests recorded (it has ${known.join(', ')}); ${list}`,
    );
  }
  return new ApiProblem(404, `no endpoint ${shown(route)} has been recorded; ${list}`);
}

/** `GET {prefix}/endpoints/{endpoint}`: one route template (all methods, or one), in detail. */
export const endpointDetail: Route = {
  params: PARAMS,
  async run(input: RouteInput): Promise<RouteOutput> {
    const { opts } = input;
    const query = Query.parse(input.search, PARAMS);
    const { route, method } = endpointTarget(input.endpoint ?? '', query.get('method'));
    const spec = parseRange(query, opts.meter.clock.now(), '1h');
    const known = opts.meter.registry
      .endpoints()
      .filter((ep) => ep.route === route)
      .map((ep) => ep.method);

    const byConsumer = await consumerFilter(opts, query, spec);
    const data = await collect(opts, spec, { route, method });
    if (data.rows.length === 0) throw notFound(input, route, method, known);
    const consumerPart = endpointConsumers(opts, data.rows, byConsumer);
    const rows = [...data.rows].sort((a, b) => (a.method < b.method ? -1 : a.method > b.method ? 1 : 0));
    const { tally, inflight, eps } = mergeRows(rows);
    let sizes: { request: Sketch; response: Sketch } | null = null;
    if (data.window === 'all' && eps.length > 0) {
      sizes = { request: new Sketch(eps[0].requestSize.layout), response: new Sketch(eps[0].responseSize.layout) };
      for (const ep of eps) {
        sizes.request.merge(ep.requestSize);
        sizes.response.merge(ep.responseSize);
      }
    }
    const series = await collectSeries(opts, spec, data, { route, method });
    const detailed = hasDetail(opts.meter.detailed, rows);
    const apdexT = apdexTargets(opts, query);
    // Methods merged: the strictest (smallest) of their Ts; by_method gives each its own.
    const t = Math.min(...rows.map((r) => apdexTOf(apdexT, r.method, r.route)));
    const { method: _m, ...merged } = endpointStats(
      rows[0].method,
      route,
      tally,
      data.seconds,
      inflight,
      sizes,
      t,
      detailed,
    );
    const body: EndpointDetailJson = {
      ...merged,
      method: method ?? null,
      methods: [...new Set([...known, ...rows.map((r) => r.method)])].sort(),
      by_method: rows.map((r) => rowStats(r, data, apdexT, detailed)),
      apdex_counts: apdexCountsJson(apdexFigures(tally.latency, t)),
      exceptions: exceptions(eps),
      ...(detailed ? { detail: detailJson(tally, eps) } : {}),
      ...consumerPart,
      series: {
        step_seconds: series.stepMs / 1000,
        points: series.points.map((p) => seriesPoint(p.start, p.tally, series.stepMs / 1000, t)),
      },
      range: rangeJson(data),
    };
    return { response: jsonResponse(200, body), cacheable: readsHistory(data) };
  },
};
