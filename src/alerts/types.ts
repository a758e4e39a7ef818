/** One alert instance's transition, sent to notifiers. */
export interface AlertEvent {
  /** Rule name, e.g. `HighErrorRate`. */
  readonly rule: string;
  /** `METHOD /template` of the endpoint, or the group name for group rules. */
  readonly endpoint: string;
  readonly state: 'firing' | 'resolved';
  readonly severity: 'page' | 'ticket' | 'info';
  /** Rule labels plus `alertname`, `endpoint`, `severity`, `service`. */
  readonly labels: Readonly<Record<string, string>>;
  /** `summary`, `description` with the value filled in. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly value: number;
  readonly threshold: number;
  /** When the instance started firing. */
  readonly startsAt: Date;
  /** Set when resolved. */
  readonly endsAt?: Date;
}

/** A destination for alert events. Implementations never throw into the evaluator. */
export interface Notifier {
  readonly name: string;
  /** Called after each evaluation with the instances that changed state and, for re-sending, those still firing. Resolves when delivered or given up; never rejects. */
  notify(events: readonly AlertEvent[]): Promise<void>;
  /** For /health: `ok`, `failing` (with the last error, redacted), pending retries. */
  health(): { state: 'ok' | 'failing'; lastError: string | null; pending: number };
  close(): Promise<void>;
}
