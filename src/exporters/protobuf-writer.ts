/**
 * A minimal protocol-buffers encoder: the wire types the Prometheus exposition needs (varint, zigzag
 * varint, 64-bit double, length-delimited strings and nested messages). Runtime-neutral (Uint8Array,
 * TextEncoder), no dependency. Field numbers are the caller's; see prometheus-protobuf.ts.
 */
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;

const utf8 = new TextEncoder();

/** One message being written; nested messages are written into their own writer and embedded. */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;
  private readonly view8 = new DataView(new ArrayBuffer(8));

  get length(): number {
    return this.len;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** An unsigned varint of a non-negative integer up to 2^53 (counts, lengths, tags). */
  rawVarint(n: number): void {
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.len++] = n;
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  /** uint32/uint64/int64 (non-negative) and enum fields. */
  uint(field: number, n: number): void {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(n);
  }

  /** sint32/sint64 fields: zigzag, so small negative numbers stay short. Safe-integer range. */
  sint(field: number, n: number): void {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  double(field: number, x: number): void {
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    this.view8.setFloat64(0, x, true);
    for (let i = 0; i < 8; i++) this.buf[this.len++] = this.view8.getUint8(i);
  }

  string(field: number, s: string): void {
    this.bytes(field, utf8.encode(s));
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.rawVarint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A nested message written by `fill` (into a fresh writer), embedded as a length-delimited field. */
  message(field: number, fill: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    fill(inner);
    this.bytes(field, inner.finish());
  }

  /** Appends `b` prefixed with its length as a varint (the `encoding=delimited` framing). */
  delimited(b: Uint8Array): void {
    this.rawVarint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
