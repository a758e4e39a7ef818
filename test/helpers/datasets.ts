/** Seeded generators so every run sees the same data (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normal(r: () => number): number {
  const u = 1 - r();
  const v = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function lognormal(r: () => number, medianMs: number, sigma: number): number {
  return medianMs * Math.exp(sigma * normal(r));
}

/** Named datasets of latencies in milliseconds, as STYLE.md asks: skewed, edge and degenerate cases. */
export function datasets(): Record<string, number[]> {
  const r = rng(42);
  const n = 20_000;
  return {
    empty: [],
    single: [37.5],
    constant: Array.from({ length: 1000 }, () => 12),
    lognormal: Array.from({ length: n }, () => lognormal(r, 25, 0.8)),
    bimodal: Array.from({ length: n }, () => (r() < 0.8 ? lognormal(r, 3, 0.3) : lognormal(r, 400, 0.4))),
    heavyTail: Array.from({ length: n }, () => 2 / Math.pow(1 - r(), 1 / 1.2)), // Pareto, alpha 1.2
    fullRange: Array.from({ length: n }, () => 0.1 * Math.pow(600_000, r())), // 0.1 ms .. 60 s, log-uniform
    withZeros: Array.from({ length: 5000 }, (_, i) => (i % 10 === 0 ? 0 : lognormal(r, 1, 1))),
  };
}

/** The value of rank floor(q·(n−1)) — the definition Sketch.quantile estimates. */
export function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}
