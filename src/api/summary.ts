import { ringHorizon } from '../core/query.js';
import { countsOf } from '../core/counts.js';
import { Tally } from '../core/tally.js';
import { collect } from './dataset.js';
import type { Dataset } from './dataset.js';
import { jsonResponse } from './http.js';
import { integerParam, Query } from './params.js';
import type { ParamDef } from './params.js';
import { parseRange, planSpan, rangeParams, windowBounds } from './range.js';
import type { RangeSpec } from './range.js';
import type { Route, RouteInput, RouteOutput } from './route.js';
import { CHANGE_FIELDS } from './schemas.js';
import type { PeriodTotalsJson, SummaryJson, TopEntryJson } from './schemas.js';
import {
  distribution,
  errorsOf,
  errorTypes,
  fiveXx,
  finite,
  hasDetail,
  iso,
  rangeJson,
  statusClasses,
} from './stats.js';
import type { ResolvedOptions } from './options.js';

const DEFAULT_TOP = 5;
const MAX_TOP = 50;

const PARAMS: readonly ParamDef[] = [
  {
    name: 'top',
    description: `Endpoints in each top list (default ${DEFAULT_TOP}; larger values are capped at ${MAX_TOP}).`,
    schema: { type: 'integer', minimum: 1, default: DEFAULT_TOP },
  },
  ...rangeParams('1h'),
];

interface Totals {
  tally: Tally;
  count: number;
  errors: number;
}

function totalsOf(data: Dataset): Totals {
  const tally = new Tally();
  for (const r of data.rows) tally.merge(r.tally);
  return { tally, count: tally.count, errors: errorsOf(tally) };
}

function availability(t: Tally): number {
  return t.count === 0 ? 100 : (100 * (t.count - fiveXx(t))) / t.count;
}

function periodTotals(data: Dataset, totals: Totals): PeriodTotalsJson {
  const q = (p: number) => (totals.tally.latency.count === 0 ? null : finite(totals.tally.latency.quantile(p)));
  return {
    from: iso(data.from),
    to: iso(data.to),
    seconds: data.seconds,
    count: totals.count,
    rate_per_second: data.seconds > 0 ? totals.count / data.seconds : 0,
    errors: totals.errors,
    error_rate: totals.count === 0 ? 0 : totals.errors / totals.count,
    availability: availability(totals.tally),
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
  };
}

function topLists(data: Dataset, n: number): SummaryJson['top'] {
  const entries: TopEntryJson[] = data.rows
    .filter((r) => r.tally.count > 0)
    .map((r) => {
      const errors = errorsOf(r.tally);
      const lat = r.tally.latency;
      return {
        method: r.method,
        route: r.route,
        count: r.tally.count,
        errors,
        error_rate: errors / r.tally.count,
        p95: lat.count === 0 ? null : finite(lat.quantile(0.95)),
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
    by_error_rate: top(
      (e) => e.errors > 0,
      (e) => e.error_rate,
    ),
    by_p95: top(
      (e) => e.p95 !== null,
      (e) => e.p95!,
    ),
  };
}

/**
 * The period of the same length just before the current one, read from the same ring (so both have the
 * same slot boundaries) or from history; or the reason it cannot be.
 */
function previousSpec(opts: ResolvedOptions, spec: RangeSpec, now: number): RangeSpec | string {
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
    to = plan.from;
    from = plan.from - (Math.min(plan.to, now) - plan.from);
    ring = plan.source === 'ring' ? plan.ring : 'history';
  }
  const horizon = ringHorizon(rings, now);
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
    const totals = totalsOf(data);
    const current = periodTotals(data, totals);

    let comparison: SummaryJson['comparison'] = { previous: null, change: null, reason: null };
    const prev = previousSpec(opts, spec, now);
    if (typeof prev === 'string') comparison.reason = prev;
    else {
      const prevData = await collect(opts, prev);
      const previous = periodTotals(prevData, totalsOf(prevData));
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

    let inflight = 0;
    for (const r of data.rows) inflight += r.inflight;
    const c = countsOf(totals.tally);
    const body: SummaryJson = {
      range: rangeJson(data),
      endpoints: opts.meter.registry.size,
      active_endpoints: data.rows.filter((r) => r.tally.count > 0).length,
      count: totals.count,
      errors: totals.errors,
      error_rate: current.error_rate,
      availability: current.availability,
      rate_per_second: current.rate_per_second,
      status_classes: statusClasses(totals.tally),
      error_types: errorTypes(totals.tally),
      latency_ms: distribution(totals.tally.latency),
      inflight,
      overflowed_records: opts.meter.registry.overflowedRecords,
      ...(hasDetail(opts.meter.detailed, data.rows)
        ? {
            auth_attempts: c.authAttempts,
            auth_failures: c.authFailures,
            rate_limited: c.rateLimited,
            db_queries: c.dbQueries,
            db_query_ms: c.dbMs,
          }
        : {}),
      top: topLists(data, n),
      comparison,
    };
    return { response: jsonResponse(200, body), cacheable: true };
  },
};
