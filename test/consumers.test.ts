import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { createMeter, topConsumers } from '../src/index.js';
import type { Meter } from '../src/core/meter.js';
import { apimeter as fastifyApimeter } from '../src/adapters/fastify.js';
import { apimeter as expressApimeter } from '../src/adapters/express.js';
import { apimeter as honoApimeter } from '../src/adapters/hono.js';
import { apimeter as nodeApimeter } from '../src/adapters/node.js';
import { createProxy, RouteMatcher } from '../src/proxy/index.js';
import { renderPrometheus } from '../src/exporters/prometheus.js';
import { get, schemaValidator, serveApi } from './helpers/api.js';
import type { Served } from './helpers/api.js';

const SECRET = 'consumer-test-secret-0123456789';
const P = '/api/v2/metrics';

interface App {
  port: number;
  close(): Promise<void>;
}

const listen = (server: http.Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
const closeServer = (server: http.Server): Promise<void> =>
  new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** GET /items/:id answers 200, or 500 for id "bad"; GET /other answers 404. */
function nodeHandler(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  res.statusCode = url === '/items/bad' ? 500 : url.startsWith('/items/') ? 200 : 404;
  res.setHeader('content-type', 'application/json');
  res.end('{}');
}

const tenantOf = (h: unknown): unknown => (typeof h === 'string' ? h : undefined);

const APPS: Record<string, (meter: Meter) => Promise<App>> = {
  async fastify(meter) {
    const app = Fastify({ logger: false });
    await app.register(fastifyApimeter, { meter, consumer: (request) => tenantOf(request.headers['x-tenant']) });
    app.get('/items/:id', async (request, reply) => {
      const { id } = request.params as { id: string };
      return reply.code(id === 'bad' ? 500 : 200).send({});
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
  },
  async express(meter) {
    const app = express();
    app.use(expressApimeter({ meter, consumer: (req) => tenantOf(req.headers['x-tenant']) }));
    app.get('/items/:id', (req, res) => {
      res.status(req.params.id === 'bad' ? 500 : 200).json({});
    });
    const server = http.createServer(app);
    const port = await listen(server);
    return { port, close: () => closeServer(server) };
  },
  async hono(meter) {
    const app = new Hono();
    app.use(honoApimeter({ meter, consumer: (c) => tenantOf(c.req.header('x-tenant')) }));
    app.get('/items/:id', (c) => c.json({}, c.req.param('id') === 'bad' ? 500 : 200));
    const server = await new Promise<http.Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as http.Server));
    });
    return { port: (server.address() as AddressInfo).port, close: () => closeServer(server) };
  },
  async node(meter) {
    const server = http.createServer(
      nodeApimeter(nodeHandler, {
        meter,
        routes: ['GET /items/{id}'],
        consumer: (req) => tenantOf(req.headers['x-tenant']),
      }),
    );
    return { port: await listen(server), close: () => closeServer(server) };
  },
  async proxy(meter) {
    const upstream = http.createServer(nodeHandler);
    const upstreamPort = await listen(upstream);
    const proxy = createProxy({
      target: `http://127.0.0.1:${upstreamPort}`,
      meter,
      matcher: RouteMatcher.fromRoutes(['GET /items/{id}']),
      consumer: (req) => tenantOf(req.headers['x-tenant']),
    });
    const { port } = await proxy.listen(0);
    return {
      port,
      close: async () => {
        await proxy.close();
        await closeServer(upstream);
      },
    };
  },
};

/** The traffic a test sends, and its truth: per consumer, requests and errors per item path. */
const PLAN: { tenant: string; ok: number; bad: number }[] = [
  { tenant: 'acme', ok: 40, bad: 3 },
  { tenant: 'globex', ok: 25, bad: 0 },
  { tenant: 'initech, "quoted"', ok: 12, bad: 2 },
  { tenant: '=HYPERLINK("x")', ok: 5, bad: 1 },
  { tenant: 'umbrella', ok: 1, bad: 0 },
];

async function send(port: number, path: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  await res.arrayBuffer();
  return res.status;
}

async function drive(port: number): Promise<void> {
  for (const p of PLAN) {
    for (let i = 0; i < p.ok; i++) assert.equal(await send(port, `/items/${i % 3}`, { 'x-tenant': p.tenant }), 200);
    for (let i = 0; i < p.bad; i++) assert.equal(await send(port, '/items/bad', { 'x-tenant': p.tenant }), 500);
  }
  // No tenant: the function returns undefined → unknown.
  for (let i = 0; i < 4; i++) assert.equal(await send(port, '/items/7', {}), 200);
}

/** Waits until the meter has recorded `n` requests (records happen when responses close). */
async function settled(meter: Meter, n: number): Promise<void> {
  for (let i = 0; i < 200 && (meter.consumers?.tracker.requests ?? 0) < n; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(meter.consumers?.tracker.requests, n);
}

const TOTAL = PLAN.reduce((s, p) => s + p.ok + p.bad, 0) + 4;

for (const [name, start] of Object.entries(APPS)) {
  describe(`consumers through the ${name} adapter (loopback)`, () => {
    let meter: Meter;
    let app: App;
    let api: Served;
    let validate: (schema: string, value: unknown) => void;
    before(async () => {
      meter = createMeter({ iniPath: false, env: {}, metricsConsumers: true, metricsConsumerTop: 10 });
      app = await start(meter);
      api = await serveApi({ meter, cacheSeconds: 0 });
      await drive(app.port);
      await settled(meter, TOTAL);
      validate = schemaValidator((await get<Record<string, unknown>>(`${api.base}${P}/openapi.json`)).json);
    });
    after(async () => {
      await app.close();
      await api.close();
    });

    test('GET /consumers: exact requests, errors and endpoints for every consumer (fewer than K)', async () => {
      const answer = await get<{ consumers: Record<string, unknown>[]; range: Record<string, number> }>(
        `${api.base}${P}/consumers`,
      );
      assert.equal(answer.status, 200);
      validate('ConsumerList', answer.json);
      const byId = new Map(answer.json.consumers.map((c) => [c.id as string, c]));
      for (const p of PLAN) {
        const c = byId.get(p.tenant);
        assert.ok(c, `${p.tenant} listed`);
        assert.equal(c.requests, p.ok + p.bad);
        assert.equal(c.error_bound, 0);
        assert.equal(c.tracked_requests, p.ok + p.bad);
        assert.equal(c.errors, p.bad);
        assert.equal(c.server_errors, p.bad);
        assert.equal(c.endpoints_used, 1); // one route template
        assert.equal(typeof (c.latency_ms as { p95: unknown }).p95, 'number');
      }
      assert.equal(byId.get('unknown')?.requests, 4);
      assert.equal(answer.json.range.requests, TOTAL);
      assert.equal(answer.json.range.other_requests, 0);
      // Sorted by requests, largest first.
      const counts = answer.json.consumers.map((c) => c.requests as number);
      assert.deepEqual(
        counts,
        [...counts].sort((a, b) => b - a),
      );
    });

    test('GET /consumers/{id} and the consumer filter on /endpoints', async () => {
      const acme = PLAN[0];
      const detail = await get<Record<string, unknown>>(`${api.base}${P}/consumers/acme`);
      assert.equal(detail.status, 200);
      validate('ConsumerDetail', detail.json);
      assert.deepEqual(detail.json.endpoints, [
        { method: 'GET', route: '/items/{id}', requests: acme.ok + acme.bad, errors: acme.bad },
      ]);
      const quoted = PLAN[2].tenant;
      const q = await get<Record<string, unknown>>(`${api.base}${P}/consumers/${encodeURIComponent(quoted)}`);
      assert.equal(q.json.id, quoted);

      const list = await get<{ endpoints: { route: string; consumer: Record<string, unknown> }[] }>(
        `${api.base}${P}/endpoints?window=all&consumer=acme`,
      );
      assert.equal(list.status, 200);
      validate('EndpointList', list.json);
      assert.equal(list.json.endpoints.length, 1);
      assert.deepEqual(list.json.endpoints[0].consumer, {
        id: 'acme',
        requests: acme.ok + acme.bad,
        errors: acme.bad,
        source: 'memory',
      });

      const ep = await get<{ consumer: unknown; consumers: { id: string; requests: number }[] }>(
        `${api.base}${P}/endpoints/${encodeURIComponent('GET /items/{id}')}?window=all&consumer=globex`,
      );
      assert.equal(ep.status, 200);
      validate('EndpointDetail', ep.json);
      assert.deepEqual(ep.json.consumer, { id: 'globex', requests: 25, errors: 0, source: 'memory' });
      assert.deepEqual(ep.json.consumers[0], { id: 'acme', requests: 43, error_bound: 0 });
      assert.deepEqual(topConsumers(meter, 'GET /items/{id}', 2), [
        { id: 'acme', requests: 43, errorBound: 0 },
        { id: 'globex', requests: 25, errorBound: 0 },
      ]);

      const missing = await get(`${api.base}${P}/consumers/nobody`);
      assert.equal(missing.status, 404);
      const filterMissing = await get(`${api.base}${P}/endpoints?consumer=nobody`);
      assert.equal(filterMissing.status, 404);
      const badWindow = await get(`${api.base}${P}/consumers?window=1h`);
      assert.equal(badWindow.status, 400);
    });

    test('CSV: consumer ids escaped like every other string', async () => {
      const csv = await get(`${api.base}${P}/consumers?format=csv`);
      assert.equal(csv.status, 200);
      assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
      assert.ok(csv.text.includes('"initech, ""quoted"""'), 'comma and quotes quoted');
      assert.ok(csv.text.includes(`"'=HYPERLINK(""x"")"`), 'formula guarded');
      assert.ok(!/\r\n=/.test(csv.text), 'no row starts with a formula');
    });
  });
}

describe('identification rules and bad input (node adapter, loopback)', () => {
  let meter: Meter;
  let server: http.Server;
  let port: number;
  let api: Served;
  const JWT_SUB = 'alice-subject-7c1f';
  const API_KEY = 'sk_live_SECRETKEY_9f8e7d6c5b4a';
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const JWT = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: JWT_SUB, name: 'Alice' })}.c2lnbmF0dXJl`;
  const hashOf = (kind: string, raw: string) =>
    `${kind}:${createHmac('sha256', SECRET).update(`${kind}\0${raw}`).digest('base64url').slice(0, 16)}`;

  before(async () => {
    meter = createMeter({
      iniPath: false,
      env: {},
      metricsConsumers: true,
      metricsConsumerHeader: 'X-Client-Id',
      metricsConsumerJwt: true,
      metricsConsumerApiKeyHeaders: ['x-api-key'],
      metricsConsumerSecret: SECRET,
      metricsConsumerGroups: ['web=internal', 'mobile=internal'],
      metricsConsumerLabels: ['internal'],
    });
    // Node refuses headers over 16 kB by default; the junk test needs 100 kB to reach the adapter.
    server = http.createServer(
      { maxHeaderSize: 256 * 1024 },
      nodeApimeter(nodeHandler, { meter, routes: ['GET /items/{id}'] }),
    );
    port = await listen(server);
    api = await serveApi({ meter, cacheSeconds: 0 });
  });
  after(async () => {
    await closeServer(server);
    await api.close();
  });

  test('header first, then JWT sub, then API key; credential ids are keyed hashes; bad input is unknown', async () => {
    const sends: [Record<string, string>, string][] = [
      [{ 'x-client-id': 'web' }, 'web'],
      [{ 'x-client-id': 'web', authorization: `Bearer ${JWT}` }, 'web'],
      [{ 'x-client-id': 'mobile' }, 'mobile'],
      [{ authorization: `Bearer ${JWT}` }, hashOf('sub', JWT_SUB)],
      [{ authorization: `Bearer ${JWT}`, 'x-api-key': API_KEY }, hashOf('sub', JWT_SUB)],
      [{ 'x-api-key': API_KEY }, hashOf('key', API_KEY)],
      [{ 'x-client-id': 'j'.repeat(100_000) }, 'unknown'],
      [{ 'x-client-id': 'x'.repeat(129) }, 'unknown'],
      [{ authorization: 'Bearer not.a.jwt!' }, 'unknown'],
      [{ authorization: `Bearer ${b64({ alg: 'none' })}.${'%%%'}.x` }, 'unknown'],
      [{ authorization: `Bearer ${b64({})}.${b64({ sub: 42 })}.x` }, 'unknown'],
      [{ authorization: `Bearer ${b64({})}.${Buffer.from('{not json').toString('base64url')}.x` }, 'unknown'],
      [{ authorization: `Bearer ${'a'.repeat(50_000)}.${b64({ sub: 'x' })}.x` }, 'unknown'],
      [{ 'x-api-key': 'k'.repeat(5000) }, 'unknown'],
      [{}, 'unknown'],
    ];
    const truth = new Map<string, number>();
    for (const [headers, expected] of sends) {
      assert.equal(await send(port, '/items/1', headers), 200, 'the request never fails');
      truth.set(expected, (truth.get(expected) ?? 0) + 1);
    }
    await settled(meter, sends.length);
    const answer = await get<{ consumers: { id: string; requests: number; group: string | null }[] }>(
      `${api.base}${P}/consumers`,
    );
    const got = new Map(answer.json.consumers.map((c) => [c.id, c.requests]));
    assert.deepEqual(got, truth);
    assert.equal(answer.json.consumers.find((c) => c.id === 'web')?.group, 'internal');

    // Privacy: the raw token, its subject and the API key appear nowhere we answer or export.
    const texts = [
      answer.text,
      (await get(`${api.base}${P}/consumers?format=csv`)).text,
      (await get(`${api.base}${P}/consumers/${encodeURIComponent(hashOf('sub', JWT_SUB))}`)).text,
      (await get(`${api.base}${P}/endpoints?window=all`)).text,
      (await get(`${api.base}${P}/endpoints/${encodeURIComponent('GET /items/{id}')}?window=all`)).text,
      (await get(`${api.base}${P}/summary`)).text,
      renderPrometheus(meter),
    ];
    for (const text of texts) {
      for (const secret of [JWT, JWT_SUB, API_KEY, 'Alice']) assert.ok(!text.includes(secret), `${secret} leaked`);
    }
  });

  test('Prometheus: no consumer label by default; only allow-listed ids or groups', () => {
    const text = renderPrometheus(meter);
    const labelled = text.split('\n').filter((l) => l.includes('consumer="'));
    assert.ok(labelled.length > 0, 'allow-listed consumers are labelled');
    const values = new Set(labelled.map((l) => /consumer="([^"]*)"/.exec(l)![1]));
    assert.deepEqual([...values].sort(), ['mobile', 'web']);
    const plain = createMeter({
      iniPath: false,
      env: {},
      metricsConsumers: true,
      metricsConsumerHeader: 'x-client-id',
    });
    const ep = plain.endpoint('GET', '/x')!;
    plain.record(ep, 200, 1, -1, -1, 0);
    plain.consumers!.observe(ep, null, null, { 'x-client-id': 'web' }, 200, 1, false);
    assert.ok(!renderPrometheus(plain).includes('consumer'), 'no consumer label without an allow-list');
  });
});

describe('consumer functions that fail', () => {
  test('a function that throws or returns a non-string records unknown and the request succeeds', async () => {
    const meter = createMeter({ iniPath: false, env: {}, metricsConsumers: true });
    let n = 0;
    const app = Fastify({ logger: false });
    await app.register(fastifyApimeter, {
      meter,
      consumer: () => {
        n++;
        if (n === 1) throw new Error('boom');
        if (n === 2) return 42;
        if (n === 3) return { id: 'x' };
        if (n === 4) return 'bad\nid';
        return 'fine';
      },
    });
    app.get('/items/:id', async () => ({}));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    try {
      for (let i = 0; i < 5; i++) assert.equal(await send(port, '/items/1', {}), 200);
      await settled(meter, 5);
      const list = meter.consumers!.tracker.list();
      assert.deepEqual(
        list.map((c) => [c.id, c.requests]),
        [
          ['unknown', 4],
          ['fine', 1],
        ],
      );
      assert.equal(meter.consumers!.failures, 4);
    } finally {
      await app.close();
    }
  });

  test('start-up: credential identification without a secret is refused, naming the key', () => {
    assert.throws(
      () => createMeter({ iniPath: false, env: {}, metricsConsumers: true, metricsConsumerJwt: true }),
      (e: Error & { code?: string }) =>
        e.code === 'APIMETER_ERR_CONFIG_INVALID' && /metrics_consumer_secret/.test(e.message),
    );
    assert.throws(() => fastifyApimeterOption(), /`consumer` option must be a function/);
  });
});

function fastifyApimeterOption(): void {
  const meter = createMeter({ iniPath: false, env: {}, metricsConsumers: true });
  http.createServer(nodeApimeter(nodeHandler, { meter, consumer: 'x-client-id' as never }));
}

describe('consumers off', () => {
  test('no tracker, and /consumers says how to turn it on', async () => {
    const meter = createMeter({ iniPath: false, env: {} });
    assert.equal(meter.consumers, null);
    const api = await serveApi({ meter, cacheSeconds: 0 });
    try {
      const answer = await get<{ detail: string }>(`${api.base}${P}/consumers`);
      assert.equal(answer.status, 404);
      assert.match(answer.json.detail, /metrics_consumers/);
    } finally {
      await api.close();
    }
  });
});
