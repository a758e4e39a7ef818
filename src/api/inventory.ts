import { CSV_TYPE, toCsv } from '../core/csv.js';
import { undocumentedOf } from '../routing/undocumented.js';
import { collect } from './dataset.js';
import type { Dataset, Row } from './dataset.js';
import { headerOf, jsonResponse } from './http.js';
import {
  classify,
  INVENTORY_CSV_HEADER,
  INVENTORY_STATUSES,
  inventoryCsvRows,
  inventoryTotals,
} from './inventory-model.js';
import type { CalledRow, Inventory, InventoryStatus } from './inventory-model.js';
import type { InventoryJson } from './inventory-schema.js';
import type { ResolvedOptions } from './options.js';
import { choiceParam, listParam, Query } from './params.js';
import type { ParamDef } from './params.js';
import { HISTORY_WINDOWS, parseRange, rangeParams } from './range.js';
import type { RangeSpec } from './range.js';
import { readsHistory } from './route.js';
import type { Route, RouteInput, RouteOutput } from './route.js';
import { rangeJson } from './stats.js';

/** Default window with a history store (without one: `all`, since start-up). */
export const INVENTORY_WINDOW = '30d';
/** Endpoints known only from history whose last call is looked up (one series read each). */
const MAX_HISTORY_LOOKUPS = 200;

const PARAMS: readonly ParamDef[] = [
  {
    name: 'status',
    description: `Only these classes, comma-separated (${INVENTORY_STATUSES.join(', ')}).`,
    schema: { type: 'string' },
  },
  {
    name: 'format',
    description: 'json (default) or csv; `Accept: text/csv` also asks for CSV.',
    schema: { type: 'string', enum: ['json', 'csv'] },
  },
  ...rangeParams('all').map((p) =>
    p.name === 'window'
      ? {
          ...p,
          description: `Time window ending now: default ${INVENTORY_WINDOW} when history is stored, else all (since start-up). ${p.description.replace(/^Time window ending now \(default all\): /, '')}`,
          schema: { ...p.schema, default: INVENTORY_WINDOW },
        }
      : p,
  ),
];

function spec(opts: ResolvedOptions, query: Query, now: number): RangeSpec {
  if (!query.has('window') && !query.has('start') && opts.history !== null) {
    return { kind: 'span', window: INVENTORY_WINDOW, from: now - HISTORY_WINDOWS[INVENTORY_WINDOW], to: now };
  }
  return parseRange(query, now, 'all');
}

/** The start of the fine slot holding an endpoint's last record (null: none since start-up). */
function liveLastCalled(row: Row, fineMs: number): number | null {
  const ep = row.ep;
  return ep === null || ep.currentFine < 0 ? null : ep.currentFine * fineMs;
}

/** The window's rows with their last call: from memory, else the newest non-empty stored interval. */
async function calledRows(opts: ResolvedOptions, data: Dataset): Promise<CalledRow[]> {
  const fineMs = opts.meter.rings.fineMs;
  const out: CalledRow[] = [];
  let lookups = 0;
  for (const r of data.rows) {
    const count = r.tally.count;
    let last = liveLastCalled(r, fineMs);
    if (last === null && count > 0 && opts.history !== null && lookups < MAX_HISTORY_LOOKUPS) {
      lookups++;
      try {
        const series = await opts.history.series({ from: data.from, to: data.to, route: r.route, method: r.method });
        for (let i = series.points.length - 1; i >= 0; i--) {
          if (series.points[i].tally.count > 0) {
            last = series.points[i].start;
            break;
          }
        }
      } catch {
        // the last call stays unknown; the counts came through
      }
    }
    out.push({ method: r.method, route: r.route, count, lastCalled: last });
  }
  return out;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Builds the inventory of the API's meter over a dataset (the route's work, shared with tests). */
export async function buildInventory(opts: ResolvedOptions, data: Dataset): Promise<Inventory> {
  const { meter } = opts;
  const tracker = undocumentedOf(meter);
  const groups = (tracker?.groups() ?? []).map((g) => ({ ...g, lastSeen: g.lastSeen }));
  const inv = classify(meter.declarations.list(), await calledRows(opts, data), groups);
  const range = { from: data.from, to: data.to };
  for (const e of inv.endpoints) {
    if (e.status === 'deprecated_but_called') {
      e.consumers = await meter.declarations.topConsumers(`${e.method} ${e.route}`, range);
    }
  }
  return inv;
}

export function inventoryJson(inv: Inventory, data: Dataset, opts: ResolvedOptions): InventoryJson {
  const tracker = undocumentedOf(opts.meter);
  return {
    range: rangeJson(data),
    totals: inventoryTotals(inv),
    endpoints: inv.endpoints.map((e) => ({
      method: e.method,
      route: e.route,
      operation_id: e.operationId,
      deprecated: e.deprecated,
      sources: e.sources,
      status: e.status,
      calls: e.calls,
      last_called: iso(e.lastCalled),
      consumers: e.consumers,
    })),
    undocumented: inv.undocumented.map((u) => ({
      method: u.method,
      template: u.template,
      calls: u.calls,
      last_called: iso(u.lastCalled),
      origin: u.origin,
    })),
    unmatched_calls: inv.unmatchedCalls,
    overflow_calls: inv.overflowCalls,
    undocumented_since: tracker === undefined ? null : iso(tracker.since),
    ungrouped: tracker?.ungrouped ?? 0,
  };
}

function wantsCsv(input: RouteInput, query: Query): boolean {
  const format = choiceParam(query, 'format', ['json', 'csv'], 'json');
  if (query.has('format')) return format === 'csv';
  return /\btext\/csv\b/i.test(headerOf(input.request, 'accept') ?? '');
}

/** Keeps only the classes asked for (the totals still count everything). */
function filtered(inv: Inventory, statuses: readonly InventoryStatus[] | undefined): Inventory {
  if (statuses === undefined) return inv;
  return {
    ...inv,
    endpoints: inv.endpoints.filter((e) => statuses.includes(e.status)),
    undocumented: statuses.includes('undocumented') ? inv.undocumented : [],
  };
}

/** `GET {prefix}/inventory`: declared operations against the calls of a window, and undocumented candidates. */
export const inventory: Route = {
  params: PARAMS,
  async run(input: RouteInput): Promise<RouteOutput> {
    const { opts } = input;
    const query = Query.parse(input.search, PARAMS);
    const statuses = listParam(
      query,
      'status',
      (s) => ((INVENTORY_STATUSES as readonly string[]).includes(s) ? (s as InventoryStatus) : undefined),
      INVENTORY_STATUSES,
    );
    const csv = wantsCsv(input, query);
    const data = await collect(opts, spec(opts, query, opts.meter.clock.now()));
    const all = await buildInventory(opts, data);
    const inv = filtered(all, statuses);
    const cacheable = readsHistory(data);
    if (csv) {
      return {
        cacheable,
        response: {
          status: 200,
          headers: {
            'content-type': CSV_TYPE,
            'content-disposition': 'attachment; filename="apimeter-inventory.csv"',
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
          },
          body: toCsv(INVENTORY_CSV_HEADER, inventoryCsvRows(inv)),
        },
      };
    }
    const json = inventoryJson(inv, data, opts);
    json.totals = inventoryTotals(all);
    return { cacheable, response: jsonResponse(200, json) };
  },
};
