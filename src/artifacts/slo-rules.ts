import {
  boundAtOrBelow,
  durationBoundsOf,
  endpointMatchers,
  leMatcher,
  metricName,
  overEndpoints,
  promDuration,
  routeFormatOf,
  statusMatcher,
} from './promql.js';
import type { ArtifactOptions, ArtifactRule, ArtifactSlo } from './types.js';
import type { PromRule, RuleGroup } from './rule-file.js';

/**
 * Sloth-compatible SLO rules: per SLO, `slo:sli_error:ratio_rate<window>` for every window its burn-rate
 * alerts read (plus 5m and the period), the metadata series (`slo:objective:ratio`,
 * `slo:error_budget:ratio`, burn rates, budget remaining) and the burn-rate alerts. Every series
 * carries `sloth_id` (`<service>-<slo>`), `sloth_service`, `sloth_slo` and, on SLIs, `sloth_window`,
 * so Sloth's Grafana dashboards read them too.
 */

export const SLI_ERROR = (window: string): string => `slo:sli_error:ratio_rate${window}`;

/** `sloth_id` of an SLO: `<service>-<slo name>`. */
export const sloId = (o: ArtifactOptions, slo: ArtifactSlo): string => `${o.service}-${slo.name}`;

function sloLabels(o: ArtifactOptions, slo: ArtifactSlo): Record<string, string> {
  return { ...slo.labels, sloth_id: sloId(o, slo), sloth_service: o.service, sloth_slo: slo.name };
}

/** The SLI's error ratio over `range`, or a reason it has no PromQL form. */
export function sliErrorExpr(o: ArtifactOptions, slo: ArtifactSlo, range: string): string | { skip: string } {
  const sets = endpointMatchers(slo.endpoints, routeFormatOf(o));
  const requests = metricName('requests', o.naming);
  const total = `sum(${overEndpoints('rate', requests, [], sets, range)})`;
  if (slo.sli === 'availability') {
    const bad: string[] = [];
    if (o.naming === 'legacy') {
      const codes = ['5..', ...(slo.count4xxAsBad ? ['4..'] : slo.count499AsBad ? ['499'] : [])];
      bad.push(`status_code=~"${codes.join('|')}"`);
    } else {
      // Without the opt-in `status` label the otel preset has status classes only: a bad 499 is not
      // told apart from other 4xx, so count_499_as_bad alone adds nothing here.
      bad.push(slo.count4xxAsBad ? 'status_class=~"4xx|5xx"' : statusMatcher(o.naming, 5));
    }
    return `(sum(${overEndpoints('rate', requests, bad, sets, range)}) or vector(0)) / ${total}`;
  }
  const thresholdS = (slo.thresholdMs ?? 0) / 1000;
  const bounds = durationBoundsOf(o);
  const bound = boundAtOrBelow(thresholdS, bounds);
  if (bound === null) {
    return { skip: `its threshold ${slo.thresholdMs} ms is below the smallest duration bucket` };
  }
  const duration = metricName('duration', o.naming);
  const good = `sum(${overEndpoints('rate', `${duration}_bucket`, [leMatcher(bound, bounds)!], sets, range)})`;
  const count = `sum(${overEndpoints('rate', `${duration}_count`, [], sets, range)})`;
  return `1 - (${good} / ${count})`;
}

/** The windows an SLO's series are recorded over: 5m, every burn-rate window of its alerts. */
function sloWindows(slo: ArtifactSlo, rules: readonly ArtifactRule[]): string[] {
  const ms = new Set<number>([300_000]);
  for (const r of rules) {
    if (r.signal !== 'slo_burn_rate' || r.slo !== slo.name) continue;
    ms.add(r.windowMs);
    if (r.shortWindowMs !== null) ms.add(r.shortWindowMs);
  }
  return [...ms].sort((a, b) => a - b).map(promDuration);
}

/** The recording groups of one SLO (SLIs, metadata), or a comment saying why it has none. */
export function sloGroups(
  o: ArtifactOptions,
  slo: ArtifactSlo,
  rules: readonly ArtifactRule[],
): { groups: RuleGroup[]; skipped: string | null } {
  const labels = sloLabels(o, slo);
  const id = labels.sloth_id;
  const period = promDuration(slo.periodMs);
  const sli: PromRule[] = [];
  for (const w of sloWindows(slo, rules)) {
    const expr = sliErrorExpr(o, slo, w);
    if (typeof expr !== 'string') return { groups: [], skipped: `SLO ${slo.name}: skipped, ${expr.skip}` };
    sli.push({ record: SLI_ERROR(w), expr, labels: { ...labels, sloth_window: w } });
  }
  // The period's ratio averages the 5m one (as Sloth does) instead of a rate over 30 days of raw samples.
  if (!sli.some((r) => r.labels?.sloth_window === period)) {
    sli.push({
      record: SLI_ERROR(period),
      expr: `sum_over_time(${SLI_ERROR('5m')}{sloth_id="${id}"}[${period}]) / ignoring (sloth_window) count_over_time(${SLI_ERROR('5m')}{sloth_id="${id}"}[${period}])`,
      labels: { ...labels, sloth_window: period },
    });
  }
  const on = 'on (sloth_id, sloth_slo, sloth_service) group_left';
  const meta: PromRule[] = [
    { record: 'slo:objective:ratio', expr: `vector(${slo.objective})`, labels },
    { record: 'slo:error_budget:ratio', expr: `vector(1 - ${slo.objective})`, labels },
    { record: 'slo:time_period:days', expr: `vector(${slo.periodMs / 86_400_000})`, labels },
    {
      record: 'slo:current_burn_rate:ratio',
      expr: `${SLI_ERROR('5m')}{sloth_id="${id}"} / ${on} slo:error_budget:ratio{sloth_id="${id}"}`,
      labels,
    },
    {
      record: 'slo:period_burn_rate:ratio',
      expr: `${SLI_ERROR(period)}{sloth_id="${id}"} / ${on} slo:error_budget:ratio{sloth_id="${id}"}`,
      labels,
    },
    {
      record: 'slo:period_error_budget_remaining:ratio',
      expr: `1 - slo:period_burn_rate:ratio{sloth_id="${id}"}`,
      labels,
    },
    {
      record: 'apimeter_slo_info',
      expr: 'vector(1)',
      labels: { ...labels, sli: slo.sli, objective: String(slo.objective * 100), period },
    },
  ];
  return {
    groups: [
      { name: `apimeter-slo-sli-recordings-${id}`, rules: sli },
      { name: `apimeter-slo-meta-recordings-${id}`, rules: meta },
    ],
    skipped: null,
  };
}

/**
 * A burn-rate alert: the long window's burn rate above the factor, confirmed by the short window's.
 * `$value` is the long window's burn rate (× the budget).
 */
export function burnRateExpr(o: ArtifactOptions, slo: ArtifactSlo, rule: ArtifactRule): string {
  const id = sloId(o, slo);
  const budget = Number((1 - slo.objective).toPrecision(12));
  const cmp = rule.op === 'above' ? '>' : '<';
  const burn = (ms: number) => `${SLI_ERROR(promDuration(ms))}{sloth_id="${id}"} / ${budget} ${cmp} ${rule.threshold}`;
  const long = `(${burn(rule.windowMs)})`;
  return rule.shortWindowMs === null ? long : `${long} and ignoring (sloth_window) (${burn(rule.shortWindowMs)})`;
}
