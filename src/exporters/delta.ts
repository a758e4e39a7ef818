import type { Sketch } from '../core/sketch.js';

/** Receives one bucket of a difference: its index at the output scale and how many values it gained. */
export type BucketSink = (index: number, count: number) => void;

const EMPTY = new Float64Array(0);

/**
 * What a cumulative sketch looked like at the last read, so the next read yields exactly what was added
 * since: the bucket-wise difference of two cumulative sketches (buckets only ever grow, so the
 * difference is itself a histogram of the new values). Kept at the output scale (`scale − shift`), so a
 * baseline for a coarser export costs a fraction of the sketch.
 *
 * Exact for counts and buckets; the sum of the new values is the difference of the sums. The min and max
 * of the new values are not known (the sketch keeps them since start-up only).
 */
export class SketchBaseline {
  private offset = 0;
  private counts: Float64Array = EMPTY;
  count = 0;
  zeroCount = 0;
  sum = 0;
  /** Set by {@link advance}: values, zero values and sum added since the previous call. */
  addedCount = 0;
  addedZeros = 0;
  addedSum = 0;

  /**
   * Calls `sink(index, n)` for every bucket (at scale `sketch scale − shift`, ascending) that gained `n`
   * values since the last call, sets `addedCount`/`addedZeros`/`addedSum`, and remembers `current`.
   * `sink` may be null to only move the baseline forward. `more`, when given, is added to `current`
   * (an endpoint's since-start total plus its current slot, without building their sum).
   */
  advance(current: Sketch, shift: number, sink: BucketSink | null, more?: Sketch): void {
    const count = current.count + (more?.count ?? 0);
    const added = count - this.count;
    if (added <= 0) {
      // Nothing new (or the sketch was replaced by a smaller one: start again from it).
      this.addedCount = this.addedZeros = this.addedSum = 0;
      if (added < 0) this.resync(current, shift, more);
      return;
    }
    const zeros = current.zeroCount + (more?.zeroCount ?? 0);
    const sum = current.sum + (more?.sum ?? 0);
    this.addedCount = added;
    this.addedZeros = Math.max(0, zeros - this.zeroCount);
    this.addedSum = sum - this.sum;
    this.count = count;
    this.zeroCount = zeros;
    this.sum = sum;
    const n = gatherSum(current, more, shift);
    if (n === 0) return;
    this.cover(scratchIndex[0], scratchIndex[n - 1]);
    const counts = this.counts;
    const offset = this.offset;
    for (let k = 0; k < n; k++) {
      const at = scratchIndex[k] - offset;
      const gained = scratchCount[k] - counts[at];
      counts[at] = scratchCount[k];
      if (gained > 0 && sink !== null) sink(scratchIndex[k], gained);
    }
  }

  /** Bytes held by the baseline's buckets. */
  get bytes(): number {
    return this.counts.byteLength;
  }

  private resync(current: Sketch, shift: number, more: Sketch | undefined): void {
    this.counts = EMPTY;
    this.offset = 0;
    this.count = this.zeroCount = this.sum = 0;
    this.advance(current, shift, null, more);
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
  let total = 0;
  for (let i = 0, j = 0; i < na || j < nb; total++) {
    if (j >= nb || (i < na && scratchIndex[i] < otherIndex[j])) i++;
    else if (i >= na || otherIndex[j] < scratchIndex[i]) j++;
    else {
      i++;
      j++;
    }
  }
  ensureScratch(total);
  let i = na - 1;
  let j = nb - 1;
  for (let k = total - 1; k >= 0; k--) {
    if (j < 0 || (i >= 0 && scratchIndex[i] > otherIndex[j])) {
      scratchIndex[k] = scratchIndex[i];
      scratchCount[k] = scratchCount[i];
      i--;
    } else if (i < 0 || otherIndex[j] > scratchIndex[i]) {
      scratchIndex[k] = otherIndex[j];
      scratchCount[k] = otherCount[j];
      j--;
    } else {
      scratchIndex[k] = scratchIndex[i];
      scratchCount[k] = scratchCount[i] + otherCount[j];
      i--;
      j--;
    }
  }
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
