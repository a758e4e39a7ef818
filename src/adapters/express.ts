import { IncomingMessage, ServerResponse } from 'node:http';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { requestContext } from '../core/detail/context.js';
import type { RequestContext } from '../core/detail/context.js';
import { isValidationError } from '../core/outcome.js';
import type { ValidationTest } from '../core/outcome.js';
import { RouteEndpoints } from '../routing/endpoint-resolver.js';
import { routeTemplate } from '../routing/express-paths.js';
import type { Dialect } from '../routing/express-paths.js';
import { tidyTemplate } from '../routing/template-syntax.js';
import {
  consumes,
  dialectOf,
  handles,
  innerStack,
  isMountedApp,
  layerMatch,
  mountsOf,
  stackOf,
} from './express-stack.js';
import type { ExpressApp, Layer, Mount, Route } from './express-stack.js';
import { callOf, countWritten, NodeTracker } from './node-tracker.js';
import { useConsumerFunction } from '../core/consumers.js';
import type { NodeCall } from './node-tracker.js';

type ExpressRequest = IncomingMessage & {
  res?: ServerResponse;
  app?: ExpressApp;
  baseUrl?: string;
  originalUrl?: string;
  route?: Route;
};

export interface ApimeterExpressOptions {
  meter: Meter;
  /** Which errors count as validation failures (default: `validation` property, `…ValidationError`, `ZodError`). */
  isValidationError?: ValidationTest;
  /**
   * The app the middleware is mounted on: its routes are in the inventory from start-up (without it,
   * from the app's first request).
   */
  app?: unknown;
  /** The consumer of a request (`metrics_consumers`, docs/consumers.md): `(req) => id`. */
  consumer?: (req: IncomingMessage) => unknown;
}

interface RouteInfo {
  /** One template per distinct way the route is mounted (usually one). */
  templates: string[];
  chains: Mount[][];
  /** Set when every mount gives the same template: no per-request work at all. */
  fixed: RouteEndpoints | null;
}

const MAX_DEPTH = 24;
/** A route with this many methods was declared with app.all() (node knows 30-odd methods). */
const ALL_METHODS = 20;

/**
 * One middleware instance: resolves Route objects to endpoints, once per Route (and mount, for a router
 * mounted at several paths).
 */
class ExpressAdapter {
  readonly tracker: NodeTracker;
  private readonly routes = new WeakMap<Route, RouteInfo>();
  private readonly byTemplate = new Map<string, RouteEndpoints>();
  /** Sub-applications seen serving a request (their mount layers are opaque wrappers otherwise). */
  private readonly subApps = new Set<ExpressApp>();

  constructor(
    readonly meter: Meter,
    isValidation: ValidationTest,
  ) {
    this.tracker = new NodeTracker(meter, isValidation, (call, req) => this.late(call, req));
    this.tracker.owner = this;
  }

  /** A route was dispatched (`req.route` assigned by the router): measure the request on it from now. */
  routed(call: NodeCall, req: ExpressRequest, route: Route): void {
    const app = req.app;
    if (app !== undefined && app !== call.owner && app.parent !== undefined && this.subApps.size < 256) {
      this.subApps.add(app);
    }
    const eps = this.endpointsOf(route, call.owner as ExpressApp | null, req.baseUrl ?? '');
    this.tracker.setEndpoint(call, eps.get(call.method));
  }

  /** At the end of a request no route took: find the route it was headed for (auth 401, body-parser 400), else unmatched. */
  private late(call: NodeCall, req: ExpressRequest): EndpointStats | null {
    const root = call.owner as ExpressApp | null;
    const url = req.originalUrl ?? req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    // Without the route hook (an unusual request prototype), req.route is still set by the router.
    if (req.route !== undefined) {
      return this.endpointsOf(req.route, root, req.baseUrl ?? '').get(call.method);
    }
    const stack = root === null ? undefined : stackOf(root);
    if (stack !== undefined) {
      const found = this.walk(stack, path, call.method, root!, 0);
      if (found !== null) {
        const template = tidyTemplate(found.prefix + routeTemplate(found.route.path, dialectOf(stack)));
        return this.templateEndpoints(template).get(call.method);
      }
    }
    return this.meter.unmatched(call.method, path);
  }

  private endpointsOf(route: Route, root: ExpressApp | null, baseUrl: string): RouteEndpoints {
    let info = this.routes.get(route);
    if (info === undefined) {
      info = this.analyse(route, root);
      this.routes.set(route, info);
    }
    if (info.fixed !== null) return info.fixed;
    // A router mounted at several paths: the concrete base URL tells which mount this request came through.
    for (let i = 0; i < info.chains.length; i++) {
      if (consumes(info.chains[i], baseUrl)) return this.templateEndpoints(info.templates[i]);
    }
    return this.templateEndpoints(info.templates[0]);
  }

  private analyse(route: Route, root: ExpressApp | null): RouteInfo {
    const stack = root === null ? undefined : stackOf(root);
    const dialect = stack === undefined ? 5 : dialectOf(stack);
    const own = routeTemplate(route.path, dialect);
    const chains: Mount[][] = [];
    if (stack !== undefined) this.chainsTo(route, stack, root!, [], chains, 0);
    const templates = chains.map((chain) => tidyTemplate(chain.map((m) => m.template).join('') + own));
    if (templates.length === 0) templates.push(tidyTemplate(own)); // not found under the app: its own path
    const distinct = new Set(templates);
    return {
      templates,
      chains,
      fixed: distinct.size === 1 ? this.templateEndpoints(templates[0]) : null,
    };
  }

  /** Every chain of mount layers from `stack` down to the layer holding `route`. */
  private chainsTo(
    route: Route,
    stack: Layer[],
    app: ExpressApp,
    prefix: Mount[],
    out: Mount[][],
    depth: number,
  ): void {
    if (depth > MAX_DEPTH || out.length >= 32) return;
    for (const layer of stack) {
      if (layer.route !== undefined) {
        if (layer.route === route) out.push(prefix);
        continue;
      }
      const inner = innerStack(layer);
      const targets: [Layer[], ExpressApp][] = [];
      if (inner !== undefined) targets.push([inner, app]);
      else if (isMountedApp(layer)) {
        for (const sub of this.subApps) {
          const subStack = sub.parent === app ? stackOf(sub) : undefined;
          if (subStack !== undefined) targets.push([subStack, sub]);
        }
      }
      if (targets.length === 0) continue;
      // An array mount (`app.use(['/v1', '/v2'], r)`) is one mount per path: one template each.
      for (const mount of mountsOf(layer)) {
        for (const [s, a] of targets) this.chainsTo(route, s, a, [...prefix, mount], out, depth + 1);
      }
    }
  }

  /** Express's own matching, replayed for a request that reached no route: the route it would have reached. */
  private walk(
    stack: Layer[],
    path: string,
    method: string,
    app: ExpressApp,
    depth: number,
  ): { route: Route; prefix: string } | null {
    if (depth > MAX_DEPTH) return null;
    for (const layer of stack) {
      const route = layer.route;
      if (route !== undefined) {
        if (!handles(route, method)) continue;
        if (layerMatch(layer, path) !== null) return { route, prefix: '' };
        continue;
      }
      const inner = innerStack(layer);
      const subApp = inner === undefined && isMountedApp(layer);
      if (inner === undefined && !subApp) continue;
      const stacks: [Layer[], ExpressApp][] = [];
      if (inner !== undefined) stacks.push([inner, app]);
      else for (const sub of this.subApps) if (sub.parent === app && stackOf(sub)) stacks.push([stackOf(sub)!, sub]);
      for (const mount of mountsOf(layer)) {
        const matched = mount.match(path);
        if (matched < 0) continue;
        let rest = path.slice(matched);
        if (!rest.startsWith('/')) rest = '/' + rest;
        for (const [s, a] of stacks) {
          const found = this.walk(s, rest, method, a, depth + 1);
          if (found !== null) return { route: found.route, prefix: mount.template + found.prefix };
        }
      }
    }
    return null;
  }

  private readonly inventoried = new WeakSet<ExpressApp>();
  private lastApp: ExpressApp | null = null;

  /**
   * Lists `app`'s routes in the inventory whenever it is read (routes are usually added after the
   * middleware): once per app, from its first request or the `app` option.
   */
  inventory(app: ExpressApp): void {
    if (app === this.lastApp) return; // the per-request case: one comparison
    this.lastApp = app;
    if (this.inventoried.has(app)) return;
    this.inventoried.add(app);
    this.meter.declarations.addProvider(() => {
      const stack = stackOf(app);
      if (stack !== undefined) this.declareStack(stack, app, dialectOf(stack), '', 0);
    });
  }

  /** Declares every route under `stack`, with the templates {@link analyse} gives their requests. */
  private declareStack(stack: Layer[], app: ExpressApp, dialect: Dialect, prefix: string, depth: number): void {
    if (depth > MAX_DEPTH) return;
    for (const layer of stack) {
      const route = layer.route;
      if (route !== undefined) {
        const template = tidyTemplate(prefix + routeTemplate(route.path, dialect));
        const methods = (route as { methods?: Record<string, unknown> }).methods ?? {};
        const on = Object.keys(methods).filter((m) => methods[m] === true);
        // route.all() sets `_all`; app.all() sets every method node knows one by one: both are `*`.
        if (on.includes('_all') || on.length >= ALL_METHODS) this.meter.declare('*', template, { source: 'express' });
        else for (const m of on) this.meter.declare(m.toUpperCase(), template, { source: 'express' });
        continue;
      }
      const inner = innerStack(layer);
      const targets: [Layer[], ExpressApp][] = [];
      if (inner !== undefined) targets.push([inner, app]);
      else if (isMountedApp(layer)) {
        for (const sub of this.subApps) {
          const subStack = sub.parent === app ? stackOf(sub) : undefined;
          if (subStack !== undefined) targets.push([subStack, sub]);
        }
      }
      for (const mount of targets.length === 0 ? [] : mountsOf(layer)) {
        for (const [s, a] of targets) this.declareStack(s, a, dialect, prefix + mount.template, depth + 1);
      }
    }
  }

  private templateEndpoints(template: string): RouteEndpoints {
    let eps = this.byTemplate.get(template);
    if (eps === undefined) {
      eps = new RouteEndpoints(this.meter, template);
      // Templates come from the app's structure, so this map is as bounded as the app's routes.
      if (this.byTemplate.size < 10_000) this.byTemplate.set(template, eps);
    }
    return eps;
  }
}

// ---- hooks on Express's shared request and response prototypes ----

/** Set on a prototype that carries our hooks (true), or on one that cannot carry them (false). */
const kHooked = Symbol('apimeter.express.hooked');
/**
 * `req.route` of requests apimeter does not measure (measured ones keep it in their call): kept off the
 * request, as Express swaps its prototype, after which adding a property costs microseconds.
 */
const routes = new WeakMap<object, Route>();

/** The prototype Express's own methods live on: the last one before node's `base` in the chain. */
function expressPrototype(obj: object, base: object): object | null {
  let proto = Object.getPrototypeOf(obj) as object | null;
  while (proto !== null && Object.getPrototypeOf(proto) !== base) proto = Object.getPrototypeOf(proto) as object | null;
  return proto === null || proto === base ? null : proto;
}

/**
 * Installs, once per Express copy, an accessor for `req.route` on Express's shared request prototype —
 * Express assigns it when it dispatches a route, the moment the route (and the base URL of its mount)
 * is known — and write/end wrappers on its response prototype that count body bytes. Values and
 * writes pass through unchanged; requests apimeter does not measure only pay a WeakMap lookup.
 * Returns whether both hooks are in place (else the request is measured without them).
 */
function installHooks(req: ExpressRequest, res: ServerResponse): boolean {
  const reqProto = expressPrototype(req, IncomingMessage.prototype);
  const resProto = expressPrototype(res, ServerResponse.prototype);
  const usable =
    reqProto !== null &&
    resProto !== null &&
    typeof (reqProto as { get?: unknown }).get === 'function' &&
    typeof (resProto as { send?: unknown }).send === 'function' &&
    !Object.prototype.hasOwnProperty.call(reqProto, 'route') &&
    !Object.prototype.hasOwnProperty.call(resProto, 'write') &&
    !Object.prototype.hasOwnProperty.call(resProto, 'end');
  if (!usable) {
    // Marked so the check is not repeated for every request.
    const first = Object.getPrototypeOf(req) as object | null;
    if (first !== null && first !== IncomingMessage.prototype) mark(first, false);
    return false;
  }
  const write = ServerResponse.prototype.write as (...args: unknown[]) => boolean;
  const end = ServerResponse.prototype.end as (...args: unknown[]) => ServerResponse;
  Object.defineProperty(resProto, 'write', {
    configurable: true,
    writable: true,
    value: function write_(this: ServerResponse, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
      countWritten(this, chunk, encoding);
      return write.call(this, chunk, encoding, cb);
    },
  });
  Object.defineProperty(resProto, 'end', {
    configurable: true,
    writable: true,
    value: function end_(this: ServerResponse, chunk?: unknown, encoding?: unknown, cb?: unknown): ServerResponse {
      countWritten(this, chunk, encoding);
      return end.call(this, chunk, encoding, cb);
    },
  });
  Object.defineProperty(reqProto, 'route', {
    configurable: true,
    enumerable: false,
    get(this: ExpressRequest) {
      const res = this.res;
      const call = res === undefined ? undefined : callOf(res);
      return call !== undefined ? (call.route as Route | undefined) : routes.get(this);
    },
    set(this: ExpressRequest, route: Route) {
      const res = this.res;
      const call = res === undefined ? undefined : callOf(res);
      if (call === undefined) {
        // A request apimeter does not measure: keep the value for the getter, nothing else.
        if (route === null || typeof route !== 'object') routes.delete(this);
        else routes.set(this, route);
        return;
      }
      call.route = route;
      if (route === null || typeof route !== 'object' || call.done) return;
      if (!(call.tracker.owner instanceof ExpressAdapter)) return;
      try {
        call.tracker.owner.routed(call, this, route);
      } catch {
        // never fail a request
      }
    },
  });
  mark(reqProto, true);
  return true;
}

function mark(proto: object, hooked: boolean): void {
  Object.defineProperty(proto, kHooked, { value: hooked, configurable: true, enumerable: false });
}

/**
 * Express 4 and 5 middleware. Mount it first (`app.use(apimeter({ meter }))`), before auth, body
 * parsers and routers, so requests they reject are measured too. Routes are reported as templates:
 * mount paths of nested routers included (`/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}`), `:param`
 * written `{param}`, wildcards as `*`, RegExp routes as written, array routes joined with `|`.
 *
 * @example
 * const meter = createMeter();
 * app.use(apimeter({ meter }));            // first
 * app.use('/api/v2', apiRouter);
 * app.use(apimeterErrors());               // after the routes, before your error handler
 */
export const apimeter = ({
  meter,
  isValidationError: isValidation = isValidationError,
  app,
  consumer,
}: ApimeterExpressOptions) => {
  if (!meter) throw new TypeError('apimeter/express: the `meter` option is required (createMeter() from "apimeter")');
  meter.routeSyntax = 'colon'; // OpenTelemetry's http.route in the framework's format (`/users/:id`)
  useConsumerFunction(meter, consumer, 'apimeter/express');
  const adapter = new ExpressAdapter(meter, isValidation);
  if (app !== undefined && app !== null && meter.enabled) adapter.inventory(app);
  return function apimeter(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    let ctx: RequestContext | null = null;
    if (meter.enabled) {
      try {
        const r = req as ExpressRequest & { [kHooked]?: boolean };
        let hooked = r[kHooked];
        if (hooked === undefined) hooked = installHooks(r, res);
        const call = adapter.tracker.start(req, res, hooked);
        call.owner = r.app ?? null;
        if (r.app !== undefined) adapter.inventory(r.app);
        ctx = call.ctx;
      } catch {
        // never fail a request
      }
    }
    // Detailed mode: the rest of the middleware chain runs inside the request context.
    if (ctx === null) next();
    else requestContext.run(ctx, next);
  };
};

/**
 * Error middleware that notes the error for apimeter and passes it on. Mount it after your routes and
 * before your own error handler: errors are then counted as `exception` with their class (5xx) or as
 * `validation`. Without it, a 5xx is still counted, as `server_error`.
 */
export const apimeterErrors = () =>
  function apimeterErrors(err: unknown, _req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) {
    const call = callOf(res);
    if (call !== undefined && call.error === undefined) call.error = err;
    next(err);
  };

export { express4MountTemplate, express4Path, express5Path, regexpTemplate } from '../routing/express-paths.js';
export default apimeter;
