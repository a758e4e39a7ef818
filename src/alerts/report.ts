import { toCsv } from '../api/csv.js';
import { formatDuration } from './duration.js';
import type { BurnDownPoint, SloStatus } from './slo.js';
import type { AlertRule } from './rules.js';
import type { AlertInstance } from './state.js';

const iso = (ms: number) => new Date(ms).toISOString();
const finite = (n: number | null) => (n === null || !Number.isFinite(n) ? null : n);

/** An SLO status as the API and `apimeter report slo --format json` give it (snake_case, ISO times). */
export function sloJson(s: SloStatus): Record<string, unknown> {
  return {
    name: s.name,
    description: s.description,
    sli: s.sli,
    objective: s.objective,
    period: s.period,
    threshold_ms: s.thresholdMs,
    threshold_relative_error: s.thresholdRelativeError,
    from: iso(s.from),
    to: iso(s.to),
    covered_seconds: s.coveredSeconds,
    source: s.source,
    total: s.total,
    good: s.good,
    bad: s.bad,
    sli_value: s.sliValue,
    budget: {
      total: s.budget.total,
      consumed: s.budget.consumed,
      remaining: s.budget.remaining,
      remaining_share: s.budget.remainingShare,
    },
    burn_rates: s.burnRates.map((r) => ({ window: r.window, burn_rate: finite(r.burnRate) })),
    time_to_exhaustion_seconds: finite(s.timeToExhaustionSeconds),
    alerts: s.alerts.map((a) => ({
      factor: a.factor,
      long_window: a.longWindow,
      short_window: a.shortWindow,
      severity: a.severity,
      long_burn_rate: finite(a.longBurnRate),
      short_burn_rate: finite(a.shortBurnRate),
      burning: a.burning,
    })),
  };
}

export function burnDownJson(points: readonly BurnDownPoint[]): Record<string, unknown>[] {
  return points.map((p) => ({
    at: iso(p.at),
    total: p.total,
    bad: p.bad,
    remaining_share: p.remainingShare,
    burn_rate: finite(p.burnRate),
  }));
}

export function alertJson(rule: AlertRule, i: AlertInstance): Record<string, unknown> {
  return {
    rule: rule.name,
    endpoint: i.endpoint,
    state: i.state,
    severity: rule.severity,
    signal: rule.signal,
    since: iso(i.since),
    active_at: i.activeAt === 0 ? null : iso(i.activeAt),
    fired_at: i.firedAt === 0 ? null : iso(i.firedAt),
    resolved_at: i.resolvedAt === 0 ? null : iso(i.resolvedAt),
    value: finite(i.value),
    threshold: i.threshold,
    op: rule.op,
    labels: { ...rule.labels },
  };
}

export function ruleJson(r: AlertRule, instances: number): Record<string, unknown> {
  return {
    name: r.name,
    origin: r.origin,
    endpoints: [...r.endpoints],
    group: r.group,
    signal: r.signal,
    window: formatDuration(r.windowMs),
    op: r.op,
    threshold: r.threshold,
    for: formatDuration(r.forMs),
    keep_firing_for: formatDuration(r.keepFiringForMs),
    min_requests: r.minRequests,
    severity: r.severity,
    labels: { ...r.labels },
    annotations: { ...r.annotations },
    slo: r.slo,
    short_window: r.shortWindowMs === null ? null : formatDuration(r.shortWindowMs),
    apdex_t_ms: r.apdexTMs,
    baseline: r.signal === 'traffic_anomaly' ? r.baseline : null,
    instances,
  };
}

const pct = (x: number | null, digits = 3) => (x === null ? 'n/a' : `${(100 * x).toFixed(digits)} %`);
const num = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(2));
const duration = (s: number | null) => (s === null ? 'not burning' : formatDuration(Math.round(s / 60) * 60_000));

const HEADERS = [
  'SLO',
  'SLI',
  'objective',
  'period',
  'covered',
  'requests',
  'bad',
  'SLI value',
  'budget left',
  'burn 1h',
  'exhausted in',
];

function rowOf(s: SloStatus): string[] {
  const short = s.burnRates.find((r) => r.window === s.alerts[0]?.longWindow)?.burnRate ?? null;
  const sli = s.sli === 'latency' ? `latency ≤ ${s.thresholdMs} ms` : 'availability';
  return [
    s.name,
    sli,
    pct(s.objective),
    s.period,
    formatDuration(Math.round(s.coveredSeconds / 60) * 60_000),
    String(Math.round(s.total)),
    String(Math.round(s.bad)),
    pct(s.sliValue),
    pct(s.budget.remainingShare, 1),
    num(short),
    duration(s.timeToExhaustionSeconds),
  ];
}

/** A Markdown table of SLO statuses, to paste into a review. */
export function sloMarkdown(statuses: readonly SloStatus[]): string {
  const rows = statuses.map(rowOf);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(HEADERS), line(HEADERS.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

const CSV_HEADERS = [
  'slo',
  'sli',
  'threshold_ms',
  'objective',
  'period',
  'covered_seconds',
  'total',
  'bad',
  'sli_value',
  'budget_remaining_share',
  'burn_rate_1h',
  'time_to_exhaustion_seconds',
];

/** The statuses as CSV (RFC 4180), numbers unformatted, for spreadsheets. */
export function sloCsv(statuses: readonly SloStatus[]): string {
  return toCsv(
    CSV_HEADERS,
    statuses.map((s) => [
      s.name,
      s.sli,
      s.thresholdMs,
      s.objective,
      s.period,
      s.coveredSeconds,
      s.total,
      s.bad,
      s.sliValue,
      s.budget.remainingShare,
      s.burnRates.find((r) => r.window === s.alerts[0]?.longWindow)?.burnRate ?? null,
      s.timeToExhaustionSeconds,
    ]),
  );
}
