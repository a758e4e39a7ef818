/**
 * Pieces shared by the Express, Hono and node:http adapters. No Node import here: Hono runs on other
 * runtimes too.
 */
import type { EndpointStats } from './endpoint.js';
import type { Meter } from './meter.js';
import { ErrorKind } from './record.js';
import { errorClassOf, errorMessageOf } from './detail/endpoint-detail.js';

export { errorClassOf, errorMessageOf };

/** Decides whether an error a handler raised is a request-validation failure (counted as `validation`). */
export type ValidationTest = (error: unknown) => boolean;

const VALIDATION_NAMES = /ValidationError$|^ZodError$|^CelebrateError$/;

/**
 * The default {@link ValidationTest}: Fastify/Ajv-style errors carrying a `validation` array, and errors
 * whose class or name is `ValidationError`, `…ValidationError`, `ZodError` or `CelebrateError`.
 */
export function isValidationError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  if ((error as { validation?: unknown }).validation !== undefined) return true;
  const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
  const name = (error as { name?: unknown }).name;
  return (
    (typeof ctor === 'string' && VALIDATION_NAMES.test(ctor)) ||
    (typeof name === 'string' && VALIDATION_NAMES.test(name))
  );
}

/**
 * How a finished request with an error counts, with the same rules as the Fastify plugin: validation
 * errors as `validation`; other errors as `exception` (with class) when the response is a 5xx; an error
 * that ended in a 4xx (a body-parser 400, a 404 raised by a handler) is left to its status.
 */
export function errorKindOf(error: unknown, status: number, isValidation: ValidationTest): ErrorKind {
  if (error === undefined || error === null) return ErrorKind.None;
  if (isValidation(error)) return ErrorKind.Validation;
  return status >= 500 ? ErrorKind.Exception : ErrorKind.None;
}

/** Content-Length as a byte count, or -1 when absent, negative, fractional or not a number. */
export function parseContentLength(value: unknown): number {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : -1;
  if (typeof value !== 'string' || value.length === 0 || value.length > 16) return -1;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

/**
 * Index just past the balanced group opening at `start` (`(…)` or `{…}` with nesting and backslash
 * escapes): how adapters skip regex constraints in route syntax.
 */
export function skipGroup(s: string, start: number, open = '(', close = ')'): number {
  let depth = 0;
  for (let j = start; j < s.length; j++) {
    if (s[j] === '\\') {
      j++;
      continue;
    }
    if (s[j] === open) depth++;
    else if (s[j] === close && --depth === 0) return j + 1;
  }
  return s.length;
}

/**
 * A route template in the form every adapter reports: `{param}` parameters, `*` wildcards, no trailing
 * slash (except the root), no doubled slashes.
 */
export function tidyTemplate(template: string): string {
  let t = template.replace(/\/{2,}/g, '/');
  if (!t.startsWith('/')) t = '/' + t;
  if (t.length > 1 && t.endsWith('/')) t = t.slice(0, -1);
  return t;
}

/**
 * The endpoint handles of one route template, one per request method, resolved on first use (a route
 * registered for GET also answers HEAD; `all()` routes answer every method). Null: excluded.
 */
export class RouteEndpoints {
  private readonly byMethod: Record<string, EndpointStats | null> = Object.create(null) as Record<
    string,
    EndpointStats | null
  >;

  constructor(
    readonly meter: Meter,
    readonly template: string,
  ) {}

  get(method: string): EndpointStats | null {
    let ep = this.byMethod[method];
    if (ep === undefined) ep = this.byMethod[method] = this.meter.endpoint(method, this.template);
    return ep;
  }
}
