/**
 * The inventory as data: declared operations against the calls of a window. Pure (no meter, no
 * store): the `/inventory` route and `apimeter report inventory` both feed it.
 */
import type { ConsumerShare, DeclaredOperation } from '../core/declarations.js';
import { OVERFLOW_ROUTE, UNMATCHED_ROUTE } from '../core/record.js';
import type { InventoryJson } from './inventory-schema.js';

export const INVENTORY_STATUSES = ['deprecated_but_called', 'never_called', 'used', 'undocumented'] as const;
export type InventoryStatus = (typeof INVENTORY_STATUSES)[number];

/** One endpoint's calls over the window, as the dataset or the store has them. */
export interface CalledRow {
  method: string;
  route: string;
  count: number;
  /** ms since the epoch, or null when unknown. */
  lastCalled: number | null;
}

export interface InventoryEntry {
  method: string;
  route: string;
  operationId: string | null;
  deprecated: boolean;
  sources: string[];
  status: Exclude<InventoryStatus, 'undocumented'>;
  calls: number;
  lastCalled: number | null;
  /** deprecated_but_called: who called it (the consumers hook), else null. */
  consumers: ConsumerShare[] | null;
}

export interface UndocumentedEntry {
  method: string;
  /** The normalizer's template (unmatched requests) or the endpoint's route (an undeclared endpoint). */
  template: string;
  calls: number;
  lastCalled: number | null;
  /** `endpoint`: an endpoint of its own over the window; `unmatched`: grouped from unmatched requests. */
  origin: 'endpoint' | 'unmatched';
}

/** Unmatched requests grouped by template (the tracker's counts, since it was installed). */
export interface UnmatchedGroup {
  method: string;
  template: string;
  count: number;
  lastSeen: number;
}

export interface Inventory {
  endpoints: InventoryEntry[];
  undocumented: UndocumentedEntry[];
  /** Requests on the `__unmatched__` endpoints over the window (what the unmatched groups split up). */
  unmatchedCalls: number;
  /** Requests on the `__overflow__` endpoints over the window (past the cardinality cap). */
  overflowCalls: number;
}

const ORDER: Record<InventoryStatus, number> = { deprecated_but_called: 0, never_called: 1, used: 2, undocumented: 3 };

function later(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/**
 * Classifies every declared operation over the window's rows: `deprecated_but_called`, `used`,
 * `never_called`. A HEAD request on a GET route counts for the GET (every framework answers it there);
 * a `*` operation takes the methods of its route no other declaration has. Rows no declaration covers
 * are `undocumented`, as are the unmatched groups (same method and template added together).
 */
export function classify(
  declared: readonly DeclaredOperation[],
  rows: readonly CalledRow[],
  unmatched: readonly UnmatchedGroup[] = [],
): Inventory {
  const byKey = new Map<string, InventoryEntry>();
  for (const d of declared) {
    byKey.set(`${d.method} ${d.route}`, {
      method: d.method,
      route: d.route,
      operationId: d.operationId ?? null,
      deprecated: d.deprecated,
      sources: [...d.sources],
      status: 'never_called',
      calls: 0,
      lastCalled: null,
      consumers: null,
    });
  }
  const undocumented = new Map<string, UndocumentedEntry>();
  const addUndocumented = (e: UndocumentedEntry) => {
    const key = `${e.method} ${e.template}`;
    const held = undocumented.get(key);
    if (held === undefined) undocumented.set(key, { ...e });
    else {
      held.calls += e.calls;
      held.lastCalled = later(held.lastCalled, e.lastCalled);
    }
  };
  let unmatchedCalls = 0;
  let overflowCalls = 0;
  for (const r of rows) {
    if (r.count <= 0) continue;
    if (r.route === UNMATCHED_ROUTE) {
      unmatchedCalls += r.count;
      continue;
    }
    if (r.route === OVERFLOW_ROUTE) {
      overflowCalls += r.count;
      continue;
    }
    const entry =
      byKey.get(`${r.method} ${r.route}`) ??
      (r.method === 'HEAD' ? byKey.get(`GET ${r.route}`) : undefined) ??
      byKey.get(`* ${r.route}`);
    if (entry === undefined) {
      addUndocumented({
        method: r.method,
        template: r.route,
        calls: r.count,
        lastCalled: r.lastCalled,
        origin: 'endpoint',
      });
      continue;
    }
    entry.calls += r.count;
    entry.lastCalled = later(entry.lastCalled, r.lastCalled);
  }
  for (const g of unmatched) {
    if (g.count > 0) {
      addUndocumented({
        method: g.method,
        template: g.template,
        calls: g.count,
        lastCalled: g.lastSeen,
        origin: 'unmatched',
      });
    }
  }
  const endpoints = [...byKey.values()];
  for (const e of endpoints) {
    if (e.calls > 0) e.status = e.deprecated ? 'deprecated_but_called' : 'used';
  }
  endpoints.sort(
    (a, b) =>
      ORDER[a.status] - ORDER[b.status] ||
      b.calls - a.calls ||
      (a.route < b.route ? -1 : a.route > b.route ? 1 : a.method < b.method ? -1 : 1),
  );
  const candidates = [...undocumented.values()].sort((a, b) => b.calls - a.calls || (a.template < b.template ? -1 : 1));
  return { endpoints, undocumented: candidates, unmatchedCalls, overflowCalls };
}

/** Counts per status. */
export function inventoryTotals(inv: Inventory): Record<InventoryStatus, number> & { declared: number } {
  const t = { declared: inv.endpoints.length, used: 0, never_called: 0, deprecated_but_called: 0, undocumented: 0 };
  for (const e of inv.endpoints) t[e.status]++;
  t.undocumented = inv.undocumented.length;
  return t;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The rows of the CSV form: declared operations, then undocumented candidates. */
export const INVENTORY_CSV_HEADER = [
  'status',
  'method',
  'route',
  'operation_id',
  'deprecated',
  'calls',
  'last_called',
  'sources',
  'consumers',
] as const;

export function inventoryCsvRows(inv: Inventory): (string | number | null)[][] {
  const rows: (string | number | null)[][] = inv.endpoints.map((e) => [
    e.status,
    e.method,
    e.route,
    e.operationId,
    e.deprecated ? 'true' : 'false',
    e.calls,
    iso(e.lastCalled),
    e.sources.join(' '),
    e.consumers === null ? null : e.consumers.map((c) => `${c.consumer}=${c.requests}`).join(' '),
  ]);
  for (const u of inv.undocumented) {
    rows.push(['undocumented', u.method, u.template, null, 'false', u.calls, iso(u.lastCalled), u.origin, null]);
  }
  return rows;
}

/** A Markdown report of an `/inventory` answer (the CLI's `--format md`). */
export function inventoryMarkdown(inv: InventoryJson, title: string): string {
  const t = inv.totals;
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
  const lines = [
    title,
    '',
    `${t.declared} declared: ${t.used} used, ${t.never_called} never called, ${t.deprecated_but_called} deprecated but called; ${t.undocumented} undocumented candidates.`,
    '',
    '| status | method | route | operationId | calls | last called |',
    '| --- | --- | --- | --- | ---: | --- |',
  ];
  for (const e of inv.endpoints) {
    const who =
      e.consumers !== null && e.consumers.length > 0
        ? ` (${e.consumers.map((c) => `${cell(c.consumer)} ${c.requests}`).join(', ')})`
        : '';
    lines.push(
      `| ${e.status}${who} | ${e.method} | ${cell(e.route)} | ${cell(e.operation_id ?? '')} | ${e.calls} | ${e.last_called ?? ''} |`,
    );
  }
  for (const u of inv.undocumented) {
    lines.push(`| undocumented | ${u.method} | ${cell(u.template)} |  | ${u.calls} | ${u.last_called ?? ''} |`);
  }
  return lines.join('\n') + '\n';
}
