/** Trace exemplars in detailed mode: the latest traced request per latency range. */

/** A traced request kept as an exemplar for the latency range it fell in. */
export interface Exemplar {
  traceId: string;
  spanId: string | undefined;
  valueMs: number;
  at: number;
  /** The request's status code (499 for an aborted request): the `legacy` histogram's series is per code. */
  status: number;
}

/** Exemplar slots per endpoint: one per power of two of milliseconds from 2⁻¹⁰ ms (1 µs) up. */
export const EXEMPLAR_SLOTS = 32;
const EXEMPLAR_OFFSET = 10;

/** Index of the exemplar slot for a duration (one per power of two of ms). */
export function exemplarSlot(ms: number): number {
  if (!(ms > 0)) return 0;
  const i = Math.floor(Math.log2(ms)) + EXEMPLAR_OFFSET;
  return i < 0 ? 0 : i >= EXEMPLAR_SLOTS ? EXEMPLAR_SLOTS - 1 : i;
}

/** Keeps a traced request as the exemplar of its latency range, reusing the slot's object. */
export function noteExemplar(
  exemplars: (Exemplar | undefined)[],
  traceId: string,
  spanId: string | undefined,
  ms: number,
  now: number,
  status: number,
): void {
  const i = exemplarSlot(ms);
  const e = exemplars[i];
  if (e === undefined) exemplars[i] = { traceId, spanId, valueMs: ms, at: now, status };
  else {
    e.traceId = traceId;
    e.spanId = spanId;
    e.valueMs = ms;
    e.at = now;
    e.status = status;
  }
}
