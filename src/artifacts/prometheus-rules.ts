import {
  durationBoundsOf,
  ENDPOINT_BY,
  endpointMatchers,
  leMatcher,
  metricName,
  overEndpoints,
  promDuration,
  routeFormatOf,
  statusMatcher,
} from './promql.js';
import { renderRuleFile } from './rule-file.js';
import type { PromRule, RuleGroup } from './rule-file.js';
import { burnRateExpr, sloGroups } from './slo-rules.js';
import type { ArtifactOptions, ArtifactRule, ArtifactRuleSet } from './types.js';

/** The quantiles recorded per endpoint. */
export const QUANTILES = [0.5, 0.95, 0.99] as const;

/** The window of the per-endpoint recording rules. */
export const RECORDING_WINDOW = '5m';

/** `http_server_requests_total` → `http_server_requests`: a recorded name's metric part. */
const base = (name: string) => name.replace(/_total$/, '');

/** Names of the per-endpoint recording rules (`level:metric:operations`), per naming preset. */
export function recordedNames(naming: ArtifactOptions['naming']) {
  const level = ENDPOINT_BY.replace(/, /g, '_');
  const requests = base(metricName('requests', naming));
  const duration = metricName('duration', naming);
  return {
    requestRate: `${level}:${requests}:rate${RECORDING_WINDOW}`,
    errorRatio: `${level}:${requests}_5xx:ratio_rate${RECORDING_WINDOW}`,
    quantile: (q: number) => `${level}:${duration}:p${Math.round(q * 100)}_rate${RECORDING_WINDOW}`,
  };
}

function recordingGroup(o: ArtifactOptions): RuleGroup {
  const names = recordedNames(o.naming);
  const requests = metricName('requests', o.naming);
  const duration = metricName('duration', o.naming);
  const w = RECORDING_WINDOW;
  const rules: PromRule[] = [
    { record: names.requestRate, expr: `sum by (${ENDPOINT_BY}) (rate(${requests}[${w}]))` },
    {
      record: names.errorRatio,
      expr: `sum by (${ENDPOINT_BY}) (rate(${requests}{${statusMatcher(o.naming, 5)}}[${w}])) / sum by (${ENDPOINT_BY}) (rate(${requests}[${w}]))`,
    },
    ...QUANTILES.map((q) => ({
      record: names.quantile(q),
      expr: `histogram_quantile(${q}, sum by (${ENDPOINT_BY}, le) (rate(${duration}_bucket[${w}])))`,
    })),
  ];
  return { name: 'apimeter-endpoint-recordings', rules };
}

const QUANTILE_OF: Record<string, number> = {
  latency_p50: 0.5,
  latency_p90: 0.9,
  latency_p95: 0.95,
  latency_p99: 0.99,
};

/** A rule's per-endpoint (or per-group) value in the unit apimeter's rules use, or why it has none. */
function signalExpr(o: ArtifactOptions, r: ArtifactRule): string | { skip: string } {
  const sets = endpointMatchers(r.endpoints, routeFormatOf(o));
  const by = r.group === null ? ENDPOINT_BY : 'job';
  const w = promDuration(r.windowMs);
  const sum = (name: string, extra: readonly string[] = [], fn: 'rate' | null = 'rate') =>
    `sum by (${by}) (${overEndpoints(fn, name, extra, sets, fn === null ? null : w)})`;
  const requests = metricName('requests', o.naming);
  switch (r.signal) {
    case 'error_rate_5xx':
    case 'error_rate_4xx': {
      const digit = r.signal === 'error_rate_5xx' ? 5 : 4;
      // `or 0 * …` keeps endpoints with no errors at 0 instead of absent (a `below` rule sees them).
      return `(${sum(requests, [statusMatcher(o.naming, digit)])} or 0 * ${sum(requests)}) / ${sum(requests)}`;
    }
    case 'request_rate':
      return sum(requests);
    case 'inflight':
      return sum(metricName('active', o.naming), [], null);
    case 'auth_failure_rate': {
      const auth = metricName('auth', o.naming);
      return `(${sum(auth, ['success="false"'])} or 0 * ${sum(auth)}) / ${sum(auth)}`;
    }
    case 'rate_limited_share': {
      const limited = metricName('rateLimited', o.naming);
      return `(${sum(limited)} or 0 * ${sum(requests)}) / ${sum(requests)}`;
    }
    case 'apdex': {
      if (r.apdexTMs === null) {
        return { skip: 'its Apdex target comes from per-endpoint apdex: targets, which have no PromQL form' };
      }
      const t = leMatcher(r.apdexTMs / 1000, durationBoundsOf(o));
      const t4 = leMatcher((4 * r.apdexTMs) / 1000, durationBoundsOf(o));
      if (t === null || t4 === null) {
        const bounds = durationBoundsOf(o)
          .map((b) => Math.round(b * 1e6) / 1000)
          .join(', ');
        return { skip: `Apdex needs T and 4T on duration bucket bounds (ms: ${bounds})` };
      }
      const bucket = `${metricName('duration', o.naming)}_bucket`;
      return `(${sum(bucket, [t])} + ${sum(bucket, [t4])}) / 2 / ${sum(`${metricName('duration', o.naming)}_count`)}`;
    }
    case 'traffic_anomaly':
      return {
        skip: 'traffic_anomaly compares with a per-hour-of-day median/MAD baseline of apimeter history, which PromQL has no equivalent of',
      };
    default: {
      const q = QUANTILE_OF[r.signal];
      if (q === undefined) return { skip: `signal ${r.signal} has no PromQL form` };
      const bucket = `${metricName('duration', o.naming)}_bucket`;
      const buckets = `sum by (${by}, le) (${overEndpoints('rate', bucket, [], sets, w)})`;
      // Milliseconds, the unit of apimeter's latency thresholds.
      return `histogram_quantile(${q}, ${buckets}) * 1000`;
    }
  }
}

/** apimeter's annotation placeholders as Prometheus templates. */
function template(text: string, r: ArtifactRule): string {
  const endpoint = r.group ?? '{{ $labels.method }} {{ $labels.route }}';
  return text
    .replaceAll('{{value}}', '{{ $value }}')
    .replaceAll('{{threshold}}', String(r.threshold))
    .replaceAll('{{endpoint}}', endpoint);
}

function annotations(r: ArtifactRule): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.annotations)) out[k] = template(v, r);
  const cmp = r.op === 'above' ? 'above' : 'below';
  out.summary ??= template(`{{endpoint}}: ${r.signal} {{value}} (${cmp} {{threshold}})`, r);
  out.description ??= template(
    `apimeter rule ${r.name}: ${r.signal} over ${promDuration(r.windowMs)} is {{value}}, ${cmp} the threshold {{threshold}}.`,
    r,
  );
  return out;
}

function alertRule(o: ArtifactOptions, r: ArtifactRule, expr: string): PromRule {
  return {
    alert: r.name,
    expr,
    ...(r.forMs > 0 ? { for: promDuration(r.forMs) } : {}),
    ...(r.keepFiringForMs > 0 ? { keep_firing_for: promDuration(r.keepFiringForMs) } : {}),
    labels: {
      ...r.labels,
      severity: r.severity,
      service: o.service,
      ...(r.group === null ? {} : { group: r.group }),
    },
    annotations: annotations(r),
  };
}

/** A tally rule's alert: the signal against its threshold, judged only with `min_requests` in the window. */
function tallyAlert(o: ArtifactOptions, r: ArtifactRule): PromRule | string {
  const value = signalExpr(o, r);
  if (typeof value !== 'string') return `rule ${r.name} (${r.signal}): skipped, ${value.skip}`;
  let expr = `${value} ${r.op === 'above' ? '>' : '<'} ${r.threshold}`;
  if (r.minRequests > 0 && r.signal !== 'inflight') {
    const by = r.group === null ? ENDPOINT_BY : 'job';
    const sets = endpointMatchers(r.endpoints, routeFormatOf(o));
    const count = `sum by (${by}) (${overEndpoints('increase', metricName('requests', o.naming), [], sets, promDuration(r.windowMs))})`;
    expr = `(${expr}) and on (${by}) (${count} >= ${r.minRequests})`;
  }
  return alertRule(o, r, expr);
}

export interface GeneratedRules {
  readonly groups: RuleGroup[];
  /** One line per rule or SLO left out, saying why. */
  readonly skipped: string[];
}

/** The recording and alerting rules of a rule set, as groups. */
export function prometheusRuleGroups(set: ArtifactRuleSet, o: ArtifactOptions): GeneratedRules {
  const groups: RuleGroup[] = [recordingGroup(o)];
  const skipped: string[] = [];
  const alerts: PromRule[] = [];
  for (const r of set.rules) {
    if (r.signal === 'slo_burn_rate') continue;
    const rule = tallyAlert(o, r);
    if (typeof rule === 'string') skipped.push(rule);
    else alerts.push(rule);
  }
  if (alerts.length > 0) groups.push({ name: 'apimeter-alerts', rules: alerts });
  for (const slo of set.slos) {
    const { groups: sloRecordings, skipped: why } = sloGroups(o, slo, set.rules);
    if (why !== null) {
      skipped.push(why);
      continue;
    }
    groups.push(...sloRecordings);
    const burn = set.rules
      .filter((r) => r.signal === 'slo_burn_rate' && r.slo === slo.name)
      .map((r) => alertRule(o, r, burnRateExpr(o, slo, r)));
    const sloAlerts = burn.map((a) => ({ ...a, labels: { ...a.labels, slo: slo.name } }));
    if (sloAlerts.length > 0) groups.push({ name: `apimeter-slo-alerts-${o.service}-${slo.name}`, rules: sloAlerts });
  }
  for (const r of set.rules) {
    if (r.signal === 'slo_burn_rate' && !set.slos.some((s) => s.name === r.slo)) {
      skipped.push(`rule ${r.name}: skipped, SLO ${r.slo} is not defined`);
    }
  }
  return { groups, skipped };
}

/** The rule file `apimeter export prometheus-rules` prints. */
export function prometheusRulesYaml(set: ArtifactRuleSet, o: ArtifactOptions): string {
  const { groups, skipped } = prometheusRuleGroups(set, o);
  const header = [
    `Generated by apimeter export prometheus-rules (naming ${o.naming}, routes ${routeFormatOf(o)}, duration buckets ${durationBoundsOf(o).join(',')} s, service ${o.service}); regenerate rather than edit.`,
    'Names: docs/dashboards.md. Load with rule_files: in prometheus.yml; check with promtool check rules.',
    ...skipped.map((s) => `Not generated: ${s}.`),
  ];
  return renderRuleFile(groups, header);
}
