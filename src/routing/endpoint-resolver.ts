/**
 * From a request to its endpoint handle, the same way for the node adapter and the proxy: the route
 * matcher's operations first (declared routes), then the normalizer's templates, else the unmatched
 * endpoint. Handles are cached per template, in arrays indexed by operation and by normalizer
 * template: the per-request work is the match itself and one small lookup by method.
 */
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import type { Normalizer } from './normalizer.js';
import type { RouteMatcher } from './openapi-matcher.js';

/**
 * The endpoint handles of one route template, one per request method, resolved on first use (a route
 * registered for GET also answers HEAD; `all()` routes answer every method). Null: excluded.
 * `declared`: the template comes from a route table or API document (see {@link Meter.endpoint}).
 */
export class RouteEndpoints {
  private readonly byMethod: Record<string, EndpointStats | null> = Object.create(null) as Record<
    string,
    EndpointStats | null
  >;

  constructor(
    readonly meter: Meter,
    readonly template: string,
    readonly declared = false,
  ) {}

  get(method: string): EndpointStats | null {
    let ep = this.byMethod[method];
    if (ep === undefined) ep = this.byMethod[method] = this.meter.endpoint(method, this.template, this.declared);
    return ep;
  }
}

/**
 * Resolves requests to endpoints through a matcher and/or a normalizer. Every operation the matcher
 * declares gets its endpoint at construction: however many templates the normalizer invents later
 * (a scanner's random paths), declared routes keep their own endpoints and only invented ones compete
 * for the rest of the cardinality cap.
 *
 * @example
 * const resolver = new EndpointResolver(meter, RouteMatcher.fromRoutes(['GET /dags/{dag_id}']), new Normalizer());
 * resolver.resolve('GET', '/dags/etl?x=1'); // GET /dags/{dag_id}
 */
export class EndpointResolver {
  private readonly byOperation: RouteEndpoints[];
  private readonly byTemplate: (RouteEndpoints | undefined)[] = [];

  constructor(
    readonly meter: Meter,
    readonly matcher: RouteMatcher | null,
    readonly normalizer: Normalizer | null,
  ) {
    this.byOperation =
      matcher === null
        ? []
        : matcher.routes.map((op) => {
            const eps = new RouteEndpoints(meter, op.template, true);
            // Reserved now and listed in the inventory; any-method routes (and HEAD on GET) get their
            // endpoints on first use.
            const meta = { operationId: op.operationId, deprecated: op.deprecated, source: matcher.origin };
            meter.declare(op.method, op.template, meta);
            if (op.method !== '*') eps.get(op.method);
            return eps;
          });
  }

  /** The endpoint of a request (`target` is the raw path and query), or null when it is excluded. */
  resolve(method: string, target: string): EndpointStats | null {
    const op = this.matcher === null ? null : this.matcher.lookup(method, target);
    if (op !== null) return this.byOperation[op.index].get(method);
    if (this.normalizer !== null) {
      const i = this.normalizer.templateIndex(target);
      if (i !== -1) {
        return (this.byTemplate[i] ??= new RouteEndpoints(this.meter, this.normalizer.templateAt(i))).get(method);
      }
    }
    return this.meter.unmatched(method, target);
  }
}
