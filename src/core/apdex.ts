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

/** Apdex figures of one latency sketch at one T: the score and the counts it is made of. */
export interface ApdexFigures {
  /** (satisfied + tolerating / 2) / (satisfied + tolerating + frustrated); null without values. */
  score: number | null;
  /** The target T (ms) the figures were computed at. */
  tMs: number;
  /** Values ≤ T. */
  satisfied: number;
  /** Values > T and ≤ 4T. */
  tolerating: number;
  /** Values > 4T. */
  frustrated: number;
}

/**
 * Apdex figures of a latency sketch (ms) at target `tMs`, in one pass over its buckets: the one place
 * `meter.snapshot()`, `meter.summary()` and the metrics API take Apdex from. Counts are of the values the
 * sketch holds (every request, or the sample when sampling). Exact except within the one bucket holding
 * T or 4T (see {@link shareAtOrBelow}).
 */
export function apdexFigures(sketch: Sketch, tMs: number): ApdexFigures {
  const total = sketch.count;
  if (total === 0) return { score: null, tMs, satisfied: 0, tolerating: 0, frustrated: 0 };
  const t4 = 4 * tMs;
  let satisfied = sketch.zeroCount;
  let withinFour = sketch.zeroCount;
  sketch.forEachBucket((index, n) => {
    const lo = sketch.lowerBound(index);
    const hi = sketch.lowerBound(index + 1);
    const mid = (lo + hi) / 2;
    if (hi <= tMs || (lo < tMs && mid <= tMs)) satisfied += n;
    if (hi <= t4 || (lo < t4 && mid <= t4)) withinFour += n;
  });
  const tolerating = withinFour - satisfied;
  return { score: (satisfied + tolerating / 2) / total, tMs, satisfied, tolerating, frustrated: total - withinFour };
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
  return apdexFigures(sketch, tMs).score ?? NaN;
}

/**
 * The Apdex T (ms) a reader uses: one for every endpoint, or one per endpoint (e.g. the alerts rules
 * file's `apdex:` targets, see `apdexTargetsOf`).
 */
export type ApdexT = number | ((method: string, route: string) => number);

/** An endpoint's T from `target`. */
export function apdexTOf(target: ApdexT, method: string, route: string): number {
  return typeof target === 'number' ? target : target(method, route);
}
