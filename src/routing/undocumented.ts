/**
 * The inventory's undocumented candidates: requests no declared route matched, grouped by the
 * normalizer's template, so 500 raw paths under `/api/v2/dags/{id}/foo` are one candidate rather than
 * 500. The registry keeps such requests on one `__unmatched__` endpoint per method (their raw paths are
 * never labels); this keeps, beside it and in memory only, a bounded count per template.
 */
import type { Meter } from '../core/meter.js';
import { normalizeMethod } from '../core/methods.js';
import { Normalizer } from './normalizer.js';

/** One candidate: a method and the template its raw paths normalize to. */
export interface UndocumentedGroup {
  method: string;
  template: string;
  /** Requests since the tracker was installed. */
  count: number;
  /** ms since the epoch. */
  firstSeen: number;
  lastSeen: number;
}

/** Templates tracked at most (then requests count in {@link UndocumentedPaths.ungrouped}). */
export const MAX_UNDOCUMENTED_TEMPLATES = 1000;

interface Group {
  count: number;
  firstSeen: number;
  lastSeen: number;
}

/**
 * Counts unmatched requests per (method, normalized template). Memory is bounded: at most
 * `maxTemplates` templates (each at most 256 characters) for the methods apimeter keeps (nine, plus
 * `_OTHER`); requests past the bound, or whose path the normalizer refuses, count in `ungrouped`.
 */
export class UndocumentedPaths {
  private readonly normalizer: Normalizer;
  /** Per method, groups indexed by the normalizer's template index. */
  private readonly byMethod = new Map<string, (Group | undefined)[]>();
  /** Unmatched requests that could not be grouped (normalizer bound reached, path refused). */
  ungrouped = 0;
  /** When counting started (ms since the epoch). */
  readonly since: number;

  constructor(
    private readonly now: () => number,
    maxTemplates = MAX_UNDOCUMENTED_TEMPLATES,
  ) {
    this.normalizer = new Normalizer({ maxTemplates });
    this.since = now();
  }

  /** One unmatched request. Never throws. */
  observe(method: string, path: string): void {
    try {
      const i = this.normalizer.templateIndex(path);
      if (i === -1) {
        this.ungrouped++;
        return;
      }
      const m = normalizeMethod(method);
      let groups = this.byMethod.get(m);
      if (groups === undefined) this.byMethod.set(m, (groups = []));
      const at = this.now();
      const g = groups[i];
      if (g === undefined) groups[i] = { count: 1, firstSeen: at, lastSeen: at };
      else {
        g.count++;
        g.lastSeen = at;
      }
    } catch {
      this.ungrouped++;
    }
  }

  /** Every candidate, most requests first. */
  groups(): UndocumentedGroup[] {
    const out: UndocumentedGroup[] = [];
    for (const [method, groups] of this.byMethod) {
      groups.forEach((g, i) => {
        if (g !== undefined) out.push({ method, template: this.normalizer.templateAt(i), ...g });
      });
    }
    return out.sort((a, b) => b.count - a.count || (a.template < b.template ? -1 : 1));
  }
}

const trackers = new WeakMap<Meter, UndocumentedPaths>();

/**
 * The meter's undocumented-path tracker, installed on first call (the metrics API installs it when
 * created): from then on every request no route matched is counted by template.
 */
export function trackUndocumented(meter: Meter): UndocumentedPaths {
  let t = trackers.get(meter);
  if (t === undefined) {
    const tracker = new UndocumentedPaths(() => meter.clock.now());
    trackers.set(meter, tracker);
    meter.declarations.unmatchedObserver = (method, path) => tracker.observe(method, path);
    t = tracker;
  }
  return t;
}

/** The meter's tracker if one is installed. */
export function undocumentedOf(meter: Meter): UndocumentedPaths | undefined {
  return trackers.get(meter);
}
