import type { InstanceRecord } from './live-tier.js';

/**
 * - `live`: wrote within the last 3 of its intervals;
 * - `lagging`: has not written for 3 intervals (still expected: answers say they may miss its newest data);
 * - `gone`: has not written for `api_metrics_fleet_gone_seconds`; no longer expected;
 * - `stopped`: ended cleanly (its final write is in).
 */
export type InstanceState = 'live' | 'lagging' | 'gone' | 'stopped';

/** Intervals without a write after which an instance is lagging. */
export const LAGGING_INTERVALS = 3;

export function instanceState(r: InstanceRecord, now: number, goneMs: number): InstanceState {
  if (r.stoppedAt !== null) return 'stopped';
  const lag = now - r.lastWriteAt;
  if (lag >= goneMs) return 'gone';
  if (lag >= LAGGING_INTERVALS * r.intervalMs) return 'lagging';
  return 'live';
}

/** What every fleet answer carries (`fleet` in JSON, `x-apimeter-fleet-*` headers). */
export interface FleetCompletenessJson {
  /** Instances whose data can lie in the answer's range (started before its end, last wrote after its start). */
  contributed: string[];
  /** The answer holds every contributing, expected instance's data up to here (ISO 8601); null: none. */
  complete_until: string | null;
  /** No expected instance is lagging. */
  complete: boolean;
  lagging: { instance: string; last_write: string; lag_seconds: number }[];
  gone: { instance: string; last_write: string }[];
  stopped: { instance: string; stopped_at: string }[];
  instances: { instance: string; state: InstanceState; complete_until: string; last_write: string }[];
  /** The reader's last poll of the live tier failed: figures may be older than the states say. */
  reader_error?: string;
  /** Serve is still reading the live tier's hour at start-up: figures are partial (and `complete` false). */
  loading?: true;
  /** When the fleet view last read the live tier (ISO 8601). */
  read_at: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function completeness(
  records: readonly InstanceRecord[],
  now: number,
  goneMs: number,
  range: { from: number; to: number } | null,
  read: { at: number | null; error?: string; loading?: boolean },
): FleetCompletenessJson {
  const contributed: string[] = [];
  const lagging: FleetCompletenessJson['lagging'] = [];
  const gone: FleetCompletenessJson['gone'] = [];
  const stopped: FleetCompletenessJson['stopped'] = [];
  const instances: FleetCompletenessJson['instances'] = [];
  let until = Infinity;
  for (const r of records) {
    const state = instanceState(r, now, goneMs);
    const end = r.stoppedAt ?? r.lastWriteAt;
    const inRange = range === null || (r.startedAt < range.to && end >= range.from);
    if (inRange) contributed.push(r.instance);
    if (state === 'lagging') {
      lagging.push({ instance: r.instance, last_write: iso(r.lastWriteAt), lag_seconds: (now - r.lastWriteAt) / 1000 });
    } else if (state === 'gone') gone.push({ instance: r.instance, last_write: iso(r.lastWriteAt) });
    else if (state === 'stopped') stopped.push({ instance: r.instance, stopped_at: iso(r.stoppedAt!) });
    if (inRange && (state === 'live' || state === 'lagging')) until = Math.min(until, r.completeUntil);
    instances.push({
      instance: r.instance,
      state,
      complete_until: iso(r.completeUntil),
      last_write: iso(r.lastWriteAt),
    });
  }
  if (until === Infinity) {
    // Nobody expected: complete as far as the stopped and gone instances wrote.
    until = records.reduce((m, r) => Math.max(m, r.completeUntil), -Infinity);
  }
  return {
    contributed,
    complete_until: Number.isFinite(until) ? iso(until) : null,
    complete: lagging.length === 0 && read.error === undefined && read.loading !== true,
    lagging,
    gone,
    stopped,
    instances,
    ...(read.error !== undefined && { reader_error: read.error }),
    ...(read.loading === true && { loading: true as const }),
    read_at: read.at === null ? null : iso(read.at),
  };
}
