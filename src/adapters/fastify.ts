import { Transform, pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import type { DeclarationMeta } from '../core/declarations.js';
import { requestContext } from '../core/detail/context.js';
import type { HeaderReader, RequestContext } from '../core/detail/context.js';
import { errorKindOf, parseContentLength, recordAborted, recordAnswer } from '../core/outcome.js';
import { ErrorKind } from '../core/record.js';
import { noteConsumer, useConsumerFunction } from '../core/consumers.js';
import { fastifyTemplate } from '../routing/template-syntax.js';
import { createError } from '../errors.js';

// Re-exported: they used to live here and tests and users import them from apimeter/fastify.
export { fastifyTemplate, parseContentLength };

export interface ApimeterFastifyOptions {
  meter: Meter;
  /** The consumer of a request (`metrics_consumers`, docs/consumers.md): `(request) => id`. */
  consumer?: (request: FastifyRequest) => unknown;
}

/**
 * Per-request state lives in symbol-keyed properties of the raw request (`request.raw`), set only when
 * there is something to keep: a property stored in our own hooks is a few instructions, where every
 * Fastify request decorator is copied into each request by its constructor's loop, a megamorphic keyed
 * store per decorator (the plugin had seven; callgrind counted ~1,400 more instructions per request
 * in megamorphic keyed stores with it than without: docs/benchmarks.md).
 */
const kState = Symbol('apimeter.state');
const kEndpoint = Symbol('apimeter.endpoint');
const kMeter = Symbol('apimeter.meter');
const kError = Symbol('apimeter.error');
const kRequestBytes = Symbol('apimeter.requestBytes');
const kResponseBytes = Symbol('apimeter.responseBytes');
const kContext = Symbol('apimeter.context');
interface RawState {
  [kState]?: number;
  [kEndpoint]?: EndpointStats;
  [kMeter]?: Meter;
  [kError]?: FastifyError;
  [kRequestBytes]?: number;
  [kResponseBytes]?: number;
  [kContext]?: RequestContext;
}
const stateOf = (request: FastifyRequest): IncomingMessage & RawState => request.raw;

/** Decorates the instance the plugin is registered on, with its meter (children inherit it). */
const kRegistered = Symbol.for('apimeter.fastify');

/** No state yet (undefined): no route hook of ours ran. */
const STARTED = 1;
const DONE = 2;

/**
 * Client aborts. Fastify's onRequestAbort hook adds a 'close' listener (and a closure) to every
 * request; instead each keep-alive socket gets one listener for its whole life and one slot holding
 * its unfinished reply (a list only when pipelining puts a second one in flight). When the socket
 * closes, every reply still unfinished was aborted by the client.
 */
const kReply = Symbol('apimeter.reply');
const kMoreReplies = Symbol('apimeter.replies');
type TrackedSocket = Socket & { [kReply]?: FastifyReply | null; [kMoreReplies]?: FastifyReply[] };

function track(socket: TrackedSocket, reply: FastifyReply): void {
  const current = socket[kReply];
  if (current === undefined) {
    socket.once('close', onSocketClose);
    socket[kReply] = reply;
  } else if (current === null) socket[kReply] = reply;
  else (socket[kMoreReplies] ??= []).push(reply);
}

function untrack(request: FastifyRequest, reply: FastifyReply): void {
  const socket = request.raw.socket as TrackedSocket | null;
  if (socket === null) return;
  if (socket[kReply] === reply) {
    socket[kReply] = null;
    return;
  }
  const more = socket[kMoreReplies];
  if (more === undefined) return;
  const i = more.indexOf(reply);
  if (i !== -1) more.splice(i, 1);
}

function onSocketClose(this: TrackedSocket): void {
  const first = this[kReply];
  this[kReply] = null;
  if (first !== null && first !== undefined) recordAbort(first);
  const more = this[kMoreReplies];
  if (more !== undefined) for (const reply of more.splice(0)) recordAbort(reply);
}

function recordAbort(reply: FastifyReply): void {
  const request = reply.request;
  const state = stateOf(request);
  const ep = state[kEndpoint];
  if (ep === undefined || state[kState] !== STARTED) return;
  state[kState] = DONE;
  try {
    const meter = state[kMeter]!;
    meter.end(ep);
    recordAborted(meter, ep, reply.elapsedTime, requestBytes(request), state[kContext] ?? null, state[kError]);
    noteConsumer(meter, ep, null, request, request.raw.headers, 499, reply.elapsedTime, ErrorKind.Aborted);
  } catch {
    // never throw from a socket event
  }
}

/**
 * Unmatched requests. Fastify copies an instance's hooks into every route's context and into its
 * not-found contexts, so the plugin's one instance-level onResponse hook (which records 404s and
 * warns about routes declared before the plugin) would also run on every matched request. Instead it
 * takes itself out of a route's context on that route's first answer: from then on a matched request
 * runs only the route's own hooks, and the not-found contexts (default handler, custom and prefixed
 * ones, reply.callNotFound()) keep it. The context is Fastify's internal `Symbol(fastify.context)` on
 * the request; when it cannot be found the hook simply stays everywhere (the cost of a second hook).
 */
const UNMATCHED_HOOK = 'apimeterOnUnmatched';

function leaveRoute(request: FastifyRequest): void {
  if (!routeTrimming) return;
  const context = routeContextOf(request);
  const hooks = context?.onResponse;
  if (context === undefined || !Array.isArray(hooks)) return;
  const kept = (hooks as AnyHook[]).filter((h) => h.name !== UNMATCHED_HOOK && h.name !== `bound ${UNMATCHED_HOOK}`);
  if (kept.length !== hooks.length) context.onResponse = kept.length === 0 ? null : kept;
}

let routeTrimming = true;

/**
 * Tests only: `false` keeps the unmatched hook in every route (what happens when Fastify's internals
 * are not found), `true` restores the default. Affects plugins whose first request comes later.
 */
export function setFastifyRouteTrimming(enabled: boolean): void {
  routeTrimming = enabled;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'SEARCH', 'QUERY', 'PROPFIND']);

function requestBytes(request: FastifyRequest): number {
  const headers = request.raw.headers;
  const declared = headers['content-length'];
  if (declared !== undefined) return parseContentLength(declared);
  // No Content-Length and no chunked body means an empty body; chunked bodies are counted while read.
  return headers['transfer-encoding'] === undefined ? 0 : (stateOf(request)[kRequestBytes] ?? -1);
}

function responseBytes(request: FastifyRequest, reply: FastifyReply): number {
  // A HEAD answer carries the GET's Content-Length but no body.
  if (request.raw.method === 'HEAD') return 0;
  const declared = reply.getHeader('content-length');
  if (declared !== undefined) return parseContentLength(declared);
  return stateOf(request)[kResponseBytes] ?? -1;
}

/** Fastify marks schema failures with a `validation` array. */
function isFastifyValidation(error: unknown): boolean {
  return (error as FastifyError).validation !== undefined;
}

function recordResponse(meter: Meter, ep: EndpointStats, request: FastifyRequest, reply: FastifyReply): void {
  const state = stateOf(request);
  state[kState] = DONE;
  const error = state[kError];
  const status = reply.statusCode;
  const kind = errorKindOf(error, status, isFastifyValidation);
  let ctx: RequestContext | null = null;
  let reader: HeaderReader | undefined;
  if (meter.detailed) {
    // A request refused before our onRequest hook ran (by a hook of a plugin registered earlier) has
    // no context yet: its credentials and trace are read now.
    ctx = state[kContext] ?? meter.openContext(requestHeaders(request));
    reader = (name) => reply.getHeader(name);
  }
  const elapsed = reply.elapsedTime;
  recordAnswer(
    meter,
    ep,
    status,
    elapsed,
    requestBytes(request),
    responseBytes(request, reply),
    kind,
    error,
    undefined,
    ctx,
    reader,
  );
  noteConsumer(meter, ep, null, request, request.raw.headers, status, elapsed, kind);
}

function requestHeaders(request: FastifyRequest): HeaderReader {
  const headers = request.raw.headers;
  return (name) => headers[name];
}

function countingStream(request: FastifyRequest, field: typeof kRequestBytes | typeof kResponseBytes): Transform {
  const state = stateOf(request);
  state[field] = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      state[field]! += chunk.length;
      cb(null, chunk);
    },
  });
}

/** Streamed replies carry no Content-Length: their bytes are counted on the way out. */
function apimeterOnSend(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  next: (err: Error | null, payload: unknown) => void,
): void {
  const stream = payload as Readable | null;
  if (
    stream !== null &&
    typeof stream === 'object' &&
    typeof stream.pipe === 'function' &&
    !reply.hasHeader('content-length')
  ) {
    next(
      null,
      pipeline(stream, countingStream(request, kResponseBytes), () => {}),
    );
    return;
  }
  next(null, payload);
}

/** Fastify's route context on a request: `Symbol(fastify.context)`, found on the first request that needs it. */
let contextKey: symbol | null | undefined;

function routeContextOf(request: FastifyRequest): Record<string, unknown> | undefined {
  if (contextKey === undefined) {
    contextKey = Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ?? null;
  }
  if (contextKey === null) return undefined;
  return (request as unknown as Record<symbol, Record<string, unknown> | undefined>)[contextKey];
}

/**
 * Hooks for one route, closing over its endpoint (or, for a route with several methods, one endpoint
 * per method): nothing is looked up by string per request.
 */
function routeHooks(meter: Meter, single: EndpointStats | null, byMethod: Record<string, EndpointStats>) {
  return {
    onRequest: function apimeterOnRequest(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
      const ep = single ?? byMethod[request.raw.method!];
      if (ep !== undefined) {
        const state = stateOf(request);
        state[kState] = STARTED;
        state[kEndpoint] = ep;
        state[kMeter] = meter;
        meter.begin(ep);
        const socket = request.raw.socket as TrackedSocket | null;
        if (socket !== null) track(socket, reply);
      }
      done();
    },
    onResponse: function apimeterOnResponse(
      request: FastifyRequest,
      reply: FastifyReply,
      done: HookHandlerDoneFunction,
    ) {
      const ep = single ?? byMethod[request.raw.method!];
      const state = stateOf(request);
      if (ep !== undefined && state[kState] !== DONE) {
        if (state[kState] === STARTED) {
          meter.end(ep);
          untrack(request, reply);
        }
        try {
          recordResponse(meter, ep, request, reply);
        } catch {
          // Metrics never fail a request; record() does not throw, this guards header access.
        }
      }
      done();
    },
    onError: function apimeterOnError(
      request: FastifyRequest,
      _reply: FastifyReply,
      error: FastifyError,
      done: HookHandlerDoneFunction,
    ) {
      stateOf(request)[kError] = error;
      done();
    },
  };
}

type AnyHook = (...args: never[]) => void;

/**
 * What the inventory learns from a route: its schema's `deprecated` and `operationId` (as
 * @fastify/swagger reads them). Null for the HEAD route Fastify adds to a GET (same url and handler).
 */
function declarationOf(
  route: RouteOptions,
  template: string,
  getHandlers: Map<string, unknown>,
): DeclarationMeta | null {
  try {
    const method = route.method;
    if (method === 'GET' || (Array.isArray(method) && method.includes('GET'))) {
      if (getHandlers.size < 100_000) getHandlers.set(template, route.handler);
      // By template: a prefixed '/' route's HEAD twin is registered with a trailing slash.
    } else if (method === 'HEAD' && getHandlers.get(template) === route.handler) return null;
    const schema = route.schema as { deprecated?: unknown; operationId?: unknown } | undefined;
    return {
      source: 'fastify',
      deprecated: schema?.deprecated === true,
      operationId: typeof schema?.operationId === 'string' ? schema.operationId : undefined,
    };
  } catch {
    return { source: 'fastify' };
  }
}

/** Adds our hook after the route's own ones (route options take a function or an array). */
function appendHook(route: RouteOptions, name: string, hook: AnyHook): void {
  const slots = route as unknown as Record<string, unknown>;
  const existing = slots[name];
  slots[name] = existing === undefined ? [hook] : Array.isArray(existing) ? [...existing, hook] : [existing, hook];
}

function apimeterFastify(fastify: FastifyInstance, options: ApimeterFastifyOptions, done: (err?: Error) => void): void {
  const { meter } = options;
  if (!meter) {
    done(new TypeError('apimeter/fastify: the `meter` option is required (createMeter() from "apimeter")'));
    return;
  }
  meter.routeSyntax = 'colon'; // OpenTelemetry's http.route in the framework's format (`/users/:id`)
  // A second registration where the first one's hooks already apply (the same scope or a child of it)
  // would count every request twice: with the same meter it does nothing, with another it is refused.
  if (fastify.hasDecorator(kRegistered)) {
    const first = (fastify as unknown as Record<symbol, Meter>)[kRegistered];
    if (first !== meter) {
      done(
        createError(
          'APIMETER_ERR_FASTIFY_REGISTERED',
          'apimeter/fastify is already registered in this scope with another meter; register it once, with one meter',
        ),
      );
      return;
    }
    process.emitWarning('apimeter/fastify is registered twice in one scope; the second registration does nothing', {
      code: 'APIMETER_FASTIFY_TWICE',
    });
    done();
    return;
  }
  fastify.decorate(kRegistered, meter);
  try {
    useConsumerFunction(meter, options.consumer, 'apimeter/fastify');
  } catch (error) {
    done(error as Error);
    return;
  }
  /** `METHOD url` of every route this plugin saw declared, and of each unmeasured route already reported. */
  const seen = new Set<string>();
  /**
   * A request on a route that has none of our hooks: declared before the plugin (Fastify announces only
   * later routes, and lists none). Reported once per route, on its first request.
   */
  const noteUnmeasured = (request: FastifyRequest): void => {
    const url = request.routeOptions.url;
    const method = request.raw.method ?? 'GET';
    if (url === undefined) return;
    const key = `${method} ${url}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (meter.endpoint(method, fastifyTemplate(url)) === null) return; // excluded: not measured on purpose
    process.emitWarning(
      `apimeter/fastify: ${method} ${url} is not measured: it was declared before the plugin was registered (register apimeter first)`,
      { code: 'APIMETER_FASTIFY_UNMEASURED_ROUTE' },
    );
  };

  if (meter.detailed) {
    // Detailed mode: every request runs in its context from the first hook on, so auth hooks, rate
    // limiters, handlers and database wrappers can report to it (register apimeter before them).
    fastify.addHook('onRequest', function apimeterContext(request, _reply, next) {
      let ctx: RequestContext;
      try {
        ctx = stateOf(request)[kContext] = meter.openContext(requestHeaders(request));
      } catch {
        next();
        return;
      }
      requestContext.run(ctx, next);
    });
  }

  /** The handler of each GET template: the HEAD route Fastify exposes for a GET shares it. */
  const getHandlers = new Map<string, unknown>();
  fastify.addHook('onRoute', function apimeterOnRoute(route: RouteOptions) {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) seen.add(`${method.toUpperCase()} ${route.url}`);
    const template = fastifyTemplate(route.url);
    const byMethod: Record<string, EndpointStats> = {};
    let single: EndpointStats | null = null;
    let hasBody = false;
    const meta = declarationOf(route, template, getHandlers);
    for (const method of methods) {
      // Declared (the inventory lists it from now on), except the HEAD route Fastify adds to each GET.
      const ep = meta === null ? meter.endpoint(method, template) : meter.declare(method, template, meta);
      if (ep === null) continue;
      byMethod[method.toUpperCase()] = ep;
      single = ep;
      if (BODY_METHODS.has(method.toUpperCase())) hasBody = true;
    }
    const count = Object.keys(byMethod).length;
    if (count === 0) return;
    if (count > 1) single = null;
    const hooks = routeHooks(meter, single, byMethod);
    // Streamed replies carry no Content-Length: count their bytes on the way out. (A 'pipe' listener on
    // every response instead measured no cheaper than this hook's runner: docs/benchmarks.md.)
    appendHook(route, 'onSend', apimeterOnSend);
    appendHook(route, 'onRequest', hooks.onRequest);
    appendHook(route, 'onResponse', hooks.onResponse);
    appendHook(route, 'onError', hooks.onError);
    if (hasBody) {
      // Chunked uploads carry no Content-Length: count their bytes as the body parser reads them.
      appendHook(
        route,
        'preParsing',
        function apimeterPreParsing(
          request: FastifyRequest,
          _reply: FastifyReply,
          payload: Readable,
          next: (err: Error | null, stream: Readable) => void,
        ) {
          const headers = request.raw.headers;
          if (headers['content-length'] !== undefined || headers['transfer-encoding'] === undefined) {
            next(null, payload);
            return;
          }
          next(
            null,
            pipeline(payload, countingStream(request, kRequestBytes), () => {}),
          );
        },
      );
    }
  });

  // Requests that matched no route (404s, bad URLs) share one endpoint per method, never their raw path.
  fastify.addHook('onResponse', function apimeterOnUnmatched(request, reply, next) {
    if (request.is404) {
      try {
        // A matched route that called reply.callNotFound() started on its own endpoint.
        const state = stateOf(request);
        const started = state[kEndpoint];
        if (started !== undefined && state[kState] === STARTED) {
          meter.end(started);
          untrack(request, reply);
        }
        const ep = meter.unmatched(request.raw.method ?? 'GET', request.raw.url);
        if (ep !== null) recordResponse(meter, ep, request, reply);
      } catch {
        // never fail a request
      }
    } else {
      try {
        // No route hook ran: a route declared before the plugin, or one refused before its hooks.
        const measured = stateOf(request)[kState] !== undefined;
        if (!measured) noteUnmeasured(request);
        // A route with several methods, declared before the plugin, keeps it to warn once per method.
        if (measured || !Array.isArray(request.routeOptions.method)) leaveRoute(request);
      } catch {
        // never fail a request
      }
    }
    next();
  });
  done();
}

/**
 * Fastify 5 plugin. Register it before your routes: it reads each route as it is added.
 *
 * @example
 * const meter = createMeter();
 * await app.register(apimeter, { meter });
 * app.get('/dags/:dag_id', handler); // recorded as GET /dags/{dag_id}
 */
export const apimeter = fp(apimeterFastify, { fastify: '5.x', name: 'apimeter' });
export default apimeter;

export { apimeterApi, apimeterFrameworkErrors } from './fastify-api.js';
export type { ApimeterApiFastifyOptions } from './fastify-api.js';
