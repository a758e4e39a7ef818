import type { AlertRule } from './rules.js';

export type AlertState = 'inactive' | 'pending' | 'firing' | 'resolved';

/** One alert instance: a rule over one endpoint (or group). Plain data, so it can be saved and restored. */
export interface AlertInstance {
  readonly rule: string;
  readonly endpoint: string;
  state: AlertState;
  /** When the current state began (ms). */
  since: number;
  /** When the condition first held in this activation (pending start), ms. */
  activeAt: number;
  /** When it started firing, ms (0 when it never fired in this activation). */
  firedAt: number;
  /** When it resolved, ms (0 unless resolved). */
  resolvedAt: number;
  /** Last time the condition held, ms (for keep_firing_for). */
  lastTrueAt: number;
  /** Last evaluated value (NaN when the window had nothing to judge). */
  value: number;
  readonly threshold: number;
}

/** A change of state made by {@link step}. */
export type Transition = 'none' | 'pending' | 'firing' | 'resolved' | 'inactive';

/** Resolved instances are listed this long, then forgotten (as Prometheus keeps resolved alerts 15 min). */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

export function newInstance(rule: AlertRule, endpoint: string, now: number): AlertInstance {
  return {
    rule: rule.name,
    endpoint,
    state: 'inactive',
    since: now,
    activeAt: 0,
    firedAt: 0,
    resolvedAt: 0,
    lastTrueAt: 0,
    value: NaN,
    threshold: rule.threshold,
  };
}

/** The rule's condition on a value; null (nothing to judge) never holds. */
export function holds(rule: AlertRule, value: number | null): boolean {
  if (value === null || value !== value) return false;
  return rule.op === 'above' ? value > rule.threshold : value < rule.threshold;
}

/**
 * Advances one instance by one evaluation, as Prometheus's alerting rules do: a condition that starts
 * to hold makes it pending (firing at once when `for` is 0); pending for `for` makes it firing; a
 * condition that stops holding drops a pending instance and resolves a firing one, unless it held within
 * the last `keep_firing_for`.
 */
export function step(inst: AlertInstance, rule: AlertRule, value: number | null, now: number): Transition {
  inst.value = value ?? NaN;
  if (holds(rule, value)) {
    inst.lastTrueAt = now;
    if (inst.state === 'inactive' || inst.state === 'resolved') {
      inst.activeAt = now;
      inst.resolvedAt = 0;
      inst.firedAt = 0;
      if (rule.forMs === 0) return fire(inst, now);
      inst.state = 'pending';
      inst.since = now;
      return 'pending';
    }
    if (inst.state === 'pending' && now - inst.activeAt >= rule.forMs) return fire(inst, now);
    return 'none';
  }
  if (inst.state === 'pending') {
    inst.state = 'inactive';
    inst.since = now;
    return 'inactive';
  }
  if (inst.state === 'firing') {
    if (rule.keepFiringForMs > 0 && now - inst.lastTrueAt < rule.keepFiringForMs) return 'none';
    inst.state = 'resolved';
    inst.since = now;
    inst.resolvedAt = now;
    return 'resolved';
  }
  return 'none';
}

function fire(inst: AlertInstance, now: number): Transition {
  inst.state = 'firing';
  inst.since = now;
  inst.firedAt = now;
  return 'firing';
}
