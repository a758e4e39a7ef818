import { AUTH_TYPES, EXEMPLAR_SLOTS } from '../core/detail.js';
import type { EndpointDetail, Exemplar } from '../core/detail.js';
import type { EndpointStats } from '../core/endpoint.js';
import { LATENCY_SKETCH, SIZE_SKETCH, Sketch } from '../core/sketch.js';
import { F } from '../core/tally.js';
import type { Tally } from '../core/tally.js';
import type { DetailedStatsJson } from './schemas.js';
import { distribution, iso } from './stats.js';

type RateLimit = DetailedStatsJson['rate_limit'];

/** The last quota reported on any of the endpoints, and the lowest share seen on any. */
function rateLimit(details: readonly EndpointDetail[], limited: number): RateLimit {
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
    reported_at: last === undefined ? null : iso(last.rateAt),
    lowest_remaining_share: last === undefined ? null : lowest,
  };
}

function errorMessages(details: readonly EndpointDetail[]): DetailedStatsJson['error_messages'] {
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
    .map((m) => ({ class: m.class, message: m.message, count: m.count, last_at: iso(m.lastAt) }));
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
 * Detailed mode's figures for one route: window counts from `t` (the range's merged tally, history
 * included), since-start data merged over `eps` (its live endpoints: one per method asked for).
 */
export function detailJson(t: Tally, eps: readonly EndpointStats[]): DetailedStatsJson {
  const c = t.c;
  const details = eps.map((ep) => ep.detail).filter((d): d is EndpointDetail => d !== null);
  const auth = new Array<number>(AUTH_TYPES.length * 2).fill(0);
  const queries = new Sketch(SIZE_SKETCH);
  const dbTime = new Sketch(LATENCY_SKETCH);
  for (const d of details) {
    d.auth.forEach((n, i) => (auth[i] += n));
    queries.merge(d.queries);
    dbTime.merge(d.dbTime);
  }
  const byType: DetailedStatsJson['auth']['by_type'] = [];
  AUTH_TYPES.forEach((type, i) => {
    const failure = auth[i * 2];
    const success = auth[i * 2 + 1];
    if (success + failure > 0) byType.push({ type, success, failure });
  });
  const attempts = c[F.authAttempts];
  const requests = c[F.detailed];
  return {
    requests,
    auth: {
      attempts,
      failures: c[F.authFailures],
      failure_rate: attempts === 0 ? 0 : c[F.authFailures] / attempts,
      by_type: byType,
    },
    rate_limit: rateLimit(details, c[F.rateLimited]),
    db: {
      queries: c[F.dbQueries],
      query_ms: c[F.dbMs],
      queries_per_request_mean: requests === 0 ? null : c[F.dbQueries] / requests,
      queries_per_request: distribution(queries),
      db_ms_per_request: distribution(dbTime),
    },
    error_messages: errorMessages(details),
    error_samples: details
      .flatMap((d) => d.samples)
      .sort((a, b) => a.at - b.at)
      .map((s) => ({
        at: iso(s.at),
        status: s.status,
        class: s.class,
        message: s.message,
        frames: s.frames.slice(),
        trace_id: s.traceId ?? null,
      })),
    exemplars: latestExemplars(details).map((e) => ({
      trace_id: e.traceId,
      span_id: e.spanId ?? null,
      value_ms: e.valueMs,
      at: iso(e.at),
    })),
  };
}
