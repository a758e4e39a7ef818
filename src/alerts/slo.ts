import { LATENCY_SKETCH, relativeErrorBound } from '../core/sketch.js';
import { F, Tally } from '../core/tally.js';
import { countAtOrBelow } from '../core/apdex.js';
import { formatDuration } from './duration.js';
import { burnWindows } from './rules.js';
import type { Severity } from './rules.js';
import type { SloDefinition } from './slo-types.js';
import { spanOf } from './source.js';
import type { WindowData, WindowReader } from './source.js';

/** Good and bad requests of an SLO over some range. Latency SLOs may give fractions (sampled sketches). */
export interface SloCounts {
  total: number;
  bad: number;
}

/** Merges the rows of `data` the SLO covers. */
export function sloTally(slo: SloDefinition, data: WindowData): Tally {
  const merged = new Tally();
  for (const row of data.rows) if (slo.matches(row.endpoint)) merged.merge(row.tally);
  return merged;
}

/**
 * Good/bad of one tally. Availability: bad = 5xx, plus 4xx when `count_4xx_as_bad` (499, the client
 * aborting, only with `count_499_as_bad`, which also counts it alone). Latency: bad = requests above
 * `threshold_ms` read from the sketch, scaled to the request count when the sketch was sampled.
 */
export function sloCounts(slo: SloDefinition, t: Tally): SloCounts {
  const c = t.c;
  const total = c[F.count];
  if (slo.sli === 'latency') {
    if (t.latency.count === 0) return { total: 0, bad: 0 };
    const sampled = t.latency.count;
    const above = sampled - countAtOrBelow(t.latency, slo.thresholdMs!);
    // Exact when every request is in the sketch; scaled up from the sample otherwise.
    return { total, bad: sampled === total ? above : (total * above) / sampled };
  }
  const aborted = t.statusCodes().get(499) ?? 0;
  let bad = c[F.status1xx + 4];
  if (slo.count4xxAsBad) bad += c[F.status1xx + 3] - (slo.count499AsBad ? 0 : aborted);
  else if (slo.count499AsBad) bad += aborted;
  return { total, bad };
}

/** Burn rate: the bad share over the allowed bad share (1 = the budget lasts exactly the period); null without requests. */
export function burnRate(slo: SloDefinition, counts: SloCounts): number | null {
  return counts.total === 0 ? null : counts.bad / counts.total / (1 - slo.objective);
}

export interface BurnAlertStatus {
  factor: number;
  longWindow: string;
  shortWindow: string;
  severity: Severity;
  longBurnRate: number | null;
  shortBurnRate: number | null;
  /** Both windows burn faster than `factor`. */
  burning: boolean;
}

export interface SloStatus {
  name: string;
  description: string;
  sli: 'availability' | 'latency';
  /** 0..1. */
  objective: number;
  period: string;
  thresholdMs: number | null;
  /** Latency SLOs: requests within this relative distance of the threshold may be counted on either side. */
  thresholdRelativeError: number | null;
  from: number;
  to: number;
  /** What the data covers, seconds: the period, or less (no store, a young store, a restart without one). */
  coveredSeconds: number;
  source: WindowData['source'];
  total: number;
  good: number;
  bad: number;
  /** Good share over the period, null without requests. */
  sliValue: number | null;
  budget: {
    /** Bad requests the objective allows over the period (at the traffic seen). */
    total: number;
    consumed: number;
    remaining: number;
    /** 1 = untouched, 0 = spent, below 0 = overspent. */
    remainingShare: number;
  };
  /** Burn rate per window (the SRE workbook's eight, scaled to the period). */
  burnRates: { window: string; windowMs: number; burnRate: number | null }[];
  /** Seconds until the budget is spent at the burn rate of the shortest long window; null when not burning. */
  timeToExhaustionSeconds: number | null;
  alerts: BurnAlertStatus[];
}

/** Windows an SLO's status reads, shortest first. */
export function sloWindows(slo: SloDefinition): number[] {
  const set = new Set<number>();
  for (const w of burnWindows(slo.periodMs)) set.add(w.longMs).add(w.shortMs);
  return [...set].sort((a, b) => a - b);
}

/**
 * An SLO's status from data already read: `period` over the SLO's period (or the retroactive range), and
 * `windows` by length for the burn rates.
 */
export function sloStatus(slo: SloDefinition, period: WindowData, windows: ReadonlyMap<number, WindowData>): SloStatus {
  const tallies = new Map<number, Tally>();
  for (const [ms, data] of windows) tallies.set(ms, sloTally(slo, data));
  return sloStatusOf(slo, period, sloTally(slo, period), tallies);
}

/** {@link sloStatus} from the SLO's merged tallies: the period's (covering `span`) and each window's by length. */
export function sloStatusOf(
  slo: SloDefinition,
  span: Omit<WindowData, 'rows'>,
  periodTally: Tally,
  windows: ReadonlyMap<number, Tally>,
): SloStatus {
  const period = span;
  const counts = sloCounts(slo, periodTally);
  const allowed = counts.total * (1 - slo.objective);
  const remaining = allowed - counts.bad;
  const rateOf = new Map<number, number | null>();
  for (const [ms, t] of windows) rateOf.set(ms, burnRate(slo, sloCounts(slo, t)));
  const burns = burnWindows(slo.periodMs);
  const alerts = burns.map((w) => {
    const long = rateOf.get(w.longMs) ?? null;
    const short = rateOf.get(w.shortMs) ?? null;
    return {
      factor: w.factor,
      longWindow: formatDuration(w.longMs),
      shortWindow: formatDuration(w.shortMs),
      severity: w.severity,
      longBurnRate: long,
      shortBurnRate: short,
      burning: long !== null && short !== null && long > w.factor && short > w.factor,
    };
  });
  const remainingShare = allowed === 0 ? (counts.bad === 0 ? 1 : -Infinity) : remaining / allowed;
  const current = rateOf.get(burns[0].longMs) ?? null;
  const tte =
    current === null || current <= 0
      ? null
      : remainingShare <= 0
        ? 0
        : (remainingShare * slo.periodMs) / current / 1000;
  return {
    name: slo.name,
    description: slo.description,
    sli: slo.sli,
    objective: slo.objective,
    period: formatDuration(slo.periodMs),
    thresholdMs: slo.thresholdMs,
    thresholdRelativeError: slo.sli === 'latency' ? relativeErrorBound(LATENCY_SKETCH) : null,
    from: period.from,
    to: period.to,
    coveredSeconds: period.seconds,
    source: period.source,
    total: counts.total,
    good: counts.total - counts.bad,
    bad: counts.bad,
    sliValue: counts.total === 0 ? null : 1 - counts.bad / counts.total,
    budget: {
      total: allowed,
      consumed: counts.bad,
      remaining,
      remainingShare: Number.isFinite(remainingShare) ? remainingShare : -1,
    },
    burnRates: [...rateOf].map(([ms, rate]) => ({ window: formatDuration(ms), windowMs: ms, burnRate: rate })),
    timeToExhaustionSeconds: tte,
    alerts,
  };
}

/**
 * Reads everything an SLO's status needs at `now` (period and burn windows) and computes it. With
 * `range` (retroactive), the period is that range and the burn windows end at its end.
 */
export async function evaluateSlo(
  slo: SloDefinition,
  source: WindowReader,
  now: number,
  range?: { from: number; to: number },
): Promise<SloStatus> {
  const list = sloWindows(slo);
  if (range === undefined && source.windowParts !== undefined) {
    // Nested windows as parts: each part's matching rows merged once, each window the sum of its parts.
    const parts = await source.windowParts([...list, slo.periodMs], now);
    const tallies = new Map<number, Tally>();
    const spans = new Map<number, Omit<WindowData, 'rows'>>();
    for (const [ms, p] of parts) {
      const own = p.data === null ? null : sloTally(slo, p.data);
      const base = p.extends === null ? null : tallies.get(p.extends)!;
      const baseSpan = p.extends === null ? null : spans.get(p.extends)!;
      tallies.set(ms, own === null ? base! : base === null ? own : own.merge(base));
      spans.set(ms, baseSpan === null ? p.data! : p.data === null ? baseSpan : spanOf(baseSpan, p.data));
    }
    const windows = new Map<number, Tally>();
    for (const ms of list) windows.set(ms, tallies.get(ms)!);
    return sloStatusOf(slo, spans.get(slo.periodMs)!, tallies.get(slo.periodMs)!, windows);
  }
  if (range === undefined && source.windows !== undefined) {
    // The period and its burn windows are nested (all end now): read together, every stored row once.
    const got = await source.windows([...list, slo.periodMs], now);
    const windows = new Map<number, WindowData>();
    for (const ms of list) windows.set(ms, got.get(ms)!);
    return sloStatus(slo, got.get(slo.periodMs)!, windows);
  }
  const windows = new Map<number, WindowData>();
  for (const ms of list) {
    windows.set(
      ms,
      range === undefined ? await source.window(ms, now) : await source.range(range.to - ms, range.to, now),
    );
  }
  const period =
    range === undefined ? await source.window(slo.periodMs, now) : await source.range(range.from, range.to, now);
  return sloStatus(slo, period, windows);
}

export interface BurnDownPoint {
  /** End of the step, ms. */
  at: number;
  total: number;
  bad: number;
  /** Budget left after this step, as a share of the whole range's budget. */
  remainingShare: number;
  burnRate: number | null;
}

/**
 * The budget over [from, to) in `points` steps (default 30): how much was left after each. Read from
 * history (any range it holds, so SLOs apply retroactively) and the ring for the last hour.
 */
export async function burnDown(
  slo: SloDefinition,
  source: WindowReader,
  from: number,
  to: number,
  now: number,
  points = 30,
): Promise<BurnDownPoint[]> {
  const stepMs = Math.max(60_000, Math.ceil((to - from) / points / 60_000) * 60_000);
  const steps: { at: number; counts: SloCounts }[] = [];
  for (let a = from; a < to; a += stepMs) {
    const b = Math.min(to, a + stepMs);
    const data = await source.range(a, b, now);
    steps.push({ at: b, counts: sloCounts(slo, sloTally(slo, data)) });
  }
  const total = steps.reduce((s, p) => s + p.counts.total, 0);
  const allowed = total * (1 - slo.objective);
  let spent = 0;
  return steps.map(({ at, counts }) => {
    spent += counts.bad;
    return {
      at,
      total: counts.total,
      bad: counts.bad,
      remainingShare: allowed === 0 ? (spent === 0 ? 1 : -1) : 1 - spent / allowed,
      burnRate: burnRate(slo, counts),
    };
  });
}
