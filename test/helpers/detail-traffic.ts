/**
 * Known detailed-mode traffic (`metrics_detailed`), recorded through the meter the way adapters do it:
 * `openContext(request headers)` → queries and reports inside the context → `record` → `finishContext`.
 * Every expected figure in the tests is written out by hand from the list below, not computed by apimeter.
 */
import { ManualClock } from '../../src/core/clock.js';
import { noteQuery, requestContext } from '../../src/core/detail.js';
import type { RequestContext } from '../../src/core/detail.js';
import type { EndpointStats } from '../../src/core/endpoint.js';
import { createMeter } from '../../src/core/meter.js';
import type { AuthOutcome, Meter, MeterOptions, RateLimitOutcome } from '../../src/core/meter.js';
import { ErrorKind } from '../../src/core/record.js';

export const T0 = Date.parse('2025-03-01T12:00:00Z');
export const ROUTE = '/orders/{id}';

/** Trace and span ids as OpenTelemetry writes them (32 and 16 hex digits). */
export const trace = (n: number): [string, string] => [
  n.toString(16).padStart(32, 'a'),
  n.toString(16).padStart(16, 'b'),
];

export interface DetailRequest {
  status: number;
  ms: number;
  headers?: Record<string, string>;
  responseHeaders?: Record<string, string>;
  /** Milliseconds of each database query made while serving it. */
  queries?: number[];
  auth?: AuthOutcome;
  rate?: RateLimitOutcome;
  error?: Error;
  trace?: [string, string];
}

/** Records one request through the meter's detailed-mode path. */
export function send(meter: Meter, ep: EndpointStats, r: DetailRequest): void {
  const headers = r.headers ?? {};
  const ctx: RequestContext = meter.openContext((name) => headers[name]);
  if (r.trace !== undefined) [ctx.traceId, ctx.spanId] = r.trace;
  requestContext.run(ctx, () => {
    for (const q of r.queries ?? []) noteQuery(q);
    if (r.auth !== undefined) meter.recordAuth(r.auth);
    if (r.rate !== undefined) meter.recordRateLimit(r.rate);
  });
  const kind = r.error !== undefined ? ErrorKind.Exception : ErrorKind.None;
  meter.record(ep, r.status, r.ms, -1, -1, kind, r.error?.constructor.name, r.error?.message);
  const responseHeaders = r.responseHeaders ?? {};
  meter.finishContext(ep, ctx, r.status, r.ms, r.error, (name) => responseHeaders[name]);
}

export interface DetailTraffic {
  meter: Meter;
  clock: ManualClock;
  get: EndpointStats;
  post: EndpointStats;
}

/**
 * GET /orders/{id} (10 requests, at T0 unless said):
 *   4× Bearer, 200, 3 / 12 / 40 / 300 ms, 2 queries (2 + 3 ms) each, traced (ids 1–4)
 *   2× Bearer, 401, 1 ms                        → bearer failures
 *   1× x-api-key, 200, 5 ms, 1 query of 4 ms, response headers RateLimit-Limit 100 / Remaining 7
 *   1× no credentials, 429, 0.5 ms              → rate limited, no auth attempt
 *   2× Bearer, 500, 20 ms, thrown Error("Order 12345 not found for user <uuid>"), traced (id 5), at T0 + 0.5 s
 * POST /orders/{id} (5 requests):
 *   3× Basic, 201, 8 ms, 1 query of 1 ms each (T0 + 0.5 s)
 *   1× session cookie, application reports session auth failed, 403, 2 ms (T0 + 0.5 s)
 *   1× no credentials, application reports limited with quota 50 / 0 left, 429, 1 ms (T0 + 1 s)
 */
export function detailTraffic(options: MeterOptions = {}): DetailTraffic {
  const clock = new ManualClock(T0);
  const meter = createMeter({ metricsDetailed: true, iniPath: false, env: {}, clock, traceSource: false, ...options });
  const get = meter.endpoint('GET', ROUTE)!;
  const post = meter.endpoint('POST', ROUTE)!;
  const bearer = { authorization: 'Bearer abc.def.ghi' };
  [3, 12, 40, 300].forEach((ms, i) =>
    send(meter, get, { status: 200, ms, headers: bearer, queries: [2, 3], trace: trace(i + 1) }),
  );
  for (let i = 0; i < 2; i++) send(meter, get, { status: 401, ms: 1, headers: bearer });
  send(meter, get, {
    status: 200,
    ms: 5,
    headers: { 'x-api-key': 'k' },
    queries: [4],
    responseHeaders: { 'ratelimit-limit': '100', 'ratelimit-remaining': '7' },
  });
  send(meter, get, { status: 429, ms: 0.5 });
  clock.advance(500);
  for (let i = 0; i < 2; i++) {
    send(meter, get, {
      status: 500,
      ms: 20,
      headers: bearer,
      error: new Error('Order 12345 not found for user 550e8400-e29b-41d4-a716-446655440000'),
      trace: trace(5),
    });
  }
  for (let i = 0; i < 3; i++) {
    send(meter, post, { status: 201, ms: 8, headers: { authorization: 'Basic dTpw' }, queries: [1] });
  }
  send(meter, post, {
    status: 403,
    ms: 2,
    headers: { cookie: 'session=s1' },
    auth: { type: 'session', success: false },
  });
  clock.advance(500);
  send(meter, post, { status: 429, ms: 1, rate: { limit: 50, remaining: 0, limited: true } });
  return { meter, clock, get, post };
}

/** The same requests without detailed mode: what an adapter records when `metrics_detailed` is off. */
export function plainTraffic(): Meter {
  const clock = new ManualClock(T0);
  const meter = createMeter({ iniPath: false, env: {}, clock, traceSource: false });
  const get = meter.endpoint('GET', ROUTE)!;
  const post = meter.endpoint('POST', ROUTE)!;
  for (const [ep, status, ms, error] of [
    [get, 200, 3],
    [get, 401, 1],
    [get, 429, 0.5],
    [get, 500, 20, new Error('Order 12345 not found')],
    [post, 201, 8],
    [post, 403, 2],
  ] as const) {
    meter.record(ep, status, ms, -1, -1, error === undefined ? ErrorKind.None : ErrorKind.Exception, 'Error', 'x');
  }
  return meter;
}
