/**
 * How the Fastify plugins are registered: twice, inside a prefixed plugin, after routes. Real servers on
 * loopback; counts checked against the requests the test sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { apimeter, apimeterApi } from '../src/adapters/fastify.js';
import { createMeter } from '../src/core/meter.js';

const TOKEN = 'fastify-registration-token';

/** Warnings emitted while `fn` runs and a little after (they are emitted on the next tick). */
async function warningsDuring(fn: () => Promise<void>): Promise<{ code?: string; message: string }[]> {
  const seen: { code?: string; message: string }[] = [];
  const listener = (w: Error & { code?: string }) => seen.push({ code: w.code, message: w.message });
  process.on('warning', listener);
  try {
    await fn();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', listener);
  }
  return seen.filter((w) => w.code?.startsWith('APIMETER_'));
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

test('registering the plugin twice with one meter: a warning, no crash, every request counted once', async () => {
  const meter = createMeter({ iniPath: false, env: {} });
  const app = Fastify();
  try {
    const warnings = await warningsDuring(async () => {
      await app.register(apimeter, { meter });
      await app.register(apimeter, { meter });
      await app.register(async (child) => {
        await child.register(apimeter, { meter });
        child.get('/child', async () => 'c');
      });
      app.get('/a', async () => 'a');
    });
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['APIMETER_FASTIFY_TWICE', 'APIMETER_FASTIFY_TWICE'],
    );
    const base = await listen(app);
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${base}/a`)).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${base}/child`)).status, 200);
    assert.equal(meter.endpointSnapshot('GET', '/a', 'all')?.count, 5);
    assert.equal(meter.endpointSnapshot('GET', '/child', 'all')?.count, 3);
  } finally {
    await app.close();
  }
});

test('registering it again with another meter fails registration with a coded error', async () => {
  const app = Fastify();
  await app.register(apimeter, { meter: createMeter({ iniPath: false, env: {} }) });
  await assert.rejects(
    async () => {
      await app.register(apimeter, { meter: createMeter({ iniPath: false, env: {} }) });
    },
    { code: 'APIMETER_ERR_FASTIFY_REGISTERED' },
  );
  await app.close().catch(() => {});
});

test('apimeterApi inside a prefixed plugin answers under the combined prefix', async () => {
  const meter = createMeter({ iniPath: false, env: {} });
  const app = Fastify();
  try {
    await app.register(apimeter, { meter });
    await app.register(
      async (scope) => {
        await scope.register(apimeterApi, { meter, token: TOKEN, openPrometheus: true, cacheSeconds: 0 });
        scope.get('/ping', async () => 'pong');
      },
      { prefix: '/x' },
    );
    const base = await listen(app);
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${base}/x/ping`)).status, 200);
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    const summary = await fetch(`${base}/x/api/v2/metrics/summary`, auth);
    assert.equal(summary.status, 200);
    const endpoints = await fetch(`${base}/x/api/v2/metrics/endpoints`, auth);
    assert.equal(endpoints.status, 200);
    const list = ((await endpoints.json()) as { endpoints: { method: string; route: string; count: number }[] })
      .endpoints;
    assert.equal(list.find((e) => e.method === 'GET' && e.route === '/x/ping')?.count, 3);
    const one = await fetch(`${base}/x/api/v2/metrics/endpoints/${encodeURIComponent('/x/ping')}`, auth);
    assert.equal(one.status, 200);
    assert.equal((await fetch(`${base}/x/api/v2/metrics/summary`)).status, 401);
    assert.equal((await fetch(`${base}/x/api/v2/metrics/nothing-here`, auth)).status, 404);
    const prom = await fetch(`${base}/x/metrics`);
    assert.equal(prom.status, 200);
    assert.match(await prom.text(), /\/x\/ping/);
  } finally {
    await app.close();
  }
});

test('routes declared before the plugin: one warning per route naming it, on its first request', async () => {
  const meter = createMeter({ iniPath: false, env: {}, metricsExcludedEndpoints: ['/health'] });
  const app = Fastify();
  app.get('/early/:id', async () => 'early');
  app.get('/health', async () => 'ok'); // excluded: unmeasured on purpose, no warning
  try {
    await app.register(apimeter, { meter });
    // An auth hook that refuses before any route-level hook runs: the route is still measured.
    app.addHook('onRequest', async (request, reply) => {
      if (request.headers['x-deny'] !== undefined) await reply.code(401).send({ detail: 'no' });
    });
    app.get('/late', async () => 'late');
    const base = await listen(app);
    const warnings = await warningsDuring(async () => {
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${base}/early/${i}`)).status, 200);
      assert.equal((await fetch(`${base}/health`)).status, 200);
      assert.equal((await fetch(`${base}/late`)).status, 200);
      assert.equal((await fetch(`${base}/late`, { method: 'HEAD' })).status, 200);
      assert.equal((await fetch(`${base}/late`, { headers: { 'x-deny': '1' } })).status, 401);
      assert.equal((await fetch(`${base}/nowhere`)).status, 404);
    });
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['APIMETER_FASTIFY_UNMEASURED_ROUTE'],
    );
    assert.match(warnings[0].message, /GET \/early\/:id is not measured/);
    assert.deepEqual(meter.endpointSnapshot('GET', '/late', 'all')?.statusCodes, { '200': 1, '401': 1 });
    assert.equal(meter.endpointSnapshot('GET', '/early/{id}', 'all'), undefined);
  } finally {
    await app.close();
  }
});
