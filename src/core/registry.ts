import { EndpointStats } from './endpoint.js';
import type { RingLayout } from './endpoint.js';
import { OTHER_METHOD } from './methods.js';
import { OVERFLOW_ROUTE, UNMATCHED_ROUTE } from './record.js';

/**
 * The endpoint table: one {@link EndpointStats} per (method, route template), at most `maxEndpoints`
 * of them. Past the cap every new pair shares the overflow endpoint, so a flood of distinct routes
 * costs a counter, not memory. The unmatched endpoints (one per method) and the overflow endpoint do
 * not count against the cap.
 */
export class Registry {
  private readonly byKey = new Map<string, EndpointStats>();
  private readonly all: EndpointStats[] = [];
  private capped = 0;
  /** Distinct (method, route) pairs refused by the cap. */
  overflowedEndpoints = 0;
  /** Records that landed in the overflow endpoint. */
  overflowedRecords = 0;

  constructor(
    readonly maxEndpoints: number,
    private readonly rings: RingLayout,
  ) {}

  /** Finds or creates the endpoint; past the cap, the overflow endpoint. */
  get(method: string, route: string): EndpointStats {
    const key = method + ' ' + route;
    const found = this.byKey.get(key);
    if (found !== undefined) return found;
    const special = route === UNMATCHED_ROUTE || route === OVERFLOW_ROUTE;
    if (!special && this.capped >= this.maxEndpoints) {
      this.overflowedEndpoints++;
      return this.overflow();
    }
    if (!special) this.capped++;
    const created = new EndpointStats(this.all.length, method, route, this.rings);
    this.byKey.set(key, created);
    this.all.push(created);
    return created;
  }

  /** The endpoint that absorbs everything past the cap (method `_OTHER`). */
  overflow(): EndpointStats {
    return this.get(OTHER_METHOD, OVERFLOW_ROUTE);
  }

  find(method: string, route: string): EndpointStats | undefined {
    return this.byKey.get(method + ' ' + route);
  }

  /** Every endpoint, in creation order. The array is live: do not modify it. */
  endpoints(): readonly EndpointStats[] {
    return this.all;
  }

  get size(): number {
    return this.all.length;
  }
}
