/**
 * A small time-to-live cache for answers, bounded in entries and in bytes. All entries live equally
 * long, so insertion order is expiry order: expired entries are dropped from the oldest end, and when
 * full the oldest entry goes first.
 */
export class AnswerCache<V extends { size: number }> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  private bytes = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly now: () => number,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (hit.expires <= this.now()) {
      this.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(key: string, value: V): void {
    if (!this.enabled || value.size > this.maxBytes) return;
    this.delete(key);
    const now = this.now();
    for (const [k, e] of this.entries) {
      const full = this.entries.size >= this.maxEntries || this.bytes + value.size > this.maxBytes;
      if (!full && e.expires > now) break;
      this.delete(k);
    }
    this.entries.set(key, { value, expires: now + this.ttlMs });
    this.bytes += value.size;
  }

  private delete(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.entries.delete(key);
    this.bytes -= e.value.size;
  }
}
