/**
 * What the Fastify plugin's lean per-request path must still see: unmatched requests through every
 * not-found path (default handler, a custom one in a prefixed plugin, reply.callNotFound()) after the
 * matched routes dropped the instance-level hook, and the same with that hook kept everywhere (what
 * happens when Fastify's internals are not found); aborts on a reused keep-alive socket; streamed
 * bodies. Real servers on loopback; every count is what the test itself sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { apimeter, setFastifyRouteTrimming } from '../src/adapters/fastify.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { UNMATCHED_ROUTE } from '../src/core/record.js';

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function start(
  meter: Meter,
  build: (app: FastifyInstance) => Promise<void>,
): Promise<{ app: FastifyInstance; base: string; port: number }> {
  const app = Fastify({ logger: false });
  await app.register(apimeter, { meter });
  await build(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  return { app, base: `http://127.0.0.1:${port}`, port };
}

async function get(url: string, init?: RequestInit): Promise<number> {
  const res = await fetch(url, init);
  await res.text();
  return res.status;
}

/** The onResponse hook names Fastify lists for one route (printRoutes reads the route's live context). */
function onResponseHooksOf(app: FastifyInstance, path: string): string {
  const printed = app.printRoutes({ commonPrefix: false, includeHooks: true });
  const lines = printed.split('\n');
  const at = lines.findIndex((l) => l.includes(`${path} (GET`));
  assert.notEqual(at, -1, `route ${path} in\n${printed}`);
  const hooks = lines.slice(at + 1).find((l) => l.includes('(onResponse)'));
  return hooks ?? '';
}

for (const trimming of [true, false]) {
  const mode = trimming ? 'matched routes drop the instance hook' : 'the instance hook kept everywhere';
  test(`404s are recorded through every not-found path (${mode})`, async () => {
    setFastifyRouteTrimming(trimming);
    const meter = createMeter({ iniPath: false, env: {} });
    const { app, base } = await start(meter, async (app) => {
      app.get('/hello/:name', async (req) => ({ hello: (req.params as { name: string }).name }));
      app.get('/maybe/:id', async (req, reply) => {
        if ((req.params as { id: string }).id === 'gone') return reply.callNotFound();
        return { id: (req.params as { id: string }).id };
      });
      await app.register(
        async (scope) => {
          scope.setNotFoundHandler(async (_req, reply) => reply.code(404).send({ scoped: true }));
          scope.get('/ping', async () => 'pong');
        },
        { prefix: '/v1' },
      );
    });
    try {
      // Matched routes first, so that they have dropped the hook before any 404.
      for (let i = 0; i < 4; i++) assert.equal(await get(`${base}/hello/n${i}`), 200);
      for (let i = 0; i < 3; i++) assert.equal(await get(`${base}/maybe/m${i}`), 200);
      for (let i = 0; i < 2; i++) assert.equal(await get(`${base}/v1/ping`), 200);
      const listed = onResponseHooksOf(app, '/hello/:name');
      if (trimming) assert.doesNotMatch(listed, /apimeterOnUnmatched/);
      else assert.match(listed, /apimeterOnUnmatched/);
      assert.match(listed, /apimeterOnResponse/);

      for (let i = 0; i < 5; i++) assert.equal(await get(`${base}/nowhere/${i}`), 404); // default handler
      for (let i = 0; i < 3; i++) assert.equal(await get(`${base}/v1/nothing/${i}`), 404); // prefixed custom one
      for (let i = 0; i < 2; i++) assert.equal(await get(`${base}/maybe/gone`), 404); // reply.callNotFound()
      assert.equal(await get(`${base}/nowhere`, { method: 'DELETE' }), 404);
      // Matched routes are still measured after the 404s.
      assert.equal(await get(`${base}/hello/again`), 200);

      const unmatched = meter.endpointSnapshot('GET', UNMATCHED_ROUTE, 'all')!;
      assert.equal(unmatched.count, 5 + 3 + 2);
      assert.deepEqual(unmatched.statusCodes, { '404': 10 });
      assert.equal(unmatched.inflight, 0);
      assert.equal(meter.endpointSnapshot('DELETE', UNMATCHED_ROUTE, 'all')?.count, 1);
      assert.equal(meter.endpointSnapshot('GET', '/hello/{name}', 'all')?.count, 5);
      assert.equal(meter.endpointSnapshot('GET', '/v1/ping', 'all')?.count, 2);
      // callNotFound() answers on the unmatched endpoint: its own endpoint keeps only its 200s, and
      // the in-flight count it started is released.
      const maybe = meter.endpointSnapshot('GET', '/maybe/{id}', 'all')!;
      assert.equal(maybe.count, 3);
      assert.equal(maybe.inflight, 0);
    } finally {
      setFastifyRouteTrimming(true);
      await app.close();
    }
  });
}

test('an abort on a keep-alive socket that already answered is recorded as 499 and releases in-flight', async () => {
  const meter = createMeter({ iniPath: false, env: {} });
  let slowStarted = 0;
  let slowEnded = 0;
  const { app, port } = await start(meter, async (app) => {
    app.get('/fast', async () => 'ok');
    app.get('/slow', async () => {
      slowStarted++;
      await sleep(300);
      slowEnded++;
      return 'late';
    });
  });
  try {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
    // Two answered requests on the socket, one after the other, then one left unfinished.
    for (let i = 1; i <= 2; i++) {
      socket.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => received.split('HTTP/1.1 200').length - 1 === i, `answer ${i}`);
    }
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => slowStarted === 1, 'the slow request to reach its handler');
    assert.equal(meter.endpointSnapshot('GET', '/slow', 'all')?.inflight ?? 1, 1);
    socket.destroy();
    await until(() => meter.endpointSnapshot('GET', '/slow', 'all')?.count === 1, 'the abort to be recorded');
    await until(() => slowEnded === 1, 'the handler to end');
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
    const slow = meter.endpointSnapshot('GET', '/slow', 'all')!;
    assert.equal(slow.count, 1);
    assert.deepEqual(slow.statusCodes, { '499': 1 });
    assert.equal(slow.errorTypes.aborted, 1);
    assert.equal(slow.inflight, 0);
    const fast = meter.endpointSnapshot('GET', '/fast', 'all')!;
    assert.deepEqual(fast.statusCodes, { '200': 2 });
    assert.equal(fast.errorTypes.aborted, 0);
    assert.equal(fast.inflight, 0);
  } finally {
    await app.close();
  }
});

test('streamed bodies are counted byte for byte: Buffers, multi-byte strings, several on one socket', async () => {
  const meter = createMeter({ iniPath: false, env: {} });
  const parts = [Buffer.alloc(700, 1), 'é'.repeat(300), Buffer.alloc(5, 2)]; // 700 + 600 + 5 bytes
  const expected = 700 + 600 + 5;
  const { app, base, port } = await start(meter, async (app) => {
    app.get('/stream', (_req, reply) => reply.type('application/octet-stream').send(Readable.from(parts)));
    app.get('/sized', (_req, reply) =>
      reply.header('content-length', String(expected)).type('application/octet-stream').send(Readable.from(parts)),
    );
  });
  try {
    const res = await fetch(`${base}/stream`);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.headers.get('content-length'), null);
    assert.equal(body.length, expected);
    const sized = await fetch(`${base}/sized`);
    assert.equal(Buffer.from(await sized.arrayBuffer()).length, expected);
    // Two streamed answers on one keep-alive socket.
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
    for (let i = 1; i <= 2; i++) {
      socket.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => received.split('\r\n0\r\n\r\n').length - 1 === i, `streamed answer ${i}`);
    }
    socket.destroy();
    await until(() => meter.endpointSnapshot('GET', '/stream', 'all')?.count === 3, 'three streams recorded');
    const s = meter.endpointSnapshot('GET', '/stream', 'all')!;
    assert.equal(s.responseBytes.totalBytes, 3 * expected);
    assert.equal(s.responseBytes.max, expected);
    assert.equal(s.responseBytes.count, 3);
    await until(() => meter.endpointSnapshot('GET', '/sized', 'all')?.count === 1, 'the sized stream recorded');
    assert.equal(meter.endpointSnapshot('GET', '/sized', 'all')?.responseBytes.totalBytes, expected);
  } finally {
    await app.close();
  }
});
