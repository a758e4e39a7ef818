import type { EndpointSnapshot, MeterSummary } from '../src/index.js';

const MAX_ROUTE = 72;

function ms(v: number | null): string {
  if (v === null) return '-';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** Long templates keep their start and end: `/api/v2/dags/{dag_id}/dagRu…/logs/{try_number}`. */
function shorten(route: string): string {
  if (route.length <= MAX_ROUTE) return route;
  const keep = MAX_ROUTE - 1;
  return route.slice(0, Math.ceil(keep / 2)) + '…' + route.slice(route.length - Math.floor(keep / 2));
}

/**
 * A fixed-width table of the busiest endpoints in a window, with a summary line on top.
 *
 * @example
 * console.log(formatReport(meter.summary('1m'), meter.snapshot('1m')));
 */
export function formatReport(summary: MeterSummary, endpoints: EndpointSnapshot[], top = 12): string {
  const rows = endpoints
    .filter((e) => e.count > 0)
    .sort((a, b) => b.count - a.count || a.route.localeCompare(b.route))
    .slice(0, top)
    .map((e) => [
      e.method,
      shorten(e.route),
      String(e.count),
      e.ratePerSecond.toFixed(1),
      (e.errorRate * 100).toFixed(1),
      ms(e.latencyMs.p50),
      ms(e.latencyMs.p95),
      ms(e.latencyMs.p99),
    ]);
  const header = ['METHOD', 'ROUTE', 'COUNT', 'REQ/S', 'ERR%', 'P50ms', 'P95ms', 'P99ms'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // Method and route read left-aligned, numbers right-aligned.
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const s = summary;
  const title =
    `── last ${s.window}: ${s.count} requests, ${s.ratePerSecond.toFixed(1)} req/s, ` +
    `${(s.errorRate * 100).toFixed(1)}% errors, p50/p95/p99 ${ms(s.latencyMs.p50)}/${ms(s.latencyMs.p95)}/` +
    `${ms(s.latencyMs.p99)} ms, ${s.inflight} in flight`;
  if (rows.length === 0) return `${title}\n(no requests yet)`;
  return [title, line(header), ...rows.map(line)].join('\n');
}
