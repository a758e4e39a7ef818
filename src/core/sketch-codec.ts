import { packNum, packUint } from './pack.js';
import { joinInto, unionSize } from './bucket-join.js';
import type { Unpacker } from './pack.js';
import { SPARSE_LIMIT } from './sketch.js';
import type { Sketch } from './sketch.js';

/**
 * The pack codec of a sketch (see pack.ts), for closed ring slots: `uint count`, then when non-empty
 * `num zeroCount, sum, min, max`, `uint buckets` and per bucket in ascending order `uint 2·step + one` (`num` for the first)
 * — the step from the previous index (from `minIndex` for the first), `one` = 1 when the bucket counts
 * exactly 1 — followed, when `one` is 0, by its `num` count. A slot's buckets mostly count 1 and lie
 * fewer than 64 indices apart, so most take one byte (the codec before this took two: step, count).
 * The sketch itself (sketch.ts) knows nothing of this encoding.
 */

/** Writes `s` with the pack codec. */
export function packSketch(s: Sketch): void {
  packUint(s.count);
  if (s.count === 0) return;
  packNum(s.zeroCount);
  packNum(s.sum);
  packNum(s.min);
  packNum(s.max);
  const n = sortedBuckets(s);
  packBuckets(s.layout.minIndex, ownIndex, ownCount, n);
}

/**
 * Writes, as {@link packSketch} would, `s` plus the packed sketch read from `r`, leaving `s` as it
 * is: a coarse slot is re-frozen with each fine slot folded into it, and joining two sorted bucket
 * lists costs no storage beyond the result.
 */
export function packSketchMerged(s: Sketch, r: Unpacker): void {
  const count = r.uint();
  if (count === 0) {
    packSketch(s);
    return;
  }
  const zeroCount = r.num();
  const sum = r.num();
  const min = r.num();
  const max = r.num();
  const n = r.uint();
  if (heldIndex.length < n) {
    heldIndex = zeros(n);
    heldCount = zeros(n);
  }
  let index = s.layout.minIndex;
  for (let k = 0; k < n; k++) {
    const step = k === 0 ? r.num() : r.uint();
    index += Math.floor(step / 2);
    heldIndex[k] = index;
    heldCount[k] = step % 2 === 1 ? 1 : r.num();
  }
  const m = sortedBuckets(s);
  packUint(count + s.count);
  packNum(zeroCount + s.zeroCount);
  packNum(sum + s.sum);
  packNum(min < s.min ? min : s.min);
  packNum(max > s.max ? max : s.max);
  // Join the two ascending lists into the held ones' place (no storage beyond the result).
  const total = unionSize(heldIndex, n, ownIndex, m);
  if (heldIndex.length < total) {
    const grownIndex = zeros(total);
    const grownCount = zeros(total);
    for (let k = 0; k < n; k++) {
      grownIndex[k] = heldIndex[k];
      grownCount[k] = heldCount[k];
    }
    heldIndex = grownIndex;
    heldCount = grownCount;
  }
  joinInto(heldIndex, heldCount, n, ownIndex, ownCount, m, total);
  packBuckets(s.layout.minIndex, heldIndex, heldCount, total);
}

/** Adds a sketch written by {@link packSketch} (same layout), read from `r`, to `s`. */
export function mergePackedSketch(s: Sketch, r: Unpacker): void {
  const count = r.uint();
  if (count === 0) return;
  s.count += count;
  s.zeroCount += r.num();
  s.sum += r.num();
  const min = r.num();
  const max = r.num();
  if (min < s.min) s.min = min;
  if (max > s.max) s.max = max;
  const n = r.uint();
  let index = s.layout.minIndex;
  for (let k = 0; k < n; k++) {
    const step = k === 0 ? r.num() : r.uint();
    index += Math.floor(step / 2);
    s.addIndex(index, step % 2 === 1 ? 1 : r.num());
  }
}

// Scratch for packSketch() and packSketchMerged(): a sketch's buckets in ascending order, and a
// packed one's. Grown to the largest sketch packed (at most a layout's range), then reused.
let ownIndex: number[] = zeros(SPARSE_LIMIT);
let ownCount: number[] = zeros(SPARSE_LIMIT);
let heldIndex: number[] = zeros(SPARSE_LIMIT);
let heldCount: number[] = zeros(SPARSE_LIMIT);

/** `s`'s non-empty buckets, ascending, into ownIndex/ownCount (grown first if need be); how many. */
function sortedBuckets(s: Sketch): number {
  const stored = s.storedBuckets;
  if (ownIndex.length < stored) {
    ownIndex = zeros(stored);
    ownCount = zeros(stored);
  }
  return s.sortedBuckets(ownIndex, ownCount);
}

/** Writes `n` ascending buckets: `uint 2·step + (count === 1)` (`num` for the first), then the count as `num` unless it is 1. */
function packBuckets(minIndex: number, index: readonly number[], count: readonly number[], n: number): void {
  packUint(n);
  let prev = minIndex;
  for (let k = 0; k < n; k++) {
    const one = count[k] === 1;
    const step = (index[k] - prev) * 2 + (one ? 1 : 0);
    // The first step (from minIndex) as `num`: a foreign row's index below the layout stays exact.
    if (k === 0) packNum(step);
    else packUint(step);
    if (!one) packNum(count[k]);
    prev = index[k];
  }
}

/** An array of n zeros with exactly n elements of capacity (push() would over-allocate). */
function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}
