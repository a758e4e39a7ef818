import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { requestContext } from '../core/detail/context.js';
import { isValidationError } from '../core/outcome.js';
import type { ValidationTest } from '../core/outcome.js';
import { EndpointResolver } from '../routing/endpoint-resolver.js';
import { Normalizer } from '../routing/normalizer.js';
import type { NormalizerOptions } from '../routing/normalizer.js';
import { loadOpenApiDocument, RouteMatcher } from '../routing/openapi-matcher.js';
import type { MatcherOptions, OpenApiDocument } from '../routing/openapi-matcher.js';
import { NodeTracker } from './node-tracker.js';
import { useConsumerFunction } from '../core/consumers.js';
import type { NodeCall } from './node-tracker.js';

export interface ApimeterNodeOptions {
  meter: Meter;
  /** The consumer of a request (`metrics_consumers`, docs/consumers.md): `(req) => id`. */
  consumer?: (req: IncomingMessage) => unknown;
  /** Route table: `'GET /dags/{dag_id}'`, `'/health'` (any method); `:name` is accepted for `{name}`. */
  routes?: Iterable<string>;
  /** An OpenAPI 3.x document, or the path of a YAML/JSON file holding one. */
  openapi?: OpenApiDocument | string;
  /** A matcher built beforehand (RouteMatcher.fromRoutes / fromDocument / fromFile). */
  matcher?: RouteMatcher;
  /** Options for the matcher built from `routes` or `openapi` (multi-segment parameters, trailing slash). */
  matcherOptions?: MatcherOptions;
  /**
   * Heuristic templates for paths no route matches (`/users/42` → `/users/{id}`): true, options, or a
   * Normalizer. Off by default: unmatched paths share the `__unmatched__` endpoint.
   */
  normalize?: boolean | NormalizerOptions | Normalizer;
  /** Which errors count as validation failures (default {@link isValidationError}). */
  isValidationError?: ValidationTest;
  /**
   * Called when the handler throws or its promise rejects, after the error is recorded. Default: answer
   * 500 when nothing was sent yet (else destroy the response) and log the error with console.error.
   */
  onError?: (error: unknown, req: IncomingMessage, res: ServerResponse) => void;
}

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

function buildMatcher(options: ApimeterNodeOptions): RouteMatcher | null {
  if (options.matcher !== undefined) return options.matcher;
  if (options.openapi !== undefined) {
    const doc = typeof options.openapi === 'string' ? loadOpenApiDocument(options.openapi) : options.openapi;
    return RouteMatcher.fromDocument(doc, options.matcherOptions);
  }
  if (options.routes !== undefined) return RouteMatcher.fromRoutes(options.routes, options.matcherOptions);
  return null;
}

function buildNormalizer(options: ApimeterNodeOptions, meter: Meter): Normalizer | null {
  const n = options.normalize;
  if (n === undefined || n === false) return null;
  if (n instanceof Normalizer) return n;
  return new Normalizer({ maxTemplates: meter.config.metricsMaxEndpoints, ...(n === true ? {} : n) });
}

function defaultOnError(error: unknown, _req: IncomingMessage, res: ServerResponse): void {
  console.error(error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = 500;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end('Internal Server Error');
}

/**
 * Wraps a plain `node:http` request handler. Templates come from a route table, an OpenAPI document or
 * a matcher you give; with `normalize`, paths none of them match get heuristic templates; otherwise
 * they share the unmatched endpoint. The route is resolved when the request arrives (in-flight gauge
 * included) and recorded when the response closes: status, duration, body sizes (streamed and chunked
 * ones counted byte for byte), the error the handler threw, and client aborts as 499.
 *
 * @example
 * const meter = createMeter();
 * const handler = apimeter(myHandler, { meter, routes: ['GET /dags/{dag_id}', 'POST /dags'] });
 * http.createServer(handler).listen(8080);
 */
export function apimeter(handler: NodeHandler, options: ApimeterNodeOptions): NodeHandler {
  const { meter } = options;
  if (!meter) throw new TypeError('apimeter/node: the `meter` option is required (createMeter() from "apimeter")');
  const resolver = new EndpointResolver(meter, buildMatcher(options), buildNormalizer(options, meter));
  const onError = options.onError ?? defaultOnError;
  const tracker = new NodeTracker(meter, options.isValidationError ?? isValidationError, null);
  useConsumerFunction(meter, options.consumer, 'apimeter/node');

  function fail(call: NodeCall, req: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (call.error === undefined) call.error = error;
    if (res.headersSent) call.failed = true;
    try {
      onError(error, req, res);
    } catch {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      } else res.destroy();
    }
  }

  return function apimeterNode(req: IncomingMessage, res: ServerResponse): unknown {
    let ep: EndpointStats | null = null;
    try {
      ep = resolver.resolve(req.method ?? 'GET', req.url ?? '/');
    } catch {
      // A failure to find the route never fails the request.
    }
    if (ep === null) return handler(req, res);
    const call = tracker.start(req, res);
    call.ep = ep;
    call.begun = true;
    meter.begin(ep);
    let result: unknown;
    try {
      // Detailed mode: the handler runs inside the request context (queries, auth, trace).
      result = call.ctx === null ? handler(req, res) : requestContext.run(call.ctx, handler, req, res);
    } catch (err) {
      fail(call, req, res, err);
      return undefined;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then(undefined, (err: unknown) => fail(call, req, res, err));
    }
    return result;
  };
}

export { recordError } from './node-tracker.js';
export default apimeter;
