import { MAX_EXCEPTION_CLASSES } from './endpoint.js';
import type { EndpointStats, RingLayout, RingName } from './endpoint.js';
import { ERROR_TYPES } from './record.js';
import type { ErrorType } from './record.js';
import type { Registry } from './registry.js';
import { LATENCY_SKETCH, SIZE_SKETCH, Sketch } from './sketch.js';
import { AUTH_TYPES, EXEMPLAR_SLOTS } from './detail.js';
import type { AuthType, EndpointDetail, Exemplar } from './detail.js';
import { Tally } from './tally.js';
import { Counters, readCounters, STATUS_CLASSES } from './counts.js';
import type { ByteCounts } from './counts.js';
import { apdexFigures } from './apdex.js';
import type { ApdexFigures } from './apdex.js';

export const WINDOWS = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000 } as const;
export type WindowName = keyof typeof WINDOWS | 'all';
export const WINDOW_NAMES: readonly WindowName[] = ['1m', '5m', '15m', '1h', 'all'];

export interface Distribution {
  /** Values the distribution was built from (all requests, or the sample when sampling). */
  count: number;
  min: number | null;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface SizeStats {
  /** Requests whose size was known. */
  count: number;
  totalBytes: number;
  mean: number | null;
  max: number | null;
  /** Percentiles exist for the `all` window only (size sketches are kept per endpoint, not per slot). */
  p50: number | null;
  p95: number | null;
}

/**
 * The figures of one tally over a range: the one plain-data model every reader formats (`meter.snapshot()`,
 * `meter.summary()`, the metrics API's JSON and CSV), so none of them computes a figure on its own.
 */
export interface Figures {
  count: number;
  /** Requests with an error type (any of `errorTypes`: 5xx, 4xx, exceptions, validation, aborted). */
  errors: number;
  /** errors / count (every error type; 0 without requests). */
  errorRate: number;
  /** Share of 5xx responses, 0..1 (0 without requests). */
  errorRate5xx: number;
  /** Share of 4xx responses (aborted requests are recorded as 499), 0..1. */
  errorRate4xx: number;
  /** Share of requests that were not 5xx, 0..1 (1 without requests). */
  availability: number;
  statusCodes: Record<string, number>;
  statusClasses: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>;
  errorTypes: Record<ErrorType, number>;
  latencyMs: Distribution;
  /** Apdex of the latency sketch at the T the reader passed (`[alerts] apdex_t_ms`, or the endpoint's own). */
  apdex: ApdexFigures;
  requestBytes: SizeStats;
  responseBytes: SizeStats;
  /** count / the seconds the range covers (0 for an empty range). */
  ratePerSecond: number;
}

/** Detailed mode's window counts of a tally (zero for requests recorded without it). */
export interface DetailCounts {
  /** Requests recorded with a request context (the base of the per-request figures). */
  requests: number;
  authAttempts: number;
  authFailures: number;
  /** authFailures / authAttempts; 0 without attempts. */
  authFailureRate: number;
  rateLimited: number;
  dbQueries: number;
  dbMs: number;
  /** dbQueries / requests; null without detailed requests. */
  queriesPerRequestMean: number | null;
}

export interface EndpointSnapshot extends Figures {
  method: string;
  route: string;
  window: WindowName;
  /** Seconds the window actually covers (shorter right after start-up). */
  windowSeconds: number;
  exceptions: ExceptionSnapshot[];
  /** Exponentially weighted request rates (req/s) over the last hour, like Unix load averages. */
  movingAverages: { rate1m: number; rate5m: number; rate15m: number };
  inflight: number;
  /** Detailed mode only (`metrics_detailed`): absent for endpoints recorded without it. */
  detail?: EndpointDetailSnapshot;
}

/** Exception classes since start-up (not windowed), most frequent first. */
export interface ExceptionSnapshot {
  class: string;
  count: number;
  lastMessage: string;
  lastAt: string;
}

/**
 * Auth, database, rate-limit and error detail of one endpoint (or several merged: the methods of a
 * route). Window counts follow the tally; distributions, samples and quota are since start-up.
 */
export interface EndpointDetailSnapshot {
  /** Requests in the window recorded with a request context (the base of the per-request figures). */
  requests: number;
  auth: {
    attempts: number;
    failures: number;
    failureRate: number;
    /** Since start-up, per kind of credentials. */
    byType: { type: AuthType; success: number; failure: number }[];
  };
  rateLimit: {
    /** Requests refused by the limiter in the window. */
    limited: number;
    /** Last quota the limiter reported; null when it never said. */
    limit: number | null;
    remaining: number | null;
    reportedAt: string | null;
    /** Lowest remaining/limit share seen since start-up (0 = exhausted). */
    lowestRemainingShare: number | null;
  };
  db: {
    /** Queries and summed query time in the window. */
    queries: number;
    queryMs: number;
    queriesPerRequestMean: number | null;
    /** Since start-up: queries per request (all requests), DB time per request (requests that queried). */
    queriesPerRequest: Distribution;
    dbMsPerRequest: Distribution;
  };
  /** Exception classes with normalized messages (bounded set), most frequent first. */
  errorMessages: { class: string; message: string; count: number; lastAt: string }[];
  /** Reservoir-sampled 5xx responses with stack frames and trace id, oldest first. */
  errorSamples: {
    at: string;
    status: number;
    class: string;
    message: string;
    frames: string[];
    traceId: string | null;
  }[];
  /** Latest traced request per power-of-two latency range (trace ids never become labels). */
  exemplars: { traceId: string; spanId: string | null; valueMs: number; at: string }[];
}

/** Totals over all endpoints: the {@link Figures} of their merged tallies, plus the meter's own counts. */
export interface MeterSummary extends Pick<
  Figures,
  'count' | 'errors' | 'errorRate' | 'errorRate5xx' | 'errorRate4xx' | 'availability' | 'ratePerSecond' | 'latencyMs'
> {
  window: WindowName;
  windowSeconds: number;
  endpoints: number;
  /** Apdex of all requests (merged latency sketch) at one T. */
  apdex: ApdexFigures;
  inflight: number;
  overflowedRecords: number;
  /** Detailed mode only: auth, rate-limit and database totals over all endpoints in the window. */
  detail?: Pick<DetailCounts, 'requests' | 'authAttempts' | 'authFailures' | 'rateLimited' | 'dbQueries' | 'dbMs'>;
}

/** Merges the slots of `ep` that fall in the window ending at `now`; coverage in seconds. */
export function windowTally(ep: EndpointStats, window: WindowName, now: number, startedAt: number): [Tally, number] {
  // The current fine slot is not folded into total and coarse slots yet: add it where it belongs.
  const open = ep.unfolded();
  if (window === 'all') {
    const merged = new Tally().merge(ep.total);
    if (open !== undefined) merged.merge(open);
    return [merged, Math.max(0, now - startedAt) / 1000];
  }
  const span = WINDOWS[window];
  const { fineMs, fineSlots, coarseMs, coarseSlots } = ep.rings;
  const fine = span <= fineMs * (fineSlots - 1);
  const slotMs = fine ? fineMs : coarseMs;
  const ring: RingName = fine ? 'fine' : 'coarse';
  const n = Math.min(Math.ceil(span / slotMs), fine ? fineSlots : coarseSlots);
  const current = Math.floor(now / slotMs);
  const merged = new Tally();
  for (let id = current - n + 1; id <= current; id++) ep.mergeSlot(ring, id, merged);
  if (!fine && open !== undefined) {
    const openCoarse = Math.floor((open.start * ep.rings.fineMs) / coarseMs);
    if (openCoarse > current - n && openCoarse <= current) merged.merge(open);
  }
  // The window holds the current (partial) slot and n−1 whole ones before it.
  const from = Math.max((current - n + 1) * slotMs, startedAt);
  return [merged, Math.max(0, now - from) / 1000];
}

/** A sketch's distribution; null figures when it is empty. */
export function distribution(s: Sketch): Distribution {
  const empty = s.count === 0;
  const q = (p: number) => (empty ? null : s.quantile(p));
  return {
    count: s.count,
    min: empty ? null : s.min,
    mean: empty ? null : s.mean,
    p50: q(0.5),
    p90: q(0.9),
    p95: q(0.95),
    p99: q(0.99),
    max: empty ? null : s.max,
  };
}

function sizes(b: ByteCounts, sketch: Sketch | null): SizeStats {
  const n = b.sized;
  const has = sketch !== null && sketch.count > 0;
  return {
    count: n,
    totalBytes: b.total,
    mean: n === 0 ? null : b.total / n,
    max: n === 0 ? null : b.max,
    p50: has ? sketch.quantile(0.5) : null,
    p95: has ? sketch.quantile(0.95) : null,
  };
}

// Queries read one tally at a time, synchronously: one scratch model serves every call.
const scratch = new Counters();
const counters = (t: Tally): Counters => readCounters(scratch, t, undefined, false);

/** Requests with an error type (any of them: the types are exclusive). */
export function errorsOf(t: Tally): number {
  return counters(t).errorTotal;
}

/** Responses of one status class (1 for 1xx … 5 for 5xx). */
export function statusClassCount(t: Tally, cls: 1 | 2 | 3 | 4 | 5): number {
  return counters(t).classes[STATUS_CLASSES[cls - 1]];
}

/** Requests recorded with a request context (detailed mode); 0 without it. */
export function detailedRequests(t: Tally): number {
  return counters(t).detailed;
}

/** Since-start body size sketches of an endpoint (or merged over several): percentiles for window=all. */
export interface SizeSketches {
  request: Sketch;
  response: Sketch;
}

/**
 * The figures of a tally covering `seconds`, Apdex at `apdexTMs` (core knows no rules file: the reader
 * resolves the endpoint's T). Size percentiles come from since-start sketches, so they are given only
 * when `sizeSketches` is (window=all).
 */
export function tallyFigures(
  t: Tally,
  seconds: number,
  apdexTMs: number,
  sizeSketches: SizeSketches | null = null,
): Figures {
  const c = counters(t);
  const count = c.count;
  const errors = c.errorTotal;
  const statusCodes: Record<string, number> = {};
  for (const [code, n] of t.statusCodes()) statusCodes[String(code)] = n;
  const errorTypes = {} as Record<ErrorType, number>;
  for (const type of ERROR_TYPES) errorTypes[type] = c.errors[type];
  const statusClasses = {
    '1xx': c.classes['1xx'],
    '2xx': c.classes['2xx'],
    '3xx': c.classes['3xx'],
    '4xx': c.classes['4xx'],
    '5xx': c.classes['5xx'],
  };
  const share = (n: number) => (count === 0 ? 0 : n / count);
  return {
    count,
    errors,
    errorRate: share(errors),
    errorRate5xx: share(statusClasses['5xx']),
    errorRate4xx: share(statusClasses['4xx']),
    availability: count === 0 ? 1 : (count - statusClasses['5xx']) / count,
    statusCodes,
    statusClasses,
    errorTypes,
    latencyMs: distribution(t.latency),
    apdex: apdexFigures(t.latency, apdexTMs),
    requestBytes: sizes(c.request, sizeSketches?.request ?? null),
    responseBytes: sizes(c.response, sizeSketches?.response ?? null),
    ratePerSecond: seconds > 0 ? count / seconds : 0,
  };
}

/** Detailed mode's window counts of a tally. */
export function detailCounts(t: Tally): DetailCounts {
  const c = counters(t);
  const requests = c.detailed;
  const attempts = c.authAttempts;
  return {
    requests,
    authAttempts: attempts,
    authFailures: c.authFailures,
    authFailureRate: attempts === 0 ? 0 : c.authFailures / attempts,
    rateLimited: c.rateLimited,
    dbQueries: c.dbQueries,
    dbMs: c.dbMs,
    queriesPerRequestMean: requests === 0 ? null : c.dbQueries / requests,
  };
}

/** EWMA of per-minute request rates over the coarse ring, oldest slot first. */
function movingAverages(ep: EndpointStats, now: number, startedAt: number): EndpointSnapshot['movingAverages'] {
  const { coarseMs, coarseSlots } = ep.rings;
  const current = Math.floor(now / coarseMs);
  const firstSlot = Math.max(current - coarseSlots + 1, Math.floor(startedAt / coarseMs));
  const taus = [60_000, 300_000, 900_000];
  const alphas = taus.map((tau) => 1 - Math.exp(-coarseMs / tau));
  const avg = [0, 0, 0];
  const open = ep.unfolded();
  const openCoarse = open === undefined ? -1 : Math.floor((open.start * ep.rings.fineMs) / coarseMs);
  for (let id = firstSlot; id < current; id++) {
    let n = ep.slotCount('coarse', id);
    if (id === openCoarse) n += open!.count;
    const rate = n / (coarseMs / 1000);
    for (let k = 0; k < 3; k++) avg[k] += alphas[k] * (rate - avg[k]);
  }
  return { rate1m: avg[0], rate5m: avg[1], rate15m: avg[2] };
}

export function endpointSnapshot(
  ep: EndpointStats,
  window: WindowName,
  now: number,
  startedAt: number,
  apdexTMs: number,
): EndpointSnapshot {
  const [t, seconds] = windowTally(ep, window, now, startedAt);
  const sizeSketches = window === 'all' ? { request: ep.requestSize, response: ep.responseSize } : null;
  return {
    method: ep.method,
    route: ep.route,
    window,
    windowSeconds: seconds,
    ...tallyFigures(t, seconds, apdexTMs, sizeSketches),
    exceptions: exceptionList([ep]),
    movingAverages: movingAverages(ep, now, startedAt),
    inflight: ep.inflight,
    ...(ep.detail === null ? {} : { detail: detailSnapshot(t, [ep.detail]) }),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Exception classes of the endpoints (the methods of a route), merged by class, most frequent first. */
export function exceptionList(eps: readonly EndpointStats[]): ExceptionSnapshot[] {
  const merged = new Map<string, { count: number; lastMessage: string; lastAt: number }>();
  for (const ep of eps) {
    for (const [cls, info] of ep.exceptions ?? []) {
      const m = merged.get(cls);
      if (m === undefined) merged.set(cls, { ...info });
      else {
        m.count += info.count;
        if (info.lastAt >= m.lastAt) Object.assign(m, { lastMessage: info.lastMessage, lastAt: info.lastAt });
      }
    }
  }
  return [...merged]
    .sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1))
    .slice(0, MAX_EXCEPTION_CLASSES)
    .map(([cls, info]) => ({ class: cls, count: info.count, lastMessage: info.lastMessage, lastAt: iso(info.lastAt) }));
}

/** The last quota reported on any of the endpoints, and the lowest share seen on any. */
function rateLimit(details: readonly EndpointDetail[], limited: number): EndpointDetailSnapshot['rateLimit'] {
  let last: EndpointDetail | undefined;
  let lowest = Infinity;
  for (const d of details) {
    if (d.rateLimit < 0) continue;
    if (last === undefined || d.rateAt > last.rateAt) last = d;
    lowest = Math.min(lowest, d.rateLowestShare);
  }
  return {
    limited,
    limit: last === undefined ? null : last.rateLimit,
    remaining: last === undefined || last.rateRemaining < 0 ? null : last.rateRemaining,
    reportedAt: last === undefined ? null : iso(last.rateAt),
    lowestRemainingShare: last === undefined ? null : lowest,
  };
}

function errorMessages(details: readonly EndpointDetail[]): EndpointDetailSnapshot['errorMessages'] {
  const merged = new Map<string, { class: string; message: string; count: number; lastAt: number }>();
  for (const d of details) {
    for (const m of d.messages.values()) {
      const key = `${m.class}\u0000${m.message}`;
      const e = merged.get(key);
      if (e === undefined) merged.set(key, { ...m });
      else {
        e.count += m.count;
        e.lastAt = Math.max(e.lastAt, m.lastAt);
      }
    }
  }
  return [...merged.values()]
    .sort((a, b) => b.count - a.count || b.lastAt - a.lastAt || (a.class < b.class ? -1 : a.class > b.class ? 1 : 0))
    .map((m) => ({ class: m.class, message: m.message, count: m.count, lastAt: iso(m.lastAt) }));
}

/** Per power-of-two latency slot, the latest exemplar of any of the endpoints. */
export function latestExemplars(details: readonly EndpointDetail[]): Exemplar[] {
  const out: Exemplar[] = [];
  for (let i = 0; i < EXEMPLAR_SLOTS; i++) {
    let best: Exemplar | undefined;
    for (const d of details) {
      const e = d.exemplars[i];
      if (e !== undefined && (best === undefined || e.at > best.at)) best = e;
    }
    if (best !== undefined) out.push(best);
  }
  return out;
}

/**
 * Detailed mode's figures: window counts from `t` (the range's tally, history included), since-start
 * data merged over `details` (one endpoint's, or those of each method of a route).
 */
export function detailSnapshot(t: Tally, details: readonly EndpointDetail[]): EndpointDetailSnapshot {
  const counts = detailCounts(t);
  const auth = new Array<number>(AUTH_TYPES.length * 2).fill(0);
  const queries = new Sketch(SIZE_SKETCH);
  const dbTime = new Sketch(LATENCY_SKETCH);
  for (const d of details) {
    d.auth.forEach((n, i) => (auth[i] += n));
    queries.merge(d.queries);
    dbTime.merge(d.dbTime);
  }
  const byType: EndpointDetailSnapshot['auth']['byType'] = [];
  AUTH_TYPES.forEach((type, i) => {
    const failure = auth[i * 2];
    const success = auth[i * 2 + 1];
    if (success + failure > 0) byType.push({ type, success, failure });
  });
  return {
    requests: counts.requests,
    auth: {
      attempts: counts.authAttempts,
      failures: counts.authFailures,
      failureRate: counts.authFailureRate,
      byType,
    },
    rateLimit: rateLimit(details, counts.rateLimited),
    db: {
      queries: counts.dbQueries,
      queryMs: counts.dbMs,
      queriesPerRequestMean: counts.queriesPerRequestMean,
      queriesPerRequest: distribution(queries),
      dbMsPerRequest: distribution(dbTime),
    },
    errorMessages: errorMessages(details),
    errorSamples: details
      .flatMap((d) => d.samples)
      .sort((a, b) => a.at - b.at)
      .map((x) => ({
        at: iso(x.at),
        status: x.status,
        class: x.class,
        message: x.message,
        frames: x.frames.slice(),
        traceId: x.traceId ?? null,
      })),
    exemplars: latestExemplars(details).map((e) => ({
      traceId: e.traceId,
      spanId: e.spanId ?? null,
      valueMs: e.valueMs,
      at: iso(e.at),
    })),
  };
}

export function summarize(
  registry: Registry,
  window: WindowName,
  now: number,
  startedAt: number,
  apdexTMs: number,
): MeterSummary {
  const merged = new Tally();
  let seconds = 0;
  let inflight = 0;
  let detailed = false;
  for (const ep of registry.endpoints()) {
    if (ep.detail !== null) detailed = true;
    const [t, s] = windowTally(ep, window, now, startedAt);
    merged.merge(t);
    seconds = s;
    inflight += ep.inflight;
  }
  if (registry.size === 0) seconds = window === 'all' ? (now - startedAt) / 1000 : 0;
  const f = tallyFigures(merged, seconds, apdexTMs);
  const d = detailed ? detailCounts(merged) : null;
  return {
    window,
    windowSeconds: seconds,
    endpoints: registry.size,
    count: f.count,
    errors: f.errors,
    errorRate: f.errorRate,
    errorRate5xx: f.errorRate5xx,
    errorRate4xx: f.errorRate4xx,
    availability: f.availability,
    ratePerSecond: f.ratePerSecond,
    latencyMs: f.latencyMs,
    apdex: f.apdex,
    inflight,
    overflowedRecords: registry.overflowedRecords,
    ...(d === null
      ? {}
      : {
          detail: {
            requests: d.requests,
            authAttempts: d.authAttempts,
            authFailures: d.authFailures,
            rateLimited: d.rateLimited,
            dbQueries: d.dbQueries,
            dbMs: d.dbMs,
          },
        }),
  };
}

/** One time slot of an endpoint's ring with its data; `start` in ms since the epoch. */
export interface SlotTally {
  start: number;
  tally: Tally;
}

/** Which ring a range is read from: fine (10 s slots, the last ~70 s) or coarse (60 s slots, the last ~61 min). */
export type { RingName };

/**
 * Start (ms) of the oldest slot each ring still holds at `now`; anything older has been overwritten and
 * can only come from a store.
 */
export function ringHorizon(rings: RingLayout, now: number): Record<RingName, number> {
  return {
    fine: (Math.floor(now / rings.fineMs) - rings.fineSlots + 1) * rings.fineMs,
    coarse: (Math.floor(now / rings.coarseMs) - rings.coarseSlots + 1) * rings.coarseMs,
  };
}

/**
 * The non-empty slots of one ring of `ep` whose start lies in [from, to), oldest first, as the ring holds
 * them at `now`. Coarse slots include the current fine slot, which is folded into its minute only when
 * the endpoint moves on. Returned tallies are copies where they had to be merged, otherwise the ring's
 * own: read them, do not modify them.
 */
export function ringSlots(ep: EndpointStats, ring: RingName, from: number, to: number, now: number): SlotTally[] {
  const { fineMs, fineSlots, coarseMs, coarseSlots } = ep.rings;
  const slotMs = ring === 'fine' ? fineMs : coarseMs;
  const current = Math.floor(now / slotMs);
  const first = Math.max(Math.ceil(from / slotMs), current - (ring === 'fine' ? fineSlots : coarseSlots) + 1);
  const last = Math.min(Math.ceil(to / slotMs) - 1, current);
  const open = ring === 'coarse' ? ep.unfolded() : undefined;
  const openId = open === undefined ? NaN : Math.floor((open.start * fineMs) / coarseMs);
  const out: SlotTally[] = [];
  for (let id = first; id <= last; id++) {
    let t = ep.slotTally(ring, id);
    // Coarse slots come back as copies (thawed from their frozen form), so the open slot is added in place.
    if (id === openId) t = t === undefined ? open : t.merge(open!);
    if (t !== undefined) out.push({ start: id * slotMs, tally: t });
  }
  return out;
}

/** All slots of one ring of `ep` starting in [from, to), merged into a new tally. */
export function rangeTally(ep: EndpointStats, ring: RingName, from: number, to: number, now: number): Tally {
  const merged = new Tally();
  for (const slot of ringSlots(ep, ring, from, to, now)) merged.merge(slot.tally);
  return merged;
}
