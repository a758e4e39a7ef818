import { alertsOf } from '../alerts/attach.js';
import type { Meter } from '../core/meter.js';
import type { MetricWriter } from './prometheus-text.js';

/**
 * Alert and SLO gauges of the alerts running for `meter` (nothing when none run):
 * `apimeter_alert_state{alertname,endpoint,severity,state}` 1 per pending or firing instance (as
 * Prometheus's own `ALERTS` series), and per SLO its objective, budget left and burn rate per window.
 */
export function alertFamilies(w: MetricWriter, meter: Meter): void {
  const alerts = alertsOf(meter);
  if (alerts === undefined) return;
  w.family(
    'apimeter_alert_state',
    'gauge',
    'Alert instances pending or firing (1), by rule, endpoint, severity and state.',
  );
  for (const { rule, instance } of alerts.instancesWithRules()) {
    if (instance.state !== 'pending' && instance.state !== 'firing') continue;
    const labels: [string, string][] = [
      ['alertname', rule.name],
      ['endpoint', instance.endpoint],
      ['severity', rule.severity],
      ['state', instance.state],
    ];
    w.sample('apimeter_alert_state', labels, 1);
  }
  const slos = alerts.slos();
  if (slos.length === 0) return;
  w.family('apimeter_slo_objective_ratio', 'gauge', 'Target share of good requests of each SLO.');
  for (const s of slos) w.sample('apimeter_slo_objective_ratio', [['slo', s.name]], s.objective);
  w.family(
    'apimeter_slo_error_budget_remaining_ratio',
    'gauge',
    'Share of the error budget left over the SLO period (1 untouched, 0 spent, below 0 overspent).',
  );
  for (const s of slos)
    w.sample('apimeter_slo_error_budget_remaining_ratio', [['slo', s.name]], s.budget.remainingShare);
  w.family(
    'apimeter_slo_burn_rate',
    'gauge',
    'Error budget burn rate per window (1 = the budget lasts exactly the period).',
  );
  for (const s of slos) {
    for (const r of s.burnRates) {
      if (r.burnRate !== null)
        w.sample(
          'apimeter_slo_burn_rate',
          [
            ['slo', s.name],
            ['window', r.window],
          ],
          r.burnRate,
        );
    }
  }
}
