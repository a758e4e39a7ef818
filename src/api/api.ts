import {
  negotiateFormat,
  OPENMETRICS_CONTENT_TYPE,
  preparePrometheus,
  PROTOBUF_CONTENT_TYPE,
  renderPrometheus,
  renderPrometheusProtobuf,
  TEXT_CONTENT_TYPE,
} from '../exporters/prometheus.js';
import { CHALLENGE, createAccessCheck } from './auth.js';
import { AnswerCache } from './cache.js';
import { endpointDetail } from './endpoint-detail.js';
import { health } from './health.js';
import { ApiProblem, badParameter, headerOf, jsonResponse, problemResponse } from './http.js';
import type { ApiRequest, ApiResponse } from './http.js';
import { listEndpoints } from './list-endpoints.js';
import { openApiDocument } from './openapi.js';
import { resolveOptions } from './options.js';
import type { MetricsApiOptions, ResolvedOptions } from './options.js';
import { ProcessMonitor } from './process-monitor.js';
import type { Route } from './route.js';
import { summary } from './summary.js';
import { listAlerts, listRules } from './alerts.js';
import { listSlos, sloDetail } from './slo.js';
import { createUi } from './ui.js';
import { inventory } from './inventory.js';
import { trackUndocumented } from '../routing/undocumented.js';
import { consumerDetail, listConsumers } from './consumers.js';

export interface MetricsApi {
  /** The options in effect (defaults filled from the meter's configuration). */
  readonly options: ResolvedOptions;
  /** Answers one request. Never rejects: failures become a JSON error answer. */
  handle(request: ApiRequest): Promise<ApiResponse>;
  /** True when `url` (path, with or without query) belongs to this API: under the prefix, or the Prometheus path. */
  owns(url: string): boolean;
  /** The OpenAPI 3.1 document of this API. */
  openApi(): Record<string, unknown>;
  /** Stops the /health process monitor's timer. The API still answers afterwards. */
  close(): void;
}

const MAX_PATH = 2048;
const MAX_CACHE_BYTES = 32 * 1024 * 1024;
const ROUTE_NAMES = [
  'endpoints',
  'endpoints/{endpoint}',
  'summary',
  'health',
  'openapi.json',
  'alerts',
  'alerts/rules',
  'slo',
  'slo/{name}',
  'inventory',
  'consumers',
  'consumers/{id}',
];

type Target =
  | { kind: 'route'; name: string; route: Route; endpoint?: string }
  | { kind: 'openapi' }
  | { kind: 'prometheus' }
  | { kind: 'unknown'; path: string; underPrefix: boolean };

function splitUrl(url: string): [string, string] {
  const q = url.indexOf('?');
  return q === -1 ? [url, ''] : [url.slice(0, q), url.slice(q + 1)];
}

function decodeEndpoint(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badParameter('endpoint', 'is not valid URL encoding; encode the route template with encodeURIComponent');
  }
}

/**
 * The metrics REST API as one framework-free handler: give it a request (method, path with query,
 * headers), get back status, headers and body. Mount it with the Fastify plugin (`apimeterApi`),
 * `createNodeHandler` for node:http / Express, or call `handle` from anything else.
 *
 * @example
 * const api = createMetricsApi({ meter, token: process.env.METRICS_TOKEN });
 * http.createServer(createNodeHandler(api)).listen(9464);
 */
export function createMetricsApi(options: MetricsApiOptions): MetricsApi {
  const opts = resolveOptions(options);
  const { meter, prefix } = opts;
  const access = createAccessCheck(opts);
  const monitor = new ProcessMonitor();
  const ui = createUi(opts, access);
  // The inventory's undocumented candidates: unmatched requests grouped by template from now on.
  trackUndocumented(meter);
  // The legacy preset's duration histogram by status_code reads per-status sketches: kept from now on.
  preparePrometheus(meter, opts);
  const cache = new AnswerCache<{ response: ApiResponse; size: number; at: number }>(
    opts.cacheMs,
    opts.cacheEntries,
    MAX_CACHE_BYTES,
    () => meter.clock.now(),
  );
  const cacheControl = `private, max-age=${Math.floor(opts.cacheMs / 1000)}`;
  let openApi: Record<string, unknown> | undefined;
  const document = () => (openApi ??= openApiDocument(opts));

  function target(path: string): Target {
    if (opts.prometheusPath !== '' && path === opts.prometheusPath) return { kind: 'prometheus' };
    let sub = path === prefix ? '' : path.startsWith(prefix + '/') ? path.slice(prefix.length + 1) : null;
    if (sub === null) return { kind: 'unknown', path, underPrefix: false };
    if (sub.endsWith('/')) sub = sub.slice(0, -1);
    if (sub === 'endpoints') return { kind: 'route', name: sub, route: listEndpoints };
    if (sub.startsWith('endpoints/')) {
      return { kind: 'route', name: 'endpoint', route: endpointDetail, endpoint: sub.slice('endpoints/'.length) };
    }
    if (sub === 'consumers') return { kind: 'route', name: sub, route: listConsumers };
    if (sub.startsWith('consumers/')) {
      return { kind: 'route', name: 'consumer', route: consumerDetail, endpoint: sub.slice('consumers/'.length) };
    }
    if (sub === 'summary') return { kind: 'route', name: sub, route: summary };
    if (sub === 'inventory') return { kind: 'route', name: sub, route: inventory };
    if (sub === 'health') return { kind: 'route', name: sub, route: health };
    if (sub === 'openapi.json') return { kind: 'openapi' };
    if (sub === 'alerts') return { kind: 'route', name: sub, route: listAlerts };
    if (sub === 'alerts/rules') return { kind: 'route', name: sub, route: listRules };
    if (sub === 'slo') return { kind: 'route', name: sub, route: listSlos };
    if (sub.startsWith('slo/'))
      return { kind: 'route', name: 'slo', route: sloDetail, endpoint: sub.slice('slo/'.length) };
    return { kind: 'unknown', path, underPrefix: true };
  }

  function prometheus(request: ApiRequest): ApiResponse {
    const format = negotiateFormat(headerOf(request, 'accept'));
    const names = {
      naming: opts.naming,
      statusLabel: opts.statusLabel,
      routeFormat: opts.routeFormat,
      durationBuckets: opts.durationBuckets,
      legacy: opts.legacy,
    };
    if (format === 'protobuf') {
      const bytes = renderPrometheusProtobuf(meter, names);
      return {
        status: 200,
        headers: { 'content-type': PROTOBUF_CONTENT_TYPE, 'cache-control': 'no-store' },
        body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      };
    }
    return {
      status: 200,
      headers: {
        'content-type': format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE,
        'cache-control': 'no-store',
      },
      body: renderPrometheus(meter, { format, ...names }),
    };
  }

  /** Throws the 401/403 unless the request may read the API. */
  async function checkAccess(request: ApiRequest): Promise<void> {
    const decision = await access(request);
    if (decision === 401) {
      throw new ApiProblem(401, 'credentials required: send "Authorization: Bearer <token>"', { headers: CHALLENGE });
    }
    if (decision === 403) throw new ApiProblem(403, 'the credentials given are not valid for the metrics API');
    if (decision === 'unconfigured') {
      throw new ApiProblem(
        401,
        'the metrics API is protected and no credentials are configured: set [api] metrics_api_token ' +
          '(or APIMETER__API__METRICS_API_TOKEN), or pass an authorize() function',
        { headers: CHALLENGE },
      );
    }
  }

  async function answer(request: ApiRequest): Promise<ApiResponse> {
    const [path, search] = splitUrl(request.url);
    // The web page ({prefix}/ui) does its own access check: its login page is open.
    if (ui.owns(path)) return ui.answer(request, path);
    const to: Target = path.length > MAX_PATH ? { kind: 'unknown', path, underPrefix: false } : target(path);
    // Access first, for every path and method (but an open Prometheus path): without credentials a client
    // learns nothing, not even which routes exist.
    if (!(to.kind === 'prometheus' && opts.openPrometheus)) await checkAccess(request);
    if (path.length > MAX_PATH) throw new ApiProblem(404, `path of ${path.length} characters: no such route`);
    if (to.kind === 'unknown') {
      const routes = ROUTE_NAMES.map((r) => `${prefix}/${r}`);
      if (opts.prometheusPath !== '') routes.push(opts.prometheusPath);
      throw new ApiProblem(
        404,
        `no metrics API route at ${JSON.stringify(to.path.slice(0, 200))}; routes: ${routes.join(', ')}`,
      );
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      throw new ApiProblem(405, `${request.method.slice(0, 20)} is not allowed; use GET`, {
        headers: { allow: 'GET, HEAD' },
      });
    }
    if (to.kind === 'prometheus') return prometheus(request);
    if (to.kind === 'openapi') return jsonResponse(200, document());

    const csv = /\btext\/csv\b/i.test(headerOf(request, 'accept') ?? '') ? 'csv' : '';
    const key = `${to.name}\0${to.endpoint ?? ''}\0${search}\0${csv}`;
    const hit = cache.enabled ? cache.get(key) : undefined;
    if (hit !== undefined) {
      // Age and max-age tell the client how old the reused answer is and how long it was meant to live.
      const age = String(Math.max(0, Math.floor((meter.clock.now() - hit.at) / 1000)));
      return { ...hit.response, headers: { ...hit.response.headers, age } };
    }
    const endpoint = to.endpoint === undefined ? undefined : decodeEndpoint(to.endpoint);
    const out = await to.route.run({ opts, request, search, endpoint, monitor });
    if (cache.enabled && out.cacheable && out.response.status === 200) {
      const size = typeof out.response.body === 'string' ? out.response.body.length * 2 : out.response.body.length;
      const response = { ...out.response, headers: { ...out.response.headers, 'cache-control': cacheControl } };
      cache.set(key, { response, size, at: meter.clock.now() });
      return response;
    }
    return out.response;
  }

  return {
    options: opts,
    async handle(request: ApiRequest): Promise<ApiResponse> {
      let response: ApiResponse;
      try {
        response = await answer(request);
      } catch (error) {
        if (error instanceof ApiProblem) response = problemResponse(error);
        else {
          opts.onError(error);
          response = problemResponse(new ApiProblem(500, 'internal error in the metrics API; see the server log'));
        }
      }
      if (request.method === 'HEAD') return { ...response, body: '' };
      return response;
    },
    owns(url: string): boolean {
      const to = target(splitUrl(url)[0]);
      return to.kind !== 'unknown' || to.underPrefix;
    },
    openApi: document,
    close(): void {
      monitor.stop();
    },
  };
}
