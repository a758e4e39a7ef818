/** Milliseconds on a monotonic clock aligned to the Unix epoch at start-up. Injected so tests control time. */
export interface Clock {
  now(): number;
}

const origin = performance.timeOrigin;

/** performance.now() never goes backwards (unlike Date.now() under NTP steps). */
export const systemClock: Clock = { now: () => origin + performance.now() };

/** A clock that only moves when told to: for tests and simulations. */
export class ManualClock implements Clock {
  constructor(private t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(ms: number): void {
    this.t = ms;
  }
}
