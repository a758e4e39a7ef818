import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { requestContext } from '../core/detail/context.js';
import type { RequestContext } from '../core/detail/context.js';
import { errorKindOf, isValidationError, parseContentLength, recordAborted, recordAnswer } from '../core/outcome.js';
import { ErrorKind } from '../core/record.js';
import type { ValidationTest } from '../core/outcome.js';
import { noteConsumer, useConsumerFunction } from '../core/consumers.js';
import { RouteEndpoints } from '../routing/endpoint-resolver.js';
import { honoTemplate } from '../routing/template-syntax.js';
import { NodeTracker } from './node-tracker.js';
import type { NodeCall } from './node-tracker.js';

export { honoTemplate };
// So an edge worker needs only this module (the package root also loads the Node-only exporters).
export { createMeter } from '../core/meter.js';

export interface ApimeterHonoOptions {
  meter: Meter;
  /** The consumer of a request (`metrics_consumers`, docs/consumers.md): `(c) => id`. */
  consumer?: (c: Context) => unknown;
  /** Which errors count as validation failures (default: `validation` property, `…ValidationError`, `ZodError`). */
  isValidationError?: ValidationTest;
  /**
   * The app (`new Hono()`): its routes (`app.routes`) are listed in the inventory, called or not. Without
   * it, Hono gives middleware no way to see the routes, and the inventory lists none.
   */
  app?: { routes: readonly RouterRoute[] };
}

/** Hono's record of a registered handler (`hono/route`'s matchedRoutes entries). */
interface RouterRoute {
  basePath: string;
  path: string;
  method: string;
  handler: unknown;
}

/** What @hono/node-server passes as `c.env`: the Node request and response behind the Web ones. */
interface NodeBindings {
  incoming: Parameters<NodeTracker['start']>[0];
  outgoing: Parameters<NodeTracker['start']>[1];
}

/** `app.use()` middleware are registered for every method on a path ending in `*`; routes are not. */
function isRoute(r: RouterRoute): boolean {
  return r.method !== 'ALL' || !r.path.endsWith('*');
}

function nodeBindings(env: unknown): NodeBindings | null {
  const e = env as Partial<NodeBindings> | undefined;
  const out = e?.outgoing as { on?: unknown; writeHead?: unknown } | undefined;
  return out !== undefined && typeof out.on === 'function' && typeof out.writeHead === 'function' && e!.incoming
    ? (e as NodeBindings)
    : null;
}

/** State of one request on runtimes other than Node (or Hono without @hono/node-server). */
class WebCall {
  done = false;
  responseBytes = 0;
  status = 0;
  error: unknown = undefined;
  /** Detailed mode: the request's context, and the response headers (rate-limit quota). */
  ctx: RequestContext | null = null;
  headers: Headers | null = null;
  /** The Hono context (the consumer function's argument) and its request headers. */
  c: Context | null = null;
  requestHeaders: Headers | undefined = undefined;

  constructor(
    readonly meter: Meter,
    readonly isValidation: ValidationTest,
    public ep: EndpointStats | null,
    public begun: boolean,
    readonly startedAt: number,
    readonly requestBytes: number,
  ) {}

  /** The client went away (the request's AbortSignal): recorded once, as aborted. */
  handleEvent(): void {
    if (this.done) return;
    this.done = true;
    if (this.begun && this.ep !== null) this.meter.end(this.ep);
    if (this.ep !== null) {
      const duration = performance.now() - this.startedAt;
      recordAborted(this.meter, this.ep, duration, this.requestBytes, this.ctx, this.error);
      noteConsumer(this.meter, this.ep, null, this.c, this.requestHeaders, 499, duration, ErrorKind.Aborted);
    }
  }

  finish(responseBytes: number): void {
    if (this.done) return;
    this.done = true;
    if (this.begun && this.ep !== null) this.meter.end(this.ep);
    const ep = this.ep;
    if (ep === null) return;
    const duration = performance.now() - this.startedAt;
    const kind = errorKindOf(this.error, this.status, this.isValidation);
    const ctx = this.ctx;
    const headers = this.headers;
    const reader = ctx === null ? undefined : (n: string) => headers?.get(n);
    recordAnswer(
      this.meter,
      ep,
      this.status,
      duration,
      this.requestBytes,
      responseBytes,
      kind,
      this.error,
      undefined,
      ctx,
      reader,
    );
    noteConsumer(this.meter, ep, null, this.c, this.requestHeaders, this.status, duration, kind);
  }
}

/**
 * Hono middleware. Register it first (`app.use(apimeter({ meter }))`): routes are reported by their
 * registered path (base paths and `app.route()` prefixes included, `:param` written `{param}`),
 * resolved once per route; requests a middleware rejects are counted on the route they matched.
 *
 * On @hono/node-server, sizes and client aborts are read from the Node response it passes in `c.env`
 * (bytes counted as written, no extra stream). On other runtimes only Web APIs are used: sizes from
 * Content-Length or by counting a body without one, aborts from the request's AbortSignal.
 *
 * @example
 * const meter = createMeter();
 * const app = new Hono();
 * app.use(apimeter({ meter }));
 * app.get('/dags/:dag_id', (c) => c.json({ id: c.req.param('dag_id') }));
 */
export const apimeter = ({
  meter,
  isValidationError: isValidation = isValidationError,
  app,
  consumer,
}: ApimeterHonoOptions): MiddlewareHandler => {
  if (!meter) throw new TypeError('apimeter/hono: the `meter` option is required (createMeter() from "apimeter")');
  meter.routeSyntax = 'colon'; // OpenTelemetry's http.route in the framework's format (`/users/:id`)
  useConsumerFunction(meter, consumer, 'apimeter/hono');
  const byRoute = new WeakMap<RouterRoute, RouteEndpoints>();
  const byTemplate = new Map<string, RouteEndpoints>();
  // On Node the middleware does nothing after next(): the error and, for a request no route matched at
  // entry, the endpoint are read when the response closes (call.owner is the request's Context).
  const tracker = new NodeTracker(
    meter,
    isValidation,
    (call) => {
      const c = call.owner as Context;
      return lateEndpoint(c, matchedRoutes(c), c.req.method);
    },
    (call) => (call.owner as Context).error,
  );
  if (app !== undefined && meter.enabled) {
    // Read when the inventory is asked for: routes are added after the middleware.
    meter.declarations.addProvider(() => {
      for (const r of app.routes) {
        if (r.handler === middleware || !isRoute(r)) continue;
        const method = r.method === 'ALL' ? '*' : r.method.toUpperCase();
        meter.declare(method, honoTemplate(r.path), { source: 'hono' });
      }
    });
  }

  const endpointsOf = (r: RouterRoute): RouteEndpoints => {
    let eps = byRoute.get(r);
    if (eps === undefined) {
      const template = honoTemplate(r.path);
      eps = byTemplate.get(template);
      if (eps === undefined) byTemplate.set(template, (eps = new RouteEndpoints(meter, template)));
      byRoute.set(r, eps);
    }
    return eps;
  };

  /** For a request no route matched at entry: a catch-all that answered it, or the unmatched endpoint. */
  const lateEndpoint = (c: Context, routes: RouterRoute[] | null, method: string): EndpointStats | null => {
    const responder = routes?.[c.req.routeIndex];
    if (responder !== undefined && responder.handler !== middleware && c.res.status !== 404) {
      return endpointsOf(responder).get(method);
    }
    return meter.unmatched(method, c.req.path);
  };

  // Not an async function: on Node it returns next()'s promise as is (an async wrapper costs a promise
  // and a resumption per request); the Web path below is its own async function.
  const middleware = function apimeter(c: Context, next: () => Promise<void>): Promise<void> {
    if (!meter.enabled) return next();
    const startedAt = performance.now();
    const method = c.req.method;
    let routes: RouterRoute[] | null = null;
    let matched = false;
    let ep: EndpointStats | null = null;
    try {
      routes = matchedRoutes(c);
      for (const r of routes) {
        if (r.handler === middleware || !isRoute(r)) continue;
        ep = endpointsOf(r).get(method);
        matched = true;
        break;
      }
    } catch {
      // never fail a request
    }
    if (matched && ep === null) return next(); // excluded route
    if (ep !== null) meter.begin(ep);

    const node = nodeBindings(c.env);
    if (node !== null) {
      let call: NodeCall | null = null;
      try {
        call = tracker.start(node.incoming, node.outgoing);
        call.owner = c;
        call.consumerRequest = c;
        // A request no route matched gets its endpoint when it is over (a catch-all, or unmatched).
        call.ep = matched ? ep : null;
        call.begun = ep !== null;
      } catch {
        if (ep !== null) meter.end(ep);
      }
      // Detailed mode: the rest of the request runs inside its context (queries, auth, trace).
      return call?.ctx ? requestContext.run(call.ctx, next) : next();
    }
    return webPath(c, next, startedAt, method, routes, matched, ep);
  };

  /** Runtimes without @hono/node-server's bindings: Web APIs only. */
  const webPath = async (
    c: Context,
    next: () => Promise<void>,
    startedAt: number,
    method: string,
    routes: RouterRoute[] | null,
    matched: boolean,
    ep: EndpointStats | null,
  ): Promise<void> => {
    const call = new WebCall(
      meter,
      isValidation,
      ep,
      ep !== null,
      startedAt,
      parseContentLength(c.req.header('content-length') ?? (c.req.raw.body === null ? '0' : undefined)),
    );
    if (meter.detailed) call.ctx = meter.openContext((n) => c.req.header(n));
    if (meter.consumers !== null) {
      call.c = c;
      call.requestHeaders = c.req.raw.headers;
    }
    let signal: AbortSignal | null = null;
    try {
      signal = c.req.raw.signal;
      signal.addEventListener('abort', call, { once: true });
    } catch {
      signal = null;
    }
    try {
      if (call.ctx !== null) await requestContext.run(call.ctx, next);
      else await next();
    } finally {
      signal?.removeEventListener('abort', call);
    }
    if (call.done) return;
    try {
      if (!matched) call.ep = lateEndpoint(c, routes, method);
      const res = c.res;
      call.status = res.status;
      call.error = c.error;
      call.headers = res.headers;
      const declared = res.headers.get('content-length');
      // HEAD: Hono answers it with the GET route's headers and no body (`new Response(null, res)`), so
      // the body below is never read: the request ends here, with no bytes sent.
      if (method === 'HEAD') {
        call.finish(0);
        return;
      }
      if (declared !== null || res.body === null) {
        call.finish(declared === null ? 0 : parseContentLength(declared));
        return;
      }
      await sizeUnknownBody(c, res, res.body, call);
    } catch {
      call.finish(-1);
    }
  };
  return middleware;
};

/**
 * A response without Content-Length. Most are one chunk already in memory (`c.text()`, `c.json()`:
 * the runtime sends their length itself); a stream gives a first chunk and then waits. The first
 * read tells them apart: a body that ends at once is counted and handed back as the same bytes, so
 * the runtime still sends it sized (a counting stream would make Deno and workerd send it chunked);
 * a body that goes on is counted as the runtime reads it, and the request ends when the body does.
 */
async function sizeUnknownBody(
  c: Context,
  res: Response,
  body: ReadableStream<Uint8Array>,
  call: WebCall,
): Promise<void> {
  const reader = body.getReader();
  const first = await reader.read();
  if (first.done) {
    reader.releaseLock();
    call.finish(0);
    c.res = new Response(null, res);
    return;
  }
  const next = reader.read();
  const settled = await Promise.race([next, nextTurn()]);
  if (settled !== TURN && settled.done) {
    reader.releaseLock();
    call.finish(first.value.byteLength);
    c.res = new Response(first.value, res);
    return;
  }
  call.responseBytes = first.value.byteLength;
  c.res = new Response(countingBody(reader, call, first.value, next), res);
}

type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;
const TURN = Symbol('turn');
/** Resolves after the microtasks queued now have run (a body already in memory settles before). */
const nextTurn = (): Promise<typeof TURN> => new Promise((resolve) => setTimeout(() => resolve(TURN), 0));

function countingBody(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  call: WebCall,
  first: Uint8Array,
  pending: Promise<ReadResult>,
): ReadableStream<Uint8Array> {
  let head: Uint8Array | null = first;
  let waiting: Promise<ReadResult> | null = pending;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (head !== null) {
        controller.enqueue(head);
        head = null;
        return;
      }
      try {
        const { done, value } = await (waiting ?? reader.read());
        waiting = null;
        if (done) {
          controller.close();
          call.finish(call.responseBytes);
          return;
        }
        call.responseBytes += value.byteLength;
        controller.enqueue(value);
      } catch (err) {
        call.error ??= err;
        call.finish(call.responseBytes);
        controller.error(err);
      }
    },
    cancel(reason) {
      call.handleEvent();
      return reader.cancel(reason);
    },
  });
}

export default apimeter;
