import { AUTH_TYPES } from '../core/detail.js';
import type { Exemplar } from '../core/detail.js';
import type { EndpointStats } from '../core/endpoint.js';
import type { Counts } from '../core/counts.js';
import { prometheusOf } from './catalogue.js';
import { catalogueFamily } from './prometheus-text.js';
import type { ExemplarOut, Labels, MetricWriter } from './prometheus-text.js';

/** OpenMetrics caps the label names and values of one exemplar at 128 UTF-8 characters together. */
const MAX_EXEMPLAR_CHARS = 128;

/**
 * An exemplar's labels and values (`trace_id`, `span_id`; value in the histogram's unit, `msPerUnit`
 * milliseconds each). The span id is left out when the two ids would pass OpenMetrics' 128-character
 * cap, the exemplar when the trace id alone would.
 */
export function exemplarOut(e: Exemplar, msPerUnit = 1000): ExemplarOut | undefined {
  const traceChars = 'trace_id'.length + e.traceId.length;
  if (traceChars > MAX_EXEMPLAR_CHARS) return undefined;
  const labels: [string, string][] = [['trace_id', e.traceId]];
  if (e.spanId !== undefined && traceChars + 'span_id'.length + e.spanId.length <= MAX_EXEMPLAR_CHARS) {
    labels.push(['span_id', e.spanId]);
  }
  return { labels, value: e.valueMs / msPerUnit, timestamp: e.at / 1000 };
}

/**
 * What each bucket of each histogram last carried, by the endpoint's exemplar slots and the bounds:
 * Prometheus drops (and logs, every scrape) an exemplar older than the last one it stored for that
 * bucket's series, which a bucket would otherwise send when a newer request moves its range's exemplar
 * to another bucket. Copies: the slots' objects are reused.
 */
const written = new WeakMap<readonly (Exemplar | undefined)[], Map<string, (Exemplar | undefined)[]>>();

/**
 * One exemplar text (or undefined) per bucket of a histogram with upper bounds `bounds` (in seconds, or
 * the unit that `msPerUnit` milliseconds make) and
 * a final `+Inf` bucket: the latest exemplar whose value lies in (previous bound, bound], unless the
 * bucket carried a later one before (then that one again, which Prometheus takes as a duplicate). So a
 * bucket's exemplar timestamps never go back. `status`: only exemplars of requests answered with that
 * code (the `legacy` histogram's series per status code), remembered apart from the other codes'.
 */
export function bucketExemplars(
  exemplars: readonly (Exemplar | undefined)[],
  bounds: readonly number[],
  msPerUnit = 1000,
  status?: number,
): (ExemplarOut | undefined)[] {
  const best = new Array<Exemplar | undefined>(bounds.length + 1).fill(undefined);
  for (const e of exemplars) {
    if (e === undefined || (status !== undefined && e.status !== status)) continue;
    const value = e.valueMs / msPerUnit;
    let k = 0;
    while (k < bounds.length && value > bounds[k]) k++;
    const held = best[k];
    if (held === undefined || e.at > held.at) best[k] = e;
  }
  let byBounds = written.get(exemplars);
  if (byBounds === undefined) written.set(exemplars, (byBounds = new Map()));
  const key = status === undefined ? bounds.join(',') : `${bounds.join(',')}/${status}`;
  let last = byBounds.get(key);
  if (last === undefined) byBounds.set(key, (last = new Array<Exemplar | undefined>(bounds.length + 1)));
  return best.map((e, k) => {
    const before = last[k];
    if (e !== undefined && (before === undefined || e.at > before.at)) last[k] = { ...e };
    const out = last[k];
    return out === undefined ? undefined : exemplarOut(out, msPerUnit);
  });
}

/**
 * Detailed mode's families (`metrics_detailed`), for endpoints that have recorded in it: auth attempts by
 * kind and outcome (since start-up), rate-limited requests and the last reported quota, database
 * queries and their time. Counters are cumulative like every other family here.
 */
export function detailFamilies(
  w: MetricWriter,
  eps: readonly EndpointStats[],
  counts: readonly Counts[],
  base: (ep: EndpointStats) => Labels,
): void {
  const rows = eps.flatMap((ep, i) => (ep.detail === null ? [] : [{ ep, d: ep.detail, c: counts[i] }]));

  const family = (key: Parameters<typeof prometheusOf>[0]) => catalogueFamily(w, prometheusOf(key));

  const auth = family('auth');
  for (const { ep, d } of rows) {
    AUTH_TYPES.forEach((type, k) => {
      for (const success of [false, true]) {
        const n = d.auth[k * 2 + (success ? 1 : 0)];
        if (n > 0) w.sample(auth, [...base(ep), ['auth_type', type], ['success', String(success)]], n);
      }
    });
  }

  const rateLimited = family('rateLimited');
  for (const { ep, c } of rows) w.sample(rateLimited, base(ep), c.rateLimited);
  const limit = family('rateLimitLimit');
  for (const { ep, d } of rows) {
    if (d.rateLimit >= 0) w.sample(limit, base(ep), d.rateLimit);
  }
  const remaining = family('rateLimitRemaining');
  for (const { ep, d } of rows) {
    if (d.rateLimit >= 0 && d.rateRemaining >= 0) w.sample(remaining, base(ep), d.rateRemaining);
  }

  const queries = family('dbQueries');
  for (const { ep, c } of rows) w.sample(queries, base(ep), c.dbQueries);
  const dbDuration = family('dbDuration');
  for (const { ep, c } of rows) w.sample(dbDuration, base(ep), c.dbMs / 1000);
}
