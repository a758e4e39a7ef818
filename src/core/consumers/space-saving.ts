/**
 * Space-Saving heavy hitters (Metwally, Agrawal, El Abbadi, "Efficient computation of frequent and
 * top-k elements in data streams", 2005): `k` counters for a stream of any number of distinct ids.
 *
 * Guarantees, for a stream of `total` offers:
 * - every id whose true count exceeds `total / k` holds a counter;
 * - a counter's `count` overestimates its id's true count by at most its `error` (the count of the id
 *   it replaced), and `error <= minCount <= total / k`: true count lies in `[count - error, count]`.
 *
 * Memory is fixed at construction (k ids, two Float64Arrays, a Map of at most k entries). An offer of
 * an id already counted allocates nothing; a replacement scans the k counters for the minimum (k is
 * small: 20 per endpoint, 100 overall by default).
 */
export class SpaceSaving {
  readonly k: number;
  /** Offers seen. */
  total = 0;
  /** Counters in use (≤ k). */
  size = 0;
  readonly ids: string[];
  /** Estimated count per counter (an overestimate by at most `errors[i]`). */
  readonly counts: Float64Array;
  /** Overestimation bound per counter: the count it inherited when it took the counter over. */
  readonly errors: Float64Array;
  /** Set by {@link offer}: the counter was taken from another id (its per-counter data is stale). */
  replaced = false;
  /** Set by {@link offer}: the id took a counter (a free one or a replaced one), i.e. it was not held. */
  taken = false;
  /** The id the last replacement evicted ('' when none). */
  evicted = '';
  private readonly index = new Map<string, number>();

  constructor(k: number) {
    if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`Space-Saving needs k >= 1 counters, got ${k}`);
    this.k = k;
    this.ids = Array.from({ length: k }, () => '');
    this.counts = new Float64Array(k);
    this.errors = new Float64Array(k);
  }

  /** Counts one occurrence of `id`; returns its counter's index. */
  offer(id: string): number {
    this.total++;
    const found = this.index.get(id);
    if (found !== undefined) {
      this.replaced = false;
      this.taken = false;
      this.counts[found]++;
      return found;
    }
    this.taken = true;
    let i: number;
    if (this.size < this.k) {
      i = this.size++;
      this.errors[i] = 0;
      this.counts[i] = 1;
      this.replaced = false;
      this.evicted = '';
    } else {
      i = this.minIndex();
      this.evicted = this.ids[i];
      this.index.delete(this.evicted);
      this.errors[i] = this.counts[i];
      this.counts[i]++;
      this.replaced = true;
    }
    this.ids[i] = id;
    this.index.set(id, i);
    return i;
  }

  /**
   * Counts one more occurrence of the id holding counter `i` (found with {@link indexOf}): what
   * {@link offer} does for a held id, without the lookup. Leaves {@link taken}/{@link replaced} as they were.
   */
  hit(i: number): void {
    this.total++;
    this.counts[i]++;
  }

  /** The counter of `id`, or -1. */
  indexOf(id: string): number {
    return this.index.get(id) ?? -1;
  }

  /** The smallest count held (0 while a counter is free): the bound on any absent id's count. */
  minCount(): number {
    return this.size < this.k ? 0 : this.counts[this.minIndex()];
  }

  /** Counter indices by estimated count, largest first. */
  ranked(): number[] {
    const order = Array.from({ length: this.size }, (_, i) => i);
    return order.sort((a, b) => this.counts[b] - this.counts[a] || (this.ids[a] < this.ids[b] ? -1 : 1));
  }

  protected minIndex(): number {
    const counts = this.counts;
    let best = 0;
    let min = counts[0];
    for (let i = 1; i < this.size; i++) {
      if (counts[i] < min) {
        min = counts[i];
        best = i;
      }
    }
    return best;
  }
}
