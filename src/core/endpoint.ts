import { SIZE_SKETCH, Sketch } from './sketch.js';
import { Tally } from './tally.js';
import { normalizeMessage } from './detail.js';
import type { EndpointDetail } from './detail.js';

/**
 * Time slots kept per endpoint: a fine ring (10 s slots) for the 1-minute window and a coarse ring
 * (60 s slots) for 5 min, 15 min and 1 h. A record writes only the current fine slot; when an
 * endpoint moves on to a new fine slot, the previous one is folded (merged) into its coarse slot and
 * the since-start total. So the per-request path touches one tally, the merge runs once per endpoint
 * per 10 s, nothing runs on a timer, and idle endpoints cost nothing. `coarseMs` must be a multiple of
 * `fineMs`.
 */
export interface RingLayout {
  readonly fineMs: number;
  readonly fineSlots: number;
  readonly coarseMs: number;
  readonly coarseSlots: number;
}

export const DEFAULT_RINGS: RingLayout = Object.freeze({
  fineMs: 10_000,
  fineSlots: 7,
  coarseMs: 60_000,
  coarseSlots: 61,
});

export interface ExceptionInfo {
  count: number;
  lastMessage: string;
  lastAt: number;
}

/** Distinct exception classes kept per endpoint; the rest count under `Other`. */
export const MAX_EXCEPTION_CLASSES = 20;

/**
 * Everything the registry knows about one (method, route template). Adapters hold a reference to it
 * (resolved once per route), so recording never looks anything up by string.
 */
export class EndpointStats {
  inflight = 0;
  /** Since start-up, except the current fine slot (see {@link currentFine}). */
  readonly total = new Tally();
  /** Id of the fine slot records go to; it is the only slot not yet folded into total and coarse. */
  currentFine = -1;
  /** In the registry's listing (set on first record, see Registry.activate). */
  listed = false;
  /** Set when the cap refused this endpoint: its records go to the overflow endpoint. */
  redirect: EndpointStats | null = null;
  readonly requestSize = new Sketch(SIZE_SKETCH);
  readonly responseSize = new Sketch(SIZE_SKETCH);
  exceptions: Map<string, ExceptionInfo> | null = null;
  /** Detailed mode's per-endpoint data, created on the first detailed record. */
  detail: EndpointDetail | null = null;
  // Rings built with Array.from so that no two positions share one tally (prom-client's fill() bug).
  readonly fine: (Tally | undefined)[];
  readonly coarse: (Tally | undefined)[];

  constructor(
    readonly id: number,
    readonly method: string,
    readonly route: string,
    readonly rings: RingLayout,
  ) {
    this.fine = Array.from({ length: rings.fineSlots }, () => undefined);
    this.coarse = Array.from({ length: rings.coarseSlots }, () => undefined);
  }

  /** The tally for slot `id` of a ring, created on first use and reset when the ring wraps. */
  static slot(ring: (Tally | undefined)[], id: number): Tally {
    const i = id % ring.length;
    let t = ring[i];
    if (t === undefined) {
      t = new Tally();
      ring[i] = t;
    }
    if (t.start !== id) t.reset(id);
    return t;
  }

  /**
   * Makes `fineId` the current fine slot, folding the previous current slot into its coarse slot and
   * the total. The new slot is always emptied: if the clock stepped back onto an already folded slot,
   * keeping its content would count it twice.
   */
  rotate(fineId: number): Tally {
    const prev = this.currentFine;
    if (prev >= 0) {
      const done = this.fine[prev % this.fine.length];
      if (done !== undefined && done.start === prev && done.count > 0) {
        this.total.merge(done);
        const coarseId = Math.floor((prev * this.rings.fineMs) / this.rings.coarseMs);
        EndpointStats.slot(this.coarse, coarseId).merge(done);
      }
    }
    const i = fineId % this.fine.length;
    let t = this.fine[i];
    if (t === undefined) {
      t = new Tally();
      this.fine[i] = t;
    }
    t.reset(fineId);
    this.currentFine = fineId;
    return t;
  }

  /** The current fine slot if it holds records (it is not in total or coarse yet), else undefined. */
  unfolded(): Tally | undefined {
    const id = this.currentFine;
    if (id < 0) return undefined;
    const t = this.fine[id % this.fine.length];
    return t !== undefined && t.start === id && t.count > 0 ? t : undefined;
  }

  noteException(errorClass: string, message: string, now: number): void {
    const map = (this.exceptions ??= new Map());
    let info = map.get(errorClass);
    if (info === undefined) {
      const key = map.size < MAX_EXCEPTION_CLASSES ? errorClass : 'Other';
      info = map.get(key);
      if (info === undefined) {
        info = { count: 0, lastMessage: '', lastAt: 0 };
        map.set(key, info);
      }
    }
    info.count++;
    // Normalized: ids, numbers, tokens and quoted values replaced, length capped (see normalizeMessage).
    info.lastMessage = normalizeMessage(message);
    info.lastAt = now;
  }
}
