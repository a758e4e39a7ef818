import type { EndpointStats } from '../core/endpoint.js';
import { createMeter } from '../core/meter.js';
import type { Meter, MeterOptions } from '../core/meter.js';
import { Tally } from '../core/tally.js';
import type { TallyJSON } from '../core/tally.js';
import { timeSlicer } from '../store/slice.js';
import { instanceState } from './completeness.js';
import { LIVE_KEEP_MS } from './live-tier.js';
import type { InstanceRecord, LiveRow, LiveTier } from './live-tier.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** Batches read per query while catching up (an hour at 10 s is 360). */
const SEQ_CHUNK = 60;

export interface FleetMirrorOptions {
  tier: LiveTier;
  /** Fine slot of the mirror's rings, ms: the instances' live interval (default 10,000). */
  fineMs?: number;
  /** An instance silent this long is gone (default `[metrics] api_metrics_fleet_gone_seconds`). */
  goneMs?: number;
  /** How often the live tier is read (default: the fine slot / 2, at least 500 ms). */
  pollMs?: number;
  /** Options of the mirror's meters (configuration, `iniPath`). */
  meter?: MeterOptions;
  onError?: (error: unknown) => void;
}

interface Known {
  record: InstanceRecord;
  seq: number;
  /** Bucket starts already applied (a retried batch re-sends whole slots). */
  applied: Set<number>;
  meter: Meter;
}

/** Puts `tally` (slot `id` of `ring`) into a ring of frozen slots: merged with the slot held for `id`, else replaces an older one. */

/**
 * Live rows of one read, merged per endpoint and slot before they are frozen into the rings: freezing
 * re-packs a slot's whole tally, so a minute that ten instances' six slots each fill is packed once per
 * read, not sixty times.
 */
class Pending {
  private readonly eps = new Map<
    EndpointStats,
    { total: Tally; fine: Map<number, Tally>; coarse: Map<number, Tally> }
  >();

  constructor(private readonly meter: Meter) {}

  add(row: LiveRow, tally: Tally, oldestFine: number): void {
    const { registry, rings } = this.meter;
    const ep = registry.activate(registry.get(row.method, row.route));
    let e = this.eps.get(ep);
    if (e === undefined) this.eps.set(ep, (e = { total: new Tally(), fine: new Map(), coarse: new Map() }));
    e.total.merge(tally);
    const fineId = row.bucketStart / rings.fineMs;
    // The fine ring holds the newest slots only; older ones go to their minute alone.
    if (row.bucketMs === rings.fineMs && fineId >= oldestFine) mergeInto(e.fine, fineId, tally);
    mergeInto(e.coarse, Math.floor(row.bucketStart / rings.coarseMs), tally);
  }

  /** Freezes what was added into the rings. */
  flush(): void {
    for (const [ep, e] of this.eps) {
      ep.total.merge(e.total);
      for (const [id, t] of e.fine) ep.placeSlot('fine', id, t);
      for (const [id, t] of e.coarse) ep.placeSlot('coarse', id, t);
    }
    this.eps.clear();
  }
}

function mergeInto(slots: Map<number, Tally>, id: number, tally: Tally): void {
  const held = slots.get(id);
  if (held === undefined) slots.set(id, new Tally().merge(tally));
  else held.merge(tally);
}

/**
 * The fleet's last hour in memory, read from the live tier: one meter for the whole fleet (every
 * instance's slots merged: counters added, sketches merged, never percentiles averaged) and one per
 * instance, whose rings hold what the instances' rings held. The metrics API, the web page, alerts and the
 * Prometheus exposition read these meters as they read an application's own: nothing of them changes.
 * Each poll reads the instances' rows (small) and, of each instance whose sequence number moved, the rows of
 * its new batches only.
 */
export class FleetMirror {
  readonly fineMs: number;
  readonly goneMs: number;
  readonly pollMs: number;
  private fleetMeter: Meter | null = null;
  private readonly known = new Map<string, Known>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private polling: Promise<void> | null = null;
  private stopped = false;
  /** Database clock minus ours, ms (lags are measured on the database's clock). */
  private skew = 0;
  lastReadAt: number | null = null;
  /** True until the first read of the live tier's hour is done. */
  loading = false;
  /** Resolves when the first read is done (whether it succeeded: see {@link lastError}). */
  loaded: Promise<void> = Promise.resolve();
  lastError: string | undefined;
  readonly stats = { polls: 0, failures: 0, rows: 0, duplicateSlots: 0, readMs: 0 };

  constructor(private readonly options: FleetMirrorOptions) {
    this.fineMs = options.fineMs ?? 10_000;
    this.goneMs = options.goneMs ?? 600_000;
    this.pollMs = options.pollMs ?? Math.max(500, this.fineMs / 2);
  }

  private newMeter(startedAt: number): Meter {
    // A meter's start is its clock's time at construction: start it where the data it will hold starts.
    let shift = Date.now() - startedAt;
    const meter = createMeter({
      ...this.options.meter,
      clock: { now: () => Date.now() - shift },
      rings: { fineMs: this.fineMs },
    });
    shift = 0;
    return meter;
  }

  /** The whole fleet's meter (available after {@link start}). */
  get fleet(): Meter {
    if (this.fleetMeter === null) throw new Error('the fleet mirror has not started');
    return this.fleetMeter;
  }

  /** One instance's meter, or undefined for an instance never seen. */
  meterOf(instance: string): Meter | undefined {
    return this.known.get(instance)?.meter;
  }

  /** Every instance as last read. */
  records(): InstanceRecord[] {
    return [...this.known.values()].map((k) => k.record);
  }

  /** Now on the database's clock. */
  now(): number {
    return Date.now() + this.skew;
  }

  /**
   * End of the durable snapshots every expected instance has written (floored to a minute): the API reads
   * history before it and this mirror's rings from it. An instance without durable rows counts from its
   * start; never earlier than the rings reach.
   */
  durableSplit(): number {
    const now = this.now();
    let split = Infinity;
    let newest = 0;
    for (const { record: r } of this.known.values()) {
      newest = Math.max(newest, r.durableUntil);
      const state = instanceState(r, now, this.goneMs);
      if (state !== 'live' && state !== 'lagging') continue;
      split = Math.min(split, r.durableUntil > 0 ? r.durableUntil : r.startedAt);
    }
    if (split === Infinity) split = newest;
    split = Math.max(split, now - 55 * MINUTE);
    return Math.floor(split / MINUTE) * MINUTE;
  }

  /**
   * Resolves once the instances are read (rejects when that fails); the hour of live rows is read in the
   * background, {@link loaded} resolving when it is in (answers meanwhile say `loading`), then the mirror
   * keeps polling on an unref'd timer.
   */
  async start(): Promise<void> {
    const { now, instances } = await this.options.tier.instances();
    this.skew = now - Date.now();
    const oldest = instances.reduce((m, r) => Math.min(m, r.startedAt), now);
    this.fleetMeter = this.newMeter(Math.max(oldest, now - HOUR));
    this.loading = true;
    this.loaded = this.poll().then(() => {
      this.loading = false;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll().then(() => this.schedule());
    }, this.pollMs);
    this.timer.unref();
  }

  /** One read of the live tier; never rejects (a failure is kept in {@link lastError}). */
  poll(): Promise<void> {
    this.polling ??= this.read().finally(() => (this.polling = null));
    return this.polling;
  }

  private async read(): Promise<void> {
    const started = performance.now();
    const { tier } = this.options;
    try {
      const { now, instances } = await tier.instances();
      this.skew = now - Date.now();
      const from = now - HOUR;
      for (const record of instances) {
        let k = this.known.get(record.instance);
        if (k === undefined) {
          k = {
            record,
            seq: 0,
            applied: new Set(),
            meter: this.newMeter(Math.max(record.startedAt, from)),
          };
          this.known.set(record.instance, k);
        }
        while (k.seq < record.seq) {
          const upto = Math.min(record.seq, k.seq + SEQ_CHUNK);
          await this.apply(k, await tier.rowsOf(record.instance, k.seq, upto, from));
          k.seq = upto;
        }
        k.record = record;
        for (const start of k.applied) if (start < now - LIVE_KEEP_MS) k.applied.delete(start);
      }
      this.stats.polls++;
      this.lastReadAt = Date.now();
      this.lastError = undefined;
    } catch (error) {
      this.stats.failures++;
      this.lastError = error instanceof Error ? error.message : String(error);
      try {
        this.options.onError?.(error);
      } catch {
        // An error hook that throws must not stop the polling.
      }
    } finally {
      this.stats.readMs += performance.now() - started;
    }
  }

  private async apply(k: Known, rows: readonly LiveRow[]): Promise<void> {
    const slice = timeSlicer();
    const fresh = new Set<number>();
    const fleet = new Pending(this.fleet);
    const own = new Pending(k.meter);
    const oldestFine = Math.floor(this.now() / this.fineMs) - this.fleet.rings.fineSlots;
    for (const row of rows) {
      await slice();
      if (k.applied.has(row.bucketStart)) {
        this.stats.duplicateSlots++;
        continue;
      }
      fresh.add(row.bucketStart);
      const tally = Tally.fromJSON(JSON.parse(row.tally) as TallyJSON);
      fleet.add(row, tally, oldestFine);
      own.add(row, tally, oldestFine);
      this.stats.rows++;
    }
    // No await between here and the end: a reader never sees a slot half folded.
    fleet.flush();
    own.flush();
    for (const s of fresh) k.applied.add(s);
  }

  /** Deletes every instance's live rows older than the hour kept (serve runs it once a minute). */
  async prune(): Promise<number> {
    return this.options.tier.prune(this.now() - LIVE_KEEP_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
