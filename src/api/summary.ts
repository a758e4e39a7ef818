import { detailCounts, ringHorizon, tallyFigures } from '../core/query.js';
import type { Figures } from '../core/query.js';
import { Tally } from '../core/tally.js';
import { retentionCutoff } from '../core/history.js';
import { apdexTOf } from '../core/apdex.js';
import type { ApdexT } from '../core/apdex.js';
import { APDEX_PARAM, apdexCountsJson, apdexTargets, overallApdexT } from './apdex.js';
import { collect, collectSeries } from './dataset.js';
import type { Dataset } from './dataset.js';
import { jsonResponse } from './http.js';
import { integerParam, Query } from './params.js';
import type { ParamDef } from './params.js';
import { parseRange, planSpan, rangeParams, windowBounds } from './range.js';
import type { RangeSpec } from './range.js';
import { readsHistory } from './route.js';
import type { Route, RouteInput, RouteOutput } from './route.js';
import { CHANGE_FIELDS } from './schemas.js';
import type { PeriodTotalsJson, SummaryJson, TopEntryJson } from './schemas.js';
import { distributionJson, figuresJson, finite, hasDetail, iso, rangeJson, seriesPoint } from './stats.js';
import type { ResolvedOptions } from './options.js';

const DEFAULT_TOP = 5;
const MAX_TOP = 50;

const PARAMS: readonly ParamDef[] = [
  {
    name: 'top',
    description: `Endpoints in each top list (default ${DEFAULT_TOP}; larger values are capped at ${MAX_TOP}).`,
    schema: { type: 'integer', minimum: 1, default: DEFAULT_TOP },
  },
  {
    ...APDEX_PARAM,
    description:
      'Apdex target T in ms for this request: of the totals and of every top entry (default: [alerts] apdex_t_ms for the totals; for each top entry its T from the alerts rules file’s apdex: list, else that). Any T works: Apdex is read from the latency sketch.',
  },
  ...rangeParams('1h'),
];

function totalsOf(data: Dataset, apdexTMs: number): { tally: Tally; figures: Figures } {
  const tally = new Tally();
  for (const r of data.rows) tally.merge(r.tally);
  return { tally, figures: tallyFigures(tally, data.seconds, apdexTMs) };
}

function periodTotals(data: Dataset, f: Figures): PeriodTotalsJson {
  const j = figuresJson(f);
  return {
    from: iso(data.from),
    to: iso(data.to),
    seconds: data.seconds,
    count: j.count,
    rate_per_second: j.rate_per_second,
    errors: j.errors,
    error_rate_5xx: j.error_rate_5xx,
    error_rate_4xx: j.error_rate_4xx,
    availability: f.availability,
    p50: j.latency_ms.p50,
    p95: j.latency_ms.p95,
    p99: j.latency_ms.p99,
  };
}

function topLists(data: Dataset, n: number, apdexT: ApdexT): SummaryJson['top'] {
  const entries: TopEntryJson[] = data.rows
    .filter((r) => r.tally.count > 0)
    .map((r) => {
      const j = figuresJson(tallyFigures(r.tally, data.seconds, apdexTOf(apdexT, r.method, r.route)));
      return {
        method: r.method,
        route: r.route,
        count: j.count,
        errors: j.errors,
        error_rate_5xx: j.error_rate_5xx,
        error_rate_4xx: j.error_rate_4xx,
        p95: j.latency_ms.p95,
        apdex: j.apdex,
        apdex_t_ms: j.apdex_t_ms,
      };
    });
  const tie = (a: TopEntryJson, b: TopEntryJson) =>
    a.route < b.route ? -1 : a.route > b.route ? 1 : a.method < b.method ? -1 : a.method > b.method ? 1 : 0;
  const top = (keep: (e: TopEntryJson) => boolean, key: (e: TopEntryJson) => number) =>
    entries
      .filter(keep)
      .sort((a, b) => key(b) - key(a) || b.count - a.count || tie(a, b))
      .slice(0, n);
  return {
    by_count: top(
      () => true,
      (e) => e.count,
    ),
    by_errors: top(
      (e) => e.errors > 0,
      (e) => e.errors,
    ),
    by_error_rate_5xx: top(
      (e) => e.error_rate_5xx > 0,
      (e) => e.error_rate_5xx,
    ),
    by_p95: top(
      (e) => e.p95 !== null,
      (e) => e.p95!,
    ),
  };
}

/** Start of the oldest history still kept in full: the source's own, else the meter's retention setting. */
function retainedFrom(opts: ResolvedOptions, now: number): number {
  const own = opts.history?.retainedFrom?.(now);
  if (own !== undefined) return own;
  const days = opts.meter.config.apiMetricsRetentionDays;
  return days > 0 ? retentionCutoff(now, days) : -Infinity;
}

/**
 * The period of the same length just before the one `data` covers, adjacent and disjoint: read from the
 * same ring (so both have the same slot boundaries) or from history, whose intervals the current period
 * starts on; or the reason it cannot be compared.
 */
function previousSpec(opts: ResolvedOptions, spec: RangeSpec, data: Dataset, now: number): RangeSpec | string {
  const { rings, startedAt } = opts.meter;
  if (spec.kind === 'window' && spec.window === 'all') return 'window=all has no previous period';
  let from: number;
  let to: number;
  let ring: 'fine' | 'coarse' | 'history';
  if (spec.kind === 'window') {
    const b = windowBounds(rings, spec.window, now, startedAt);
    to = b.first;
    from = b.first - ((Math.floor(now / b.slotMs) + 1) * b.slotMs - b.first);
    ring = b.ring ?? 'coarse';
  } else {
    const plan = planSpan(rings, spec.from, spec.to, now);
    if (plan.source === 'ring') {
      to = plan.from;
      from = plan.from - (Math.min(plan.to, now) - plan.from);
      ring = plan.ring;
    } else {
      // History answered from whole intervals: the current period starts on one (data.from), so the
      // previous one ends there and no interval is counted in both.
      to = data.from;
      from = data.from - (data.to - data.from);
      ring = 'history';
    }
  }
  const horizon = ringHorizon(rings, now);
  const step = opts.history?.stepMs;
  if (spec.kind === 'window' && from < horizon.coarse && step !== undefined && step > 0) {
    // Read from history, which answers whole intervals: end on one, so none is shared with the current
    // window (at the cost of a gap shorter than one interval).
    const len = to - from;
    to = Math.floor(to / step) * step;
    from = to - len;
  }
  const period = `the previous period (${iso(from)} to ${iso(to)})`;
  if (ring === 'fine' && from < horizon.fine) {
    // Coarser sources have other slot boundaries: the two periods would not be comparable.
    return `${period} is older than the 10-second ring reaches (${(rings.fineMs * rings.fineSlots) / 1000} s); compare windows of 5m or more`;
  }
  const inMemory = ring !== 'history' && from >= horizon.coarse;
  if (!inMemory && opts.history === null) {
    const held = (rings.coarseMs * (rings.coarseSlots - 1)) / 60_000;
    return `${period} is older than the in-memory ring reaches (${held} minutes); comparing it needs history ([metrics] api_metrics_persistence)`;
  }
  if (inMemory && to <= startedAt) return `no data for ${period}: apimeter started at ${iso(startedAt)}`;
  if (!inMemory) {
    const kept = retainedFrom(opts, now);
    if (from < kept) {
      return (
        `${period} starts before the history kept (from ${iso(kept)}, [metrics] api_metrics_retention_days = ` +
        `${opts.meter.config.apiMetricsRetentionDays}): its totals would be partial, so no change is reported`
      );
    }
  }
  return { kind: 'span', window: null, from, to };
}

/** `GET {prefix}/summary`: totals over all endpoints, top lists and the comparison with the period before. */
export const summary: Route = {
  params: PARAMS,
  async run(input: RouteInput): Promise<RouteOutput> {
    const { opts } = input;
    const query = Query.parse(input.search, PARAMS);
    const n = integerParam(query, 'top', DEFAULT_TOP, { min: 1, max: MAX_TOP, cap: true });
    const now = opts.meter.clock.now();
    const spec = parseRange(query, now, '1h');
    const data = await collect(opts, spec);
    const apdexT = overallApdexT(opts, query);
    const totals = totalsOf(data, apdexT);
    const f = totals.figures;
    const current = periodTotals(data, f);

    let comparison: SummaryJson['comparison'] = { previous: null, change: null, reason: null };
    const prev = previousSpec(opts, spec, data, now);
    if (typeof prev === 'string') comparison.reason = prev;
    else {
      const prevData = await collect(opts, prev);
      const previous = periodTotals(prevData, totalsOf(prevData, apdexT).figures);
      const change = Object.fromEntries(
        CHANGE_FIELDS.map((f) => {
          const a = current[f];
          const b = previous[f];
          if (a === null || b === null) return [f, { absolute: null, percent: null }];
          return [f, { absolute: a - b, percent: b === 0 ? null : (100 * (a - b)) / b }];
        }),
      ) as NonNullable<SummaryJson['comparison']['change']>;
      comparison = { previous, change, reason: null };
    }

    // Whole-API series: every endpoint's slots merged per slot (sketches merged, never averaged).
    const series = await collectSeries(opts, spec, data);
    const stepSeconds = series.stepMs / 1000;

    let inflight = 0;
    for (const r of data.rows) inflight += r.inflight;
    const d = hasDetail(opts.meter.detailed, data.rows) ? detailCounts(totals.tally) : null;
    const body: SummaryJson = {
      range: rangeJson(data),
      endpoints: opts.meter.registry.size,
      active_endpoints: data.rows.filter((r) => r.tally.count > 0).length,
      count: f.count,
      errors: f.errors,
      error_rate_5xx: f.errorRate5xx,
      error_rate_4xx: f.errorRate4xx,
      availability: f.availability,
      rate_per_second: f.ratePerSecond,
      status_classes: { ...f.statusClasses },
      error_types: { ...f.errorTypes },
      latency_ms: distributionJson(f.latencyMs),
      apdex: f.apdex.score === null ? null : finite(f.apdex.score),
      apdex_t_ms: f.apdex.tMs,
      apdex_counts: apdexCountsJson(f.apdex),
      inflight,
      overflowed_records: opts.meter.registry.overflowedRecords,
      ...(d === null
        ? {}
        : {
            auth_attempts: d.authAttempts,
            auth_failures: d.authFailures,
            rate_limited: d.rateLimited,
            db_queries: d.dbQueries,
            db_query_ms: d.dbMs,
          }),
      top: topLists(data, n, apdexTargets(opts, query)),
      comparison,
      series: {
        step_seconds: stepSeconds,
        points: series.points.map((p) => ({
          ...seriesPoint(p.start, p.tally, stepSeconds, apdexT),
          rate_per_second: stepSeconds > 0 ? p.tally.count / stepSeconds : 0,
        })),
      },
    };
    return { response: jsonResponse(200, body), cacheable: readsHistory(data) };
  },
};
