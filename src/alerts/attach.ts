import type { Meter } from '../core/meter.js';
import type { Alerts } from './start.js';

// Per meter, not global: the metrics API and the Prometheus exposition find a meter's alerts here without
// importing the rules machinery (YAML, zod) themselves.
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
