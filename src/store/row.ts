import { countsOf } from '../core/counts.js';
import { LATENCY_SKETCH } from '../core/sketch.js';
import { Tally } from '../core/tally.js';
import type { TallyJSON } from '../core/tally.js';
import { timeSlicer } from './slice.js';
import type { SnapshotRow } from './store.js';

/** Column names of `api_metric_snapshots` in insert order (both dialects). */
export const COLUMNS = [
  'instance',
  'endpoint',
  'method',
  'bucket_start',
  'bucket_seconds',
  'request_count',
  'error_count',
  'status_codes',
  'avg_duration_ms',
  'p50_duration_ms',
  'p95_duration_ms',
  'p99_duration_ms',
  'min_duration_ms',
  'max_duration_ms',
  'request_bytes',
  'response_bytes',
  'request_bytes_max',
  'response_bytes_max',
  'tally',
  'tally_packed',
] as const;

/** Columns that make a row's identity (the upsert key). */
export const KEY_COLUMNS = ['instance', 'method', 'endpoint', 'bucket_start', 'bucket_seconds'] as const;

export type Value = string | number | Buffer | null;

/** First byte of a `tally_packed` value: the format (then the latency sketch's scale, then the frozen tally). */
const PACKED_FORMAT = 1;

/**
 * A tally's binary column value: a format byte, the latency sketch's scale (the frozen form does not
 * carry it), then the tally's frozen form (Tally.freeze, pack.ts): about a fifth of the JSON, and
 * merged without parsing.
 */
export function packTally(t: Tally): Buffer {
  return Buffer.from(String.fromCharCode(PACKED_FORMAT, LATENCY_SKETCH.scale) + t.freeze(0), 'latin1');
}

/**
 * The frozen tally held in a binary column value, as a string of one-byte characters (one copy, no
 * decoding): what `Tally.mergeFrozen` reads. Throws on a value of another format or sketch scale.
 */
export function packedFrozen(packed: Uint8Array): string {
  if (packed.length < 3 || packed[0] !== PACKED_FORMAT || packed[1] !== LATENCY_SKETCH.scale) {
    throw new TypeError(
      `not a packed tally of format ${PACKED_FORMAT} at latency scale ${LATENCY_SKETCH.scale} (first bytes ${packed[0]}, ${packed[1]})`,
    );
  }
  const buf = Buffer.isBuffer(packed) ? packed : Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  return buf.toString('latin1', 2);
}

/** A tally from its binary column value (as `Tally.fromJSON` of the JSON column). */
export function unpackTally(packed: Uint8Array): Tally {
  return new Tally().mergeFrozen(packedFrozen(packed));
}

/**
 * A row's column values. The summary columns (counts, percentiles, sizes) are for people and SQL
 * dashboards; history is merged from `tally` alone, so percentiles over long ranges come from merged
 * sketches, never from averaging p95s.
 */
export function encodeRow(r: SnapshotRow, tallyJson: string = JSON.stringify(r.tally.toJSON())): Value[] {
  const c = countsOf(r.tally);
  const s = c.latency;
  const has = s.count > 0;
  const codes: Record<string, number> = {};
  for (const [code, n] of c.codes) codes[String(code)] = n;
  return [
    r.instance,
    r.route,
    r.method,
    r.bucketStart,
    r.bucketSeconds,
    c.count,
    c.errorTotal,
    JSON.stringify(codes),
    has ? s.mean : null,
    has ? s.quantile(0.5) : null,
    has ? s.quantile(0.95) : null,
    has ? s.quantile(0.99) : null,
    has ? s.min : null,
    has ? s.max : null,
    c.request.total,
    c.response.total,
    c.request.max,
    c.response.max,
    tallyJson,
    packTally(r.tally),
  ];
}

/** The columns read back: identity and the serialized tally. */
export interface RawRow {
  instance: string;
  endpoint: string;
  method: string;
  bucket_start: string | number;
  bucket_seconds: string | number;
  /** Null (or absent) when the row has a packed tally: the JSON is not read then. */
  tally: string | TallyJSON | null;
  /** The binary tally (schema 3 on); null in rows written before. */
  tally_packed?: Uint8Array | null;
}

/**
 * What reads select: identity, the binary tally, and the JSON only where there is no binary one (rows
 * written before schema 3), so that neither SQLite nor PostgreSQL hands over JSON that is not needed.
 */
export const READ_COLUMNS =
  'instance, endpoint, method, bucket_start, bucket_seconds, tally_packed, CASE WHEN tally_packed IS NULL THEN tally END AS tally';

/** A stored row's tally: the binary column when there is one, else the JSON column (older rows). */
export function storedTally(packed: Uint8Array | null | undefined, json: string | TallyJSON | null): Tally {
  if (packed != null) return unpackTally(packed);
  if (json === null) throw new TypeError('a stored row has neither tally_packed nor tally');
  return Tally.fromJSON(typeof json === 'string' ? (JSON.parse(json) as TallyJSON) : json);
}

export function decodeRow(raw: RawRow): SnapshotRow {
  return {
    instance: raw.instance,
    method: raw.method,
    route: raw.endpoint,
    bucketStart: Number(raw.bucket_start),
    bucketSeconds: Number(raw.bucket_seconds),
    tally: storedTally(raw.tally_packed, raw.tally),
  };
}

/** Keeps the last row of each key: a batch (e.g. a retried buffer) may hold a key twice. */
export function dedupe(rows: readonly SnapshotRow[]): SnapshotRow[] {
  const byKey = new Map<string, SnapshotRow>();
  for (const r of rows) {
    byKey.set(`${r.instance}\u0000${r.method}\u0000${r.route}\u0000${r.bucketStart}\u0000${r.bucketSeconds}`, r);
  }
  return [...byKey.values()];
}

/**
 * {@link encodeRow} for many rows on the main thread, time-sliced (see timeSlicer) so that a
 * 1,000-endpoint snapshot does not stall requests for the whole encoding (JSON and quantiles of every tally).
 */
export async function encodeRows(rows: readonly SnapshotRow[]): Promise<Value[][]> {
  const slice = timeSlicer();
  const out: Value[][] = [];
  for (const r of rows) {
    await slice();
    out.push(encodeRow(r));
  }
  return out;
}

/** A row as the SQLite worker receives it: the tally as plain JSON data. */
export interface WireRow {
  instance: string;
  method: string;
  route: string;
  bucketStart: number;
  bucketSeconds: number;
  tally: TallyJSON;
}

/** Rows per serialized chunk sent to the SQLite worker. */
const WIRE_CHUNK = 50;

/**
 * Serializes rows for the SQLite worker on the calling thread, time-sliced, as a few JSON strings of
 * {@link WireRow} arrays: copying strings to another thread is a memcpy, where cloning a thousand
 * objects would stall the loop. The worker computes the summary columns (quantiles) itself.
 */
export async function toWireChunks(rows: readonly SnapshotRow[]): Promise<string[]> {
  const slice = timeSlicer();
  const chunks: string[] = [];
  let chunk: WireRow[] = [];
  for (const r of rows) {
    await slice();
    chunk.push({
      instance: r.instance,
      method: r.method,
      route: r.route,
      bucketStart: r.bucketStart,
      bucketSeconds: r.bucketSeconds,
      tally: r.tally.toJSON(),
    });
    if (chunk.length === WIRE_CHUNK) {
      chunks.push(JSON.stringify(chunk));
      chunk = [];
    }
  }
  if (chunk.length > 0) chunks.push(JSON.stringify(chunk));
  return chunks;
}

/** {@link encodeRow} of a row received from the main thread. */
export function encodeWireRow(w: WireRow): Value[] {
  return encodeRow({ ...w, tally: Tally.fromJSON(w.tally) }, JSON.stringify(w.tally));
}
