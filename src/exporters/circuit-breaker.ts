export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 3. */
  failureThreshold?: number;
  /** How long the circuit stays open the first time, in ms. Default 10,000. */
  cooldownMs?: number;
  /** Each reopening doubles the cooldown, up to this. Default 300,000 (5 min). */
  maxCooldownMs?: number;
  /** Milliseconds; default Date.now. */
  now?: () => number;
}

/**
 * Stops an exporter from trying (DNS lookups, connections, sends) for a while after repeated failures.
 *
 * closed: every attempt is allowed; `failureThreshold` consecutive failures open it.
 * open: nothing is allowed until the cooldown is over, then one trial attempt is (half-open).
 * half-open: that trial's success closes the circuit; its failure opens it again with twice the cooldown.
 *
 * @example
 * const breaker = new CircuitBreaker({ failureThreshold: 3 });
 * if (breaker.allow()) send().then(() => breaker.success(), (e) => breaker.failure(e));
 */
export class CircuitBreaker {
  private readonly threshold: number;
  private readonly baseCooldown: number;
  private readonly maxCooldown: number;
  private readonly now: () => number;
  private _state: CircuitState = 'closed';
  private failures = 0;
  private cooldown: number;
  private openUntil = 0;
  private trialRunning = false;
  /** Times the circuit opened since creation. */
  opened = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    this.threshold = Math.max(1, options.failureThreshold ?? 3);
    this.baseCooldown = Math.max(1, options.cooldownMs ?? 10_000);
    this.maxCooldown = Math.max(this.baseCooldown, options.maxCooldownMs ?? 300_000);
    this.cooldown = this.baseCooldown;
    this.now = options.now ?? Date.now;
  }

  /** The position, moving from open to half-open once the cooldown is over. */
  get state(): CircuitState {
    if (this._state === 'open' && this.now() >= this.openUntil) this._state = 'half-open';
    return this._state;
  }

  /** Milliseconds until an open circuit lets a trial through (0 when not open). */
  get retryInMs(): number {
    return this._state === 'open' ? Math.max(0, this.openUntil - this.now()) : 0;
  }

  /** May an attempt run now? In half-open, only one trial runs at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.trialRunning) return false;
    this.trialRunning = true;
    return true;
  }

  /** The attempt gave no verdict (nothing was tried after all): a half-open circuit waits for the next trial. */
  abstain(): void {
    this.trialRunning = false;
  }

  success(): void {
    this.failures = 0;
    this.trialRunning = false;
    this.cooldown = this.baseCooldown;
    this._state = 'closed';
  }

  failure(): void {
    this.failures++;
    const wasTrial = this._state === 'half-open';
    this.trialRunning = false;
    if (wasTrial) {
      this.cooldown = Math.min(this.maxCooldown, this.cooldown * 2);
      this.trip();
    } else if (this._state === 'closed' && this.failures >= this.threshold) {
      this.trip();
    }
  }

  private trip(): void {
    this._state = 'open';
    this.openUntil = this.now() + this.cooldown;
    this.opened++;
  }
}
