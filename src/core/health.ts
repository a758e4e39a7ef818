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

/** The meter's registered health sources, read by the metrics API's `/health`. */
export class HealthSources {
  private readonly sources = new Map<string, HealthSource>();

  /** Registers `source` under `name`; returns a function that unregisters it. */
  add(name: string, source: HealthSource): () => void {
    this.sources.set(name, source);
    return () => {
      if (this.sources.get(name) === source) this.sources.delete(name);
    };
  }

  /** Every source's state; a source that throws is reported as failing, never propagated. */
  read(): ComponentHealth[] {
    return [...this.sources].map(([name, source]) => {
      try {
        return source();
      } catch (err) {
        return { name, state: 'failing' as const, lastError: err instanceof Error ? err.message : String(err) };
      }
    });
  }
}
