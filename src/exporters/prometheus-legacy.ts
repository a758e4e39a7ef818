import type { EndpointStats } from '../core/endpoint.js';
import type { Meter } from '../core/meter.js';
import { ABORTED_STATUS } from '../core/record.js';
import { LATENCY_SKETCH, Sketch } from '../core/sketch.js';
import { ABORTED_KEY } from '../core/status-latency.js';
import type { PrometheusPreset } from './catalogue.js';
import {
  DURATION_BOUNDS_SECONDS,
  EXPRESS_PROM_BUNDLE_BUCKETS,
  PROM_CLIENT_DEFAULT_BUCKETS,
} from './prometheus-buckets.js';
import { bucketExemplars } from './prometheus-detail.js';
import type { Labels, MetricWriter } from './prometheus-text.js';

/**
 * The `legacy` preset's two flavours and what depends on the preset's defaults (route format, duration
 * bounds), shared by the exposition (prometheus.ts) and the generated rules and dashboards (src/artifacts),
 * so that both read the same labels and `le` bounds.
 *
 * The defaults are those of the packages the preset stands in for, read from their sources
 * (fastify-metrics 12.1 `dist/fastify-metrics.js`, express-prom-bundle 8.0 `src/index.js`):
 *
 * - `fastify-metrics`: `http_request_duration_seconds{method,route,status_code}`, `route` the Fastify
 *   route (`/items/:id`), prom-client's default buckets.
 * - `express-prom-bundle`: `http_request_duration_seconds{status_code}` only (`method` with
 *   `includeMethod`, `path` with `includePath`, in that order), buckets `[0.003, 0.03, 0.1, 0.3, 1.5, 10]`,
 *   an `up` gauge.
 */
export type LegacyFlavor = 'fastify-metrics' | 'express-prom-bundle';
export const LEGACY_FLAVORS: readonly LegacyFlavor[] = ['fastify-metrics', 'express-prom-bundle'];

/** How `route` is written: `openapi` (`/items/{id}`) or `colon` (`/items/:id`). */
export type RouteFormat = 'openapi' | 'colon';

export interface LegacyOptions {
  /** Whose defaults the `legacy` preset reproduces. Default `fastify-metrics`. */
  flavor?: LegacyFlavor;
  /** express-prom-bundle's `includeMethod`: `method` on the duration histogram. Default false. */
  includeMethod?: boolean;
  /**
   * express-prom-bundle's `includePath`: `path` on the duration histogram, the route template with every
   * parameter written `#val` (what its default path normalizer makes of numeric, UUID and hex values);
   * `routeFormat` set explicitly writes it in that format instead. Default false.
   */
  includePath?: boolean;
  /** express-prom-bundle's `includeUp`: the `up` gauge (always 1). Default true. */
  includeUp?: boolean;
}

/** `/items/{id}` → `/items/:id`: the colon syntax of Fastify, Express and fastify-metrics' `route` label. */
export function colonRoute(template: string): string {
  return template.replace(/\{([^{}]+)\}/g, ':$1');
}

/** `/items/{id}` → `/items/#val`: express-prom-bundle's `path` for an ID-valued parameter. */
export function valueRoute(template: string): string {
  return template.replace(/\{[^{}]+\}/g, '#val');
}

/** The route format of a preset: `colon` for `legacy` (as both packages write it), else `openapi`. */
export function presetRouteFormat(preset: PrometheusPreset, routeFormat?: RouteFormat): RouteFormat {
  return routeFormat ?? (preset === 'legacy' ? 'colon' : 'openapi');
}

/** The default classic duration bounds of a preset, in seconds (`airflow`: scaled to ms by the caller). */
export function presetDurationBuckets(
  preset: PrometheusPreset,
  legacy: Pick<LegacyOptions, 'flavor'> | undefined,
  durationBuckets?: readonly number[],
): readonly number[] {
  if (durationBuckets !== undefined) return durationBuckets;
  if (preset !== 'legacy') return DURATION_BOUNDS_SECONDS;
  return legacy?.flavor === 'express-prom-bundle' ? EXPRESS_PROM_BUNDLE_BUCKETS : PROM_CLIENT_DEFAULT_BUCKETS;
}

interface Group {
  readonly labels: Labels;
  readonly sketch: Sketch;
  readonly eps: Set<EndpointStats>;
  readonly codes: Set<number>;
}

const mergeScratch = new Sketch(LATENCY_SKETCH);

/**
 * The `legacy` duration histogram, one series per label set of the flavour: per (method, route,
 * status_code) for fastify-metrics (`perEndpoint`: no two endpoints share a series), per status_code
 * (+ method, path when included) for express-prom-bundle, from the reader's per-status sketches, merged
 * where several (endpoint, code) pairs share a series. Aborted requests are `499`, as on the request
 * counter (merged with answered 499s). A series of one endpoint and one code carries that endpoint's
 * trace exemplars (detailed mode) answered with that code; a series merged over endpoints carries none.
 */
export function statusCodeDurations(
  w: MetricWriter,
  meter: Meter,
  name: string,
  eps: readonly EndpointStats[],
  labelsOf: (ep: EndpointStats, code: number) => Labels,
  perEndpoint: boolean,
  bounds: readonly number[],
  scale: number,
): void {
  const exemplarsOn = w.format !== 'text';
  const exemplarsOf = (ep: EndpointStats, code: number) =>
    exemplarsOn && ep.detail !== null ? bucketExemplars(ep.detail.exemplars, bounds, scale, code) : undefined;
  const groups = new Map<string, Group>();
  for (const ep of eps) {
    // byStatus's sketches are valid until the next call (the main code's is derived into a scratch):
    // each is written or merged before the next endpoint is read.
    const got = meter.reader.byStatus(ep);
    if (got === undefined) continue;
    const order = got.keys
      .map((key, k) => ({ code: key === ABORTED_KEY ? ABORTED_STATUS : key, k }))
      .filter(({ k }) => got.sketches[k].count > 0)
      .sort((a, b) => a.code - b.code);
    for (let i = 0; i < order.length; i++) {
      const { code, k } = order[i];
      if (perEndpoint) {
        let sketch = got.sketches[k];
        if (i + 1 < order.length && order[i + 1].code === code) {
          // A real 499 and aborted requests: one series, as on the counter.
          mergeScratch.reset();
          mergeScratch.merge(sketch).merge(got.sketches[order[++i].k]);
          sketch = mergeScratch;
        }
        w.histogram(name, labelsOf(ep, code), sketch, bounds, scale, exemplarsOf(ep, code));
        continue;
      }
      const labels = labelsOf(ep, code);
      const key = labels.map(([n, v]) => `${n}\u0000${v}`).join('\u0001');
      let g = groups.get(key);
      if (g === undefined) {
        g = { labels, sketch: new Sketch(LATENCY_SKETCH), eps: new Set(), codes: new Set() };
        groups.set(key, g);
      }
      g.sketch.merge(got.sketches[k]);
      g.eps.add(ep);
      g.codes.add(code);
    }
  }
  for (const g of groups.values()) {
    const [ep] = g.eps;
    const [code] = g.codes;
    const exemplars = g.eps.size === 1 && g.codes.size === 1 ? exemplarsOf(ep, code) : undefined;
    w.histogram(name, g.labels, g.sketch, bounds, scale, exemplars);
  }
}
