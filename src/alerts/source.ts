import type { HistorySource } from '../core/history.js';
import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { ringHorizon } from '../core/query.js';
import { Tally } from '../core/tally.js';

/**
 * Every read of meter data the alerts and SLOs make goes through this module: the in-memory rings for
 * windows they hold, the {@link HistorySource} before them. Nothing else in src/alerts reads a ring.
 */

/** One endpoint's data over a window. */
export interface WindowRow {
  /** `METHOD /template`. */
  readonly endpoint: string;
  readonly method: string;
  readonly route: string;
  readonly tally: Tally;
  /** In-flight gauge now (0 for endpoints known only from history). */
  readonly inflight: number;
}

export interface WindowData {
  readonly from: number;
  readonly to: number;
  /** Time the data actually covers, seconds (less than the window after a restart, or with no history). */
  readonly seconds: number;
  readonly source: 'memory' | 'history' | 'memory+history';
  readonly rows: readonly WindowRow[];
}

/** One window of {@link MeterSource.windowParts}: whole, or the part it adds to a shorter window ending at the same time. */
export interface WindowPart {
  /** Null: nothing beyond the window it extends. */
  readonly data: WindowData | null;
  /** The shorter window (ms) this one adds `data` to; null when `data` is the whole window. */
  readonly extends: number | null;
}

/** What SLO and burn-down computations read: windows ending now, and any past range. */
export interface WindowReader {
  window(windowMs: number, now: number): Promise<WindowData>;
  range(from: number, to: number, now: number): Promise<WindowData>;
  /** Several windows ending now at once (nested windows share their reads). */
  windows?(list: readonly number[], now: number): Promise<Map<number, WindowData>>;
  /** The same as parts (see MeterSource.windowParts); preferred by SLO computations when present. */
  windowParts?(list: readonly number[], now: number): Promise<Map<number, WindowPart>>;
}

/** Where a window of `ms` starts: on the hour from a day up (rollups apply), else on the minute. */
function windowStart(now: number, ms: number): number {
  const unit = ms >= DAY ? HOUR : MINUTE;
  return Math.floor((now - ms) / unit) * unit;
}

/** `a` and `b` (disjoint ranges) as one: tallies merged per endpoint into new ones. */
function union(a: WindowData, b: WindowData): WindowData {
  const rows = new Map<string, WindowRow>();
  for (const r of [...a.rows, ...b.rows]) {
    const held = rows.get(r.endpoint);
    if (held === undefined) rows.set(r.endpoint, { ...r, tally: new Tally().merge(r.tally) });
    else {
      held.tally.merge(r.tally);
      if (r.inflight > held.inflight) rows.set(r.endpoint, { ...held, inflight: r.inflight });
    }
  }
  return { ...spanOf(a, b), rows: [...rows.values()] };
}

/** What `a` and `b` (disjoint ranges) cover together, without their rows. */
export function spanOf(a: Omit<WindowData, 'rows'>, b: Omit<WindowData, 'rows'>): Omit<WindowData, 'rows'> {
  const mixed = a.source !== b.source || a.source === 'memory+history';
  return {
    from: Math.min(a.from, b.from),
    to: Math.max(a.to, b.to),
    seconds: a.seconds + b.seconds,
    source: mixed ? 'memory+history' : a.source,
  };
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const keys = new WeakMap<EndpointStats, string>();
function endpointKey(ep: EndpointStats): string {
  let k = keys.get(ep);
  if (k === undefined) keys.set(ep, (k = `${ep.method} ${ep.route}`));
  return k;
}

/** Bound to one meter and, optionally, a history source. */
export class MeterSource implements WindowReader {
  /** History answers by `from|to`, reused while the same persisted range is asked again (a few per tick). */
  private readonly cache = new Map<string, Promise<{ from: number; endpoints: WindowRow[] }>>();

  /**
   * `ringWindows: false` reads every window through {@link range} (history, then the ring after what it
   * persisted): for a process that only reports on a store, whose rings are empty.
   */
  constructor(
    readonly meter: Meter,
    readonly history: HistorySource | null,
    private readonly ringWindows = true,
  ) {}

  now(): number {
    return this.meter.clock.now();
  }

  /** The longest window the rings answer alone (the coarse ring less its open slot: 60 min by default). */
  get ringSpanMs(): number {
    const r = this.meter.rings;
    return r.coarseMs * (r.coarseSlots - 1);
  }

  /** The live endpoints (those that recorded since start-up) with their key and in-flight gauge. */
  liveEndpoints(): { endpoint: string; method: string; route: string; inflight: number }[] {
    return this.meter.registry
      .endpoints()
      .map((ep) => ({ endpoint: endpointKey(ep), method: ep.method, route: ep.route, inflight: ep.inflight }));
  }

  /**
   * Every endpoint's data over the `windowMs` ending at `now`: from the rings, history, or both. With
   * `scratch`, ring windows reuse this window's tallies from the previous scratch read (reset, storage
   * kept): no allocation per endpoint per tick, but the rows are only valid until the next scratch read
   * of the same window — for the evaluator's own tick, never for answers handed out.
   */
  async window(windowMs: number, now: number, scratch = false): Promise<WindowData> {
    if (this.ringWindows && windowMs <= this.ringSpanMs) return this.ringWindow(windowMs, now, scratch);
    return this.range(now - windowMs, now, now);
  }

  private readonly scratch = new Map<number, WeakMap<EndpointStats, Tally>>();

  /**
   * Several windows ending at `now`. The ones longer than the rings are nested, so each is read as the
   * next shorter one plus the disjoint range before it: every stored row is read once, not once per
   * window (an SLO's 30-day period holds its 3-day, 1-day, 6-hour and 2-hour burn windows).
   */
  async windows(list: readonly number[], now: number, scratch = false): Promise<Map<number, WindowData>> {
    const out = new Map<number, WindowData>();
    for (const [ms, p] of await this.windowParts(list, now, scratch)) {
      const base = p.extends === null ? null : out.get(p.extends)!;
      out.set(ms, base === null ? p.data! : p.data === null ? base : union(base, p.data));
    }
    return out;
  }

  /**
   * {@link windows} before the nested ones are put together, shortest first: a window the rings hold
   * whole (`extends` null), or the part of a longer window before the next shorter one it `extends`
   * (`data` null when it adds nothing). A reader that needs only a merge over matching endpoints (an
   * SLO) adds the parts up without copying every endpoint's tally once per window.
   */
  async windowParts(list: readonly number[], now: number, scratch = false): Promise<Map<number, WindowPart>> {
    const out = new Map<number, WindowPart>();
    const long: number[] = [];
    for (const ms of [...new Set(list)].sort((a, b) => a - b)) {
      if (this.ringWindows && ms <= this.ringSpanMs)
        out.set(ms, { data: this.ringWindow(ms, now, scratch), extends: null });
      else long.push(ms);
    }
    let previous: number | null = null;
    let start = now;
    for (const ms of long) {
      const from = windowStart(now, ms);
      let data: WindowData | null = null;
      if (previous === null) data = await this.range(from, now, now);
      else if (from < start) data = await this.range(from, start, now);
      start = Math.min(start, from);
      out.set(ms, { data, extends: previous });
      previous = ms;
    }
    return out;
  }

  /**
   * The last `windowMs` from the rings: the slot holding `now` (partial) and the whole slots before it,
   * as many as the window spans (as `windowTally` reads its named windows).
   */
  ringWindow(windowMs: number, now: number, scratch = false): WindowData {
    const meter = this.meter;
    const { fineMs, fineSlots, coarseMs, coarseSlots } = meter.rings;
    const fine = windowMs <= fineMs * (fineSlots - 1);
    const slotMs = fine ? fineMs : coarseMs;
    const n = Math.min(Math.ceil(windowMs / slotMs), fine ? fineSlots : coarseSlots);
    const current = Math.floor(now / slotMs);
    const rows: WindowRow[] = [];
    let reuse = scratch ? this.scratch.get(windowMs) : undefined;
    if (scratch && reuse === undefined) this.scratch.set(windowMs, (reuse = new WeakMap()));
    for (const ep of meter.registry.endpoints()) {
      let tally = reuse?.get(ep);
      if (tally === undefined) {
        tally = new Tally();
        reuse?.set(ep, tally);
      } else tally.reset(-1);
      for (let id = current - n + 1; id <= current; id++) ep.mergeSlot(fine ? 'fine' : 'coarse', id, tally);
      const open = fine ? undefined : ep.unfolded();
      if (open !== undefined) {
        const openCoarse = Math.floor((open.start * fineMs) / coarseMs);
        if (openCoarse > current - n && openCoarse <= current) tally.merge(open);
      }
      rows.push({ endpoint: endpointKey(ep), method: ep.method, route: ep.route, tally, inflight: ep.inflight });
    }
    const from = Math.max((current - n + 1) * slotMs, meter.startedAt);
    return { from, to: now, seconds: Math.max(0, now - from) / 1000, source: 'memory', rows };
  }

  /**
   * Every endpoint's data in [from, to) at `now` (any past range, for retroactive SLOs): history before
   * what it has persisted, the coarse ring from there on. Without history only the ring's hour is seen,
   * and `seconds` says so.
   */
  async range(from: number, to: number, now: number): Promise<WindowData> {
    const meter = this.meter;
    const coarseMs = meter.rings.coarseMs;
    const horizon = ringHorizon(meter.rings, now).coarse;
    const split =
      this.history === null ? horizon : Math.floor(Math.min(this.history.persistedUntil(), now) / coarseMs) * coarseMs;
    const liveFrom = Math.max(split, horizon, from, Math.floor(meter.startedAt / coarseMs) * coarseMs);
    // `shared`: the tally is a cached history answer's, handed out read-only until something is added
    // to it (then copied): an endpoint found in one part only is never copied.
    const rows = new Map<
      string,
      { endpoint: string; method: string; route: string; tally: Tally; inflight: number; shared?: boolean }
    >();
    if (liveFrom < to) {
      const first = Math.ceil(liveFrom / coarseMs);
      const last = Math.min(Math.ceil(to / coarseMs) - 1, Math.floor(now / coarseMs));
      for (const ep of meter.registry.endpoints()) {
        const tally = new Tally();
        for (let id = first; id <= last; id++) ep.mergeSlot('coarse', id, tally);
        const open = ep.unfolded();
        if (open !== undefined) {
          const openCoarse = Math.floor((open.start * meter.rings.fineMs) / coarseMs);
          if (openCoarse >= first && openCoarse <= last) tally.merge(open);
        }
        const endpoint = endpointKey(ep);
        rows.set(endpoint, { endpoint, method: ep.method, route: ep.route, tally, inflight: ep.inflight });
      }
    }
    let covered = liveFrom < to ? Math.min(to, now) - liveFrom : 0;
    let begin = liveFrom < to ? liveFrom : to;
    let usedHistory = false;
    const historyTo = Math.min(to, split);
    if (this.history !== null && from < historyTo) {
      // Long windows start on the hour (up to an hour more than asked, < 5 % of a day), where rollups
      // apply; shorter ones on the minute. The part before the last whole hour is one cached read that
      // stays valid for the hour; the rest (under an hour, raw rows) is read as persisted data grows.
      const unit = to - from >= DAY ? HOUR : MINUTE;
      const start = Math.floor(from / unit) * unit;
      const cut = Math.max(start, Math.floor(historyTo / HOUR) * HOUR);
      const parts = await Promise.all([
        start < cut ? this.historyRange(start, cut) : null,
        cut < historyTo ? this.historyRange(cut, historyTo) : null,
      ]);
      usedHistory = true;
      let answerFrom = historyTo;
      for (const answer of parts) {
        if (answer === null) continue;
        answerFrom = Math.min(answerFrom, answer.from);
        for (const e of answer.endpoints) {
          const row = rows.get(e.endpoint);
          if (row === undefined) rows.set(e.endpoint, { ...e, shared: true });
          else {
            if (row.shared === true) {
              row.tally = new Tally().merge(row.tally);
              row.shared = false;
            }
            row.tally.merge(e.tally);
          }
        }
      }
      covered += historyTo - Math.max(from, answerFrom);
      begin = Math.min(begin, Math.max(from, answerFrom));
    }
    const source = usedHistory ? (liveFrom < to ? 'memory+history' : 'history') : 'memory';
    const out: WindowRow[] = [];
    for (const r of rows.values())
      out.push({ endpoint: r.endpoint, method: r.method, route: r.route, tally: r.tally, inflight: r.inflight });
    return { from: begin, to, seconds: Math.max(0, covered) / 1000, source, rows: out };
  }

  private historyRange(from: number, to: number): Promise<{ from: number; endpoints: WindowRow[] }> {
    const key = `${from}|${to}`;
    let hit = this.cache.get(key);
    if (hit !== undefined) {
      // Least recently used last out: the hour-long bulk reads stay while minute-keyed ones come and go.
      this.cache.delete(key);
      this.cache.set(key, hit);
    } else {
      if (this.cache.size >= 64) this.cache.delete(this.cache.keys().next().value!);
      hit = this.history!.endpoints({ from, to }).then((a) => ({
        from: a.from,
        endpoints: a.endpoints.map((e) => ({
          endpoint: `${e.method} ${e.route}`,
          method: e.method,
          route: e.route,
          tally: e.tally,
          inflight: 0,
        })),
      }));
      // A failed read is not kept: the next tick asks again.
      hit.catch(() => this.cache.delete(key));
      this.cache.set(key, hit);
    }
    return hit;
  }

  /** Forgets cached history answers (the evaluator calls it when history moved on). */
  clearCache(): void {
    this.cache.clear();
  }
}
