import type { EndpointStats } from '../core/endpoint.js';
import { rangeTally, ringHorizon, ringSlots, windowTally } from '../core/query.js';
import type { RingName, SlotTally } from '../core/query.js';
import { Tally } from '../core/tally.js';
import type { HistorySource } from '../core/history.js';
import { ApiProblem } from './http.js';
import type { ResolvedOptions } from './options.js';
import { historyMissing, planSpan, windowBounds } from './range.js';
import type { RangeSpec } from './range.js';

/** One endpoint's data over the range. */
export interface Row {
  method: string;
  route: string;
  tally: Tally;
  inflight: number;
  /** The live endpoint, when the registry has it (exceptions, since-start size sketches). */
  ep: EndpointStats | null;
}

export interface Dataset {
  window: string | null;
  /** What the data covers, ms since the epoch. */
  from: number;
  to: number;
  seconds: number;
  /** Slot length read (0 for window=all). */
  resolutionMs: number;
  source: 'memory' | 'history' | 'memory+history';
  rows: Row[];
}

/** Restricts a collection to one route (and method), for the detail route. */
export interface Scope {
  route?: string;
  method?: string;
}

/**
 * How a span is split between history (before `split`) and the ring (from `liveFrom` to `liveTo`: `to`
 * snapped up to the ring's minute, or the current minute when the span reaches now).
 */
interface HistoryPlan {
  history: HistorySource;
  from: number;
  split: number;
  to: number;
  liveFrom: number;
  liveTo: number;
}

function liveEndpoints(opts: ResolvedOptions, scope: Scope): EndpointStats[] {
  return opts.meter.registry
    .endpoints()
    .filter(
      (ep) =>
        (scope.route === undefined || ep.route === scope.route) &&
        (scope.method === undefined || ep.method === scope.method),
    );
}

function historyPlan(opts: ResolvedOptions, spec: RangeSpec & { kind: 'span' }, now: number): HistoryPlan {
  const { history, meter } = opts;
  if (history === null) throw historyMissing(spec, meter.rings);
  const coarseMs = meter.rings.coarseMs;
  const split = Math.floor(Math.min(history.persistedUntil(), now) / coarseMs) * coarseMs;
  const liveFrom = Math.max(split, ringHorizon(meter.rings, now).coarse, spec.from);
  const liveTo = (spec.to >= now ? Math.floor(now / coarseMs) + 1 : Math.ceil(spec.to / coarseMs)) * coarseMs;
  return { history, from: spec.from, split, to: spec.to, liveFrom, liveTo };
}

async function fromHistory<T>(history: HistorySource, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw new ApiProblem(
      503,
      `the history store (${history.name}) failed: ${error instanceof Error ? error.message : String(error)}`,
      {
        headers: { 'retry-after': '10' },
      },
    );
  }
}

/** Every endpoint's data over the range asked for, from the ring, history, or both. */
export async function collect(opts: ResolvedOptions, spec: RangeSpec, scope: Scope = {}): Promise<Dataset> {
  const { meter } = opts;
  const now = meter.clock.now();
  const eps = liveEndpoints(opts, scope);
  const live = (tally: (ep: EndpointStats) => Tally): Row[] =>
    eps.map((ep) => ({ method: ep.method, route: ep.route, tally: tally(ep), inflight: ep.inflight, ep }));

  if (spec.kind === 'window') {
    const bounds = windowBounds(meter.rings, spec.window, now, meter.startedAt);
    return {
      window: spec.window,
      from: bounds.from,
      to: now,
      seconds: Math.max(0, now - bounds.from) / 1000,
      resolutionMs: bounds.slotMs,
      source: 'memory',
      rows: live((ep) => windowTally(ep, spec.window, now, meter.startedAt)[0]),
    };
  }
  const plan = planSpan(meter.rings, spec.from, spec.to, now);
  if (plan.source === 'ring') {
    const from = Math.min(now, Math.max(plan.from, meter.startedAt));
    const to = Math.min(plan.to, now);
    return {
      window: spec.window,
      from,
      to,
      seconds: Math.max(0, to - from) / 1000,
      resolutionMs: plan.slotMs,
      source: 'memory',
      rows: live((ep) => rangeTally(ep, plan.ring, plan.from, plan.to, now)),
    };
  }
  const h = historyPlan(opts, spec, now);
  const answer = await fromHistory(h.history, () =>
    h.history.endpoints({ from: h.from, to: Math.min(h.to, h.split), ...scope }),
  );
  const useLive = h.liveFrom < h.to;
  const rows = new Map<string, Row>();
  for (const row of live((ep) => (useLive ? rangeTally(ep, 'coarse', h.liveFrom, h.liveTo, now) : new Tally()))) {
    rows.set(`${row.method} ${row.route}`, row);
  }
  for (const e of answer.endpoints) {
    const key = `${e.method} ${e.route}`;
    const row = rows.get(key);
    if (row === undefined)
      rows.set(key, { method: e.method, route: e.route, tally: new Tally().merge(e.tally), inflight: 0, ep: null });
    else row.tally.merge(e.tally);
  }
  // What the answer covers: history answers whole intervals (its `to` is snapped up to one), the ring
  // whole minutes up to now; rates divide by this, not by the unsnapped range asked for.
  const from = Math.min(answer.from, h.from);
  const to = Math.min(now, useLive ? h.liveTo : Math.max(answer.to, from));
  return {
    window: spec.window,
    from,
    to,
    seconds: Math.max(0, to - from) / 1000,
    resolutionMs: meter.rings.coarseMs,
    source: useLive ? 'memory+history' : 'history',
    rows: [...rows.values()],
  };
}

const MAX_POINTS = 720;

/** Adds `slots` into `into` by slot start. */
function addSlots(into: Map<number, Tally>, slots: SlotTally[], stepMs: number): void {
  for (const { start, tally } of slots) {
    const at = Math.floor(start / stepMs) * stepMs;
    let t = into.get(at);
    if (t === undefined) into.set(at, (t = new Tally()));
    t.merge(tally);
  }
}

/**
 * Data per slot over the dataset's range, oldest first, with empty slots filled in: of one route (all
 * methods merged, or `scope.method`), or, without `scope.route`, of every endpoint merged (counters added,
 * sketches merged). window=all gives the last hour at one-minute resolution.
 */
export async function collectSeries(
  opts: ResolvedOptions,
  spec: RangeSpec,
  data: Dataset,
  scope: Scope = {},
): Promise<{ stepMs: number; points: SlotTally[] }> {
  const { meter } = opts;
  const { rings } = meter;
  const now = meter.clock.now();
  const eps = liveEndpoints(opts, scope);
  const byStart = new Map<number, Tally>();
  let stepMs: number;
  let from: number;
  const read = (ring: RingName, a: number, b: number, step: number) => {
    for (const ep of eps) addSlots(byStart, ringSlots(ep, ring, a, b, now), step);
  };
  const plan = spec.kind === 'span' ? planSpan(rings, spec.from, spec.to, now) : null;
  if (plan === null || plan.source === 'ring') {
    let ring: RingName;
    let to: number;
    if (plan === null) {
      const bounds = windowBounds(rings, (spec as { window: 'all' }).window, now, meter.startedAt);
      ring = bounds.ring ?? 'coarse';
      stepMs = ring === 'fine' ? rings.fineMs : rings.coarseMs;
      from = bounds.ring === null ? Math.max(ringHorizon(rings, now).coarse, meter.startedAt) : bounds.from;
      to = now + 1;
    } else {
      ring = plan.ring;
      stepMs = plan.slotMs;
      from = Math.max(plan.from, meter.startedAt);
      to = plan.to;
    }
    from = Math.floor(from / stepMs) * stepMs;
    read(ring, from, to, stepMs);
  } else {
    const h = historyPlan(opts, spec as RangeSpec & { kind: 'span' }, now);
    const series = await fromHistory(h.history, () =>
      h.history.series({ from: h.from, to: Math.min(h.to, h.split), spanMs: h.to - h.from, ...scope }),
    );
    const span = h.to - h.from;
    stepMs = Math.max(series.stepMs, rings.coarseMs);
    stepMs *= Math.max(1, Math.ceil(span / stepMs / MAX_POINTS));
    from = Math.floor(data.from / stepMs) * stepMs;
    addSlots(byStart, series.points, stepMs);
    if (h.liveFrom < h.to) read('coarse', h.liveFrom, h.liveTo, stepMs);
  }
  const points: SlotTally[] = [];
  const last = Math.floor(Math.min(now, data.to === now ? now : data.to - 1) / stepMs) * stepMs;
  for (let at = from; at <= last && points.length < MAX_POINTS * 2; at += stepMs) {
    points.push({ start: at, tally: byStart.get(at) ?? new Tally() });
  }
  return { stepMs, points };
}
