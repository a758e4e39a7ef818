import { SIZE_SKETCH, Sketch } from './sketch.js';
import { frozenCount, frozenStart, Tally } from './tally.js';
import type { FrozenTally } from './tally.js';
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

/** Which ring of an endpoint: fine (10 s slots by default) or coarse (60 s slots). */
export type RingName = 'fine' | 'coarse';

// The rings of an endpoint that never recorded: empty, shared, never written (rotate replaces them).
const NO_SLOTS = Object.freeze([]) as unknown as (FrozenTally | undefined)[];

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
  /**
   * The open fine slot (id {@link currentFine}), the only mutable one: records go here. Created on the
   * first record, then reused (reset, keeping its storage) every time the endpoint moves on.
   */
  current: Tally | null = null;
  /** In the registry's listing (set on first record, see Registry.activate). */
  listed = false;
  /** Set when the cap refused this endpoint: its records go to the overflow endpoint. */
  redirect: EndpointStats | null = null;
  readonly requestSize = new Sketch(SIZE_SKETCH);
  readonly responseSize = new Sketch(SIZE_SKETCH);
  /**
   * Sampled durations outside the latency sketch's range (≤ ~1 µs or > ~4.66 h, LATENCY_RANGE_MS), since
   * start-up: recorded in its first or last bucket, so their quantiles are not within the bound.
   */
  latencyClamped = 0;
  exceptions: Map<string, ExceptionInfo> | null = null;
  /** Detailed mode's per-endpoint data, created on the first detailed record. */
  detail: EndpointDetail | null = null;
  /**
   * Closed slots, frozen (see {@link FrozenTally}): an hour of 60 s slots is most of an endpoint's
   * memory, and a closed slot is only read and merged. Empty slots are `undefined` and cost nothing.
   * Read them through {@link slotCount}, {@link mergeSlot} and {@link slotTally}, which also see the
   * open slot. Allocated on the first record: handles that never record (a flood of distinct routes
   * past the cap) hold none.
   */
  fine: (FrozenTally | undefined)[] = NO_SLOTS;
  coarse: (FrozenTally | undefined)[] = NO_SLOTS;

  constructor(
    readonly id: number,
    readonly method: string,
    readonly route: string,
    readonly rings: RingLayout,
  ) {}

  /**
   * Makes `fineId` the current fine slot, folding the previous current slot into the fine ring, its
   * coarse slot and the total. The new slot is always empty: if the clock stepped back onto an already
   * folded slot, keeping its content would count it twice.
   */
  rotate(fineId: number): Tally {
    let t = this.current;
    if (t === null) {
      t = this.current = new Tally();
      this.fine = Array.from({ length: this.rings.fineSlots }, () => undefined);
      this.coarse = Array.from({ length: this.rings.coarseSlots }, () => undefined);
    } else if (t.count > 0) this.fold(t);
    this.fine[fineId % this.fine.length] = undefined;
    t.reset(fineId);
    this.currentFine = fineId;
    return t;
  }

  private fold(done: Tally): void {
    this.total.merge(done);
    const fine = this.fine;
    fine[done.start % fine.length] = done.freeze();
    const coarseId = Math.floor((done.start * this.rings.fineMs) / this.rings.coarseMs);
    const coarse = this.coarse;
    const i = coarseId % coarse.length;
    const held = coarse[i];
    // A minute that already holds earlier fine slots is re-frozen with this one added.
    coarse[i] =
      held !== undefined && frozenStart(held) === coarseId ? done.freezeMerged(held, coarseId) : done.freeze(coarseId);
  }

  /** The current fine slot if it holds records (it is not in total and coarse yet), else undefined. */
  unfolded(): Tally | undefined {
    const t = this.current;
    return t !== null && t.start === this.currentFine && t.count > 0 ? t : undefined;
  }

  /** Requests in slot `id` of a ring, as held now (the open fine slot included, not yet folded into coarse). */
  slotCount(ring: RingName, id: number): number {
    if (ring === 'fine' && id === this.currentFine) return this.unfolded()?.count ?? 0;
    const f = this.held(ring, id);
    return f === undefined ? 0 : frozenCount(f);
  }

  /** Adds slot `id` of a ring to `into` (the open fine slot included, not yet folded into coarse). */
  mergeSlot(ring: RingName, id: number, into: Tally): void {
    if (ring === 'fine' && id === this.currentFine) {
      const open = this.unfolded();
      if (open !== undefined) into.merge(open);
      return;
    }
    const f = this.held(ring, id);
    if (f !== undefined) into.mergeFrozen(f);
  }

  /**
   * Slot `id` of a ring as a tally, undefined when empty (the open fine slot included, not yet folded
   * into coarse). The open slot is returned as is: read it, do not modify it.
   */
  slotTally(ring: RingName, id: number): Tally | undefined {
    if (ring === 'fine' && id === this.currentFine) return this.unfolded();
    const f = this.held(ring, id);
    return f === undefined || frozenCount(f) === 0 ? undefined : Tally.thaw(f);
  }

  private held(ring: RingName, id: number): FrozenTally | undefined {
    const slots = ring === 'fine' ? this.fine : this.coarse;
    const f = slots[id % slots.length];
    return f !== undefined && frozenStart(f) === id ? f : undefined;
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
    // As the meter keeps messages (Meter.keptMessage): redacted, normalized by default, length capped.
    info.lastMessage = message;
    info.lastAt = now;
  }
}
