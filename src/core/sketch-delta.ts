import type { Sketch } from './sketch.js';
import { joinInto, unionSize } from './bucket-join.js';

/** Receives one bucket of a difference: its index at the output scale and how many values it gained. */
export type BucketSink = (index: number, count: number) => void;

const EMPTY = new Float64Array(0);

/**
 * Buckets of a base-2 exponential histogram as the exporters' conversions read them (OTel histograms,
 * StatsD values): a `Sketch` seen through `sketchSource`, or a {@link SketchDelta}.
 */
export interface BucketSource {
  /** Scale of the indices `forEachBucket` reports. */
  readonly scale: number;
  readonly count: number;
  readonly zeroCount: number;
  readonly sum: number;
  /** Exact extremes, when known (NaN or ±Infinity otherwise). */
  readonly min: number;
  readonly max: number;
  /** Non-empty buckets in ascending index order. */
  forEachBucket(fn: BucketSink): void;
}

/**
 * What a cumulative sketch gained between a baseline and a read: values, zero values, sum and the
 * buckets that gained (ascending, at the baseline's output scale). Min and max of the new values are not
 * known (sketches keep them since start-up only): NaN.
 */
export class SketchDelta implements BucketSource {
  scale = 0;
  count = 0;
  zeroCount = 0;
  sum = 0;
  readonly min = NaN;
  readonly max = NaN;
  /** (index, gained) pairs, ascending. */
  readonly pairs: number[] = [];

  forEachBucket(fn: BucketSink): void {
    const pairs = this.pairs;
    for (let i = 0; i < pairs.length; i += 2) fn(pairs[i], pairs[i + 1]);
  }

  clear(): void {
    this.count = this.zeroCount = this.sum = 0;
    this.pairs.length = 0;
  }
}

/**
 * What a cumulative sketch looked like at the last commit, so a read yields exactly what was added
 * since: the bucket-wise difference of two cumulative sketches (buckets only ever grow, so the
 * difference is itself a histogram of the new values). Kept at the output scale (`scale − shift`), so a
 * baseline for a coarser export costs a fraction of the sketch.
 *
 * Two steps: {@link read} computes the difference ({@link pending}) without moving the baseline;
 * {@link commit} moves it to what that read saw (and empties {@link pending}). A read that is not
 * committed (its export failed) is included again in the next read. Exact for counts and buckets; the sum of the new values is the
 * difference of the sums.
 */
export class SketchBaseline {
  private offset = 0;
  private counts: Float64Array = EMPTY;
  /** Committed totals. */
  count = 0;
  zeroCount = 0;
  sum = 0;
  /** The difference found by the last {@link read}, until the next one. */
  readonly pending = new SketchDelta();
  // Totals the last read saw, for commit().
  private readCount = 0;
  private readZeros = 0;
  private readSum = 0;
  private uncommitted = false;

  /** Values, zero values and sum of the last read's difference (kept after {@link commit}). */
  addedCount = 0;
  addedZeros = 0;
  addedSum = 0;

  /**
   * The buckets of `current` (plus `more`, when given: an endpoint's since-start total and its current
   * slot, without building their sum) gained since the last commit, at scale `sketch scale − shift`.
   * The result is {@link pending}, valid until the next read; the baseline does not move.
   */
  read(current: Sketch, shift: number, more?: Sketch): SketchDelta {
    const delta = this.pending;
    delta.clear();
    delta.scale = current.layout.scale - shift;
    this.addedCount = this.addedZeros = this.addedSum = 0;
    this.uncommitted = false;
    const count = current.count + (more?.count ?? 0);
    const added = count - this.count;
    if (added <= 0) {
      // Nothing new (or the sketch was replaced by a smaller one: start again from it).
      if (added < 0) this.resync(current, shift, more);
      return delta;
    }
    const zeros = current.zeroCount + (more?.zeroCount ?? 0);
    const sum = current.sum + (more?.sum ?? 0);
    delta.count = this.addedCount = added;
    delta.zeroCount = this.addedZeros = Math.max(0, zeros - this.zeroCount);
    delta.sum = this.addedSum = sum - this.sum;
    this.readCount = count;
    this.readZeros = zeros;
    this.readSum = sum;
    this.uncommitted = true;
    const n = gatherSum(current, more, shift);
    const counts = this.counts;
    const offset = this.offset;
    const pairs = delta.pairs;
    for (let k = 0; k < n; k++) {
      const at = scratchIndex[k] - offset;
      const gained = scratchCount[k] - (at >= 0 && at < counts.length ? counts[at] : 0);
      if (gained > 0) pairs.push(scratchIndex[k], gained);
    }
    return delta;
  }

  /** Moves the baseline to what the last {@link read} saw (nothing when it found nothing new). */
  commit(): void {
    if (!this.uncommitted) return;
    this.uncommitted = false;
    this.count = this.readCount;
    this.zeroCount = this.readZeros;
    this.sum = this.readSum;
    const pairs = this.pending.pairs;
    if (pairs.length === 0) return;
    this.cover(pairs[0], pairs[pairs.length - 2]);
    const counts = this.counts;
    for (let i = 0; i < pairs.length; i += 2) counts[pairs[i] - this.offset] += pairs[i + 1];
    // Applied: drop the difference (a first read lists every bucket, which would stay held otherwise).
    this.pending.clear();
  }

  /**
   * {@link read} then {@link commit}: calls `sink(index, n)` for every bucket that gained `n` values
   * since the last call (null: only move the baseline forward).
   */
  advance(current: Sketch, shift: number, sink: BucketSink | null, more?: Sketch): void {
    const delta = this.read(current, shift, more);
    if (sink !== null) delta.forEachBucket(sink);
    this.commit();
  }

  /** Bytes held by the baseline's buckets and its pending difference. */
  get bytes(): number {
    return this.counts.byteLength + this.pending.pairs.length * 8;
  }

  private resync(current: Sketch, shift: number, more: Sketch | undefined): void {
    this.counts = EMPTY;
    this.offset = 0;
    this.count = this.zeroCount = this.sum = 0;
    this.read(current, shift, more);
    this.commit();
    this.addedCount = this.addedZeros = this.addedSum = 0;
  }

  /** Grows the dense array so it covers [lo, hi]. */
  private cover(lo: number, hi: number): void {
    const counts = this.counts;
    if (counts.length > 0 && lo >= this.offset && hi < this.offset + counts.length) return;
    const newLo = counts.length === 0 ? lo : Math.min(lo, this.offset);
    const newHi = counts.length === 0 ? hi : Math.max(hi, this.offset + counts.length - 1);
    const grown = new Float64Array(newHi - newLo + 1);
    if (counts.length > 0) grown.set(counts, this.offset - newLo);
    this.counts = grown;
    this.offset = newLo;
  }
}

// One scratch pair of arrays for every baseline: reads happen one at a time, off the request path.
let scratchIndex = new Float64Array(256);
let scratchCount = new Float64Array(256);
let scratchLength = 0;
let scratchShift = 0;

function collect(index: number, count: number): void {
  const j = index >> scratchShift;
  const n = scratchLength;
  if (n > 0 && scratchIndex[n - 1] === j) {
    scratchCount[n - 1] += count;
    return;
  }
  if (n === scratchIndex.length) {
    const i2 = new Float64Array(n * 2);
    const c2 = new Float64Array(n * 2);
    i2.set(scratchIndex);
    c2.set(scratchCount);
    scratchIndex = i2;
    scratchCount = c2;
  }
  scratchIndex[n] = j;
  scratchCount[n] = count;
  scratchLength = n + 1;
}

/** Buckets of `sketch` at scale `scale − shift` into the scratch arrays, ascending; returns how many. */
function gather(sketch: Sketch, shift: number): number {
  scratchLength = 0;
  scratchShift = shift;
  // Arithmetic shift floors negative indices too: bucket i of scale s lies in bucket i >> k of scale s − k.
  sketch.forEachBucket(collect);
  return scratchLength;
}

let otherIndex = new Float64Array(256);
let otherCount = new Float64Array(256);

/**
 * Buckets of `a + b` at scale `scale − shift` into the scratch arrays, ascending; returns how many.
 * Merges the two sorted runs in place of building a summed sketch (no allocation once warm).
 */
function gatherSum(a: Sketch, b: Sketch | undefined, shift: number): number {
  if (b === undefined || b.count === 0) return gather(a, shift);
  const nb = gather(b, shift);
  if (otherIndex.length < nb) {
    otherIndex = new Float64Array(scratchIndex.length);
    otherCount = new Float64Array(scratchIndex.length);
  }
  otherIndex.set(scratchIndex.subarray(0, nb));
  otherCount.set(scratchCount.subarray(0, nb));
  const na = gather(a, shift);
  // Count the distinct indices, then merge from the back so the result overwrites a's run in place.
  const total = unionSize(scratchIndex, na, otherIndex, nb);
  ensureScratch(total);
  joinInto(scratchIndex, scratchCount, na, otherIndex, otherCount, nb, total);
  scratchLength = total;
  return total;
}

function ensureScratch(n: number): void {
  if (scratchIndex.length >= n) return;
  const size = Math.max(n, scratchIndex.length * 2);
  const i2 = new Float64Array(size);
  const c2 = new Float64Array(size);
  i2.set(scratchIndex);
  c2.set(scratchCount);
  scratchIndex = i2;
  scratchCount = c2;
}

/** Calls `fn(index, count)` for the buckets of `a` (plus `b`) at a scale `shift` lower, ascending. */
export function forEachBucketAt(a: Sketch, shift: number, fn: BucketSink, b?: Sketch): void {
  const n = gatherSum(a, b, shift);
  for (let k = 0; k < n; k++) fn(scratchIndex[k], scratchCount[k]);
}
