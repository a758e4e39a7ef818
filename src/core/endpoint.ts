import { SIZE_SKETCH, Sketch } from './sketch.js';
import { slotEntryCount, Tally } from './tally.js';
import { arenaReader, SlotArena } from './slot-arena.js';
import type { Unpacker } from './pack.js';
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

// The rings of an endpoint that never recorded: none (rotate creates them).
const NO_SLOTS: SlotArena | null = null;

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
   * Closed slots of both rings, packed into one byte array (see {@link SlotArena}): an hour of 60 s
   * slots is most of an endpoint's memory, and a closed slot is only read and merged. Slot `i` of the
   * fine ring is arena slot `i`, slot `j` of the coarse ring arena slot `fineSlots + j`. Read them
   * through {@link slotCount}, {@link mergeSlot} and {@link slotTally}, which also see the open slot.
   * Allocated on the first record: handles that never record (a flood of distinct routes past the
   * cap) hold none.
   */
  slots: SlotArena | null = NO_SLOTS;
  /** Newest slot id of each ring, -1 before the first (see {@link advance}). */
  private newestFine = -1;
  private newestCoarse = -1;

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
    let slots = this.slots;
    if (t === null || slots === null) {
      t = this.current = new Tally();
      slots = this.slots ??= new SlotArena(this.rings.fineSlots + this.rings.coarseSlots);
    } else if (t.count > 0) this.fold(t, slots);
    this.advance('fine', fineId, true);
    if (fineId >= 0) slots.clear(fineId % this.rings.fineSlots);
    t.reset(fineId);
    this.currentFine = fineId;
    return t;
  }

  private fold(done: Tally, slots: SlotArena): void {
    this.total.merge(done);
    const rings = this.rings;
    if (this.inWindow('fine', done.start)) {
      done.packSlot();
      slots.store(done.start % rings.fineSlots);
    }
    const coarseId = Math.floor((done.start * rings.fineMs) / rings.coarseMs);
    this.advance('coarse', coarseId, true);
    if (!this.inWindow('coarse', coarseId)) return;
    const k = rings.fineSlots + (coarseId % rings.coarseSlots);
    // A minute that already holds earlier fine slots is re-packed with this one added (the held entry
    // is read while the pack buffer is written; the arena copies it afterwards).
    const held = slots.read(k, arenaReader);
    if (held !== null) done.packSlotMerged(held);
    else done.packSlot();
    slots.store(k);
  }

  /**
   * Makes `id` the newest slot of `ring` if it is newer, emptying the places of the ids it passes: they
   * hold slots a ring's length older, which no window reads. So every place of a ring is empty or holds
   * the one slot of the ring's window (its newest id and the `size − 1` before it) that maps there, and
   * a packed entry needs no slot id. With `reset` (the meter's own clock), an id a whole ring older than
   * the newest empties the ring and starts it again from there (the clock stepped back).
   */
  private advance(ring: RingName, id: number, reset: boolean): void {
    if (!(id >= 0)) return;
    const fine = ring === 'fine';
    const size = fine ? this.rings.fineSlots : this.rings.coarseSlots;
    const newest = fine ? this.newestFine : this.newestCoarse;
    const slots = this.slots!;
    if (id > newest) {
      for (let j = Math.max(newest + 1, id - size + 1); j <= id; j++) slots.clear(this.arenaSlot(ring, j));
    } else if (reset && id <= newest - size) {
      for (let j = 0; j < size; j++) slots.clear(this.arenaSlot(ring, j));
    } else return;
    if (fine) this.newestFine = id;
    else this.newestCoarse = id;
  }

  /** Whether slot `id` of `ring` is in the ring's window, i.e. its place holds it if it holds anything. */
  private inWindow(ring: RingName, id: number): boolean {
    const newest = ring === 'fine' ? this.newestFine : this.newestCoarse;
    const size = ring === 'fine' ? this.rings.fineSlots : this.rings.coarseSlots;
    return id >= 0 && id <= newest && id > newest - size;
  }

  /** Arena slot of ring slot `id`. */
  private arenaSlot(ring: RingName, id: number): number {
    return ring === 'fine' ? id % this.rings.fineSlots : this.rings.fineSlots + (id % this.rings.coarseSlots);
  }

  /** Slot `id` of a ring, closed, as the arena's reader positioned at it; null when the ring does not hold it. */
  private held(ring: RingName, id: number): Unpacker | null {
    return this.slots !== null && this.inWindow(ring, id)
      ? this.slots.read(this.arenaSlot(ring, id), arenaReader)
      : null;
  }

  /** The current fine slot if it holds records (it is not in total and coarse yet), else undefined. */
  unfolded(): Tally | undefined {
    const t = this.current;
    return t !== null && t.start === this.currentFine && t.count > 0 ? t : undefined;
  }

  /** Requests in slot `id` of a ring, as held now (the open fine slot included, not yet folded into coarse). */
  slotCount(ring: RingName, id: number): number {
    if (ring === 'fine' && id === this.currentFine) return this.unfolded()?.count ?? 0;
    const r = this.held(ring, id);
    return r === null ? 0 : slotEntryCount(r);
  }

  /** Adds slot `id` of a ring to `into` (the open fine slot included, not yet folded into coarse). */
  mergeSlot(ring: RingName, id: number, into: Tally): void {
    if (ring === 'fine' && id === this.currentFine) {
      const open = this.unfolded();
      if (open !== undefined) into.merge(open);
      return;
    }
    const r = this.held(ring, id);
    if (r !== null) into.mergeSlot(r);
  }

  /**
   * Slot `id` of a ring as a tally, undefined when empty (the open fine slot included, not yet folded
   * into coarse). The open slot is returned as is: read it, do not modify it.
   */
  slotTally(ring: RingName, id: number): Tally | undefined {
    if (ring === 'fine' && id === this.currentFine) return this.unfolded();
    const r = this.held(ring, id);
    if (r === null) return undefined;
    const from = r.pos;
    if (slotEntryCount(r) === 0) return undefined;
    r.pos = from;
    return Tally.thawSlot(r, id);
  }

  /**
   * Adds `tally` to closed slot `id` of a ring, as if it had been recorded there: the fleet view fills an
   * instance's rings from stored slots (src/fleet/mirror.ts). A slot newer than the ring's newest moves
   * the ring on; one a ring's length older than the newest is left out (it has already left the ring).
   */
  placeSlot(ring: RingName, id: number, tally: Tally): void {
    const slots = (this.slots ??= new SlotArena(this.rings.fineSlots + this.rings.coarseSlots));
    this.advance(ring, id, false);
    if (!this.inWindow(ring, id)) return;
    const k = this.arenaSlot(ring, id);
    const held = slots.read(k, arenaReader);
    if (held !== null) tally.packSlotMerged(held);
    else tally.packSlot();
    slots.store(k);
  }

  /** Every closed slot a ring holds, thawed, with its id (diagnostics and benchmarks). */
  heldSlots(ring: RingName): Tally[] {
    const out: Tally[] = [];
    const n = ring === 'fine' ? this.rings.fineSlots : this.rings.coarseSlots;
    const newest = ring === 'fine' ? this.newestFine : this.newestCoarse;
    if (this.slots === null || newest < 0) return out;
    for (let i = 0; i < n; i++) {
      const r = this.slots.read(ring === 'fine' ? i : this.rings.fineSlots + i, arenaReader);
      // The one id of the ring's window at place i.
      if (r !== null) out.push(Tally.thawSlot(r, newest - ((((newest - i) % n) + n) % n)));
    }
    return out;
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
