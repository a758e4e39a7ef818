import { badParameter } from './http.js';

/** One query parameter a route accepts: validated here, described in the OpenAPI document from the same row. */
export interface ParamDef {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the raw value (always a string on the wire; the schema says what the string holds). */
  readonly schema: Readonly<Record<string, unknown>>;
}

const MAX_QUERY_LENGTH = 4096;
const MAX_SHOWN = 60;

/** A parameter name or value as shown in an error detail: quoted, shortened, never echoed in full. */
export function shown(text: string): string {
  return JSON.stringify(text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text);
}

/**
 * The query string of one request, checked against the parameters its route accepts: an unknown or
 * repeated parameter is a 400 naming it, so a typo (`order=…`, `limt=…`) never silently does nothing.
 */
export class Query {
  private constructor(private readonly values: ReadonlyMap<string, string>) {}

  static parse(search: string, accepted: readonly ParamDef[]): Query {
    if (search.length > MAX_QUERY_LENGTH) {
      throw badParameter('query', `the query string is ${search.length} characters; at most ${MAX_QUERY_LENGTH}`);
    }
    const names = accepted.map((p) => p.name);
    const values = new Map<string, string>();
    const counts = new Map<string, number>();
    for (const [name, value] of new URLSearchParams(search)) {
      if (!names.includes(name)) {
        throw badParameter(
          name.slice(0, MAX_SHOWN),
          `unknown query parameter ${shown(name)}; this route accepts ${names.join(', ') || 'none'}`,
        );
      }
      counts.set(name, (counts.get(name) ?? 0) + 1);
      values.set(name, value);
    }
    for (const [name, n] of counts) if (n > 1) throw badParameter(name, `given ${n} times; give it once`);
    return new Query(values);
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }
}

/**
 * A whole number in [min, max]. With `cap`, larger values (however many digits) are lowered to the cap
 * instead of refused: a client asking for `limit=1000000` gets the largest page there is.
 */
export function integerParam(
  query: Query,
  name: string,
  fallback: number,
  { min, max = Number.MAX_SAFE_INTEGER, cap = false }: { min: number; max?: number; cap?: boolean },
): number {
  const raw = query.get(name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw badParameter(name, `must be a whole number (got ${shown(raw)})`);
  const n = raw.length > 16 ? Infinity : Number(raw);
  if (n < min) throw badParameter(name, `must be at least ${min} (got ${shown(raw)})`);
  if (n > max) {
    if (cap) return max;
    throw badParameter(name, `must be at most ${max} (got ${shown(raw)})`);
  }
  return n;
}

/** One of a closed set of values. */
export function choiceParam<T extends string>(query: Query, name: string, choices: readonly T[], fallback: T): T {
  const raw = query.get(name);
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw badParameter(name, `${shown(raw)} is not a valid value`, choices);
  }
  return raw as T;
}

/** A comma-separated list; every item goes through `item`, which returns undefined for a bad one. */
export function listParam<T>(
  query: Query,
  name: string,
  item: (text: string) => T | undefined,
  allowed: readonly string[],
): T[] | undefined {
  const raw = query.get(name);
  if (raw === undefined) return undefined;
  const items = raw.split(',').map((s) => s.trim());
  if (items.length > 50) throw badParameter(name, `at most 50 values (got ${items.length})`);
  return items.map((text) => {
    const value = text === '' ? undefined : item(text);
    if (value === undefined) throw badParameter(name, `${shown(text)} is not a valid value`, allowed);
    return value;
  });
}

/** Free text of bounded length; empty means absent. */
export function textParam(query: Query, name: string, maxLength: number): string | undefined {
  const raw = query.get(name);
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > maxLength) throw badParameter(name, `at most ${maxLength} characters (got ${raw.length})`);
  return raw;
}

// YYYY-MM-DD, optionally followed by Thh:mm[:ss[.fraction]] and a zone. A space stands for the `+` of an
// offset: an unencoded `+` in a query string arrives as a space.
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+\- ])(\d{2}):?(\d{2}))?)?$/;

const DATE_HELP = 'an ISO 8601 date-time with a zone, e.g. 2025-01-02T03:04:05Z or 2025-01-02T05:04:05+02:00';

/** An ISO 8601 date-time (or a date, meaning midnight UTC) as ms since the epoch. Times need a zone. */
export function dateParam(query: Query, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === undefined) return undefined;
  const m = ISO_DATE.exec(raw);
  if (m === null) throw badParameter(name, `must be ${DATE_HELP} (got ${shown(raw)})`);
  const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
  if (h !== undefined && z === undefined && sign === undefined) {
    throw badParameter(name, `needs a zone (Z or an offset such as +02:00): ${shown(raw)} is ambiguous`);
  }
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const parts = [Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), Number(oh ?? 0), Number(om ?? 0)];
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth ||
    parts[0] > 23 ||
    parts[1] > 59 ||
    parts[2] > 59 ||
    parts[3] > 23 ||
    parts[4] > 59
  ) {
    throw badParameter(name, `${shown(raw)} is not a real date-time; expected ${DATE_HELP}`);
  }
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  const offset = (sign === '-' ? -1 : 1) * (parts[3] * 60 + parts[4]) * 60_000;
  const utc = new Date(0);
  // setUTCFullYear keeps years 0–99 as written (Date.UTC would map them to 1900–1999).
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(parts[0], parts[1], parts[2], ms);
  return utc.getTime() - offset;
}
