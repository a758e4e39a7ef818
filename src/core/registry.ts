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
 * Past the cap every new pair records into the overflow endpoint of its method, so a flood of distinct
 * routes costs a counter, not memory. The unmatched and overflow endpoints (one each per method) do
 * not count against the cap.
 *
 * Declared routes (a route table's or an OpenAPI document's operations) are never refused: a declared
 * handle holds its place in the cap from the moment it is created, so templates a normalizer invents
 * from raw paths only compete for what the declared routes leave.
 */
export class Registry {
  private readonly byKey = new Map<string, EndpointStats>();
  private readonly listed: EndpointStats[] = [];
  private capped = 0;
  /** Declared handles: listed on first record whatever the cap. */
  private readonly declared = new Set<EndpointStats>();
  /** Declared handles not listed yet: their places in the cap are kept for them. */
  private reserved = 0;
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
   * times the cap in unused handles, further new pairs get the overflow endpoint straight away — except
   * `declared` ones (bounded by the application's routes), which are always their own.
   */
  get(method: string, route: string, declared = false): EndpointStats {
    const key = method + ' ' + route;
    const found = this.byKey.get(key);
    if (found !== undefined) {
      if (declared) this.declare(found);
      return found;
    }
    const special = route === UNMATCHED_ROUTE || route === OVERFLOW_ROUTE;
    if (!special && !declared && this.byKey.size >= this.maxEndpoints * 4 + 16) {
      this.overflowedEndpoints++;
      return this.overflow(method);
    }
    const created = new EndpointStats(this.byKey.size, method, route, this.rings);
    this.byKey.set(key, created);
    if (special) this.list(created);
    else if (declared) this.declare(created);
    return created;
  }

  private declare(ep: EndpointStats): void {
    if (this.declared.has(ep) || ep.route === UNMATCHED_ROUTE || ep.route === OVERFLOW_ROUTE) return;
    this.declared.add(ep);
    // Refused earlier as an invented template: from now on it records as itself.
    ep.redirect = null;
    if (!ep.listed) this.reserved++;
  }

  /**
   * Called by the meter on an endpoint's first record: lists it, or, past the cap, points it at the
   * overflow endpoint for good. Returns the endpoint to record into.
   */
  activate(ep: EndpointStats): EndpointStats {
    if (ep.listed) return ep;
    if (ep.redirect !== null) return ep.redirect;
    if (this.declared.has(ep)) this.reserved--;
    else if (this.capped + this.reserved >= this.maxEndpoints) {
      this.overflowedEndpoints++;
      ep.redirect = this.overflow(ep.method);
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

  /** The endpoint that absorbs everything of `method` past the cap (`GET __overflow__`). */
  overflow(method: string = OTHER_METHOD): EndpointStats {
    return this.get(method, OVERFLOW_ROUTE);
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
