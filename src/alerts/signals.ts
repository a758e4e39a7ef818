import { F } from '../core/tally.js';
import type { Tally } from '../core/tally.js';
import { apdex } from './apdex.js';

/** What a rule can watch. Ratios are 0..1; latencies ms; rates requests per second. */
export const SIGNALS = [
  'error_rate_5xx',
  'error_rate_4xx',
  'latency_p50',
  'latency_p90',
  'latency_p95',
  'latency_p99',
  'request_rate',
  'auth_failure_rate',
  'rate_limited_share',
  'inflight',
  'apdex',
  'slo_burn_rate',
  'traffic_anomaly',
] as const;
export type SignalName = (typeof SIGNALS)[number];

/** Signals read from one endpoint's (or group's) tally over the rule's window. */
export type TallySignal = Exclude<SignalName, 'slo_burn_rate' | 'traffic_anomaly'>;

const QUANTILE: Partial<Record<SignalName, number>> = {
  latency_p50: 0.5,
  latency_p90: 0.9,
  latency_p95: 0.95,
  latency_p99: 0.99,
};

/** Unit shown with values in annotations and the API. */
export const SIGNAL_UNIT: Record<SignalName, string> = {
  error_rate_5xx: 'ratio',
  error_rate_4xx: 'ratio',
  latency_p50: 'ms',
  latency_p90: 'ms',
  latency_p95: 'ms',
  latency_p99: 'ms',
  request_rate: 'req/s',
  auth_failure_rate: 'ratio',
  rate_limited_share: 'ratio',
  inflight: 'requests',
  apdex: 'score',
  slo_burn_rate: 'x budget',
  traffic_anomaly: 'robust z',
};

/**
 * The value of a tally signal, or null when there is nothing to judge (no requests, no auth attempts,
 * an empty latency sketch). `seconds` is what the window covers; `inflight` the endpoint's gauge now.
 */
export function tallySignal(
  signal: TallySignal,
  t: Tally,
  seconds: number,
  inflight: number,
  apdexTMs: number,
): number | null {
  const c = t.c;
  const count = c[F.count];
  switch (signal) {
    case 'error_rate_5xx':
      return count === 0 ? null : c[F.status1xx + 4] / count;
    case 'error_rate_4xx':
      return count === 0 ? null : c[F.status1xx + 3] / count;
    case 'request_rate':
      return seconds > 0 ? count / seconds : null;
    case 'auth_failure_rate':
      return c[F.authAttempts] === 0 ? null : c[F.authFailures] / c[F.authAttempts];
    case 'rate_limited_share':
      return count === 0 ? null : c[F.rateLimited] / count;
    case 'inflight':
      return inflight;
    case 'apdex':
      return t.latency.count === 0 ? null : apdex(t.latency, apdexTMs);
    default: {
      const q = QUANTILE[signal]!;
      return t.latency.count === 0 ? null : t.latency.quantile(q);
    }
  }
}
