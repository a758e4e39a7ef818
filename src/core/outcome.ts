/**
 * The outcome rules every adapter and the proxy apply to a finished request: which status it counts
 * under (499 when the client went away), which error kind, class and message, how its sizes read, and
 * the detailed-mode finish. Adapters keep only what is specific to their framework (where the status,
 * sizes and error come from). No Node import here: Hono runs on other runtimes too.
 */
import type { EndpointStats } from './endpoint.js';
import type { Meter } from './meter.js';
import { ABORTED_STATUS, ErrorKind } from './record.js';
import type { HeaderReader, RequestContext } from './detail/context.js';

export { ABORTED_STATUS };

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
 * How a finished request with an error counts: validation errors as `validation`; other errors as
 * `exception` (with class) when the response is a 5xx; an error that ended in a 4xx (a body-parser
 * 400, a 404 raised by a handler) is left to its status.
 */
export function errorKindOf(error: unknown, status: number, isValidation: ValidationTest): ErrorKind {
  if (error === undefined || error === null) return ErrorKind.None;
  if (isValidation(error)) return ErrorKind.Validation;
  return status >= 500 ? ErrorKind.Exception : ErrorKind.None;
}

/** Class name of a thrown value, as the registry lists exceptions (`TypeError`, `SchedulerUnavailableError`). */
export function errorClassOf(error: unknown): string {
  if (error === null || typeof error !== 'object') return typeof error === 'string' ? 'Error' : typeof error;
  const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof ctor === 'string' && ctor !== '' && ctor !== 'Error' && ctor !== 'Object') return ctor.slice(0, 100);
  const name = (error as { name?: unknown }).name;
  return typeof name === 'string' && name !== '' ? name.slice(0, 100) : 'Error';
}

/** The class of a network or upstream error: its `code` when it has one (`ECONNREFUSED`), else its class. */
export function errorCodeOrClass(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : errorClassOf(error);
}

export function errorMessageOf(error: unknown): string {
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : '';
}

/** Content-Length as a byte count, or -1 when absent, negative, fractional or not a number. */
export function parseContentLength(value: unknown): number {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : -1;
  if (typeof value !== 'string' || value.length === 0 || value.length > 16) return -1;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

/**
 * Records a request that was answered: `kind` from {@link errorKindOf} (or the caller's own rule),
 * `error` what the handler raised (null or undefined when nothing), `errorClass` to override
 * {@link errorClassOf} for exceptions. In detailed mode `ctx` is the request's context and
 * `responseHeader` reads the answer's headers (rate-limit quota); with `ctx` null nothing more is done.
 * Positional arguments, like {@link Meter.record}: nothing is allocated per request. Never throws.
 */
export function recordAnswer(
  meter: Meter,
  ep: EndpointStats,
  status: number,
  durationMs: number,
  requestBytes: number,
  responseBytes: number,
  kind: ErrorKind,
  error: unknown,
  errorClass: string | undefined,
  ctx: RequestContext | null,
  responseHeader?: HeaderReader,
): void {
  if (kind === ErrorKind.Exception) {
    meter.record(
      ep,
      status,
      durationMs,
      requestBytes,
      responseBytes,
      kind,
      errorClass ?? errorClassOf(error),
      errorMessageOf(error),
      error,
    );
  } else meter.record(ep, status, durationMs, requestBytes, responseBytes, kind);
  if (ctx !== null) meter.finishContext(ep, ctx, status, durationMs, error, responseHeader);
}

/**
 * Records a request the client gave up on before its answer was complete: status 499
 * ({@link ABORTED_STATUS}), kind `aborted`, no response size. `error` is what the handler raised
 * before, if anything (detailed mode keeps its message). Never throws.
 */
export function recordAborted(
  meter: Meter,
  ep: EndpointStats,
  durationMs: number,
  requestBytes: number,
  ctx: RequestContext | null,
  error?: unknown,
  responseHeader?: HeaderReader,
): void {
  meter.record(ep, ABORTED_STATUS, durationMs, requestBytes, -1, ErrorKind.Aborted);
  if (ctx !== null) meter.finishContext(ep, ctx, ABORTED_STATUS, durationMs, error, responseHeader);
}
