import { topConsumers } from '../core/consumers.js';
import type { Row } from './dataset.js';
import type { ResolvedOptions } from './options.js';
import { consumerOnEndpoint } from './consumers.js';
import type { ConsumerFilter } from './consumers.js';

/** How many top consumers an endpoint's detail lists. */
const SHOWN = 10;

/**
 * The consumer parts of `/endpoints/{endpoint}`: its top consumers (every method's table, merged by id;
 * the error bounds add up), and with the `consumer` filter that consumer's requests and errors on it.
 * Empty when consumers are off.
 */
export function endpointConsumers(
  opts: ResolvedOptions,
  rows: readonly Row[],
  filter: ConsumerFilter | undefined,
): {
  consumers?: { id: string; requests: number; error_bound: number }[];
  consumer?: ReturnType<typeof consumerOnEndpoint>;
} {
  const meter = opts.meter;
  if (meter.consumers === null) return {};
  const merged = new Map<string, { id: string; requests: number; error_bound: number }>();
  let requests = 0;
  let errors = 0;
  for (const r of rows) {
    for (const c of topConsumers(meter, `${r.method} ${r.route}`, meter.consumers.tracker.limits.endpointTop)) {
      const m = merged.get(c.id);
      if (m === undefined) merged.set(c.id, { id: c.id, requests: c.requests, error_bound: c.errorBound });
      else {
        m.requests += c.requests;
        m.error_bound += c.errorBound;
      }
    }
    const cell = filter?.of(r);
    if (cell !== undefined) {
      requests += cell[0];
      errors += cell[1];
    }
  }
  const consumers = [...merged.values()]
    .sort((a, b) => b.requests - a.requests || (a.id < b.id ? -1 : 1))
    .slice(0, SHOWN);
  return filter === undefined ? { consumers } : { consumers, consumer: consumerOnEndpoint(filter, requests, errors) };
}
