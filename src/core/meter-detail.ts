import type { Tally } from './tally.js';
import {
  AUTH_TYPES,
  authTypeOf,
  errorClassOf,
  errorMessageOf,
  readRateLimitHeaders,
  RequestContext,
  stackFrames,
} from './detail.js';
import type { AuthHeaderRules, AuthType, EndpointDetail, HeaderReader, TraceSource } from './detail.js';

/**
 * Detailed mode's glue between a request's {@link RequestContext} and the meter: opening the context
 * at request start, adding it to the endpoint at the end, and what the application reports about a
 * request (auth outcome, rate limit). The meter's methods of the same purpose call these.
 */

export interface AuthOutcome {
  type: AuthType;
  success: boolean;
}

export interface RateLimitOutcome {
  /** Requests allowed per window, and how many are left; omit when unknown. */
  limit?: number;
  remaining?: number;
  /** This request was refused by the limiter (a 429 counts as refused without saying so). */
  limited?: boolean;
}

const AUTH_NONE = AUTH_TYPES.indexOf('none');

/** A context for a request that starts now: the kind of credentials it presents, the active trace. */
export function openRequestContext(
  header: HeaderReader,
  authRules: AuthHeaderRules,
  traceSource: TraceSource | null,
): RequestContext {
  const ctx = new RequestContext();
  try {
    ctx.authType = authTypeOf(header, authRules);
    const ids = traceSource?.();
    if (ids !== undefined) {
      ctx.traceId = ids.traceId;
      ctx.spanId = ids.spanId;
    }
  } catch {
    // A broken header getter or tracer never fails a request.
  }
  return ctx;
}

/** Adds a finished request's context to the endpoint's open slot and its {@link EndpointDetail}. */
export function addRequestContext(
  slot: Tally,
  detail: EndpointDetail,
  ctx: RequestContext,
  status: number,
  durationMs: number,
  error: unknown,
  responseHeader: HeaderReader | undefined,
  now: number,
  errorSamples: number,
  random: () => number,
  messages: { keptMessage(raw: string, error: unknown): string },
): void {
  let type = ctx.authType;
  let success = true;
  if (ctx.authSuccess !== -1) success = ctx.authSuccess === 1;
  else if (status === 401 || status === 403) success = false;
  if (type === -1 && !success) type = AUTH_NONE;
  if (type !== -1) detail.noteAuth(type, success);
  slot.addContext(type === -1 ? 0 : success ? 1 : 2, ctx.rateLimited || status === 429, ctx.queries, ctx.dbMs);

  if (ctx.rateLimit < 0 && responseHeader !== undefined) readRateLimitHeaders(ctx, responseHeader);
  if (ctx.rateLimit >= 0) detail.noteRateLimit(ctx.rateLimit, ctx.rateRemaining, now);

  detail.queries.record(ctx.queries);
  if (ctx.queries > 0) detail.dbTime.record(ctx.dbMs);

  const thrown = error !== undefined && error !== null;
  const cls = thrown ? errorClassOf(error) : status >= 500 ? `HTTP ${status}` : '';
  const message = thrown ? messages.keptMessage(errorMessageOf(error), error) : '';
  if (thrown) detail.noteMessage(cls, message, now);
  if (status >= 500) {
    detail.noteSample(errorSamples, random, () => ({
      at: now,
      status,
      class: cls,
      message,
      frames: thrown ? stackFrames(error) : [],
      traceId: ctx.traceId,
    }));
  }
  if (ctx.traceId !== undefined) detail.noteExemplar(ctx.traceId, ctx.spanId, durationMs, now, status);
}

/** What {@link Meter.recordAuth} does: notes the reported auth outcome in `ctx` (none: a no-op). */
export function noteAuthOutcome(outcome: AuthOutcome, ctx: RequestContext | undefined): void {
  if (ctx === undefined) return;
  const i = AUTH_TYPES.indexOf(outcome.type);
  ctx.authType = i === -1 ? AUTH_TYPES.indexOf('other') : i;
  ctx.authSuccess = outcome.success ? 1 : 0;
}

/** What {@link Meter.recordRateLimit} does: notes the limiter's verdict and quota in `ctx`. */
export function noteRateLimitOutcome(outcome: RateLimitOutcome, ctx: RequestContext | undefined): void {
  if (ctx === undefined) return;
  if (outcome.limited) ctx.rateLimited = true;
  if (typeof outcome.limit === 'number' && outcome.limit >= 0) {
    ctx.rateLimit = outcome.limit;
    ctx.rateRemaining = typeof outcome.remaining === 'number' ? outcome.remaining : -1;
  }
}
