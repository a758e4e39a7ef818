import { packBytes, packNum, packUint } from './pack.js';
import { joinInto, unionSize } from './bucket-join.js';
import type { Unpacker } from './pack.js';
import { SPARSE_LIMIT } from './sketch.js';
import type { Sketch, SketchLayout } from './sketch.js';

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
  if (heldIndex.length < total) growHeld(total, n);
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

/** Makes the held buckets room for `total`, keeping their first `n`. */
function growHeld(total: number, n: number): void {
  const grownIndex = zeros(total);
  const grownCount = zeros(total);
  for (let k = 0; k < n; k++) {
    grownIndex[k] = heldIndex[k];
    grownCount[k] = heldCount[k];
  }
  heldIndex = grownIndex;
  heldCount = grownCount;
}

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

// ---- The slot codec: closed ring slots in an endpoint's arena (slot-arena.ts), never persisted ----

/**
 * A latency sketch as the slot codec writes it (Tally.packSlot): `uint flags`; `num count` when it
 * differs from the tally's count (flag 1: unsampled or negative durations; `num 0` alone for an empty
 * sketch); `num zeroCount` when non-zero (flag 2); the sum as its 8 raw bytes; the buckets as
 * {@link packSketch} writes them; then min and max, each in its mode (flags bits 2–3 and 4–5): 0 = zero,
 * 1 = six bytes, 2 = the double's 8 raw bytes. The six-byte form is exact: the distance, in IEEE 754 bit
 * patterns, from a reference point of the value's bucket (the first bucket for min, the last for max) —
 * a value lies within one bucket width (0.54 % at scale 6) of it, under 2^47 patterns away. The
 * reference table is built in this process, and arena bytes never leave it, so nothing depends on how
 * another engine rounds `2 ** x`. Against {@link packSketch} this saves 9 of the 30 bytes a sketch's
 * header took (count, zero count, sum, min, max at 9 bytes a double).
 */
const FLAG_COUNT = 1;
const FLAG_ZEROS = 2;
const MODE_ZERO = 0;
const MODE_NEAR = 1;
const MODE_RAW = 2;
const TWO32 = 4294967296;
const NEAR_LIMIT = 2 ** 48;

// Scratch (typed arrays, so doubles pass through without being boxed): [count, zeroCount, sum, min, max]
// of the sketch being written (own) and of the packed one being read (held); `near` holds min's and
// max's six-byte distances.
const own = new Float64Array(5);
const ownBytes = new Uint8Array(own.buffer);
const held = new Float64Array(5);
const heldBytes = new Uint8Array(held.buffer);
const near = new Float64Array(2);
const six = new Uint8Array(8);
// One double and its two 32-bit words; `ref` holds a reference point's words.
const cell = new Float64Array(1);
const cellWords = new Uint32Array(cell.buffer);
const ref = new Float64Array(2);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;
/** Per scale: the reference mantissas 2^(j / 2^scale), j < 2^scale (built on first use). */
const mantissas: Float64Array[] = [];

/** Sets `ref` to the words of bucket `index`'s reference point at `scale`; false when there is none. */
function refAt(index: number, scale: number): boolean {
  if (!(scale >= 0 && scale <= 16 && scale === Math.floor(scale))) return false;
  const factor = 2 ** scale;
  let m = mantissas[scale];
  if (m === undefined) {
    m = mantissas[scale] = new Float64Array(factor);
    for (let j = 0; j < factor; j++) m[j] = 2 ** (j / factor);
  }
  const e = Math.floor(index / factor);
  if (!(e >= -1000 && e <= 1000)) return false;
  cell[0] = m[index - e * factor];
  ref[0] = cellWords[LO];
  // The mantissa lies in [1, 2): adding e to the exponent field scales it by 2^e, exactly.
  ref[1] = cellWords[HI] + e * 1048576;
  return true;
}

/** How `v` (own[slot]) is written beside bucket `index`; the six-byte distance goes to near[k]. */
function modeOf(slot: number, index: number, scale: number, k: number): number {
  const v = own[slot];
  if (v === 0 && 1 / v > 0) return MODE_ZERO;
  if (!refAt(index, scale)) return MODE_RAW;
  cell[0] = v;
  // Positive doubles order like their bit patterns; a negative, NaN or far value gives a distance out of range.
  const d = (cellWords[HI] - ref[1]) * TWO32 + (cellWords[LO] - ref[0]);
  if (!(d >= 0 && d < NEAR_LIMIT)) return MODE_RAW;
  near[k] = d;
  return MODE_NEAR;
}

function writeMode(mode: number, slot: number, k: number): void {
  if (mode === MODE_NEAR) {
    let d = near[k];
    for (let i = 0; i < 6; i++) {
      six[i] = d % 256;
      d = Math.floor(d / 256);
    }
    packBytes(six, 0, 6);
  } else if (mode === MODE_RAW) packBytes(ownBytes, slot * 8, 8);
}

/** Reads a value written by {@link writeMode} beside bucket `index` into held[slot]. */
function readMode(r: Unpacker, mode: number, index: number, scale: number, slot: number): void {
  if (mode === MODE_ZERO) {
    held[slot] = 0;
    return;
  }
  if (mode === MODE_RAW) {
    r.bytes(heldBytes, slot * 8, 8);
    return;
  }
  r.bytes(six, 0, 6);
  let d = 0;
  for (let i = 5; i >= 0; i--) d = d * 256 + six[i];
  refAt(index, scale);
  let lo = ref[0] + (d % TWO32);
  let hi = ref[1] + Math.floor(d / TWO32);
  if (lo >= TWO32) {
    lo -= TWO32;
    hi++;
  }
  cellWords[LO] = lo;
  cellWords[HI] = hi;
  held[slot] = cell[0];
}

/** Writes own[] and `n` ascending buckets in the slot codec; `tallyCount` is the slot's request count. */
function writeSlotSketch(layout: SketchLayout, index: number[], count: number[], n: number, tallyCount: number): void {
  if (own[0] === 0) {
    packUint(FLAG_COUNT);
    packNum(0);
    return;
  }
  const scale = layout.scale;
  const minMode = modeOf(3, n > 0 ? index[0] : NaN, scale, 0);
  const maxMode = modeOf(4, n > 0 ? index[n - 1] : NaN, scale, 1);
  let flags = (minMode << 2) | (maxMode << 4);
  if (own[0] !== tallyCount) flags |= FLAG_COUNT;
  if (own[1] !== 0) flags |= FLAG_ZEROS;
  packUint(flags);
  if ((flags & FLAG_COUNT) !== 0) packNum(own[0]);
  if ((flags & FLAG_ZEROS) !== 0) packNum(own[1]);
  packBytes(ownBytes, 16, 8);
  packBuckets(layout.minIndex, index, count, n);
  writeMode(minMode, 3, 0);
  writeMode(maxMode, 4, 1);
}

/**
 * Reads a sketch written by {@link writeSlotSketch} into held[] and heldIndex/heldCount; returns its
 * number of buckets. `tallyCount` is the request count of the slot it belongs to.
 */
function readSlotSketch(r: Unpacker, layout: SketchLayout, tallyCount: number): number {
  const flags = r.uint();
  held[0] = (flags & FLAG_COUNT) !== 0 ? r.num() : tallyCount;
  if (held[0] === 0) return 0;
  held[1] = (flags & FLAG_ZEROS) !== 0 ? r.num() : 0;
  r.bytes(heldBytes, 16, 8);
  const n = r.uint();
  if (heldIndex.length < n) {
    heldIndex = zeros(n);
    heldCount = zeros(n);
  }
  let index = layout.minIndex;
  for (let k = 0; k < n; k++) {
    const step = k === 0 ? r.num() : r.uint();
    index += Math.floor(step / 2);
    heldIndex[k] = index;
    heldCount[k] = step % 2 === 1 ? 1 : r.num();
  }
  readMode(r, (flags >> 2) & 3, n > 0 ? heldIndex[0] : NaN, layout.scale, 3);
  readMode(r, (flags >> 4) & 3, n > 0 ? heldIndex[n - 1] : NaN, layout.scale, 4);
  return n;
}

/** Writes `s` in the slot codec (see {@link writeSlotSketch}); `tallyCount` is its slot's request count. */
export function packSlotSketch(s: Sketch, tallyCount: number): void {
  own[0] = s.count;
  own[1] = s.zeroCount;
  own[2] = s.sum;
  own[3] = s.min;
  own[4] = s.max;
  // sortedBuckets first: it may grow ownIndex/ownCount.
  const n = s.count === 0 ? 0 : sortedBuckets(s);
  writeSlotSketch(s.layout, ownIndex, ownCount, n, tallyCount);
}

/**
 * Writes, as {@link packSlotSketch} would, `s` plus the slot-codec sketch read from `r` (of a slot
 * counting `heldTallyCount` requests), leaving `s` as it is; `tallyCount` is the merged slot's count.
 */
export function packSlotSketchMerged(s: Sketch, r: Unpacker, tallyCount: number, heldTallyCount: number): void {
  const n = readSlotSketch(r, s.layout, heldTallyCount);
  if (held[0] === 0) {
    packSlotSketch(s, tallyCount);
    return;
  }
  const m = s.count === 0 ? 0 : sortedBuckets(s);
  own[0] = held[0] + s.count;
  own[1] = held[1] + s.zeroCount;
  own[2] = held[2] + s.sum;
  own[3] = s.count === 0 || held[3] < s.min ? held[3] : s.min;
  own[4] = s.count === 0 || held[4] > s.max ? held[4] : s.max;
  const total = unionSize(heldIndex, n, ownIndex, m);
  if (heldIndex.length < total) growHeld(total, n);
  joinInto(heldIndex, heldCount, n, ownIndex, ownCount, m, total);
  writeSlotSketch(s.layout, heldIndex, heldCount, total, tallyCount);
}

/** Adds a slot-codec sketch read from `r` (of a slot counting `heldTallyCount` requests) to `s`. */
export function mergeSlotSketch(s: Sketch, r: Unpacker, heldTallyCount: number): void {
  const n = readSlotSketch(r, s.layout, heldTallyCount);
  if (held[0] === 0) return;
  for (let k = 0; k < n; k++) s.addIndex(heldIndex[k], heldCount[k]);
  s.count += held[0];
  s.zeroCount += held[1];
  s.sum += held[2];
  if (held[3] < s.min) s.min = held[3];
  if (held[4] > s.max) s.max = held[4];
}
