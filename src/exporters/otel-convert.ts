import { bucketValue } from '../core/sketch.js';
import type { Sketch } from '../core/sketch.js';
import { forEachBucketAt } from '../core/sketch-delta.js';
import type { BucketSource } from '../core/sketch-delta.js';
import type { ExponentialHistogram, Histogram } from '@opentelemetry/sdk-metrics';

/** Buckets as the conversions read them: a `Sketch` via {@link sketchSource}, or the reader's SketchDelta. */
export type { BucketSource };

/** OTel's HTTP duration advice, in seconds. */
export const DURATION_BOUNDARIES_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Body sizes in bytes: powers of four from 64 B to 16 MiB (OTel gives no advice for sizes). */
export const SIZE_BOUNDARIES_BYTES = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];

/** Smallest scale OTLP allows. */
const MIN_SCALE = -10;

const finite = (x: number): number | undefined => (Number.isFinite(x) ? x : undefined);

/**
 * An OTLP exponential histogram of `source / divisor` (divisor 1000: milliseconds to seconds) with at
 * most `maxSize` buckets, at the largest scale that fits (never above the source's).
 *
 * Dividing by a power of two only shifts indices, so bytes (divisor 1) convert exactly. Dividing by 1000
 * moves every bucket boundary by log2(1000)·2^scale = 637.8 buckets at scale 6, not a whole number, so
 * each source bucket is put whole into the target bucket that holds its (geometric) middle. A value
 * then sits in its reported bucket or at most half a source bucket beyond it: the added relative
 * error is below 2^(1/128) − 1 = 0.54 % at scale 6 (0.21 % when the target keeps scale 6, where the
 * offset is a constant 0.19 bucket), on top of the target scale's own (γ−1)/(γ+1). Count, sum, zero count,
 * min and max stay exact (sum, min and max divided by the divisor).
 */
export function toExponentialHistogram(source: BucketSource, divisor: number, maxSize: number): ExponentialHistogram {
  const pairs: number[] = [];
  source.forEachBucket((index, n) => {
    if (n > 0) pairs.push(index, n);
  });
  const srcScale = source.scale;
  const shift = Math.log2(divisor) * 2 ** srcScale;
  const exact = Math.abs(shift - Math.round(shift)) < 1e-9;
  const whole = Math.round(shift);
  const target = (index: number, scale: number): number =>
    exact ? (index - whole) >> (srcScale - scale) : Math.ceil((index + 0.5 - shift) * 2 ** (scale - srcScale)) - 1;
  let scale = Math.min(srcScale, 20);
  let offset = 0;
  let bucketCounts: number[] = [];
  if (pairs.length > 0) {
    const lo = pairs[0];
    const hi = pairs[pairs.length - 2];
    while (scale > MIN_SCALE && target(hi, scale) - target(lo, scale) + 1 > Math.max(1, maxSize)) scale--;
    offset = target(lo, scale);
    bucketCounts = new Array<number>(target(hi, scale) - offset + 1).fill(0);
    for (let i = 0; i < pairs.length; i += 2) bucketCounts[target(pairs[i], scale) - offset] += pairs[i + 1];
  }
  return {
    count: source.count,
    sum: source.sum / divisor,
    scale,
    zeroCount: source.zeroCount,
    positive: { offset, bucketCounts },
    negative: { offset: 0, bucketCounts: [] },
    min: source.count > 0 ? finite(source.min / divisor) : undefined,
    max: source.count > 0 ? finite(source.max / divisor) : undefined,
  };
}

/**
 * An explicit-bucket histogram of `source / divisor` with upper-inclusive `boundaries` (OTel's layout:
 * boundaries.length + 1 counts). Each source bucket goes whole to the explicit bucket holding the
 * sketch's estimate for it, so only values within one source bucket of a boundary (1.1 % at scale 6,
 * 9 % for scale-3 sizes) can land on the wrong side of it. Count, sum, min and max stay exact.
 */
export function toExplicitHistogram(source: BucketSource, divisor: number, boundaries: readonly number[]): Histogram {
  const counts = new Array<number>(boundaries.length + 1).fill(0);
  const scale = source.scale;
  const slot = (value: number): number => {
    let k = 0;
    while (k < boundaries.length && value > boundaries[k]) k++;
    return k;
  };
  if (source.zeroCount > 0) counts[slot(0)] += source.zeroCount;
  source.forEachBucket((index, n) => {
    if (n > 0) counts[slot(bucketValue(scale, index) / divisor)] += n;
  });
  return {
    buckets: { boundaries: [...boundaries], counts },
    count: source.count,
    sum: source.sum / divisor,
    min: source.count > 0 ? finite(source.min / divisor) : undefined,
    max: source.count > 0 ? finite(source.max / divisor) : undefined,
  };
}

/** One of our sketches (plus, optionally, a second one of the same layout) as a BucketSource. */
export function sketchSource(sketch: Sketch, more?: Sketch): BucketSource {
  if (more === undefined || more.count === 0) {
    return {
      scale: sketch.layout.scale,
      count: sketch.count,
      zeroCount: sketch.zeroCount,
      sum: sketch.sum,
      min: sketch.min,
      max: sketch.max,
      forEachBucket: (fn) => sketch.forEachBucket(fn),
    };
  }
  return {
    scale: sketch.layout.scale,
    count: sketch.count + more.count,
    zeroCount: sketch.zeroCount + more.zeroCount,
    sum: sketch.sum + more.sum,
    min: Math.min(sketch.min, more.min),
    max: Math.max(sketch.max, more.max),
    forEachBucket: (fn) => forEachBucketAt(sketch, 0, fn, more),
  };
}
