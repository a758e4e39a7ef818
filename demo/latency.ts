import { setTimeout as sleep } from 'node:timers/promises';

/** A route's artificial service time: lognormal around `medianMs`, with rare much slower outliers. */
export interface LatencyProfile {
  medianMs: number;
  /** Spread of ln(latency); 0.3 is tight, 1.0 gives a heavy tail. */
  sigma: number;
  /** Share of requests hit by a "slow query" (latency × `slowFactor`). */
  slowRate?: number;
  slowFactor?: number;
}

export const PROFILES = {
  listDags: { medianMs: 12, sigma: 0.5 },
  getDag: { medianMs: 6, sigma: 0.4 },
  patchDag: { medianMs: 18, sigma: 0.5 },
  listRuns: { medianMs: 25, sigma: 0.8, slowRate: 0.01, slowFactor: 8 },
  createRun: { medianMs: 40, sigma: 0.6 },
  getRun: { medianMs: 8, sigma: 0.5 },
  deleteRun: { medianMs: 30, sigma: 0.5 },
  listTaskInstances: { medianMs: 35, sigma: 1.0, slowRate: 0.02, slowFactor: 6 },
  getTaskInstance: { medianMs: 9, sigma: 0.5 },
  logChunk: { medianMs: 4, sigma: 0.7 },
  health: { medianMs: 1, sigma: 0.3 },
  version: { medianMs: 0.5, sigma: 0.2 },
} satisfies Record<string, LatencyProfile>;

export type ProfileName = keyof typeof PROFILES;

const MAX_DELAY_MS = 5000;

/** Standard normal deviate (Box–Muller). */
function gaussian(random: () => number): number {
  const u = 1 - random(); // (0, 1], so log() stays finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Artificial delays, scaled by `scale` (0 turns them off, for tests). */
export class Latency {
  constructor(
    private readonly scale: number,
    private readonly random: () => number,
  ) {}

  sampleMs(name: ProfileName): number {
    const p: LatencyProfile = PROFILES[name];
    let ms = p.medianMs * Math.exp(p.sigma * gaussian(this.random));
    if (p.slowRate !== undefined && this.random() < p.slowRate) ms *= p.slowFactor ?? 1;
    return Math.min(ms * this.scale, MAX_DELAY_MS);
  }

  async wait(name: ProfileName): Promise<void> {
    if (this.scale <= 0) return;
    await sleep(this.sampleMs(name));
  }
}
