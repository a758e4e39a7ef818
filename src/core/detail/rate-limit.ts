import type { HeaderReader, RequestContext } from './context.js';

/**
 * Quota from a limiter's response headers: IETF draft 6 (`RateLimit-Limit`, `RateLimit-Remaining`),
 * the older `X-RateLimit-*`, draft 7 (`RateLimit: limit=100, remaining=5, reset=30`) and draft 8
 * (`RateLimit: "p";r=5;t=30` with `RateLimit-Policy: "p";q=100;w=60`).
 */
export function readRateLimitHeaders(ctx: RequestContext, header: HeaderReader): void {
  let limit = numberHeader(header('ratelimit-limit') ?? header('x-ratelimit-limit'));
  let remaining = numberHeader(header('ratelimit-remaining') ?? header('x-ratelimit-remaining'));
  if (Number.isNaN(limit)) {
    const combined = header('ratelimit');
    if (typeof combined === 'string') {
      const policy = header('ratelimit-policy');
      limit = param(combined, 'limit');
      remaining = param(combined, 'remaining');
      if (Number.isNaN(remaining)) remaining = param(combined, 'r');
      if (Number.isNaN(limit) && typeof policy === 'string') limit = param(policy, 'q');
    }
  }
  if (limit >= 0) {
    ctx.rateLimit = limit;
    ctx.rateRemaining = remaining >= 0 ? remaining : -1;
  }
}

function numberHeader(v: string | string[] | number | null | undefined): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string' || !/^\s*\d{1,15}\s*$/.test(v)) return NaN;
  return Number(v);
}

// `name=123` inside a structured header value (`limit=100, remaining=5` or `"p";r=5;t=30`), compiled once.
const PARAMS: Record<string, RegExp> = {};
for (const name of ['limit', 'remaining', 'r', 'q'])
  PARAMS[name] = new RegExp(`(?:^|[;,\\s])${name}=(\\d{1,15})(?:$|[;,\\s])`);

function param(value: string, name: 'limit' | 'remaining' | 'r' | 'q'): number {
  const m = PARAMS[name].exec(value);
  return m === null ? NaN : Number(m[1]);
}
