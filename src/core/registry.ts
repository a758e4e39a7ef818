import { EndpointStats } from './endpoint.js';
import type { RingLayout } from './endpoint.js';
import { OTHER_METHOD } from './methods.js';
import { OVERFLOW_ROUTE, UNMATCHED_ROUTE } from './record.js';

/**
 * The endpoint table: one {@link EndpointStats} per (method, route template).
 *
 * Adapters resolve an endpoint when a route is registered, but it only joins the table — and counts
 * against the cap of `maxEndpoints` — when its first request is recorded, so routes that are never
 * called (Fastify's automatic HEAD routes, admin routes) neither fill the cap nor clutter listings.
 * Past the cap every new pair records into the overflow endpoint, so a flood of distinct routes costs
 * a counter, not memory. The unmatched endpoints (one per method) and the overflow endpoint do not
 * count against the cap.
 */
export class Registry {
  private readonly byKey = new Map<string, EndpointStats>();
  private readonly listed: EndpointStats[] = [];
  private capped = 0;
  private overflowEndpoint: EndpointStats | null = null;
  /** Distinct (method, route) pairs refused by the cap. */
  overflowedEndpoints = 0;
  /** Records that landed in the overflow endpoint. */
  overflowedRecords = 0;

  constructor(
    readonly maxEndpoints: number,
    private readonly rings: RingLayout,
  ) {}

  /**
   * Finds or creates the endpoint handle. Handles are cheap until used; once the table holds four
   * times the cap in unused handles, further new pairs get the overflow endpoint straight away.
   */
  get(method: string, route: string): EndpointStats {
    const key = method + ' ' + route;
    const found = this.byKey.get(key);
    if (found !== undefined) return found;
    const special = route === UNMATCHED_ROUTE || route === OVERFLOW_ROUTE;
    if (!special && this.byKey.size >= this.maxEndpoints * 4 + 16) {
      this.overflowedEndpoints++;
      return this.overflow();
    }
    const created = new EndpointStats(this.byKey.size, method, route, this.rings);
    this.byKey.set(key, created);
    if (special) this.list(created);
    return created;
  }

  /**
   * Called by the meter on an endpoint's first record: lists it, or, past the cap, points it at the
   * overflow endpoint for good. Returns the endpoint to record into.
   */
  activate(ep: EndpointStats): EndpointStats {
    if (ep.listed) return ep;
    if (ep.redirect !== null) return ep.redirect;
    if (this.capped >= this.maxEndpoints) {
      this.overflowedEndpoints++;
      ep.redirect = this.overflow();
      return ep.redirect;
    }
    this.capped++;
    this.list(ep);
    return ep;
  }

  private list(ep: EndpointStats): void {
    ep.listed = true;
    this.listed.push(ep);
  }

  /** The endpoint that absorbs everything past the cap (method `_OTHER`). */
  overflow(): EndpointStats {
    return (this.overflowEndpoint ??= this.get(OTHER_METHOD, OVERFLOW_ROUTE));
  }

  /** A listed endpoint (one that has recorded at least once). */
  find(method: string, route: string): EndpointStats | undefined {
    const ep = this.byKey.get(method + ' ' + route);
    return ep !== undefined && ep.listed ? ep : undefined;
  }

  /** Endpoints that have recorded at least once, in order of first record. Live array: do not modify. */
  /** Sampled durations clamped into the latency sketch's end buckets, over every endpoint (EndpointStats.latencyClamped). */
  get latencyClamped(): number {
    let n = 0;
    for (const ep of this.endpoints()) n += ep.latencyClamped;
    return n;
  }

  endpoints(): readonly EndpointStats[] {
    return this.listed;
  }

  /** Endpoints listed (the unmatched and overflow endpoints included). */
  get size(): number {
    return this.listed.length;
  }
}
