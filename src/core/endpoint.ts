import { SIZE_SKETCH, Sketch } from './sketch.js';
import { Tally } from './tally.js';

/**
 * Time slots kept per endpoint. Two rings, both written on every record: a fine one (10 s slots) for
 * the 1-minute window and a coarse one (60 s slots) for 5 min, 15 min and 1 h. A slot is reset when
 * its ring position comes round again, so nothing runs on a timer and idle endpoints cost nothing.
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
/** Characters of an exception message kept. */
export const MAX_MESSAGE_LENGTH = 200;

/**
 * Everything the registry knows about one (method, route template). Adapters hold a reference to it
 * (resolved once per route), so recording never looks anything up by string.
 */
export class EndpointStats {
  inflight = 0;
  lastSeen = 0;
  readonly total = new Tally();
  readonly requestSize = new Sketch(SIZE_SKETCH);
  readonly responseSize = new Sketch(SIZE_SKETCH);
  exceptions: Map<string, ExceptionInfo> | null = null;
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
    info.lastMessage = message.length > MAX_MESSAGE_LENGTH ? message.slice(0, MAX_MESSAGE_LENGTH) : message;
    info.lastAt = now;
  }
}
