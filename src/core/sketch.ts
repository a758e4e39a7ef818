import { createError } from '../errors.js';

/** How a sketch's buckets are laid out: its scale and the index range it keeps. */
export interface SketchLayout {
  /** OpenTelemetry scale: 2^scale buckets per power of two. */
  readonly scale: number;
  /** Smallest bucket index kept; smaller values land in this bucket (min stays exact). */
  readonly minIndex: number;
  /** Largest bucket index kept; larger values land in this bucket (max stays exact). */
  readonly maxIndex: number;
}

/** Latencies in milliseconds: scale 6 (0.54 % error) from ~1 µs to ~4.6 h. */
export const LATENCY_SKETCH: SketchLayout = Object.freeze({ scale: 6, minIndex: -10 * 64, maxIndex: 24 * 64 - 1 });
/**
 * The values a layout's buckets hold, `(low, high]`: `indexOf` clamps anything outside into the first or
 * last bucket (the sketch keeps min and max exact, but those values' quantiles lose the bound).
 */
export function layoutRange(layout: SketchLayout): { readonly low: number; readonly high: number } {
  return { low: 2 ** (layout.minIndex / 2 ** layout.scale), high: 2 ** ((layout.maxIndex + 1) / 2 ** layout.scale) };
}

/** Latencies the latency sketch holds without clamping, in ms: (2^−10, 2^24] = (~0.98 µs, ~4.66 h]. */
export const LATENCY_RANGE_MS = layoutRange(LATENCY_SKETCH);

/** Body sizes in bytes: scale 3 (4.3 % error) from 1 byte to 4 GiB. */
export const SIZE_SKETCH: SketchLayout = Object.freeze({ scale: 3, minIndex: 0, maxIndex: 32 * 8 - 1 });

/** Pairs kept in sparse mode before switching to a dense array. */
export const SPARSE_LIMIT = 48;

export interface SketchJSON {
  scale: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  zeroCount: number;
  /** Index of the first entry of `counts`. */
  offset: number;
  counts: number[];
}

// Sparse storage is a plain JS array: a typed array costs ~150-250 bytes of object overhead (view,
// buffer, backing store) before its first element, too much for a slot with a handful of buckets.
// Dense storage (more than SPARSE_LIMIT buckets) starts as a Uint16Array: 2 bytes per count where a JS
// array takes 8 (Node's V8 has no pointer compression) — the since-start sketches are the largest ones,
// and an hour of traffic rarely puts 65,535 requests in one bucket. A count that does not fit widens the
// array for good: to a Uint32Array, or a Float64Array past 2^32 − 1 (or for a fractional count from a
// foreign row). Exact either way: a store is read back, and a mismatch widens (setDense).
type Counts = Uint16Array | Uint32Array | Float64Array;
const NONE: number[] = [];
const NO_DENSE: Counts = new Uint16Array(0);

/**
 * Base-2 exponential histogram (OpenTelemetry's layout), used as a relative-error quantile sketch.
 *
 * Bucket `i` holds values in `(b^i, b^(i+1)]` with `b = 2^(2^-scale)`; the estimate for a bucket is
 * `2·b^(i+1)/(b+1)`, so every quantile is within `(b-1)/(b+1)` of a value of the right rank
 * (0.54 % at scale 6, 1.08 % at scale 5, 4.3 % at scale 3). Values `<= 0` go to a zero bucket.
 * Indices are clamped to `[minIndex, maxIndex]`, which bounds memory; min and max are kept exact.
 *
 * Storage starts sparse (up to {@link SPARSE_LIMIT} `(index, count)` pairs, enough for a quiet time
 * slot) and turns dense (an array over the occupied index range) past that, so a slot with a handful
 * of requests costs tens of bytes while a busy one holds at most `maxIndex − minIndex + 1` counts.
 * Merging is bucket addition at the common scale.
 *
 * @example
 * const s = new Sketch(LATENCY_SKETCH);
 * s.record(12.5);
 * s.quantile(0.95); // ≈ 12.5 within 0.54 %
 */
export class Sketch {
  readonly layout: SketchLayout;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  zeroCount = 0;
  /** Sparse mode: [index0, count0, index1, count1, …], `sparseLength` numbers used. */
  private sparse: number[] = NONE;
  private sparseLength = 0;
  /** Dense mode (when `dense !== NO_DENSE`): dense[i] counts bucket `offset + i`. */
  private dense: Counts = NO_DENSE;
  private offset = 0;
  private readonly factor: number;
  // Copied from the layout so indexOf reads own fields only.
  private readonly minIndex: number;
  private readonly maxIndex: number;

  constructor(layout: SketchLayout) {
    this.layout = layout;
    this.factor = 2 ** layout.scale;
    this.minIndex = layout.minIndex;
    this.maxIndex = layout.maxIndex;
  }

  /** Bucket index of a positive value, clamped to the layout. */
  indexOf(value: number): number {
    // ceil(log2(v)·2^scale) − 1 puts v in (b^i, b^(i+1)]; Math.log2 rounding can move exact
    // bucket boundaries by one bucket, which stays within the error bound.
    const index = Math.ceil(Math.log2(value) * this.factor) - 1;
    return index < this.minIndex ? this.minIndex : index > this.maxIndex ? this.maxIndex : index;
  }

  /** Adds one value. NaN is ignored; values <= 0 count in the zero bucket. Never throws. */
  record(value: number): void {
    if (!(value > 0)) {
      if (value !== value) return; // NaN
      this.zeroCount++;
      this.count++;
      if (0 < this.min) this.min = 0;
      if (0 > this.max) this.max = 0;
      return;
    }
    this.recordAt(this.indexOf(value), value);
  }

  /**
   * Adds a positive value whose bucket index the caller already computed with {@link indexOf} on a
   * sketch of the same layout: the meter computes the logarithm once for several sketches.
   */
  recordAt(index: number, value: number): void {
    this.addIndex(index, 1);
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Adds `n` to bucket `index` (no count/sum/min/max bookkeeping); also used by the pack codec. */
  addIndex(index: number, n: number): void {
    const dense = this.dense;
    if (dense !== NO_DENSE) {
      const i = index - this.offset;
      if (i >= 0 && i < dense.length) {
        const v = dense[i] + n;
        dense[i] = v;
        // Read back: a count the array's type cannot hold (rare) widens it.
        if (dense[i] !== v) this.setDense(i, v);
      } else this.growDense(index, n);
      return;
    }
    const sparse = this.sparse;
    const end = this.sparseLength;
    for (let i = 0; i < end; i += 2) {
      if (sparse[i] === index) {
        sparse[i + 1] += n;
        return;
      }
    }
    if (end === SPARSE_LIMIT * 2) {
      this.toDense();
      this.addIndex(index, n);
      return;
    }
    if (end === sparse.length) {
      // Doubling with exact capacity: 4, 8, 16, … pairs.
      const grown = zeros(Math.min(SPARSE_LIMIT * 2, Math.max(8, end * 2)));
      for (let i = 0; i < end; i++) grown[i] = sparse[i];
      this.sparse = grown;
    }
    this.sparse[end] = index;
    this.sparse[end + 1] = n;
    this.sparseLength = end + 2;
  }

  private toDense(): void {
    const sparse = this.sparse;
    let lo = Infinity;
    let hi = -Infinity;
    const end = this.sparseLength;
    for (let i = 0; i < end; i += 2) {
      if (sparse[i] < lo) lo = sparse[i];
      if (sparse[i] > hi) hi = sparse[i];
    }
    this.offset = lo;
    this.dense = new Uint16Array(hi - lo + 1);
    for (let i = 0; i < end; i += 2) this.setDense(sparse[i] - lo, sparse[i + 1]);
    this.sparse = NONE;
    this.sparseLength = 0;
  }

  private growDense(index: number, n: number): void {
    const oldLo = this.offset;
    const old = this.dense;
    const oldHi = oldLo + old.length - 1;
    // Grow with headroom so a drifting distribution does not copy on every new bucket.
    const extra = Math.ceil((Math.max(oldHi, index) - Math.min(oldLo, index) + 1) / 8);
    const newLo = index < oldLo ? Math.max(this.minIndex, index - extra) : oldLo;
    const newHi = index > oldHi ? Math.min(this.maxIndex, index + extra) : oldHi;
    const size = newHi - newLo + 1;
    const grown =
      old instanceof Float64Array
        ? new Float64Array(size)
        : old instanceof Uint32Array
          ? new Uint32Array(size)
          : new Uint16Array(size);
    grown.set(old, oldLo - newLo);
    this.dense = grown;
    this.offset = newLo;
    this.setDense(index - newLo, grown[index - newLo] + n);
  }

  /** dense[i] = v, widening the dense array (Uint16 → Uint32 → Float64) until it holds v exactly. */
  private setDense(i: number, v: number): void {
    let dense = this.dense;
    dense[i] = v;
    if (dense[i] === v) return;
    dense = this.dense =
      v >>> 0 === v && dense instanceof Uint16Array ? Uint32Array.from(dense) : Float64Array.from(dense);
    dense[i] = v;
  }

  /** Calls `fn(index, count)` for every non-empty bucket in ascending index order. */
  forEachBucket(fn: (index: number, count: number) => void): void {
    if (this.dense !== NO_DENSE) {
      const dense = this.dense;
      for (let i = 0; i < dense.length; i++) if (dense[i] > 0) fn(this.offset + i, dense[i]);
      return;
    }
    for (const [index, count] of this.sortedPairs()) fn(index, count);
  }

  private sortedPairs(): [number, number][] {
    const pairs: [number, number][] = [];
    for (let i = 0; i < this.sparseLength; i += 2) pairs.push([this.sparse[i], this.sparse[i + 1]]);
    return pairs.sort((a, b) => a[0] - b[0]);
  }

  /** Lower bound of bucket `index`: values in it are > this. */
  lowerBound(index: number): number {
    return 2 ** (index / this.factor);
  }

  /** Value reported for bucket `index`: within (b-1)/(b+1) of anything in the bucket. */
  private estimate(index: number): number {
    return bucketValue(this.layout.scale, index);
  }

  /**
   * Value at quantile `q` in [0, 1] (the value of rank floor(q·(count−1)) in sorted order, within the
   * relative error bound), NaN when empty. q=0 and q=1 give the exact min and max.
   */
  quantile(q: number): number {
    if (this.count === 0 || !(q >= 0 && q <= 1)) return NaN;
    if (q === 0) return this.min;
    if (q === 1) return this.max;
    const rank = Math.floor(q * (this.count - 1));
    if (rank < this.zeroCount) return 0;
    let seen = this.zeroCount;
    let found = NaN;
    this.forEachBucketUntil((index, n) => {
      seen += n;
      if (seen > rank) {
        found = this.estimate(index);
        return true;
      }
      return false;
    });
    if (found !== found) found = this.max;
    return found < this.min ? this.min : found > this.max ? this.max : found;
  }

  /** Several quantiles in one pass-friendly call. */
  quantiles(qs: readonly number[]): number[] {
    return qs.map((q) => this.quantile(q));
  }

  private forEachBucketUntil(fn: (index: number, count: number) => boolean): void {
    if (this.dense !== NO_DENSE) {
      const dense = this.dense;
      for (let i = 0; i < dense.length; i++) if (dense[i] > 0 && fn(this.offset + i, dense[i])) return;
      return;
    }
    for (const [index, count] of this.sortedPairs()) if (fn(index, count)) return;
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  /** Adds every value of `other` to this sketch. Both must share a layout's scale. */
  merge(other: Sketch): this {
    if (other.layout.scale !== this.layout.scale) {
      throw createError(
        'APIMETER_ERR_SKETCH_LAYOUT',
        `cannot merge a sketch of scale ${other.layout.scale} into one of scale ${this.layout.scale}`,
      );
    }
    if (other.count === 0) return this;
    // Merging runs once per endpoint per slot rotation: plain loops, no callback per bucket.
    if (other.dense !== NO_DENSE) {
      const src = other.dense;
      const lo = other.offset;
      if (this.dense === NO_DENSE && this.sparseLength === 0) {
        // Into an empty sketch (a fresh tally, a decoded row): one copy instead of a bucket-by-bucket rebuild.
        this.dense = src.slice();
        this.offset = lo;
      } else if (this.dense !== NO_DENSE && lo >= this.offset && lo + src.length <= this.offset + this.dense.length) {
        const shift = lo - this.offset;
        for (let i = 0; i < src.length; i++) if (src[i] > 0) this.setDense(i + shift, this.dense[i + shift] + src[i]);
      } else {
        for (let i = 0; i < src.length; i++) if (src[i] > 0) this.addIndex(lo + i, src[i]);
      }
    } else {
      const pairs = other.sparse;
      for (let i = 0; i < other.sparseLength; i += 2) this.addIndex(pairs[i], pairs[i + 1]);
    }
    this.count += other.count;
    this.sum += other.sum;
    this.zeroCount += other.zeroCount;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    return this;
  }

  /**
   * Empties the sketch, keeping its storage: an endpoint's open slot is reset every time the endpoint
   * moves on to a new slot, and releasing its arrays made every rotation re-grow them
   * (bench/record.ts rotating mode: GC was the top entry of the profile). The open slot therefore
   * holds at most the layout's range, as it would anyway while busy; closed slots are frozen.
   */
  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.zeroCount = 0;
    this.sparseLength = 0;
    if (this.dense !== NO_DENSE) this.dense.fill(0);
  }

  /**
   * Copies the non-empty buckets in ascending index order into `index`/`count`, which must hold at
   * least {@link storedBuckets} elements; returns how many. For the pack codec (sketch-codec.ts).
   */
  sortedBuckets(index: number[], count: number[]): number {
    if (this.dense !== NO_DENSE) {
      const dense = this.dense;
      let n = 0;
      for (let i = 0; i < dense.length; i++) {
        if (dense[i] > 0) {
          index[n] = this.offset + i;
          count[n++] = dense[i];
        }
      }
      return n;
    }
    // Sparse pairs are in arrival order (at most SPARSE_LIMIT): insertion sort.
    const n = this.sparseLength / 2;
    const sparse = this.sparse;
    for (let k = 0; k < n; k++) {
      const at = sparse[2 * k];
      const n = sparse[2 * k + 1];
      let j = k;
      while (j > 0 && index[j - 1] > at) {
        index[j] = index[j - 1];
        count[j] = count[j - 1];
        j--;
      }
      index[j] = at;
      count[j] = n;
    }
    return n;
  }

  /** Buckets held (sparse pairs or dense slots): storage grows with this, up to the layout's range. */
  get storedBuckets(): number {
    return this.dense !== NO_DENSE ? this.dense.length : this.sparseLength / 2;
  }

  clone(): Sketch {
    return new Sketch(this.layout).merge(this);
  }

  toJSON(): SketchJSON {
    let lo = 0;
    const counts: number[] = [];
    this.forEachBucket((index, n) => {
      if (counts.length === 0) lo = index;
      while (lo + counts.length < index) counts.push(0);
      counts.push(n);
    });
    return {
      scale: this.layout.scale,
      count: this.count,
      sum: this.sum,
      min: this.count === 0 ? 0 : this.min,
      max: this.count === 0 ? 0 : this.max,
      zeroCount: this.zeroCount,
      offset: lo,
      counts,
    };
  }

  /**
   * Adds a sketch written by {@link toJSON} without building it: the same buckets, count, sum, min and
   * max as `merge(Sketch.fromJSON(json, layout))` (history reads merge thousands of stored sketches).
   */
  mergeJSON(json: SketchJSON): this {
    if (json.scale !== this.layout.scale) {
      throw createError(
        'APIMETER_ERR_SKETCH_LAYOUT',
        `a sketch of scale ${json.scale} does not fit a layout of scale ${this.layout.scale}`,
      );
    }
    if (json.count === 0) return this;
    const counts = json.counts;
    const lo = json.offset;
    for (let i = 0; i < counts.length; i++) if (counts[i] > 0) this.addIndex(lo + i, counts[i]);
    this.count += json.count;
    this.sum += json.sum;
    this.zeroCount += json.zeroCount;
    if (json.min < this.min) this.min = json.min;
    if (json.max > this.max) this.max = json.max;
    return this;
  }

  static fromJSON(json: SketchJSON, layout: SketchLayout): Sketch {
    if (json.scale !== layout.scale) {
      throw createError(
        'APIMETER_ERR_SKETCH_LAYOUT',
        `a sketch of scale ${json.scale} does not fit a layout of scale ${layout.scale}`,
      );
    }
    const s = new Sketch(layout);
    const counts = json.counts;
    if (counts.length > SPARSE_LIMIT && json.offset >= s.minIndex && json.offset + counts.length - 1 <= s.maxIndex) {
      // Dense from the start: one array, no sparse-to-dense switch and re-growing (history reads decode
      // thousands of day-long sketches).
      s.dense = new Uint16Array(counts.length);
      s.offset = json.offset;
      for (let i = 0; i < counts.length; i++) if (counts[i] > 0) s.setDense(i, counts[i]);
    } else {
      counts.forEach((n, i) => {
        if (n > 0) s.addIndex(json.offset + i, n);
      });
    }
    s.count = json.count;
    s.sum = json.sum;
    s.zeroCount = json.zeroCount;
    if (json.count > 0) {
      s.min = json.min;
      s.max = json.max;
    }
    return s;
  }
}

/**
 * The value that stands for bucket `index` of a sketch of `scale` (quantiles, StatsD values, explicit
 * histogram placement): `2·b^(i+1)/(b+1)` with `b = 2^(2^−scale)`, within `(b−1)/(b+1)` of every value
 * in the bucket `(b^i, b^(i+1)]`. The one place this formula lives.
 */
export function bucketValue(scale: number, index: number): number {
  const factor = 2 ** scale;
  return (2 * 2 ** ((index + 1) / factor)) / (2 ** (1 / factor) + 1);
}

/** Worst-case relative error of a layout's quantiles: (b−1)/(b+1), b = 2^(2^−scale). */
export function relativeErrorBound(layout: SketchLayout): number {
  const b = 2 ** (2 ** -layout.scale);
  return (b - 1) / (b + 1);
}

/** {@link relativeErrorBound} as descriptions write it, two significant digits: `0.54 %` at scale 6, `4.3 %` at 3. */
export function relativeErrorText(layout: SketchLayout): string {
  return `${(relativeErrorBound(layout) * 100).toPrecision(2)} %`;
}

/** An array of n zeros with exactly n elements of capacity (push() would over-allocate). */
function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}
