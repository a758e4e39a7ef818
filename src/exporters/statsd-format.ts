/**
 * How names, tags and values are written for each StatsD dialect. Everything produced here is ASCII,
 * so a string's length is its size in bytes.
 *
 * - `statsd`: plain StatsD (Etsy, statsd_exporter, Graphite). No tags: dimensions are folded into the
 *   name as dotted segments, `api.request.count.dags_dag_id.GET.2xx`.
 * - `influx`: the InfluxDB/Telegraf style, `api.request.count,endpoint=/dags/{dag_id},method=GET:1|c`.
 * - `datadog`: DogStatsD, `api.request.count:1|c|#endpoint:/dags/_dag_id_,method:GET`.
 */
import { patternMatcher } from './statsd-pattern.js';

export type StatsdDialect = 'statsd' | 'influx' | 'datadog';

/** One dimension: tag key and raw value. */
export type Dimension = readonly [key: string, value: string];

/** Longest metric name sent: DataDog's limit is 200, Graphite-style servers take Airflow's 250. */
const MAX_NAME = { statsd: 250, influx: 250, datadog: 200 } as const;
/** Longest tag (DataDog counts `key:value` together) and longest folded name segment. */
const MAX_TAG = 200;
const MAX_SEGMENT = 100;

/**
 * A metric name for the dialect: characters outside the backend's set become `_` (DataDog: letters,
 * digits, `_` and `.`; StatsD/Graphite also `-`), empty segments are removed, and the result is cut to
 * the backend's maximum length.
 */
export function sanitizeName(name: string, dialect: StatsdDialect): string {
  const allowed = dialect === 'datadog' ? /[^A-Za-z0-9_.]/g : /[^A-Za-z0-9_.-]/g;
  const clean = name
    .replace(allowed, '_')
    .replace(/\.{2,}/g, '.')
    .replace(/^\.+|\.+$/g, '');
  return clean.length > MAX_NAME[dialect] ? clean.slice(0, MAX_NAME[dialect]) : clean;
}

/** A tag key: letters, digits, `_ - . /`; anything else (including `:`, `,`, `=`, `|`) becomes `_`. */
export function sanitizeTagKey(key: string): string {
  const clean = key.replace(/[^A-Za-z0-9_\-./]/g, '_');
  return clean === '' ? '_' : clean.slice(0, MAX_TAG);
}

/**
 * A tag value. DogStatsD: DataDog's tag alphabet (letters, digits, `_ - : . /`; the rest becomes `_`, as
 * the Agent would do anyway). Influx: letters, digits, `_ - . /` and braces, so route templates stay
 * readable; the separators `, = : | #`, spaces and non-ASCII become `_`.
 */
export function sanitizeTagValue(value: string, dialect: StatsdDialect): string {
  const allowed = dialect === 'datadog' ? /[^A-Za-z0-9_\-:./]/g : /[^A-Za-z0-9_\-./{}]/g;
  const clean = value.replace(allowed, '_');
  return clean === '' ? '_' : clean.slice(0, MAX_TAG);
}

/**
 * One dotted-name segment for plain StatsD: a route template or method folded into a name.
 * `/api/v2/dags/{dag_id}` → `api_v2_dags_dag_id`: the leading `/` is dropped, `/` and `.` become `_`,
 * braces are dropped, anything outside `A-Z a-z 0-9 _ -` becomes `_`; `/` alone is `root`. Segments
 * longer than 100 characters keep 91 and end with `-` and 8 hex digits of a hash of the whole value,
 * so long distinct routes stay distinct.
 */
export function nameSegment(value: string): string {
  let s = value.startsWith('/') ? value.slice(1) : value;
  s = s.replace(/[{}]/g, '').replace(/[^A-Za-z0-9_-]/g, '_');
  if (s === '') return 'root';
  if (s.length > MAX_SEGMENT) s = `${s.slice(0, MAX_SEGMENT - 9)}-${fnv1a(value)}`;
  return s;
}

/** 32-bit FNV-1a of a string as 8 hex digits. */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * A number as StatsD servers parse it: plain decimal notation, never `1e-7` (Etsy's sample-rate parser
 * reads only digits and dots) and never `NaN`/`Infinity` (callers drop those).
 */
export function decimal(x: number): string {
  const s = String(x);
  if (!s.includes('e')) return s;
  if (Math.abs(x) >= 1) return BigInt(Math.round(x)).toString();
  const fixed = x.toFixed(20).replace(/0+$/, '');
  return fixed.endsWith('.') ? fixed.slice(0, -1) : fixed;
}

/** `x` with 6 significant digits, in decimal notation: bucket estimates are far less precise than that. */
export function shortDecimal(x: number): string {
  return decimal(Number(x.toPrecision(6)));
}

/**
 * Writes lines for one dialect. A series is a name plus a "dimension part": `.seg.seg` (statsd),
 * `,k=v,k=v` (influx) or `k:v,k:v` (datadog) — built once per endpoint and extended per line.
 */
export class StatsdFormat {
  readonly dialect: StatsdDialect;
  /** Tag keys left out (`statsd_disabled_tags`, Airflow 3 patterns), decided once per key. */
  private readonly disabled = new Map<string, boolean>();
  private readonly disabledTest: ((key: string) => boolean) | null;
  /** `,env:prod,team:api` (DogStatsD only): already sanitized. */
  private readonly constantTags: string;
  /** `|c:<container id>` (DogStatsD origin detection), or empty. */
  private readonly container: string;

  constructor(
    dialect: StatsdDialect,
    constantTags: readonly string[] = [],
    disabledTags: readonly string[] = [],
    containerId = '',
  ) {
    this.dialect = dialect;
    this.disabledTest = patternMatcher(disabledTags);
    const constant = dialect === 'datadog' ? constantTags.map(sanitizeConstantTag).filter((t) => t !== '') : [];
    this.constantTags = constant.join(',');
    const id = containerId.replace(/[^A-Za-z0-9_\-.:/]/g, '');
    this.container = dialect === 'datadog' && id !== '' ? `|c:${id}` : '';
  }

  private isDisabled(key: string): boolean {
    let off = this.disabled.get(key);
    if (off === undefined) {
      off = this.disabledTest !== null && this.disabledTest(key);
      this.disabled.set(key, off);
    }
    return off;
  }

  /** The metric name with its prefix (already validated segments), sanitized for the dialect. */
  name(...parts: string[]): string {
    return sanitizeName(parts.filter((p) => p !== '').join('.'), this.dialect);
  }

  /** Is this tag key sent? (`statsd_disabled_tags`) */
  enabled(key: string): boolean {
    return !this.isDisabled(key);
  }

  /** The dimension part for these dimensions, disabled ones left out. */
  dims(dimensions: readonly Dimension[]): string {
    let part = '';
    for (const [key, value] of dimensions) part = this.extend(part, key, value);
    return part;
  }

  /** `part` with one more dimension (unchanged when that key is disabled). */
  extend(part: string, key: string, value: string): string {
    if (this.isDisabled(key)) return part;
    switch (this.dialect) {
      case 'statsd':
        return `${part}.${nameSegment(value)}`;
      case 'influx':
        return `${part},${sanitizeTagKey(key)}=${sanitizeTagValue(value, 'influx')}`;
      case 'datadog':
        return `${part}${part === '' ? '' : ','}${sanitizeTagKey(key)}:${sanitizeTagValue(value, 'datadog')}`;
    }
  }

  /** The first half of a line: everything before `:value`. */
  head(name: string, part: string): string {
    return this.dialect === 'datadog' ? name : name + part;
  }

  /**
   * The tag suffix of a line (DogStatsD `|#…` with the constant tags, then the container field `|c:…`),
   * empty for other dialects.
   */
  tail(part: string): string {
    if (this.dialect !== 'datadog') return '';
    const tags = part === '' ? this.constantTags : this.constantTags === '' ? part : `${part},${this.constantTags}`;
    return (tags === '' ? '' : `|#${tags}`) + this.container;
  }

  /** A whole line: `head:value|type[|@rate]tail`. */
  line(head: string, value: string, type: string, rate: number, tail: string): string {
    return rate >= 1 ? `${head}:${value}|${type}${tail}` : `${head}:${value}|${type}|@${decimal(rate)}${tail}`;
  }
}

function sanitizeConstantTag(tag: string): string {
  const colon = tag.indexOf(':');
  if (colon <= 0) return tag === '' ? '' : sanitizeTagKey(tag);
  return `${sanitizeTagKey(tag.slice(0, colon))}:${sanitizeTagValue(tag.slice(colon + 1), 'datadog')}`;
}
