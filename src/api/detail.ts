import type { EndpointDetail } from '../core/detail.js';
import type { EndpointStats } from '../core/endpoint.js';
import { detailSnapshot } from '../core/query.js';
import type { Tally } from '../core/tally.js';
import type { DetailedStatsJson } from './schemas.js';
import { distributionJson } from './stats.js';

/**
 * Detailed mode's figures for one route, core's `detailSnapshot` in the API's names: window counts from
 * `t` (the range's merged tally, history included), since-start data merged over `eps` (its live
 * endpoints: one per method asked for).
 */
export function detailJson(t: Tally, eps: readonly EndpointStats[]): DetailedStatsJson {
  const details = eps.map((ep) => ep.detail).filter((d): d is EndpointDetail => d !== null);
  const d = detailSnapshot(t, details);
  return {
    requests: d.requests,
    auth: {
      attempts: d.auth.attempts,
      failures: d.auth.failures,
      failure_rate: d.auth.failureRate,
      by_type: d.auth.byType,
    },
    rate_limit: {
      limited: d.rateLimit.limited,
      limit: d.rateLimit.limit,
      remaining: d.rateLimit.remaining,
      reported_at: d.rateLimit.reportedAt,
      lowest_remaining_share: d.rateLimit.lowestRemainingShare,
    },
    db: {
      queries: d.db.queries,
      query_ms: d.db.queryMs,
      queries_per_request_mean: d.db.queriesPerRequestMean,
      queries_per_request: distributionJson(d.db.queriesPerRequest),
      db_ms_per_request: distributionJson(d.db.dbMsPerRequest),
    },
    error_messages: d.errorMessages.map((m) => ({
      class: m.class,
      message: m.message,
      count: m.count,
      last_at: m.lastAt,
    })),
    error_samples: d.errorSamples.map((s) => ({
      at: s.at,
      status: s.status,
      class: s.class,
      message: s.message,
      frames: s.frames,
      trace_id: s.traceId,
    })),
    exemplars: d.exemplars.map((e) => ({ trace_id: e.traceId, span_id: e.spanId, value_ms: e.valueMs, at: e.at })),
  };
}
