import { LATENCY_SKETCH, Sketch } from './sketch.js';
import type { SketchJSON } from './sketch.js';
import { packBegin, packEnd, packNum, packUint, Unpacker } from './pack.js';
import {
  mergePackedSketch,
  mergeSlotSketch,
  packSketch,
  packSketchMerged,
  packSlotSketch,
  packSlotSketchMerged,
} from './sketch-codec.js';

/** Offsets into {@link Tally.c}: one small array of counters per tally keeps the hot path on one object. */
export const F = {
  count: 0,
  /** Status classes 1xx..5xx at offsets 1..5. */
  status1xx: 1,
  serverError: 6,
  clientError: 7,
  exception: 8,
  validation: 9,
  aborted: 10,
  requestBytes: 11,
  responseBytes: 12,
  /** Requests whose body size was known (sizes' mean = bytes / sized). */
  requestSized: 13,
  responseSized: 14,
  requestBytesMax: 15,
  responseBytesMax: 16,
  // Detailed mode only (metrics_detailed); zero otherwise.
  /** Requests recorded with a request context (the denominator of the per-request means below). */
  detailed: 17,
  /** Requests that presented credentials or were refused with 401/403. */
  authAttempts: 18,
  /** Auth attempts that failed (refused with 401/403, or reported failed by the application). */
  authFailures: 19,
  /** Requests refused by a rate limiter (429, or reported by the application). */
  rateLimited: 20,
  /** Database queries made while serving the requests, and their summed time in ms. */
  dbQueries: 21,
  dbMs: 22,
} as const;
const FIELDS = 23;

/** Error type index (0..4, as ERROR_TYPES) → offset in the counters. */
export const ERROR_FIELD = [F.serverError, F.clientError, F.exception, F.validation, F.aborted] as const;

/** `latencyIndex` meaning "a zero duration" (the sketch's zero bucket). */
export const ZERO_INDEX = -Infinity;

const NO_CODES: number[] = [];

/**
 * A closed slot's tally, immutable, in the pack format (pack.ts): `num start`, `uint mask` (bit `i`
 * set when counter `F` offset `i` is non-zero), the non-zero counters as `num` in `F` order, `uint`
 * number of status codes and `num code, num count` for each, then the latency sketch
 * (sketch-codec.ts). Written by {@link Tally.pack} into the pack buffer, from where an endpoint's
 * slot arena (slot-arena.ts) copies it; read back through an {@link Unpacker} by
 * {@link Tally.mergePacked}, {@link packedStart} and {@link packedCount}. `FrozenTally` is the same
 * bytes as a string ({@link Tally.freeze}), for tests and tools.
 */
export type FrozenTally = string;

// Decoding runs synchronously to completion, so one reader and one set of scratch arrays serve every call.
const reader = new Unpacker();
const mergedC: number[] = zeros(FIELDS);
// Grown as needed and never shortened (setting an array's length to 0 drops its storage).
let mergedCodes: number[] = zeros(32);

/** Slot id a packed tally was frozen with (`r` at the entry's start; moved). */
export function packedStart(r: Unpacker): number {
  return r.num();
}

/** Requests counted in a packed tally (`r` at the entry's start; moved). */
export function packedCount(r: Unpacker): number {
  r.num();
  return (r.uint() & 1) !== 0 ? r.num() : 0;
}

/** Slot id a frozen tally was frozen with. */
export function frozenStart(f: FrozenTally): number {
  return packedStart(reader.resetText(f));
}

/** Requests counted in a frozen tally. */
export function frozenCount(f: FrozenTally): number {
  return packedCount(reader.resetText(f));
}

/**
 * The slot codec: a closed ring slot as an endpoint's slot arena holds it (slot-arena.ts). In memory
 * only — the arena's bytes are never stored or sent, so this format can change freely; stores and the
 * wire keep the frozen format above. An hour of 60 s slots is most of an endpoint's memory, so it
 * spends bytes only where a slot has information:
 *
 * `num count`, `uint mask` (bit `b` set when field {@link SLOT_FIELDS}[b] is non-zero), those
 * fields as `num`, then `uint 8·codes + 4·rawSized + 2·explicitClasses + firstImplied` and per status
 * code `uint` its compact form ({@link packCode}) and `num` its count, then the latency sketch
 * (sketch-codec.ts, packSlotSketch). The request and response `sized` fields are written as
 * `count − sized` (0 when every size was known) unless `rawSized`; the status classes are not written but
 * summed from the codes unless `explicitClasses` (a foreign row whose counters disagree with its codes);
 * the first code's count is left out when it is `count` minus the others' (`firstImplied`). Each of
 * these is checked when writing, with the arithmetic the reader will do, so reading gives back exactly
 * what was written. An entry does not hold its slot id: the endpoint keeps every place of a ring either
 * empty or holding the one slot of the ring's window that maps there (EndpointStats.advance).
 */
const SLOT_FIELDS: readonly number[] = [
  // The fields most slots hold first: a typical mask is one byte.
  F.responseBytes,
  F.responseBytesMax,
  F.clientError,
  F.responseSized,
  F.requestBytes,
  F.requestBytesMax,
  F.serverError,
  F.validation,
  F.requestSized,
  F.exception,
  F.aborted,
  F.detailed,
  F.authAttempts,
  F.authFailures,
  F.rateLimited,
  F.dbQueries,
  F.dbMs,
  // Status classes 1xx..5xx, only with explicitClasses.
  1,
  2,
  3,
  4,
  5,
];
/** Slot fields without the status classes. */
const SLOT_OWN_FIELDS = 17;
const CODES_FIRST_IMPLIED = 1;
const CODES_EXPLICIT_CLASSES = 2;
const CODES_RAW_SIZED = 4;

// Slot codec scratch: the values written per mask bit, class sums, and a held slot's counters and codes.
const slotValues: number[] = zeros(SLOT_FIELDS.length);
const classSums: number[] = zeros(6);
const heldC: number[] = zeros(FIELDS);
let heldCodes: number[] = zeros(32);

/**
 * A status code in one `uint`: `1 + 5·(code mod 100) + (class − 1)` for an integer code of 100..599, so
 * 200, 201, 204, 304, 400–404, 500–504 take one byte (`num code` took two); 0, then `num code`, for any
 * other value.
 */
function packCode(code: number): void {
  if (code >= 100 && code <= 599 && code === Math.floor(code))
    packUint(1 + (code % 100) * 5 + Math.floor(code / 100) - 1);
  else {
    packUint(0);
    packNum(code);
  }
}

function readCode(r: Unpacker): number {
  const v = r.uint();
  if (v === 0) return r.num();
  return ((v - 1) % 5) * 100 + 100 + Math.floor((v - 1) / 5);
}

/** Starts a slot-codec entry in the pack buffer: start, counters and status codes (see {@link SLOT_FIELDS}). */
function writeSlotCounters(c: readonly number[], codes: readonly number[], codeEnd: number): void {
  const count = c[F.count];
  // What the reader will derive, computed as it will: the first code's count, then the classes.
  let rest = 0;
  for (let i = 2; i < codeEnd; i += 2) rest += codes[i + 1];
  const firstImplied = codeEnd > 0 && count - rest === codes[1];
  const sums = classSums;
  sums.fill(0);
  for (let i = 0; i < codeEnd; i += 2) sums[statusClassOf(codes[i])] += codes[i + 1];
  let explicitClasses = false;
  for (let k = 1; k <= 5; k++) if (sums[k] !== c[k]) explicitClasses = true;
  const rq = c[F.requestSized];
  const rs = c[F.responseSized];
  const rawSized = count - (count - rq) !== rq || count - (count - rs) !== rs;
  const fields = explicitClasses ? SLOT_FIELDS.length : SLOT_OWN_FIELDS;
  const values = slotValues;
  let mask = 0;
  for (let b = 0; b < fields; b++) {
    const f = SLOT_FIELDS[b];
    const v = !rawSized && (f === F.requestSized || f === F.responseSized) ? count - c[f] : c[f];
    values[b] = v;
    if (v !== 0) mask |= 1 << b;
  }
  packBegin();
  packNum(count);
  packUint(mask);
  for (let b = 0; b < fields; b++) if ((mask & (1 << b)) !== 0) packNum(values[b]);
  packUint(
    (codeEnd / 2) * 8 +
      (rawSized ? CODES_RAW_SIZED : 0) +
      (explicitClasses ? CODES_EXPLICIT_CLASSES : 0) +
      (firstImplied ? CODES_FIRST_IMPLIED : 0),
  );
  for (let i = 0; i < codeEnd; i += 2) {
    packCode(codes[i]);
    if (i > 0 || !firstImplied) packNum(codes[i + 1]);
  }
}

/**
 * Reads the counters and status codes of the slot-codec entry `r` is at into heldC
 * (by `F` offset) and heldCodes; returns the number of code pair elements.
 */
function readSlotCounters(r: Unpacker): number {
  const c = heldC;
  c.fill(0);
  const count = r.num();
  c[F.count] = count;
  const mask = r.uint();
  for (let b = 0; b < SLOT_FIELDS.length; b++) if ((mask & (1 << b)) !== 0) c[SLOT_FIELDS[b]] = r.num();
  const h = r.uint();
  if ((h & CODES_RAW_SIZED) === 0) {
    c[F.requestSized] = count - c[F.requestSized];
    c[F.responseSized] = count - c[F.responseSized];
  }
  const n = 2 * Math.floor(h / 8);
  if (heldCodes.length < n) heldCodes = zeros(2 * n);
  const codes = heldCodes;
  let rest = 0;
  for (let i = 0; i < n; i += 2) {
    codes[i] = readCode(r);
    if (i > 0 || (h & CODES_FIRST_IMPLIED) === 0) {
      const v = r.num();
      codes[i + 1] = v;
      if (i > 0) rest += v;
    }
  }
  if ((h & CODES_FIRST_IMPLIED) !== 0) codes[1] = count - rest;
  if ((h & CODES_EXPLICIT_CLASSES) === 0) {
    for (let i = 0; i < n; i += 2) {
      const k = statusClassOf(codes[i]);
      if (k > 0) c[k] += codes[i + 1];
    }
  }
  return n;
}

/** Requests counted in a slot-codec entry (`r` at its start; moved). */
export function slotEntryCount(r: Unpacker): number {
  return r.num();
}

/** A tally as plain JSON (stores persist it): counters by `F` offset, status codes, latency sketch. */
export interface TallyJSON {
  /** Counters indexed by {@link F}; a shorter array (from an older version) is padded with zeros. */
  c: number[];
  /** Status codes as pairs [code, count, …]. */
  codes: number[];
  latency: SketchJSON;
}

/**
 * Counters and a latency sketch for one endpoint over one time slot (or since start-up). Plain data:
 * merging two tallies adds them.
 */
export class Tally {
  /** Slot id (`floor(time / slotMs)`) this tally holds, -1 for cumulative ones. */
  start = -1;
  // Plain arrays rather than typed arrays: see the note in sketch.ts on per-object overhead.
  readonly c: number[] = zeros(FIELDS);
  /**
   * Exact status codes as pairs [code, count, …] in `codes[0, codeEnd)`; grows with distinct codes (few
   * per endpoint). Kept by {@link reset}, so an endpoint's open slot does not re-allocate it every slot.
   */
  private codes: number[] = NO_CODES;
  private codeEnd = 0;
  readonly latency = new Sketch(LATENCY_SKETCH);

  reset(start: number): void {
    this.start = start;
    this.c.fill(0);
    this.codeEnd = 0;
    this.latency.reset();
  }

  /**
   * One request. `errorField` is an offset from ERROR_FIELD or -1; `latencyIndex` is NaN when the request
   * was not sampled for the sketch (counts stay exact either way), ZERO_INDEX for a zero duration; sizes < 0 mean unknown.
   */
  add(
    status: number,
    statusClass: number,
    errorField: number,
    durationMs: number,
    latencyIndex: number,
    requestBytes: number,
    responseBytes: number,
  ): void {
    const c = this.c;
    c[F.count]++;
    if (statusClass > 0) c[statusClass]++;
    if (errorField >= 0) c[errorField]++;
    if (requestBytes >= 0) {
      c[F.requestBytes] += requestBytes;
      c[F.requestSized]++;
      if (requestBytes > c[F.requestBytesMax]) c[F.requestBytesMax] = requestBytes;
    }
    if (responseBytes >= 0) {
      c[F.responseBytes] += responseBytes;
      c[F.responseSized]++;
      if (responseBytes > c[F.responseBytesMax]) c[F.responseBytesMax] = responseBytes;
    }
    this.addCode(status, 1);
    if (latencyIndex === latencyIndex) {
      if (latencyIndex === ZERO_INDEX) this.latency.record(0);
      else this.latency.recordAt(latencyIndex, durationMs);
    }
  }

  /**
   * Detailed mode: one request's context (meter.finishContext), in the same slot as its record().
   * `auth` is 0 for no attempt, 1 for a successful one, 2 for a failed one.
   */
  addContext(auth: number, rateLimited: boolean, queries: number, dbMs: number): void {
    const c = this.c;
    c[F.detailed]++;
    if (auth !== 0) {
      c[F.authAttempts]++;
      if (auth === 2) c[F.authFailures]++;
    }
    if (rateLimited) c[F.rateLimited]++;
    c[F.dbQueries] += queries;
    c[F.dbMs] += dbMs;
  }

  /**
   * The status codes as pairs [code, count, …] in first-seen order, in the first {@link codePairsLength}
   * elements (read-only; core/counts.ts sorts them).
   */
  get codePairs(): readonly number[] {
    return this.codes;
  }

  get codePairsLength(): number {
    return this.codeEnd;
  }

  private addCode(code: number, n: number): void {
    let codes = this.codes;
    const end = this.codeEnd;
    for (let i = 0; i < end; i += 2) {
      if (codes[i] === code) {
        codes[i + 1] += n;
        return;
      }
    }
    if (end === codes.length) {
      const grown = zeros(Math.max(4, end * 2));
      for (let i = 0; i < end; i++) grown[i] = codes[i];
      codes = this.codes = grown;
    }
    codes[end] = code;
    codes[end + 1] = n;
    this.codeEnd = end + 2;
  }

  /** Status code → count, codes ascending. */
  statusCodes(): Map<number, number> {
    const pairs: [number, number][] = [];
    for (let i = 0; i < this.codeEnd; i += 2) pairs.push([this.codes[i], this.codes[i + 1]]);
    pairs.sort((a, b) => a[0] - b[0]);
    return new Map(pairs);
  }

  merge(other: Tally): this {
    const c = this.c;
    const o = other.c;
    for (let i = 0; i < FIELDS; i++) {
      c[i] = i === F.requestBytesMax || i === F.responseBytesMax ? Math.max(c[i], o[i]) : c[i] + o[i];
    }
    for (let i = 0; i < other.codeEnd; i += 2) this.addCode(other.codes[i], other.codes[i + 1]);
    this.latency.merge(other.latency);
    return this;
  }

  get count(): number {
    return this.c[F.count];
  }

  /** This tally as a string in the pack format (see {@link FrozenTally}): {@link pack}, kept as a string. */
  freeze(start: number = this.start): FrozenTally {
    this.pack(start);
    return packEnd();
  }

  /**
   * Writes this tally in the pack format (see {@link FrozenTally}) into the pack buffer (pack.ts), for
   * a ring slot that is closed: it is only read and merged from then on. A minute of a busy endpoint
   * costs ~100 bytes this way where the object costs ~1 kB.
   */
  pack(start: number = this.start): void {
    const c = this.c;
    let mask = 0;
    for (let i = 0; i < FIELDS; i++) if (c[i] !== 0) mask |= 1 << i;
    packBegin();
    packNum(start);
    packUint(mask);
    for (let i = 0; i < FIELDS; i++) if (c[i] !== 0) packNum(c[i]);
    const codes = this.codes;
    const codeEnd = this.codeEnd;
    packUint(codeEnd / 2);
    for (let i = 0; i < codeEnd; i++) packNum(codes[i]);
    packSketch(this.latency);
  }

  /** {@link packMerged} of a frozen string, kept as a string. */
  freezeMerged(held: FrozenTally, start: number): FrozenTally {
    this.packMerged(reader.resetText(held), start);
    return packEnd();
  }

  /**
   * Writes into the pack buffer a packed tally (for slot `start`) holding the packed one `r` is at
   * plus this tally, as `thaw(held).merge(this)` would pack, without building that tally.
   */
  packMerged(r: Unpacker, start: number): void {
    r.num();
    const heldMask = r.uint();
    const c = this.c;
    const sum = mergedC;
    let mask = 0;
    for (let i = 0; i < FIELDS; i++) {
      let v = c[i];
      if ((heldMask & (1 << i)) !== 0) {
        const h = r.num();
        v = i === F.requestBytesMax || i === F.responseBytesMax ? Math.max(h, v) : h + v;
      }
      sum[i] = v;
      if (v !== 0) mask |= 1 << i;
    }
    // Status codes: the held ones in their order, then this tally's new ones (as addCode would).
    const heldCodes = r.uint();
    const own = this.codes;
    const ownEnd = this.codeEnd;
    if (mergedCodes.length < 2 * heldCodes + ownEnd) mergedCodes = zeros(2 * (2 * heldCodes + ownEnd));
    const codes = mergedCodes;
    let n = 0;
    for (let i = 0; i < heldCodes; i++) {
      codes[n++] = r.num();
      codes[n++] = r.num();
    }
    for (let i = 0; i < ownEnd; i += 2) {
      let k = 0;
      while (k < n && codes[k] !== own[i]) k += 2;
      if (k < n) codes[k + 1] += own[i + 1];
      else {
        codes[n++] = own[i];
        codes[n++] = own[i + 1];
      }
    }
    packBegin();
    packNum(start);
    packUint(mask);
    for (let i = 0; i < FIELDS; i++) if (sum[i] !== 0) packNum(sum[i]);
    packUint(n / 2);
    for (let i = 0; i < n; i++) packNum(codes[i]);
    packSketchMerged(this.latency, r);
  }

  /** Adds a frozen tally (as {@link merge} adds a tally). */
  mergeFrozen(f: FrozenTally): this {
    return this.mergePacked(reader.resetText(f));
  }

  /** Adds the packed tally `r` is at (as {@link merge} adds a tally). */
  mergePacked(r: Unpacker): this {
    r.num();
    const mask = r.uint();
    const c = this.c;
    for (let i = 0; i < FIELDS; i++) {
      if ((mask & (1 << i)) !== 0) {
        const v = r.num();
        c[i] = i === F.requestBytesMax || i === F.responseBytesMax ? Math.max(c[i], v) : c[i] + v;
      }
    }
    const codes = r.uint();
    for (let i = 0; i < codes; i++) this.addCode(r.num(), r.num());
    mergePackedSketch(this.latency, r);
    return this;
  }

  /**
   * Writes this tally in the slot codec (see {@link SLOT_FIELDS}) into the pack buffer (pack.ts), for a
   * ring slot that is closed: an endpoint's slot arena copies it from there.
   */
  packSlot(): void {
    writeSlotCounters(this.c, this.codes, this.codeEnd);
    packSlotSketch(this.latency, this.c[F.count]);
  }

  /**
   * Writes into the pack buffer, in the slot codec, the slot-codec entry `r` is at plus this tally, as
   * `thawSlot(held).merge(this).packSlot()` would, without building that tally.
   */
  packSlotMerged(r: Unpacker): void {
    const n = readSlotCounters(r);
    const h = heldC;
    const c = this.c;
    const sum = mergedC;
    for (let i = 0; i < FIELDS; i++) {
      sum[i] = i === F.requestBytesMax || i === F.responseBytesMax ? Math.max(h[i], c[i]) : h[i] + c[i];
    }
    // Status codes: the held ones in their order, then this tally's new ones (as addCode would).
    const own = this.codes;
    const ownEnd = this.codeEnd;
    if (mergedCodes.length < n + ownEnd) mergedCodes = zeros(2 * (n + ownEnd));
    const codes = mergedCodes;
    let m = 0;
    for (; m < n; m++) codes[m] = heldCodes[m];
    for (let i = 0; i < ownEnd; i += 2) {
      let k = 0;
      while (k < m && codes[k] !== own[i]) k += 2;
      if (k < m) codes[k + 1] += own[i + 1];
      else {
        codes[m++] = own[i];
        codes[m++] = own[i + 1];
      }
    }
    const heldCount = h[F.count];
    writeSlotCounters(sum, codes, m);
    packSlotSketchMerged(this.latency, r, sum[F.count], heldCount);
  }

  /** Adds the slot-codec entry `r` is at (as {@link merge} adds a tally). */
  mergeSlot(r: Unpacker): this {
    const n = readSlotCounters(r);
    const h = heldC;
    const c = this.c;
    for (let i = 0; i < FIELDS; i++) {
      c[i] = i === F.requestBytesMax || i === F.responseBytesMax ? Math.max(c[i], h[i]) : c[i] + h[i];
    }
    const codes = heldCodes;
    for (let i = 0; i < n; i += 2) this.addCode(codes[i], codes[i + 1]);
    mergeSlotSketch(this.latency, r, h[F.count]);
    return this;
  }

  /**
   * A new tally holding the slot-codec entry `r` is at (`r` is moved past it), for slot `start` (an
   * entry does not hold its slot id: its place in the ring and the ring's newest id give it).
   */
  static thawSlot(r: Unpacker, start: number): Tally {
    const t = new Tally().mergeSlot(r);
    t.start = start;
    return t;
  }

  /** A new tally holding a frozen one's data. */
  static thaw(f: FrozenTally): Tally {
    const t = new Tally().mergeFrozen(f);
    t.start = frozenStart(f);
    return t;
  }

  /** A new tally holding the packed one `r` is at (`r` is moved past it). */
  static thawPacked(r: Unpacker): Tally {
    const from = r.pos;
    const start = r.num();
    r.pos = from;
    const t = new Tally().mergePacked(r);
    t.start = start;
    return t;
  }

  /**
   * Adds a tally written by {@link toJSON} without building it (as `merge(Tally.fromJSON(json))` would,
   * and checked the same way): what history reads do for every stored row after an endpoint's first.
   */
  mergeJSON(json: TallyJSON): this {
    checkJSON(json);
    const c = this.c;
    const o = json.c;
    for (let i = 0; i < o.length; i++) {
      const v = Number(o[i]);
      c[i] = i === F.requestBytesMax || i === F.responseBytesMax ? Math.max(c[i], v) : c[i] + v;
    }
    const codes = json.codes;
    for (let i = 0; i < codes.length; i += 2) this.addCode(Number(codes[i]), Number(codes[i + 1]));
    this.latency.mergeJSON(json.latency);
    return this;
  }

  /** Plain data for storage: `Tally.fromJSON(t.toJSON())` merges exactly like `t`. */
  toJSON(): TallyJSON {
    return { c: this.c.slice(), codes: this.codes.slice(0, this.codeEnd), latency: this.latency.toJSON() };
  }

  /** Rebuilds a tally written by {@link toJSON}; throws on malformed data (a store's rows are checked once, here). */
  static fromJSON(json: TallyJSON): Tally {
    const t = new Tally();
    checkJSON(json);
    for (let i = 0; i < json.c.length; i++) t.c[i] = Number(json.c[i]);
    for (let i = 0; i < json.codes.length; i += 2) t.addCode(Number(json.codes[i]), Number(json.codes[i + 1]));
    t.latency.merge(Sketch.fromJSON(json.latency, LATENCY_SKETCH));
    return t;
  }
}

function checkJSON(json: TallyJSON): void {
  if (!Array.isArray(json.c) || json.c.length > FIELDS || !Array.isArray(json.codes) || json.codes.length % 2 !== 0) {
    throw new TypeError('not a serialized Tally: expected { c: number[], codes: [code, count, …], latency }');
  }
}

/** 1..5 for a valid HTTP status, 0 otherwise (0, 999, NaN: counted, but in no class). */
export function statusClassOf(status: number): number {
  return status >= 100 && status <= 599 ? (status / 100) | 0 : 0;
}

/** An array of n zeros with exactly n elements of capacity (push() would over-allocate). */
function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}
