import type { Sketch } from '../core/sketch.js';

/** OpenTelemetry's advice for `http.server.request.duration`, in seconds. */
export const DURATION_BOUNDS_SECONDS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/**
 * prom-client's default histogram buckets, in seconds: what fastify-metrics' `http_request_duration_seconds`
 * uses, and the `legacy` preset's default.
 */
export const PROM_CLIENT_DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** express-prom-bundle's default buckets, in seconds: the `legacy` preset's in its `express-prom-bundle` flavour. */
export const EXPRESS_PROM_BUNDLE_BUCKETS: readonly number[] = Object.freeze([0.003, 0.03, 0.1, 0.3, 1.5, 10]);

/** Body sizes: powers of 4 from 64 B to 16 MiB. They are edges of the size sketch, so the mapping is exact. */
export const SIZE_BOUNDS_BYTES: readonly number[] = Object.freeze(Array.from({ length: 10 }, (_, i) => 64 * 4 ** i));

/**
 * Cumulative bucket counts of a sketch at explicit bounds (`bounds[i] · unit` in the sketch's unit: 1000
 * for seconds over a millisecond sketch), for a Prometheus classic histogram.
 *
 * The rule: a sketch bucket counts toward `le = B` when its upper edge is ≤ B. The sketch bucket that
 * straddles B therefore goes to the next bound, so a count at `le = B` includes every value ≤ B/b and
 * never a value above B (b = 2^(2^−scale): 1.09 % at the latency sketch's scale 6). Zero values count
 * everywhere; the `+Inf` bucket is the sketch's count, so the buckets are monotone and end at `_count`.
 */
export function cumulativeBuckets(sketch: Sketch, bounds: readonly number[], unit: number): number[] {
  const counts = new Array<number>(bounds.length).fill(0);
  const edges = bounds.map((b) => b * unit * (1 + 1e-12));
  let j = 0;
  let below = sketch.zeroCount;
  sketch.forEachBucket((index, n) => {
    const upper = sketch.lowerBound(index + 1);
    while (j < edges.length && upper > edges[j]) counts[j++] = below;
    below += n;
  });
  while (j < edges.length) counts[j++] = below;
  return counts;
}
