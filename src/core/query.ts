import type { EndpointStats, RingLayout, RingName } from './endpoint.js';
import { ERROR_TYPES } from './record.js';
import type { ErrorType } from './record.js';
import type { Registry } from './registry.js';
import type { Sketch } from './sketch.js';
import { AUTH_TYPES } from './detail.js';
import type { AuthType, EndpointDetail } from './detail.js';
import { ERROR_FIELD, F, Tally } from './tally.js';

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

export interface EndpointSnapshot {
  method: string;
  route: string;
  window: WindowName;
  /** Seconds the window actually covers (shorter right after start-up). */
  windowSeconds: number;
  count: number;
  errors: number;
  errorRate: number;
  statusCodes: Record<string, number>;
  statusClasses: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>;
  errorTypes: Record<ErrorType, number>;
  exceptions: { class: string; count: number; lastMessage: string; lastAt: string }[];
  latencyMs: Distribution;
  requestBytes: SizeStats;
  responseBytes: SizeStats;
  ratePerSecond: number;
  /** Exponentially weighted request rates (req/s) over the last hour, like Unix load averages. */
  movingAverages: { rate1m: number; rate5m: number; rate15m: number };
  inflight: number;
  /** Detailed mode only (`metrics_detailed`): absent for endpoints recorded without it. */
  detail?: EndpointDetailSnapshot;
}

/** Auth, database, rate-limit and error detail of one endpoint. Window counts follow `window`; distributions, samples and quota are since start-up. */
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
  /** Reservoir-sampled 5xx responses with stack frames and trace id. */
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

export interface MeterSummary {
  window: WindowName;
  windowSeconds: number;
  endpoints: number;
  count: number;
  errors: number;
  errorRate: number;
  /** Share of requests that were not 5xx, in percent. */
  availability: number;
  ratePerSecond: number;
  latencyMs: Distribution;
  inflight: number;
  overflowedRecords: number;
  /** Detailed mode only: auth, rate-limit and database totals over all endpoints in the window. */
  detail?: {
    requests: number;
    authAttempts: number;
    authFailures: number;
    rateLimited: number;
    dbQueries: number;
    dbMs: number;
  };
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

function distribution(s: Sketch): Distribution {
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

function sizes(t: Tally, bytes: number, sized: number, max: number, sketch: Sketch | null): SizeStats {
  const c = t.c;
  const n = c[sized];
  return {
    count: n,
    totalBytes: c[bytes],
    mean: n === 0 ? null : c[bytes] / n,
    max: n === 0 ? null : c[max],
    p50: sketch && sketch.count > 0 ? sketch.quantile(0.5) : null,
    p95: sketch && sketch.count > 0 ? sketch.quantile(0.95) : null,
  };
}

function errorsOf(t: Tally): number {
  let e = 0;
  for (const f of ERROR_FIELD) e += t.c[f];
  return e;
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
): EndpointSnapshot {
  const [t, seconds] = windowTally(ep, window, now, startedAt);
  const c = t.c;
  const count = c[F.count];
  const errors = errorsOf(t);
  const all = window === 'all';
  const statusCodes: Record<string, number> = {};
  for (const [code, n] of t.statusCodes()) statusCodes[String(code)] = n;
  const errorTypes = {} as Record<ErrorType, number>;
  ERROR_TYPES.forEach((type, i) => (errorTypes[type] = c[ERROR_FIELD[i]]));
  return {
    method: ep.method,
    route: ep.route,
    window,
    windowSeconds: seconds,
    count,
    errors,
    errorRate: count === 0 ? 0 : errors / count,
    statusCodes,
    statusClasses: {
      '1xx': c[F.status1xx],
      '2xx': c[F.status1xx + 1],
      '3xx': c[F.status1xx + 2],
      '4xx': c[F.status1xx + 3],
      '5xx': c[F.status1xx + 4],
    },
    errorTypes,
    exceptions: [...(ep.exceptions ?? [])].map(([cls, info]) => ({
      class: cls,
      count: info.count,
      lastMessage: info.lastMessage,
      lastAt: new Date(info.lastAt).toISOString(),
    })),
    latencyMs: distribution(t.latency),
    requestBytes: sizes(t, F.requestBytes, F.requestSized, F.requestBytesMax, all ? ep.requestSize : null),
    responseBytes: sizes(t, F.responseBytes, F.responseSized, F.responseBytesMax, all ? ep.responseSize : null),
    ratePerSecond: seconds > 0 ? count / seconds : 0,
    movingAverages: movingAverages(ep, now, startedAt),
    inflight: ep.inflight,
    ...(ep.detail === null ? {} : { detail: detailSnapshot(t, ep.detail) }),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

function detailSnapshot(t: Tally, d: EndpointDetail): EndpointDetailSnapshot {
  const c = t.c;
  const byType: EndpointDetailSnapshot['auth']['byType'] = [];
  AUTH_TYPES.forEach((type, i) => {
    const failure = d.auth[i * 2];
    const success = d.auth[i * 2 + 1];
    if (success + failure > 0) byType.push({ type, success, failure });
  });
  const known = d.rateLimit >= 0;
  return {
    requests: c[F.detailed],
    auth: {
      attempts: c[F.authAttempts],
      failures: c[F.authFailures],
      failureRate: c[F.authAttempts] === 0 ? 0 : c[F.authFailures] / c[F.authAttempts],
      byType,
    },
    rateLimit: {
      limited: c[F.rateLimited],
      limit: known ? d.rateLimit : null,
      remaining: known && d.rateRemaining >= 0 ? d.rateRemaining : null,
      reportedAt: known ? iso(d.rateAt) : null,
      lowestRemainingShare: known ? d.rateLowestShare : null,
    },
    db: {
      queries: c[F.dbQueries],
      queryMs: c[F.dbMs],
      queriesPerRequestMean: c[F.detailed] === 0 ? null : c[F.dbQueries] / c[F.detailed],
      queriesPerRequest: distribution(d.queries),
      dbMsPerRequest: distribution(d.dbTime),
    },
    errorMessages: [...d.messages.values()]
      .sort((a, b) => b.count - a.count)
      .map((m) => ({ class: m.class, message: m.message, count: m.count, lastAt: iso(m.lastAt) })),
    errorSamples: d.samples
      .slice()
      .sort((a, b) => a.at - b.at)
      .map((x) => ({
        at: iso(x.at),
        status: x.status,
        class: x.class,
        message: x.message,
        frames: x.frames.slice(),
        traceId: x.traceId ?? null,
      })),
    exemplars: d.exemplars
      .filter((e) => e !== undefined)
      .map((e) => ({ traceId: e.traceId, spanId: e.spanId ?? null, valueMs: e.valueMs, at: iso(e.at) })),
  };
}

export function summarize(registry: Registry, window: WindowName, now: number, startedAt: number): MeterSummary {
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
  const count = merged.count;
  const errors = errorsOf(merged);
  const fivexx = merged.c[F.status1xx + 4];
  return {
    window,
    windowSeconds: seconds,
    endpoints: registry.size,
    count,
    errors,
    errorRate: count === 0 ? 0 : errors / count,
    availability: count === 0 ? 100 : (100 * (count - fivexx)) / count,
    ratePerSecond: seconds > 0 ? count / seconds : 0,
    latencyMs: distribution(merged.latency),
    inflight,
    overflowedRecords: registry.overflowedRecords,
    ...(detailed
      ? {
          detail: {
            requests: merged.c[F.detailed],
            authAttempts: merged.c[F.authAttempts],
            authFailures: merged.c[F.authFailures],
            rateLimited: merged.c[F.rateLimited],
            dbQueries: merged.c[F.dbQueries],
            dbMs: merged.c[F.dbMs],
          },
        }
      : {}),
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
