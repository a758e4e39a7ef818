/**
 * What an exporter, store or other background part says about itself, for `/health` and logs.
 * Parts register a function returning this; the metrics API calls it when asked, never per request.
 */
export interface ComponentHealth {
  /** `statsd`, `dogstatsd`, `otel`, `store:postgres`… */
  name: string;
  /** ok: working; degraded: working with losses or retries; failing: not delivering; off: disabled. */
  state: 'ok' | 'degraded' | 'failing' | 'off';
  /** Circuit breaker position, where the part has one. */
  circuit?: 'closed' | 'open' | 'half-open';
  /** Last error message (never containing credentials). */
  lastError?: string;
  lastErrorAt?: string;
  lastSuccessAt?: string;
  /** Counters the part wants to show: sent, dropped, buffered, … */
  counters?: Record<string, number>;
}

export type HealthSource = () => ComponentHealth;
