import { lognormal, rng } from './datasets.js';

export const CLUSTER_T0 = Date.UTC(2025, 3, 1, 8, 0, 0);

export interface ClusterRequest {
  at: number;
  route: string;
  status: number;
  durationMs: number;
}

/** Instance n's requests over 5 minutes: different volumes, routes and latencies per instance. */
export function clusterTraffic(n: number): ClusterRequest[] {
  const r = rng(100 + n);
  const out: ClusterRequest[] = [];
  const count = 300 + 200 * n;
  for (let i = 0; i < count; i++) {
    const route = i % (n + 2) === 0 ? `/only-${n}` : '/shared';
    out.push({
      at: CLUSTER_T0 + Math.floor((i / count) * 5 * 60_000),
      route,
      status: r() < 0.03 * (n + 1) ? 500 : 200,
      durationMs: lognormal(r, 10 * (n + 1), 0.7),
    });
  }
  return out;
}
