import type { Meter } from '../core/meter.js';
import type { Alerts } from './start.js';

// Per meter, not global: the metrics API and the Prometheus exposition find a meter's alerts here without
// importing the rules machinery (YAML, valibot) themselves.
const attached = new WeakMap<Meter, Alerts>();

/** The alerts started for `meter` with startAlerts(), if any. */
export function alertsOf(meter: Meter): Alerts | undefined {
  return attached.get(meter);
}

export function attachAlerts(meter: Meter, alerts: Alerts): void {
  attached.set(meter, alerts);
}

export function detachAlerts(meter: Meter, alerts: Alerts): void {
  if (attached.get(meter) === alerts) attached.delete(meter);
}

/**
 * The Apdex T of each endpoint of `meter`: the first `apdex:` target of its alerts' rules file matching
 * `METHOD route`, else `[alerts] apdex_t_ms` (also without alerts). For `meter.snapshot(w, { apdexTMs })`
 * and the metrics API.
 */
export function apdexTargetsOf(meter: Meter): (method: string, route: string) => number {
  const alerts = attached.get(meter);
  const fallback = meter.config.alertsApdexTMs;
  if (alerts === undefined || alerts.rules.apdex.length === 0) return () => fallback;
  return (method, route) => alerts.evaluator.apdexT(`${method} ${route}`);
}
