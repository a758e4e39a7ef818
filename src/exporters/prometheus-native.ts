/**
 * A sketch as a Prometheus native histogram: schema, zero bucket and the positive buckets as spans and
 * deltas (io.prometheus.client.Histogram, fields 5–14).
 *
 * The sketch and a native histogram share one layout family: base-2 exponential buckets with 2^scale
 * buckets per power of two. The schema is the sketch's scale (6 for latency, 3 for sizes), and each
 * sketch bucket becomes exactly one native bucket with its count unchanged: no re-binning.
 *
 * Index conventions differ by one: sketch bucket `i` (OpenTelemetry's convention) holds
 * `(b^i, b^(i+1)]`; Prometheus' bucket `k` holds `(b^(k−1), b^k]`. So `k = i + 1` when the sketch's
 * unit is the exposition's unit (body sizes: bytes, exact).
 *
 * Latency is recorded in milliseconds and exposed in seconds. Dividing by 1000 moves every edge by
 * log2(1000)·2^scale = 637.81 buckets at scale 6: not a whole number (1000 is not a power of two), so
 * no schema makes the sketch's edges fall on native edges. The mapping keeps one sketch bucket → one
 * native bucket and shifts by the nearest whole number of buckets (638): native bucket
 * `k = i + 1 − 638` has edges equal to the sketch bucket's edges (in seconds) times
 * 2^(−0.19/64) = 0.99795. Every latency thus reads 0.21 % low in the native histogram, on top of the
 * bucket width (1.09 %); {@link nativeEdgeFactor} gives the exact factor.
 */
import type { Sketch } from '../core/sketch.js';

export interface NativeSpan {
  /** Gap to the previous span's end (for the first span: its starting bucket index). */
  readonly offset: number;
  readonly length: number;
}

export interface NativeHistogram {
  readonly schema: number;
  readonly zeroThreshold: number;
  readonly zeroCount: number;
  readonly spans: readonly NativeSpan[];
  /** Each bucket's count minus the previous bucket's (the first minus zero), over all spans in order. */
  readonly deltas: readonly number[];
}

/** Zero buckets kept inside a span rather than opening a new one (two bytes of span cost about that). */
const MAX_GAP_FILL = 2;

/** Whole-bucket shift of the native index for a sketch whose values are `unit` times the exposition's. */
export function nativeShift(scale: number, unit: number): number {
  return Math.round(Math.log2(unit) * 2 ** scale);
}

/**
 * Native edge / true edge, in the exposition's unit: 1 when `unit` is a power of two (or 1), else
 * 2^((log2(unit)·2^scale − shift)/2^scale); 0.99795 for milliseconds → seconds at scale 6.
 */
export function nativeEdgeFactor(scale: number, unit: number): number {
  const exact = Math.log2(unit) * 2 ** scale;
  return 2 ** ((exact - nativeShift(scale, unit)) / 2 ** scale);
}

/**
 * The native histogram of `sketch` for an exposition in units of `unit` sketch units (1000: seconds
 * over a millisecond sketch). Values ≤ 0 are the zero bucket (threshold 0: exactly zero).
 */
export function nativeHistogram(sketch: Sketch, unit: number): NativeHistogram {
  const scale = sketch.layout.scale;
  const shift = nativeShift(scale, unit);
  const spans: { offset: number; length: number }[] = [];
  const deltas: number[] = [];
  let prevIndex = 0; // native index of the last bucket written
  let prevCount = 0;
  sketch.forEachBucket((index, n) => {
    if (n === 0) return;
    const k = index + 1 - shift;
    const last = spans[spans.length - 1];
    if (last === undefined) spans.push({ offset: k, length: 1 });
    else {
      const gap = k - prevIndex - 1;
      if (gap <= MAX_GAP_FILL) {
        for (let g = 0; g < gap; g++) {
          deltas.push(prevCount === 0 ? 0 : -prevCount);
          prevCount = 0;
        }
        last.length += gap + 1;
      } else spans.push({ offset: gap, length: 1 });
    }
    deltas.push(n - prevCount);
    prevCount = n;
    prevIndex = k;
  });
  return { schema: scale, zeroThreshold: 0, zeroCount: sketch.zeroCount, spans, deltas };
}
