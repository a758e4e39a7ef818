import type { EndpointStats } from '../core/endpoint.js';
import { Sketch } from '../core/sketch.js';
import type { SketchJSON } from '../core/sketch.js';
import { CONSUMER_LATENCY_SKETCH, OTHER_CONSUMER } from '../core/consumers/tracker.js';
import type { ConsumerTracker } from '../core/consumers/tracker.js';

/**
 * One consumer's figures over one snapshot interval, as `api_metric_consumers` keeps them (migration 6).
 * The consumer's totals row has `method` and `route` '' and carries `serverErrors` and the latency
 * sketch; its per-endpoint rows carry requests and errors (serverErrors 0, latency null). The consumer
 * `other` holds everyone outside the top K of the interval (its per-endpoint errors are not known: 0).
 * Rows are keyed by (instance, bucketStart, consumer, method, route); writing a key again replaces it.
 */
export interface ConsumerRow {
  instance: string;
  bucketStart: number;
  bucketSeconds: number;
  consumer: string;
  method: string;
  route: string;
  requests: number;
  errors: number;
  serverErrors: number;
  /** CONSUMER_LATENCY_SKETCH; null on per-endpoint rows and `other`. */
  latency: Sketch | null;
}

export interface ConsumerQuery {
  /** Half-open [from, to) on bucket starts, ms since the epoch. */
  from: number;
  to: number;
  /** Only this instance; all instances when absent. */
  instance?: string;
  /** Only this consumer's rows. */
  consumer?: string;
  /**
   * Summed in the store (SQL GROUP BY) instead of row by row: one row per (consumer, method, route)
   * over the range — counts added, latency sketches merged, `bucketStart` the earliest, `bucketSeconds`
   * the widest, `instance` the query's (or '' across instances). {@link mergeConsumerRows} gives the
   * same answer from either form; a 30-day read of K = 100 consumers then crosses as at most
   * (K + 1) × (endpoints + 1) rows rather than one per interval.
   */
  merged?: boolean;
}

/** A consumer's rows over a range, merged: counts added, sketches merged. */
export interface MergedConsumer {
  id: string;
  requests: number;
  errors: number;
  serverErrors: number;
  latency: Sketch;
  /** `method route` → [requests, errors]. */
  endpoints: Map<string, { method: string; route: string; requests: number; errors: number }>;
}

/** Column order of a stored row (SQLite and PostgreSQL). */
export const CONSUMER_COLUMNS = [
  'instance',
  'bucket_start',
  'bucket_seconds',
  'consumer',
  'method',
  'endpoint',
  'requests',
  'errors',
  'errors_5xx',
  'latency',
] as const;

export type ConsumerValue = string | number | null;

export function encodeConsumerRow(r: ConsumerRow): ConsumerValue[] {
  return [
    r.instance,
    r.bucketStart,
    r.bucketSeconds,
    r.consumer,
    r.method,
    r.route,
    r.requests,
    r.errors,
    r.serverErrors,
    r.latency === null ? null : JSON.stringify(r.latency.toJSON()),
  ];
}

export interface RawConsumerRow {
  instance: string;
  bucket_start: number | string;
  bucket_seconds: number;
  consumer: string;
  method: string;
  endpoint: string;
  requests: number | string;
  errors: number | string;
  errors_5xx: number | string;
  latency: string | null;
}

export function decodeConsumerRow(r: RawConsumerRow): ConsumerRow {
  return {
    instance: r.instance,
    bucketStart: Number(r.bucket_start),
    bucketSeconds: Number(r.bucket_seconds),
    consumer: r.consumer,
    method: r.method,
    route: r.endpoint,
    requests: Number(r.requests),
    errors: Number(r.errors),
    serverErrors: Number(r.errors_5xx),
    latency: r.latency === null ? null : Sketch.fromJSON(JSON.parse(r.latency) as SketchJSON, CONSUMER_LATENCY_SKETCH),
  };
}

/** Stored rows summed per (consumer, method, route), as a `merged` read answers (the memory store's way). */
export function sumConsumerRows(rows: Iterable<ConsumerRow>, instance: string): ConsumerRow[] {
  const out = new Map<string, ConsumerRow>();
  for (const r of rows) {
    const key = `${r.consumer}\u0000${r.method}\u0000${r.route}`;
    const m = out.get(key);
    if (m === undefined) {
      out.set(key, { ...r, instance, latency: r.latency === null ? null : r.latency.clone() });
      continue;
    }
    m.bucketStart = Math.min(m.bucketStart, r.bucketStart);
    m.bucketSeconds = Math.max(m.bucketSeconds, r.bucketSeconds);
    m.requests += r.requests;
    m.errors += r.errors;
    m.serverErrors += r.serverErrors;
    if (r.latency !== null) m.latency = m.latency === null ? r.latency.clone() : m.latency.merge(r.latency);
  }
  return [...out.values()];
}

/** The last row of each key wins (a batch may hold a retried interval). */
export function dedupeConsumerRows(rows: readonly ConsumerRow[]): ConsumerRow[] {
  const byKey = new Map<string, ConsumerRow>();
  for (const r of rows) byKey.set(consumerKey(r), r);
  return [...byKey.values()];
}

export function consumerKey(r: ConsumerRow): string {
  return `${r.instance}\u0000${r.bucketStart}\u0000${r.consumer}\u0000${r.method}\u0000${r.route}`;
}

/** Merges stored rows per consumer: counts added, latency sketches merged (p95 over the whole range). */
export function mergeConsumerRows(rows: Iterable<ConsumerRow>): Map<string, MergedConsumer> {
  const out = new Map<string, MergedConsumer>();
  for (const r of rows) {
    let m = out.get(r.consumer);
    if (m === undefined) {
      m = {
        id: r.consumer,
        requests: 0,
        errors: 0,
        serverErrors: 0,
        latency: new Sketch(CONSUMER_LATENCY_SKETCH),
        endpoints: new Map(),
      };
      out.set(r.consumer, m);
    }
    if (r.method === '' && r.route === '') {
      m.requests += r.requests;
      m.errors += r.errors;
      m.serverErrors += r.serverErrors;
      if (r.latency !== null) m.latency.merge(r.latency);
      continue;
    }
    const key = `${r.method} ${r.route}`;
    const e = m.endpoints.get(key);
    if (e === undefined)
      m.endpoints.set(key, { method: r.method, route: r.route, requests: r.requests, errors: r.errors });
    else {
      e.requests += r.requests;
      e.errors += r.errors;
    }
  }
  return out;
}

/**
 * What the tracker added since its last drain, as rows of the interval starting at `bucketStart`: a
 * totals row and per-endpoint rows for each of the top K consumers with new requests, and `other` (the
 * rest) as a totals row and a row per endpoint. `baseline` holds the tracker's totals at the previous
 * drain (per endpoint id and overall) and is updated. At most (K + 1) × (endpoints + 1) rows.
 */
export function drainConsumerRows(
  tracker: ConsumerTracker,
  endpoints: readonly EndpointStats[],
  baseline: ConsumerBaseline,
  instance: string,
  bucketStart: number,
  bucketSeconds: number,
): ConsumerRow[] {
  const byId = new Map<number, EndpointStats>();
  for (const ep of endpoints) if (ep.redirect === undefined || ep.redirect === null) byId.set(ep.id, ep);
  const drained = tracker.drain();
  const rows: ConsumerRow[] = [];
  const base = { instance, bucketStart, bucketSeconds };
  const trackedPerEndpoint = new Map<number, number>();
  let errors = 0;
  let serverErrors = 0;
  for (const d of drained.consumers) {
    if (d.id === OTHER_CONSUMER) continue; // the name is reserved for the rest; an id of `other` counts there
    rows.push({
      ...base,
      consumer: d.id,
      method: '',
      route: '',
      requests: d.requests,
      errors: d.errors,
      serverErrors: d.serverErrors,
      latency: d.latency,
    });
    errors += d.errors;
    serverErrors += d.serverErrors;
    for (const [epId, [requests, errs]] of d.endpoints) {
      trackedPerEndpoint.set(epId, (trackedPerEndpoint.get(epId) ?? 0) + requests);
      const ep = byId.get(epId);
      if (ep === undefined) continue;
      rows.push({
        ...base,
        consumer: d.id,
        method: ep.method,
        route: ep.route,
        requests,
        errors: errs,
        serverErrors: 0,
        latency: null,
      });
    }
  }
  const tracked = rows.reduce((n, r) => (r.method === '' ? n + r.requests : n), 0);
  const other = drained.requests - tracked;
  const otherErrors = Math.max(0, tracker.errors - baseline.errors - errors);
  const otherServer = Math.max(0, tracker.serverErrors - baseline.serverErrors - serverErrors);
  baseline.errors = tracker.errors;
  baseline.serverErrors = tracker.serverErrors;
  if (other > 0) {
    rows.push({
      ...base,
      consumer: OTHER_CONSUMER,
      method: '',
      route: '',
      requests: other,
      errors: otherErrors,
      serverErrors: otherServer,
      latency: null,
    });
  }
  for (const ep of byId.values()) {
    const total = tracker.endpointTotals(ep).requests;
    const before = baseline.endpoints.get(ep.id) ?? 0;
    if (total === before) continue;
    baseline.endpoints.set(ep.id, total);
    const rest = total - before - (trackedPerEndpoint.get(ep.id) ?? 0);
    if (rest > 0)
      rows.push({
        ...base,
        consumer: OTHER_CONSUMER,
        method: ep.method,
        route: ep.route,
        requests: rest,
        errors: 0,
        serverErrors: 0,
        latency: null,
      });
  }
  return rows;
}

/** The tracker's totals at the previous drain (see {@link drainConsumerRows}). */
export interface ConsumerBaseline {
  errors: number;
  serverErrors: number;
  endpoints: Map<number, number>;
}

export const emptyBaseline = (): ConsumerBaseline => ({ errors: 0, serverErrors: 0, endpoints: new Map() });
