import type { Sketch } from '../core/sketch.js';

/**
 * Share of the sketch's values at or below `limit`. Exact for every value outside the one bucket that
 * holds `limit` (scale 6: values within ~1.1 % of it); that bucket counts as below when its midpoint is.
 */
export function shareAtOrBelow(sketch: Sketch, limit: number): number {
  return sketch.count === 0 ? NaN : countAtOrBelow(sketch, limit) / sketch.count;
}

/** Values of the sketch at or below `limit` (see {@link shareAtOrBelow} for the one straddling bucket). */
export function countAtOrBelow(sketch: Sketch, limit: number): number {
  if (limit < 0) return 0;
  let below = sketch.zeroCount;
  sketch.forEachBucket((index, n) => {
    const lo = sketch.lowerBound(index);
    const hi = sketch.lowerBound(index + 1);
    if (hi <= limit || (lo < limit && (lo + hi) / 2 <= limit)) below += n;
  });
  return below;
}

/**
 * Apdex of a latency sketch (ms) at target `tMs`: (satisfied + tolerating / 2) / total, where satisfied
 * means ≤ T and tolerating ≤ 4T. NaN for an empty sketch. Read from the sketch's buckets, so any T works,
 * also over merged or stored data; requests within the sketch's relative error (~1.1 %) of T or 4T may
 * land on either side.
 *
 * @example
 * apdex(snapshotTally.latency, 500); // 0.93
 */
export function apdex(sketch: Sketch, tMs: number): number {
  if (sketch.count === 0) return NaN;
  const satisfied = shareAtOrBelow(sketch, tMs);
  const tolerating = shareAtOrBelow(sketch, 4 * tMs) - satisfied;
  return satisfied + tolerating / 2;
}
