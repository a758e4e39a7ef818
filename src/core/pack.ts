/**
 * A byte codec for closed ring slots (see Tally.pack): numbers are written as varints into a reused
 * buffer, then copied where they are kept — an endpoint's slot arena (slot-arena.ts: one byte array
 * for all its closed slots, no object per slot) — or, for tests and tools, into a string of one-byte
 * characters (Tally.freeze). {@link Unpacker} reads them back from bytes.
 *
 * Unsigned values (`uint`) are LEB128 varints (7 bits per byte), exact up to 2^53. Any number
 * (`num`) is `uint(2·n)` when n is an integer in [0, 2^52), else the byte 1 and the 8 bytes of its
 * IEEE 754 double (fractional sums, NaN, negative values).
 */

// A Buffer for its latin1 decoder, which copies bytes 1:1 into a one-byte string without a temporary.
// Where there is no Buffer (workerd without nodejs_compat) a Uint8Array and String.fromCharCode
// (TextDecoder's "latin1" is windows-1252, which remaps 0x80–0x9f, so it cannot stand in).
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const alloc = (n: number): Uint8Array => (NodeBuffer !== undefined ? NodeBuffer.allocUnsafeSlow(n) : new Uint8Array(n));
let buf = alloc(512);
let len = 0;
// One double's bytes, for the `num` escape.
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const INT_LIMIT = 2 ** 52;

/** Starts a new packed string (the previous one must have been finished with {@link packEnd}). */
export function packBegin(): void {
  len = 0;
}

function reserve(n: number): void {
  if (len + n <= buf.length) return;
  const grown = alloc(Math.max(len + n, buf.length * 2));
  grown.set(buf.subarray(0, len));
  buf = grown;
}

export function packUint(n: number): void {
  reserve(8);
  while (n >= 128) {
    buf[len++] = (n % 128) + 128;
    n = Math.floor(n / 128);
  }
  buf[len++] = n;
}

export function packNum(n: number): void {
  if (n >= 0 && n < INT_LIMIT && Number.isInteger(n)) {
    packUint(n * 2);
    return;
  }
  reserve(9);
  buf[len++] = 1;
  f64[0] = n;
  for (let i = 0; i < 8; i++) buf[len++] = f64Bytes[i];
}

/** Writes `n` raw bytes of `src` from `from` (the slot codec's doubles, copied from a scratch array's bytes). */
export function packBytes(src: Uint8Array, from: number, n: number): void {
  reserve(n);
  for (let i = 0; i < n; i++) buf[len++] = src[from + i];
}

/** The bytes written since {@link packBegin}, as a string of one-byte characters. */
export function packEnd(): string {
  if (NodeBuffer !== undefined) return (buf as Buffer).toString('latin1', 0, len);
  let out = '';
  for (let i = 0; i < len; i += 8192) out += String.fromCharCode(...buf.subarray(i, Math.min(len, i + 8192)));
  return out;
}

/** How many bytes were written since {@link packBegin}. */
export function packLength(): number {
  return len;
}

/** Copies the bytes written since {@link packBegin} into `target` at `at` (room checked by the caller). */
export function packCopy(target: Uint8Array, at: number): void {
  // A loop, not target.set(buf.subarray(…)): a subarray is a new object per call, and entries are small.
  const b = buf;
  for (let i = 0; i < len; i++) target[at + i] = b[i];
}

// Strings written by packEnd(), copied back to bytes for reading (tests and tools; not the record path).
let text = alloc(512);

/** A read position in packed bytes (`s[pos]` up to `end`). */
export class Unpacker {
  s: Uint8Array = text;
  pos = 0;
  end = 0;

  /** Reads `s[from, to)`: one reader serves many entries without allocating. */
  reset(s: Uint8Array, from: number, to: number): this {
    this.s = s;
    this.pos = from;
    this.end = to;
    return this;
  }

  /** Reads a string written by {@link packEnd} (copied into a reused buffer first). */
  resetText(packed: string): this {
    if (packed.length > text.length) text = alloc(Math.max(packed.length, text.length * 2));
    if (NodeBuffer !== undefined) (text as Buffer).write(packed, 0, 'latin1');
    else for (let i = 0; i < packed.length; i++) text[i] = packed.charCodeAt(i);
    return this.reset(text, 0, packed.length);
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  uint(): number {
    const s = this.s;
    if (this.pos >= this.end) return NaN; // past the end: a corrupt entry never loops forever
    let b = s[this.pos++];
    if (b < 128) return b;
    let result = b - 128;
    let scale = 128;
    for (;;) {
      if (this.pos >= this.end) return NaN;
      b = s[this.pos++];
      if (b < 128) return result + b * scale;
      result += (b - 128) * scale;
      scale *= 128;
    }
  }

  /** Copies the next `n` raw bytes into `into` at `at` (see {@link packBytes}). */
  bytes(into: Uint8Array, at: number, n: number): void {
    const s = this.s;
    for (let i = 0; i < n; i++) into[at + i] = s[this.pos++];
  }

  num(): number {
    const v = this.uint();
    if (v !== 1) return v / 2;
    const s = this.s;
    for (let i = 0; i < 8; i++) f64Bytes[i] = s[this.pos++];
    return f64[0];
  }
}
