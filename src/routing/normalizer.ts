/**
 * Heuristic path normalization for APIs without a route table: `/users/42/orders/7f3c…` becomes
 * `/users/{id}/orders/{uuid}`. It guesses, so prefer an OpenAPI document or a route table when there
 * is one; this is the fallback that keeps raw ids out of endpoint names.
 */

export interface NormalizerRule {
  /**
   * Tested against each percent-decoded segment (`scope: 'segment'`, the default), or against the whole
   * path with its placeholders so far (`scope: 'path'`, replacing every match).
   */
  pattern: RegExp;
  /** Replacement: a placeholder such as `{dag_id}`; in path scope, `$1` references work as in String.replace. */
  placeholder: string;
  scope?: 'segment' | 'path';
}

export interface NormalizerOptions {
  /** Tried before the built-in heuristics, in order; the first segment rule that matches wins. */
  rules?: readonly NormalizerRule[];
  /** Distinct templates handed out before new ones become null (unmatched). Default 1000. */
  maxTemplates?: number;
  /** Templates longer than this become null (unmatched). Default 256. */
  maxLength?: number;
  /** Segments longer than this are `{token}` whatever they hold. Default 64. */
  maxSegmentLength?: number;
  /** Drop the built-in heuristics and apply only `rules`. */
  builtins?: boolean;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
// Airflow run ids: `manual__2024-01-01T00:00:00+00:00`, `scheduled__…`, `backfill__…`, `asset_triggered__…`.
const RUN_ID = /^[a-z][a-z_]*__\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
const DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
// Unix time in seconds or milliseconds between 2001 and 2286.
const EPOCH = /^1\d{9}(?:\d{3})?(?:\.\d+)?$/;
const NUMBER = /^-?\d+$/;
const HEX = /^[0-9a-f]+$/i;
const EMAIL = /^[^\s@/]+@[^\s@/]+\.[a-z]{2,}$/i;
const TOKEN_CHARS = /^[A-Za-z0-9_\-.~+=]+$/;

/** The placeholder for one decoded segment by the built-in heuristics, or null to keep it. */
export function classifySegment(segment: string, maxSegmentLength = 64): string | null {
  const n = segment.length;
  if (n === 0) return null;
  const c0 = segment.charCodeAt(0);
  const digitFirst = (c0 >= 48 && c0 <= 57) || c0 === 45;
  if (digitFirst) {
    if (NUMBER.test(segment)) return n >= 10 && EPOCH.test(segment) ? '{timestamp}' : '{id}';
    if (n === 10 && DATE.test(segment)) return '{date}';
    if (DATETIME.test(segment)) return '{datetime}';
    if (EPOCH.test(segment)) return '{timestamp}';
  }
  if (n >= 32 && UUID.test(segment)) return '{uuid}';
  if (segment.includes('__') && RUN_ID.test(segment)) return '{run_id}';
  if (segment.includes('@') && EMAIL.test(segment)) return '{email}';
  if (n >= 7 && HEX.test(segment) && (n === 32 || n === 40 || n === 64 || hasDigitAndLetter(segment))) {
    return '{hash}';
  }
  if (n > maxSegmentLength) return '{token}';
  if (n >= 16 && TOKEN_CHARS.test(segment) && looksRandom(segment)) return '{token}';
  return null;
}

function hasDigitAndLetter(s: string): boolean {
  let digit = false;
  let letter = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) digit = true;
    else if ((c | 32) >= 97 && (c | 32) <= 122) letter = true;
    if (digit && letter) return true;
  }
  return false;
}

/**
 * Random tokens mix digits and letters (and often cases) throughout; identifiers people write
 * (`example_bash_operator`, `customerAccounts`) are long runs of letters. Counts class changes
 * between neighbouring characters: random base62 text changes class about every other character.
 */
function looksRandom(s: string): boolean {
  let digits = 0;
  let changes = 0;
  let prev = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const cls = c >= 48 && c <= 57 ? 0 : c >= 65 && c <= 90 ? 1 : c >= 97 && c <= 122 ? 2 : 3;
    if (cls === 0) digits++;
    if (prev !== -1 && cls !== prev) changes++;
    prev = cls;
  }
  return digits >= 2 && changes * 3 >= s.length;
}

/**
 * Turns raw request paths into templates. Bounded: at most `maxTemplates` distinct templates ever
 * (then null, which callers record as unmatched), each at most `maxLength` characters.
 *
 * @example
 * const n = new Normalizer({ rules: [{ pattern: /^v\d+$/, placeholder: '{version}' }] });
 * n.normalize('/api/v2/users/42?x=1'); // '/api/{version}/users/{id}'
 */
export class Normalizer {
  private readonly rules: readonly NormalizerRule[];
  private readonly pathRules: readonly NormalizerRule[];
  private readonly maxTemplates: number;
  private readonly maxLength: number;
  private readonly maxSegmentLength: number;
  private readonly builtins: boolean;
  /** Templates handed out, in order: a template's index is its place here. */
  private readonly templates: string[] = [];
  private readonly seen = new Map<string, number>();

  constructor(options: NormalizerOptions = {}) {
    const rules = options.rules ?? [];
    for (const r of rules) {
      if (!(r.pattern instanceof RegExp) || typeof r.placeholder !== 'string') {
        throw new TypeError('apimeter normalizer: every rule needs a RegExp `pattern` and a string `placeholder`');
      }
    }
    this.rules = rules.filter((r) => (r.scope ?? 'segment') === 'segment');
    this.pathRules = rules.filter((r) => r.scope === 'path');
    this.maxTemplates = options.maxTemplates ?? 1000;
    this.maxLength = options.maxLength ?? 256;
    this.maxSegmentLength = options.maxSegmentLength ?? 64;
    this.builtins = options.builtins ?? true;
  }

  /** Distinct templates handed out so far. */
  get size(): number {
    return this.templates.length;
  }

  /** The template for a raw request target (query string and fragment ignored), or null. */
  normalize(target: string): string | null {
    const i = this.templateIndex(target);
    return i === -1 ? null : this.templates[i];
  }

  /** The template handed out `index`-th (see {@link templateIndex}). */
  templateAt(index: number): string {
    return this.templates[index];
  }

  /**
   * Like {@link normalize}, but the template's index (0, 1, … in order of first appearance), or -1:
   * callers keep per-template state in an array instead of a second lookup by string.
   */
  templateIndex(target: string): number {
    let end = target.length;
    const q = target.indexOf('?');
    if (q !== -1) end = q;
    const h = target.indexOf('#');
    if (h !== -1 && h < end) end = h;
    if (target.charCodeAt(0) !== 47 || end > this.maxLength * 8) return -1;
    let out = '';
    let start = 1;
    while (start <= end) {
      let stop = target.indexOf('/', start);
      if (stop === -1 || stop > end) stop = end;
      if (stop > start) {
        // Repeated slashes collapse; each segment is decoded once to be classified.
        const raw = target.slice(start, stop);
        out += '/' + this.segment(raw);
        if (out.length > this.maxLength) return -1;
      }
      start = stop + 1;
    }
    if (out === '') out = '/';
    for (const r of this.pathRules) out = out.replace(r.pattern, r.placeholder);
    if (out.length > this.maxLength) return -1;
    let index = this.seen.get(out);
    if (index === undefined) {
      if (this.templates.length >= this.maxTemplates) return -1;
      index = this.templates.push(out) - 1;
      this.seen.set(out, index);
    }
    return index;
  }

  private segment(raw: string): string {
    let decoded = raw;
    if (raw.includes('%')) {
      try {
        decoded = decodeURIComponent(raw);
      } catch {
        return '{invalid}';
      }
    }
    for (const r of this.rules) {
      r.pattern.lastIndex = 0;
      if (r.pattern.test(decoded)) return r.placeholder;
    }
    if (this.builtins) {
      const placeholder = classifySegment(decoded, this.maxSegmentLength);
      if (placeholder !== null) return placeholder;
    } else if (decoded.length > this.maxSegmentLength) return '{token}';
    // Kept segments are shown decoded, but a `/` or braces from the client cannot forge structure.
    return /[/{}]/.test(decoded) ? raw : decoded;
  }
}
