import type { RingLayout } from '../core/endpoint.js';
import { ringHorizon, WINDOWS } from '../core/query.js';
import type { RingName, WindowName } from '../core/query.js';
import { badParameter } from './http.js';
import { choiceParam, dateParam } from './params.js';
import type { ParamDef, Query } from './params.js';

/** Windows the in-memory registry answers. */
export const LIVE_WINDOWS: readonly WindowName[] = ['1m', '5m', '15m', '1h', 'all'];
/** Windows only persisted history can answer (ms). */
export const HISTORY_WINDOWS: Readonly<Record<string, number>> = {
  '6h': 6 * 3_600_000,
  '24h': 24 * 3_600_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};
export const WINDOW_CHOICES: readonly string[] = [...LIVE_WINDOWS, ...Object.keys(HISTORY_WINDOWS)];

/** What the request asked for: a live window (read as the core reads it) or a span of time. */
export type RangeSpec =
  { kind: 'window'; window: WindowName } | { kind: 'span'; window: string | null; from: number; to: number };

/** Where a span is read from, after snapping to the slots of that source. */
export type SpanPlan =
  | { source: 'ring'; ring: RingName; slotMs: number; from: number; to: number }
  | { source: 'history'; from: number; to: number };

export function rangeParams(fallback: WindowName): ParamDef[] {
  return [
    {
      name: 'window',
      description:
        `Time window ending now (default ${fallback}): 1m, 5m, 15m, 1h from memory; all = since start-up; ` +
        '6h, 24h, 7d, 30d from persisted history. Not with start/end.',
      schema: { type: 'string', enum: [...WINDOW_CHOICES], default: fallback },
    },
    {
      name: 'start',
      description:
        'Start of a time range, ISO 8601 with a zone (2025-01-02T03:04:05Z). Ranges inside the last hour come ' +
        'from memory, older ones from history. Snapped outward to whole slots.',
      schema: { type: 'string', format: 'date-time' },
    },
    {
      name: 'end',
      description: 'End of the range (default now); needs start.',
      schema: { type: 'string', format: 'date-time' },
    },
  ];
}

export function parseRange(query: Query, now: number, fallback: WindowName): RangeSpec {
  const start = dateParam(query, 'start');
  const end = dateParam(query, 'end');
  if (query.has('window') && (start !== undefined || end !== undefined)) {
    throw badParameter('window', 'give either window or start/end, not both');
  }
  if (start === undefined) {
    if (end !== undefined) throw badParameter('start', 'end needs a start');
    const window = choiceParam(query, 'window', WINDOW_CHOICES, fallback);
    const span = HISTORY_WINDOWS[window];
    if (span === undefined) return { kind: 'window', window: window as WindowName };
    return { kind: 'span', window, from: now - span, to: now };
  }
  if (start > now) throw badParameter('start', `is in the future (now is ${new Date(now).toISOString()})`);
  const to = end === undefined ? now : Math.min(end, now);
  if (end !== undefined && end <= start) throw badParameter('end', 'must be after start');
  return { kind: 'span', window: null, from: start, to };
}

/**
 * The slot length a live window is read at, its first slot (`first`) and where its data starts (`from`:
 * not before start-up), as `windowTally` reads it.
 */
export function windowBounds(
  rings: RingLayout,
  window: WindowName,
  now: number,
  startedAt: number,
): { from: number; first: number; ring: RingName | null; slotMs: number } {
  if (window === 'all') return { from: startedAt, first: startedAt, ring: null, slotMs: 0 };
  const span = WINDOWS[window];
  const fine = span <= rings.fineMs * (rings.fineSlots - 1);
  const slotMs = fine ? rings.fineMs : rings.coarseMs;
  const n = Math.min(Math.ceil(span / slotMs), fine ? rings.fineSlots : rings.coarseSlots);
  const first = (Math.floor(now / slotMs) - n + 1) * slotMs;
  return { from: Math.min(now, Math.max(first, startedAt)), first, ring: fine ? 'fine' : 'coarse', slotMs };
}

/**
 * Picks the finest ring that still holds the span's start and snaps the span outward to its slots; a
 * start older than the coarse ring goes to history.
 */
export function planSpan(rings: RingLayout, from: number, to: number, now: number): SpanPlan {
  const horizon = ringHorizon(rings, now);
  for (const ring of ['fine', 'coarse'] as const) {
    if (from < horizon[ring]) continue;
    const slotMs = ring === 'fine' ? rings.fineMs : rings.coarseMs;
    // A range reaching now includes the current slot, even when now is exactly its start.
    const end = to >= now ? (Math.floor(now / slotMs) + 1) * slotMs : Math.ceil(to / slotMs) * slotMs;
    return { source: 'ring', ring, slotMs, from: Math.floor(from / slotMs) * slotMs, to: end };
  }
  return { source: 'history', from, to };
}

/** The 400 for a range that only history could answer, when there is none. */
export function historyMissing(spec: RangeSpec, rings: RingLayout): Error {
  const ring = `the in-memory ring holds the last ${(rings.coarseMs * (rings.coarseSlots - 1)) / 60_000} minutes`;
  const how = 'history needs [metrics] api_metrics_persistence = true and a store';
  if (spec.kind === 'span' && spec.window !== null) {
    return badParameter('window', `${spec.window} needs persisted history (${ring}); ${how}`, LIVE_WINDOWS);
  }
  return badParameter('start', `is older than memory reaches (${ring}); ${how}`);
}
