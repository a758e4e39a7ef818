import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import express from 'express';
import { rateLimit as expressRateLimit } from 'express-rate-limit';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { apimeter as fastifyApimeter } from '../src/adapters/fastify.js';
import { apimeter as expressApimeter, apimeterErrors } from '../src/adapters/express.js';
import { apimeter as honoApimeter } from '../src/adapters/hono.js';
import { apimeter as nodeApimeter } from '../src/adapters/node.js';
import { createProxy, RouteMatcher } from '../src/proxy/index.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { authTypeOf, AUTH_TYPES, currentContext, normalizeMessage, stackFrames } from '../src/core/detail.js';
import type { EndpointDetailSnapshot } from '../src/core/query.js';

const RULES = { apiKeyHeaders: ['x-api-key'], sessionCookies: ['session', 'sid'] };
const SECRET_TOKEN = 'sk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const SECRET_PASSWORD = 'hunter2-correct-horse';
const SECRET_COOKIE = 'cookievalue_ZX81spectrum48k';
const SECRET_KEY = 'apikey_0123456789abcdefXYZ';

const reader = (h: Record<string, string>) => (name: string) => h[name];

describe('normalizeMessage', () => {
  test('replaces ids, numbers, quoted values, tokens, addresses; keeps the words', () => {
    assert.equal(normalizeMessage("Dag 'etl_42' run 17 not found"), "Dag '?' run <n> not found");
    assert.equal(
      normalizeMessage('row 3f2b9c1e-8a7d-4e6f-9b0a-1c2d3e4f5a6b missing for alice@example.com'),
      'row <uuid> missing for <email>',
    );
    assert.equal(normalizeMessage(`invalid token ${SECRET_TOKEN}`), 'invalid token <token>');
    assert.equal(normalizeMessage('hash deadbeef12 mismatch at 0x7ffe'), 'hash <hex> mismatch at <hex>');
    assert.equal(normalizeMessage('sha 9f86d081884c7d659a2feaa0c55ad015'), 'sha <token>');
    assert.equal(normalizeMessage('timeout after 30.5s (attempt 3/5)'), 'timeout after <n>s (attempt <n>/<n>)');
    // A credential's value after its name goes whatever its length or shape.
    assert.equal(
      normalizeMessage('login failed: password=hunter2 user=bob'),
      'login failed: password=<redacted> user=bob',
    );
    assert.equal(normalizeMessage('bad header Bearer abc.def'), 'bad header Bearer <redacted>');
    assert.equal(normalizeMessage('session expired'), 'session expired');
    // Words with digits inside survive: they are names, not ids.
    assert.equal(normalizeMessage('utf8 decode failed'), 'utf8 decode failed');
  });

  test('bounded: binary junk replaced, huge messages cut, non-strings tolerated', () => {
    const binary = String.fromCharCode(...Array.from({ length: 64 }, (_, i) => i)) + '\ud800 tail';
    const out = normalizeMessage(binary);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(out, /[\u0000-\u0008\u000b-\u001f]|[\ud800-\udfff]/);
    assert.ok(out.endsWith('tail'));
    const huge = normalizeMessage('word '.repeat(100_000));
    assert.ok(huge.length <= 160, `kept ${huge.length} characters`);
    assert.equal(normalizeMessage(undefined), '');
    assert.equal(normalizeMessage({ toString: () => SECRET_TOKEN }), '');
  });

  test('stack frames drop the message line', () => {
    const err = new Error(`bad password ${SECRET_PASSWORD}`);
    const frames = stackFrames(err);
    assert.ok(frames.length > 0);
    assert.ok(frames.every((f) => f.startsWith('at ')));
    assert.ok(!frames.join('\n').includes(SECRET_PASSWORD));
  });
});

describe('authTypeOf', () => {
  test('tells schemes apart from presence only', () => {
    const type = (h: Record<string, string>) => {
      const i = authTypeOf(reader(h), RULES);
      return i === -1 ? null : AUTH_TYPES[i];
    };
    assert.equal(type({ authorization: `Bearer ${SECRET_TOKEN}` }), 'bearer');
    assert.equal(type({ authorization: 'bearer x' }), 'bearer');
    assert.equal(type({ authorization: 'Basic dXNlcjpwYXNz' }), 'basic');
    assert.equal(type({ authorization: 'Digest username="x"' }), 'other');
    assert.equal(type({ authorization: '\u0000\u00ff garbage' }), 'other');
    assert.equal(type({ 'x-api-key': SECRET_KEY }), 'api_key');
    assert.equal(type({ cookie: `theme=dark; session=${SECRET_COOKIE}` }), 'session');
    assert.equal(type({ cookie: 'session=' }), null);
    assert.equal(type({ cookie: 'theme=dark' }), null);
    assert.equal(type({}), null);
  });
});

// ---------------------------------------------------------------------------------------------------
// Fastify, over real HTTP, with a real tracer, a real rate limiter and an auth hook.

const provider = new BasicTracerProvider();
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
trace.setGlobalTracerProvider(provider);
const tracer = trace.getTracer('apimeter-test');

class SchedulerUnavailableError extends Error {}

let app: FastifyInstance;
let meter: Meter;
let base: string;
/** Trace ids of the spans the test server opened, by request path + counter. */
const traceIds: string[] = [];
const contextsSeen: boolean[] = [];

before(async () => {
  meter = createMeter({ iniPath: false, env: {}, metricsDetailed: true, metricsErrorSamples: 3 });
  // The HTTP server opens a span per request, as OpenTelemetry's http instrumentation would.
  app = Fastify({
    logger: false,
    serverFactory: (handler) =>
      http.createServer((req, res) => {
        tracer.startActiveSpan('request', (span) => {
          traceIds.push(span.spanContext().traceId);
          res.on('close', () => span.end());
          handler(req, res);
        });
      }),
  });
  await app.register(fastifyApimeter, { meter });
  await app.register(rateLimit, { global: false });
  // An application-level auth hook registered after apimeter: its outcome is inferred (401) or reported.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/private')) return;
    const auth = request.headers.authorization;
    if (auth !== `Bearer good`) {
      if (request.url === '/private/reported') meter.recordAuth({ type: 'bearer', success: false });
      await reply.code(401).send({ detail: 'unauthorized' });
    }
  });
  app.get('/public', async () => {
    contextsSeen.push(currentContext() !== undefined);
    return { ok: true };
  });
  app.get('/private/data', async () => ({ secret: false }));
  app.get('/private/reported', async () => {
    meter.recordAuth({ type: 'bearer', success: true });
    return { ok: true };
  });
  app.get('/limited', { config: { rateLimit: { max: 3, timeWindow: 60_000 } } }, async () => ({ ok: true }));
  app.get('/boom/:id', async (req) => {
    await new Promise((r) => setTimeout(r, 1));
    throw new SchedulerUnavailableError(`scheduler ${(req.params as { id: string }).id} down, token ${SECRET_TOKEN}`);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

after(async () => {
  await app.close();
  contextManager.disable();
  trace.disable();
  context.disable();
});

function detailOf(m: Meter, method: string, route: string): EndpointDetailSnapshot {
  const s = m.endpointSnapshot(method, route, 'all');
  assert.ok(s, `${method} ${route} recorded`);
  assert.ok(s.detail, `${method} ${route} has detail`);
  return s.detail;
}

describe('Fastify, detailed mode', () => {
  test('the handler runs inside the request context', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${base}/public`)).status, 200);
    assert.deepEqual(contextsSeen.slice(-5), [true, true, true, true, true]);
    const d = detailOf(meter, 'GET', '/public');
    assert.equal(d.requests, 5);
    assert.equal(d.auth.attempts, 0, 'no credentials and no refusal: not an auth attempt');
  });

  test('auth outcomes inferred from credentials and 401, or reported by the application', async () => {
    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });
    assert.equal((await get('/private/data', { authorization: 'Bearer good' })).status, 200);
    assert.equal((await get('/private/data', { authorization: 'Bearer good' })).status, 200);
    assert.equal((await get('/private/data', { authorization: `Bearer ${SECRET_TOKEN}` })).status, 401);
    assert.equal(
      (await get('/private/data', { authorization: `Basic ${btoa('admin:' + SECRET_PASSWORD)}` })).status,
      401,
    );
    assert.equal((await get('/private/data', { 'x-api-key': SECRET_KEY })).status, 401);
    assert.equal((await get('/private/data', { cookie: `session=${SECRET_COOKIE}` })).status, 401);
    assert.equal((await get('/private/data')).status, 401);
    assert.equal((await get('/private/data', { authorization: '%%%% \u00ff' })).status, 401);
    const d = detailOf(meter, 'GET', '/private/data');
    assert.equal(d.auth.attempts, 8);
    assert.equal(d.auth.failures, 6);
    assert.deepEqual(d.auth.byType, [
      { type: 'bearer', success: 2, failure: 1 },
      { type: 'basic', success: 0, failure: 1 },
      { type: 'api_key', success: 0, failure: 1 },
      { type: 'session', success: 0, failure: 1 },
      { type: 'other', success: 0, failure: 1 },
      { type: 'none', success: 0, failure: 1 },
    ]);
    // Reported outcomes win over inference: here a cookie-only request the app says was a bearer failure.
    assert.equal((await get('/private/reported', { cookie: `sid=${SECRET_COOKIE}` })).status, 401);
    assert.equal((await get('/private/reported', { authorization: 'Bearer good' })).status, 200);
    const r = detailOf(meter, 'GET', '/private/reported');
    assert.deepEqual(r.auth.byType, [{ type: 'bearer', success: 1, failure: 1 }]);
    const summary = meter.summary('all');
    assert.ok(summary.detail);
    assert.ok(summary.detail.authFailures >= 7);
  });

  test('rate limiting: 429s counted, quota read from @fastify/rate-limit headers', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await fetch(`${base}/limited`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const d = detailOf(meter, 'GET', '/limited');
    assert.equal(d.rateLimit.limited, 2);
    assert.equal(d.rateLimit.limit, 3);
    assert.equal(d.rateLimit.remaining, 0);
    assert.equal(d.rateLimit.lowestRemainingShare, 0);
  });

  test('errors: normalized messages grouped, 5xx samples with frames and trace ids, no secret kept', async () => {
    const before = traceIds.length;
    for (let i = 0; i < 6; i++) assert.equal((await fetch(`${base}/boom/${100 + i}`)).status, 500);
    const d = detailOf(meter, 'GET', '/boom/{id}');
    assert.deepEqual(
      d.errorMessages.map((m) => [m.class, m.message, m.count]),
      [['SchedulerUnavailableError', 'scheduler <n> down, token <token>', 6]],
    );
    assert.equal(d.errorSamples.length, 3, 'reservoir holds metrics_error_samples');
    const ours = new Set(traceIds.slice(before));
    for (const sample of d.errorSamples) {
      assert.equal(sample.status, 500);
      assert.equal(sample.class, 'SchedulerUnavailableError');
      assert.ok(sample.frames.length > 0 && sample.frames.every((f) => f.startsWith('at ')));
      assert.ok(sample.traceId !== null && ours.has(sample.traceId), 'sample carries its request trace id');
    }
    // Exemplars: traced requests, each with the trace id of a span the server opened.
    assert.ok(d.exemplars.length > 0);
    for (const e of d.exemplars) assert.ok(ours.has(e.traceId));
    const json = JSON.stringify(meter.snapshot('all')) + JSON.stringify(meter.summary('all'));
    for (const secret of [SECRET_TOKEN, SECRET_PASSWORD, SECRET_COOKIE, SECRET_KEY, btoa('admin:' + SECRET_PASSWORD)]) {
      assert.ok(!json.includes(secret), `snapshot does not contain ${secret}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// The other adapters: the same context, inference and limiter headers.

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('Express, detailed mode', () => {
  test('context in handlers, auth inference, express-rate-limit quota (draft-8 headers), errors', async () => {
    const m = createMeter({ iniPath: false, env: {}, metricsDetailed: true });
    const a = express();
    a.use(expressApimeter({ meter: m }));
    a.use(
      '/limited',
      expressRateLimit({ windowMs: 60_000, limit: 2, standardHeaders: 'draft-8', legacyHeaders: false }),
    );
    const seen: boolean[] = [];
    a.get('/limited', (_req, res) => {
      seen.push(currentContext() !== undefined);
      res.json({ ok: true });
    });
    a.get('/private', (req, res) => {
      seen.push(currentContext() !== undefined);
      res.status(req.headers.authorization === 'Bearer good' ? 200 : 403).end();
    });
    a.get('/fail', () => {
      throw new TypeError(`cannot read 12 of ${SECRET_TOKEN}`);
    });
    a.use(apimeterErrors());
    const server = http.createServer(a);
    const url = await listen(server);
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await fetch(`${url}/limited`)).status);
      assert.deepEqual(statuses, [200, 200, 429, 429]);
      assert.equal((await fetch(`${url}/private`, { headers: { authorization: 'Bearer good' } })).status, 200);
      assert.equal((await fetch(`${url}/private`, { headers: { authorization: 'Basic eDp5' } })).status, 403);
      assert.equal((await fetch(`${url}/fail`)).status, 500);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(seen, [true, true, true, true]);
      const limited = detailOf(m, 'GET', '/limited');
      assert.equal(limited.rateLimit.limited, 2);
      assert.equal(limited.rateLimit.limit, 2);
      assert.equal(limited.rateLimit.remaining, 0);
      const priv = detailOf(m, 'GET', '/private');
      assert.deepEqual(priv.auth.byType, [
        { type: 'bearer', success: 1, failure: 0 },
        { type: 'basic', success: 0, failure: 1 },
      ]);
      const fail = detailOf(m, 'GET', '/fail');
      assert.deepEqual(
        fail.errorMessages.map((x) => [x.class, x.message]),
        [['TypeError', 'cannot read <n> of <token>']],
      );
      assert.equal(fail.errorSamples.length, 1);
    } finally {
      server.close();
    }
  });
});

describe('Hono and node:http, detailed mode', () => {
  test('Hono on @hono/node-server: context and inference', async () => {
    const m = createMeter({ iniPath: false, env: {}, metricsDetailed: true });
    const h = new Hono();
    h.use(honoApimeter({ meter: m }));
    let inside = false;
    h.get('/items/:id', (c) => {
      inside = currentContext() !== undefined;
      return c.json({ id: c.req.param('id') }, c.req.header('x-api-key') === 'ok' ? 200 : 401);
    });
    const server: ServerType = serve({ fetch: h.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await fetch(`${url}/items/1`, { headers: { 'x-api-key': 'ok' } })).status, 200);
      assert.equal((await fetch(`${url}/items/2`, { headers: { 'x-api-key': SECRET_KEY } })).status, 401);
      await new Promise((r) => setTimeout(r, 20));
      assert.ok(inside);
      assert.deepEqual(detailOf(m, 'GET', '/items/{id}').auth.byType, [{ type: 'api_key', success: 1, failure: 1 }]);
    } finally {
      server.close();
    }
  });

  test('Hono on the Web path (app.request): context and quota headers', async () => {
    const m = createMeter({ iniPath: false, env: {}, metricsDetailed: true });
    const h = new Hono();
    h.use(honoApimeter({ meter: m }));
    let inside = false;
    h.get('/q', (c) => {
      inside = currentContext() !== undefined;
      c.header('X-RateLimit-Limit', '100');
      c.header('X-RateLimit-Remaining', '25');
      return c.text('ok');
    });
    const res = await h.request('/q', { headers: { cookie: `session=${SECRET_COOKIE}` } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok'); // the request is recorded when its body has been read
    assert.ok(inside);
    const d = detailOf(m, 'GET', '/q');
    assert.equal(d.rateLimit.limit, 100);
    assert.equal(d.rateLimit.remaining, 25);
    assert.equal(d.rateLimit.lowestRemainingShare, 0.25);
    assert.deepEqual(d.auth.byType, [{ type: 'session', success: 1, failure: 0 }]);
  });

  test('node:http: context and reported rate limits', async () => {
    const m = createMeter({ iniPath: false, env: {}, metricsDetailed: true });
    const handler = nodeApimeter(
      (_req, res) => {
        m.recordRateLimit({ limit: 10, remaining: 9 });
        res.end('ok');
      },
      { meter: m, routes: ['GET /things/{id}'] },
    );
    const server = http.createServer(handler);
    const url = await listen(server);
    try {
      assert.equal((await fetch(`${url}/things/7`)).status, 200);
      await new Promise((r) => setTimeout(r, 20));
      const d = detailOf(m, 'GET', '/things/{id}');
      assert.equal(d.rateLimit.limit, 10);
      assert.equal(d.rateLimit.remaining, 9);
    } finally {
      server.close();
    }
  });
});

test('the proxy in detailed mode: auth from the client headers and the upstream answer, quota from its headers', async () => {
  // An upstream written in anything: here node:http with its own auth and limiter.
  let calls = 0;
  const upstream = http.createServer((req, res) => {
    calls++;
    if (req.headers.authorization !== 'Bearer good') {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"detail":"unauthorized"}');
      return;
    }
    const remaining = Math.max(0, 2 - calls);
    res.setHeader('RateLimit-Limit', '3');
    res.setHeader('RateLimit-Remaining', String(remaining));
    res.writeHead(calls > 3 ? 429 : 200).end('{}');
  });
  const target = await listen(upstream);
  const m = createMeter({ iniPath: false, env: {}, metricsDetailed: true });
  const proxy = createProxy({ target, meter: m, matcher: RouteMatcher.fromRoutes(['GET /api/v2/dags/{dag_id}']) });
  const { port } = await proxy.listen(0);
  try {
    const get = (auth: string) =>
      fetch(`http://127.0.0.1:${port}/api/v2/dags/etl`, { headers: { authorization: auth } }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      });
    const statuses = [];
    for (const auth of [`Bearer ${SECRET_TOKEN}`, 'Bearer good', 'Bearer good', 'Bearer good'])
      statuses.push(await get(auth));
    assert.deepEqual(statuses, [401, 200, 200, 429]);
    await new Promise((r) => setTimeout(r, 20));
    const d = detailOf(m, 'GET', '/api/v2/dags/{dag_id}');
    assert.deepEqual(d.auth.byType, [{ type: 'bearer', success: 3, failure: 1 }]);
    assert.equal(d.rateLimit.limited, 1);
    assert.equal(d.rateLimit.limit, 3);
    assert.equal(d.rateLimit.remaining, 0);
    assert.ok(!JSON.stringify(m.snapshot('all')).includes(SECRET_TOKEN));
  } finally {
    await proxy.close();
    upstream.close();
  }
});

test('detailed mode off: no context, no detail', async () => {
  const m = createMeter({ iniPath: false, env: {} });
  assert.equal(m.detailed, false);
  const a = Fastify({ logger: false });
  await a.register(fastifyApimeter, { meter: m });
  let inside: boolean | null = null;
  a.get('/x', async () => {
    inside = currentContext() !== undefined;
    m.recordAuth({ type: 'bearer', success: false }); // a no-op outside a context
    return 'ok';
  });
  const res = await a.inject({ url: '/x', headers: { authorization: 'Bearer abc' } });
  assert.equal(res.statusCode, 200);
  assert.equal(inside, false);
  const s = m.endpointSnapshot('GET', '/x', 'all');
  assert.ok(s);
  assert.equal(s.detail, undefined);
  assert.equal(m.summary('all').detail, undefined);
  await a.close();
});
