import { CATALOGUE, prometheusOf } from '../exporters/catalogue.js';
import type { MetricKey, PrometheusPreset } from '../exporters/catalogue.js';
import { colonRoute, presetDurationBuckets, presetRouteFormat } from '../exporters/prometheus-legacy.js';
import type { RouteFormat } from '../exporters/prometheus-legacy.js';
import type { ArtifactOptions } from './types.js';

/**
 * PromQL building blocks over the metric catalogue: every name a generated rule or panel uses comes
 * from here, per naming preset, so the artifacts follow the exporter when a name changes.
 */

/** The label set a per-endpoint expression keeps (the scrape's `job` and the endpoint's method and route). */
export const ENDPOINT_BY = 'job, method, route';

/** The duration bounds (seconds) the exposition of these options writes: the `le` values a rule can match. */
export function durationBoundsOf(o: Pick<ArtifactOptions, 'naming' | 'durationBuckets'>): readonly number[] {
  return presetDurationBuckets(o.naming, undefined, o.durationBuckets);
}

/** The route format the exposition of these options writes. */
export function routeFormatOf(o: Pick<ArtifactOptions, 'naming' | 'routeFormat'>): RouteFormat {
  return presetRouteFormat(o.naming, o.routeFormat);
}

/** A metric's sample name in `preset` (counters end in `_total`, histograms are the family name). */
export function metricName(key: MetricKey, preset: PrometheusPreset): string {
  return prometheusOf(key).names[preset];
}

/** Whether the preset's request counter carries `status_class` (otel) or only `status_code` (legacy). */
export function hasStatusClass(preset: PrometheusPreset): boolean {
  return (CATALOGUE.requests.prometheus.labels[preset] as readonly string[]).includes('status_class');
}

/** The matcher selecting requests answered with a status class, `5xx` → `status_class="5xx"` or `status_code=~"5.."`. */
export function statusMatcher(preset: PrometheusPreset, digit: 4 | 5): string {
  return hasStatusClass(preset) ? `status_class="${digit}xx"` : `status_code=~"${digit}.."`;
}

/** A PromQL string literal (double-quoted, backslashes and quotes escaped). */
export function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** RE2 source of an apimeter glob part: `*` any run, `?` one character, the rest literal. */
function globRegex(glob: string): string {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\*?]/g, '\\$&');
  }
  return source;
}

/**
 * Label matchers for endpoint globs over `METHOD /template` (`/x` = `* /x`): one matcher list per glob.
 * `*` alone (every endpoint) gives one empty list. The globs are written over apimeter's templates
 * (`/items/{id}`); with `colon` their parameters are matched as the exposition writes them (`/items/:id`).
 */
export function endpointMatchers(globs: readonly string[], routeFormat: RouteFormat = 'openapi'): string[][] {
  const sets = globs.map((g) => {
    const full = g.startsWith('/') ? `* ${g}` : g;
    const space = full.indexOf(' ');
    const method = space === -1 ? '*' : full.slice(0, space);
    const template = space === -1 ? full : full.slice(space + 1);
    const route = routeFormat === 'colon' ? colonRoute(template) : template;
    if (space === -1 && full === '*') return [];
    const out: string[] = [];
    if (method !== '*') out.push(`method=~${quote(globRegex(method))}`);
    if (route !== '*') out.push(`route=~${quote(globRegex(route))}`);
    return out;
  });
  return sets.some((s) => s.length === 0) ? [[]] : sets;
}

/** `name{a, b}` (or `name` with no matchers). */
export function selector(name: string, matchers: readonly string[]): string {
  return matchers.length === 0 ? name : `${name}{${matchers.join(', ')}}`;
}

/**
 * `fn(name{extra, glob…}[range])` for each glob's matcher set, joined with `or` (series of overlapping
 * globs are counted once). `range` null: the instant selector, no function.
 */
export function overEndpoints(
  fn: 'rate' | 'increase' | null,
  name: string,
  extra: readonly string[],
  sets: readonly (readonly string[])[],
  range: string | null,
): string {
  const parts = sets.map((set) => {
    const sel = selector(name, [...extra, ...set]);
    return fn === null || range === null ? sel : `${fn}(${sel}[${range}])`;
  });
  return parts.length === 1 ? parts[0] : `(${parts.join(' or ')})`;
}

/** A duration in Prometheus syntax from milliseconds, whole minutes or seconds: 3600000 → `1h`. */
export function promDuration(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ];
  if (ms <= 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [u, size] of units) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${u}`;
      rest %= size;
    }
  }
  return out;
}

/**
 * The `le` matcher of the duration bucket at `seconds`, or null when `bounds` (the exposition's) have no such bound.
 * Prometheus 2 keeps `le` as scraped: `1` in the text format, `1.0` in OpenMetrics, so integers match both.
 */
export function leMatcher(seconds: number, bounds: readonly number[]): string | null {
  const bound = bounds.find((b) => Math.abs(b - seconds) < 1e-9);
  if (bound === undefined) return null;
  const text = String(bound);
  return Number.isInteger(bound) ? `le=~"${text}(\\\\.0)?"` : `le="${text}"`;
}

/** The largest duration bound at or below `seconds` (a latency SLO's conservative "good" bucket), or null. */
export function boundAtOrBelow(seconds: number, bounds: readonly number[]): number | null {
  const below = bounds.filter((b) => b <= seconds + 1e-9);
  return below.length === 0 ? null : below[below.length - 1];
}
