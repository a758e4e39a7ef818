import { packCopy, packLength, Unpacker } from './pack.js';

/**
 * The closed ring slots of one endpoint (both rings), packed (tally.ts's pack format) into one byte
 * array: no object per slot. A string per slot cost a 16-byte header, its alignment padding and an
 * 8-byte pointer in a ring array — about 28 bytes per slot beside ~80 bytes of data, i.e. a quarter
 * of an hour's rings — and a new string every time a slot closed, which made the record path with
 * slots rotating allocate (bench/record.ts). Here a closed slot's bytes are copied into the arena,
 * whose storage is only reallocated to grow.
 *
 * Layout: `slots` offsets of 4 bytes (little-endian, offset + 1 of the slot's entry, 0 = empty), then
 * the entries: `uint length` (LEB128), then that many bytes. A slot written again leaves its old entry
 * dead; new entries are appended, and when the array is full the live entries are moved to the front
 * (compaction) before it is grown to an eighth more than it needs.
 */
export class SlotArena {
  private bytes: Uint8Array;
  /** End of the entries written. */
  private head: number;

  constructor(readonly slots: number) {
    // Starts small (a flood of quiet endpoints holds a few entries each) and grows with the rings.
    this.bytes = new Uint8Array(slots * 4 + 128);
    this.head = slots * 4;
  }

  /** Bytes held (the array's capacity), for memory accounting. */
  get capacity(): number {
    return this.bytes.length;
  }

  /** Bytes held by live entries. */
  get used(): number {
    let n = this.slots * 4;
    for (let k = 0; k < this.slots; k++) {
      const at = this.entry(k);
      if (at !== 0) n += this.size(at - 1);
    }
    return n;
  }

  private entry(k: number): number {
    const b = this.bytes;
    const i = k * 4;
    return b[i] + b[i + 1] * 0x100 + b[i + 2] * 0x10000 + b[i + 3] * 0x1000000;
  }

  private setEntry(k: number, v: number): void {
    const b = this.bytes;
    const i = k * 4;
    b[i] = v & 0xff;
    b[i + 1] = (v >>> 8) & 0xff;
    b[i + 2] = (v >>> 16) & 0xff;
    b[i + 3] = (v >>> 24) & 0xff;
  }

  /** Size in bytes of the entry at `at` (its length prefix included). */
  private size(at: number): number {
    const b = this.bytes;
    let len = 0;
    let scale = 1;
    let p = at;
    for (;;) {
      const x = b[p++];
      len += (x & 127) * scale;
      if (x < 128) break;
      scale *= 128;
    }
    return p - at + len;
  }

  has(k: number): boolean {
    return this.entry(k) !== 0;
  }

  /** Slot `k` as `r` reads it (positioned at its first byte), or null when it is empty. */
  read(k: number, r: Unpacker): Unpacker | null {
    const at = this.entry(k);
    if (at === 0) return null;
    const b = this.bytes;
    let p = at - 1;
    let len = 0;
    let scale = 1;
    for (;;) {
      const x = b[p++];
      len += (x & 127) * scale;
      if (x < 128) break;
      scale *= 128;
    }
    return r.reset(b, p, p + len);
  }

  clear(k: number): void {
    this.setEntry(k, 0);
  }

  /** Stores what the pack buffer holds (pack.ts, since packBegin) as slot `k`, replacing its entry. */
  store(k: number): void {
    const len = packLength();
    const need = (len < 128 ? 1 : len < 16384 ? 2 : 3) + len;
    this.setEntry(k, 0);
    if (this.head + need > this.bytes.length) this.compact(need);
    const b = this.bytes;
    const at = this.head;
    let p = at;
    let n = len;
    while (n >= 128) {
      b[p++] = (n & 127) | 128;
      n >>>= 7;
    }
    b[p++] = n;
    packCopy(b, p);
    this.head = p + len;
    this.setEntry(k, at + 1);
  }

  /** Moves the live entries to the front, in place, or into a larger array when `need` bytes would not fit. */
  private compact(need: number): void {
    const slots = this.slots;
    // Live slots by ascending offset: moving each towards the front never overwrites one not moved yet.
    const live = liveOrder(this, slots);
    const order = scratchOrder;
    let used = slots * 4;
    for (let i = 0; i < live; i++) used += this.size(this.entry(order[i]) - 1);
    const old = this.bytes;
    const target = used + need > old.length ? new Uint8Array(Math.ceil((used + need) * 1.125)) : old;
    if (target !== old) for (let i = 0; i < slots * 4; i++) target[i] = old[i];
    this.bytes = target;
    let head = slots * 4;
    for (let i = 0; i < live; i++) {
      const k = order[i];
      const at = this.entry(k) - 1;
      const size = sizeIn(old, at);
      if (target === old) target.copyWithin(head, at, at + size);
      else for (let i = 0; i < size; i++) target[head + i] = old[at + i];
      this.setEntry(k, head + 1);
      head += size;
    }
    this.head = head;
  }

  /** Offsets of the live slots, for {@link liveOrder}. */
  offsetOf(k: number): number {
    return this.entry(k);
  }
}

// Scratch for compaction: the live slots sorted by offset (insertion sort; at most a ring's slots). A
// typed array kept across calls and grown only for a larger ring: emptying a JS array with
// `length = 0` drops its storage, and refilling it reallocated ~3 bytes per record with slots
// rotating (bench/record.ts --mode=rotating, V8's sampling heap profiler).
let scratchOrder = new Int32Array(512);

/** Sorts the live slots of `arena` by offset into {@link scratchOrder}; returns how many there are. */
function liveOrder(arena: SlotArena, slots: number): number {
  if (scratchOrder.length < slots) scratchOrder = new Int32Array(slots);
  const order = scratchOrder;
  let n = 0;
  for (let k = 0; k < slots; k++) {
    const at = arena.offsetOf(k);
    if (at === 0) continue;
    let j = n++;
    while (j > 0 && arena.offsetOf(order[j - 1]) > at) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = k;
  }
  return n;
}

function sizeIn(b: Uint8Array, at: number): number {
  let len = 0;
  let scale = 1;
  let p = at;
  for (;;) {
    const x = b[p++];
    len += (x & 127) * scale;
    if (x < 128) break;
    scale *= 128;
  }
  return p - at + len;
}

/** A reader for arena entries (decoding runs to completion, so one serves every call). */
export const arenaReader = new Unpacker();
