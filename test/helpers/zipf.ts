/** A seeded Zipf(s) stream of `length` ids over `distinct` ranks (`c0` most frequent), for tests and benches. */
export function* zipfStream(s: number, distinct: number, length: number, seed: number): Generator<string> {
  const cdf = new Float64Array(distinct);
  let sum = 0;
  for (let r = 0; r < distinct; r++) cdf[r] = sum += 1 / (r + 1) ** s;
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const u = (x / 4294967296) * sum;
    let lo = 0;
    let hi = distinct - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    yield `c${lo}`;
  }
}
