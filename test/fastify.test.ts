import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { apimeter, fastifyTemplate, parseContentLength } from '../src/adapters/fastify.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { UNMATCHED_ROUTE } from '../src/core/record.js';
import { pipelineGets, rawRequest } from './helpers/http.js';

class SchedulerUnavailableError extends Error {}

let app: FastifyInstance;
let meter: Meter;
let base: string;
let port: number;

const STREAM_CHUNKS = 50;
const STREAM_CHUNK = 'x'.repeat(1000);

before(async () => {
  meter = createMeter({ iniPath: false, env: {}, metricsExcludedEndpoints: ['/internal'] });
  app = Fastify({ logger: false });
  await app.register(apimeter, { meter });
  // A user's auth hook that rejects before any route-level hook runs.
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers['x-deny'] !== undefined) await reply.code(401).send({ detail: 'no' });
  });
  await app.register(
    async (v2) => {
      v2.get('/version', async () => ({ version: '1' }));
      await v2.register(
        async (dag) => {
          dag.get('/dagRuns/:dag_run_id', async (req) => req.params);
          dag.post(
            '/dagRuns',
            { schema: { body: { type: 'object', required: ['conf'], properties: { conf: { type: 'object' } } } } },
            async (req, reply) => reply.code(201).send({ ok: true, got: req.body }),
          );
        },
        { prefix: '/dags/:dag_id' },
      );
    },
    { prefix: '/api/v2' },
  );
  app.get('/boom', async () => {
    throw new SchedulerUnavailableError('scheduler 42 is down');
  });
  app.get('/slow', async () => {
    slowStarted++;
    await sleep(400);
    slowEnded++;
    return { done: true };
  });
  app.get('/stream', (_req, reply) => {
    let i = 0;
    const body = new Readable({
      read() {
        this.push(i++ < STREAM_CHUNKS ? STREAM_CHUNK : null);
      },
    });
    return reply.type('text/plain').send(body);
  });
  app.route({ method: ['GET', 'POST'], url: '/multi', handler: async () => 'multi' });
  app.get('/internal/status', async () => 'ok');
  app.get('/files/:name(^\\w+\\.txt$)', async () => 'file');
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  await app.close();
});

const snap = (method: string, route: string) => meter.endpointSnapshot(method, route, 'all');

/** Handlers of `/slow` entered and left: a test waits for them instead of for a time. */
let slowStarted = 0;
let slowEnded = 0;

/** Lets a few turns of the event loop run: what a handler that just returned schedules has run after it. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Polls until `check` holds (the meter records after the socket events, which a loaded machine delays). */
async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('route templates include prefixes and nested plugins, in OpenAPI form', async () => {
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${base}/api/v2/dags/etl_${i}/dagRuns/manual__2024-01-0${i + 1}T00:00:00+00:00`);
    assert.equal(res.status, 200);
    await res.text();
  }
  await (await fetch(`${base}/api/v2/version`)).text();
  const s = snap('GET', '/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}');
  assert.ok(s, 'templated endpoint exists');
  assert.equal(s.count, 3);
  assert.equal(snap('GET', '/api/v2/version')!.count, 1);
  assert.equal(fastifyTemplate('/files/:name(^\\w+\\.txt$)'), '/files/{name}');
  assert.equal(fastifyTemplate('/a/:from-:to/b::c'), '/a/{from}-{to}/b:c');
  assert.equal(fastifyTemplate('/api/v2/dags/'), '/api/v2/dags');
  assert.equal(fastifyTemplate('/'), '/');
  assert.equal(snap('GET', '/files/{name}'), undefined, 'not listed before its first request');
  await (await fetch(`${base}/files/a.txt`)).text();
  assert.equal(snap('GET', '/files/{name}')!.count, 1);
  // Fastify's automatic HEAD routes are resolved but not listed until called.
  assert.equal(snap('HEAD', '/files/{name}'), undefined);
  // No endpoint carries a concrete id.
  for (const e of meter.snapshot()) assert.ok(!/etl_|manual__/.test(e.route), e.route);
});

test('schema-validation errors count as validation, apart from other 4xx', async () => {
  const url = `${base}/api/v2/dags/d1/dagRuns`;
  const post = (body: string) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(async (r) => {
      await r.text();
      return r.status;
    });
  assert.equal(await post('{"conf":{}}'), 201);
  assert.equal(await post('{"nope":1}'), 400);
  assert.equal(await post('{"nope":2}'), 400);
  assert.equal(await post('{not json'), 400); // body parser error: a client error, not validation
  const s = snap('POST', '/api/v2/dags/{dag_id}/dagRuns')!;
  assert.equal(s.count, 4);
  assert.equal(s.errorTypes.validation, 2);
  assert.equal(s.errorTypes.client_error, 1);
  assert.deepEqual(s.statusCodes, { '201': 1, '400': 3 });
  // Sizes come from Content-Length.
  assert.equal(s.requestBytes.totalBytes, 11 + 10 + 10 + 9);
});

test('thrown errors are counted with their class and message', async () => {
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${base}/boom`);
    assert.equal(res.status, 500);
    await res.text();
  }
  const s = snap('GET', '/boom')!;
  assert.equal(s.count, 2);
  assert.equal(s.errorTypes.exception, 2);
  assert.equal(s.errorTypes.server_error, 0);
  assert.deepEqual(
    s.exceptions.map((e) => [e.class, e.count, e.lastMessage]),
    [['SchedulerUnavailableError', 2, 'scheduler <n> is down']],
  );
});

test('404s share one unmatched endpoint, never their raw path', async () => {
  const before = meter.registry.size;
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${base}/no/such/path/${i}?q=${i}`);
    assert.equal(res.status, 404);
    await res.text();
  }
  const s = snap('GET', UNMATCHED_ROUTE)!;
  assert.ok(s.count >= 5);
  assert.ok(s.statusCodes['404'] >= 5);
  assert.ok(meter.registry.size <= before + 1);
});

test('requests rejected by an earlier auth hook are still counted on their route', async () => {
  const beforeCount = snap('GET', '/api/v2/version')!.count;
  const res = await fetch(`${base}/api/v2/version`, { headers: { 'x-deny': '1' } });
  assert.equal(res.status, 401);
  await res.text();
  const s = snap('GET', '/api/v2/version')!;
  assert.equal(s.count, beforeCount + 1);
  assert.equal(s.statusCodes['401'], 1);
  assert.equal(s.inflight, 0);
});

test('in-flight gauge while a request runs, then latency recorded', async () => {
  const pending = fetch(`${base}/slow`).then((r) => r.text());
  await until(() => (snap('GET', '/slow')?.inflight ?? 0) === 1, 'the request to be in flight');
  await pending;
  await until(() => snap('GET', '/slow')?.count === 1, 'the request to be recorded');
  const s = snap('GET', '/slow')!;
  assert.equal(s.inflight, 0);
  assert.equal(s.count, 1);
  assert.ok(s.latencyMs.p50! >= 390 && s.latencyMs.p50! < 2000, `p50 ${s.latencyMs.p50}`);
});

test('client aborts are recorded once, as aborted (499), and release the in-flight gauge', async () => {
  const req = http.get(`${base}/slow`);
  req.on('error', () => {});
  await until(() => snap('GET', '/slow')!.inflight === 1, 'the request to be in flight');
  await sleep(100);
  req.destroy();
  await until(() => snap('GET', '/slow')!.count === 2, 'the abort to be recorded');
  // Past the handler's end, so a late onResponse would show up too.
  await until(() => slowEnded === slowStarted, 'the handler to end');
  await settle();
  const s = snap('GET', '/slow')!;
  assert.equal(s.count, 2);
  assert.equal(s.errorTypes.aborted, 1);
  assert.equal(s.statusCodes['499'], 1);
  assert.equal(s.inflight, 0);
  assert.ok(s.latencyMs.min! >= 90, `aborted duration ${s.latencyMs.min}`);
});

test('pipelined requests aborted together are all recorded as aborted', async () => {
  const before = snap('GET', '/slow')!;
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const started = slowStarted;
  socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  await until(() => slowStarted > started, 'the first request to reach its handler');
  socket.destroy();
  await until(() => snap('GET', '/slow')!.count > before.count, 'the abort to be recorded');
  await until(() => slowEnded === slowStarted, 'the handlers to end');
  await settle();
  const s = snap('GET', '/slow')!;
  // Node hands pipelined requests to the app one at a time: the second may never have started.
  const added = s.count - before.count;
  assert.ok(added >= 1 && added <= 2, `added ${added}`);
  assert.equal(s.errorTypes.aborted - before.errorTypes.aborted, added);
  assert.equal(s.inflight, 0);
});

test('streamed responses without Content-Length are counted byte for byte', async () => {
  const res = await fetch(`${base}/stream`);
  const text = await res.text();
  assert.equal(res.headers.get('content-length'), null);
  assert.equal(text.length, STREAM_CHUNKS * STREAM_CHUNK.length);
  const s = snap('GET', '/stream')!;
  assert.equal(s.responseBytes.totalBytes, STREAM_CHUNKS * STREAM_CHUNK.length);
});

test('chunked uploads without Content-Length are counted while the body is read', async () => {
  const body = JSON.stringify({ conf: { pad: 'y'.repeat(5000) } });
  const chunked = Readable.from([body.slice(0, 100), body.slice(100)]);
  const res = await fetch(`${base}/api/v2/dags/d9/dagRuns`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: chunked,
    duplex: 'half',
  });
  assert.equal(res.status, 201);
  await res.text();
  const s = snap('POST', '/api/v2/dags/{dag_id}/dagRuns')!;
  assert.equal(s.requestBytes.max, body.length);
});

test('a route with several methods gets one endpoint per method; excluded routes are not measured', async () => {
  await (await fetch(`${base}/multi`)).text();
  await (await fetch(`${base}/multi`, { method: 'POST' })).text();
  await (await fetch(`${base}/multi`, { method: 'POST' })).text();
  await (await fetch(`${base}/internal/status`)).text();
  assert.equal(snap('GET', '/multi')!.count, 1);
  assert.equal(snap('POST', '/multi')!.count, 2);
  assert.equal(snap('GET', '/internal/status'), undefined);
});

test('bad input: broken URLs, huge paths, odd methods and lying lengths never stop the API', async () => {
  const broken = await rawRequest(port, 'GET /api/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(broken, /^HTTP\/1\.1 (400|404) /);
  const huge = await rawRequest(port, `GET /${'a'.repeat(10_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.match(huge, /^HTTP\/1\.1 404 /);
  const brew = await rawRequest(port, 'BREW /api/v2/version HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(brew, /^HTTP\/1\.1 (400|404|405) /);
  const negative = await rawRequest(port, 'POST /multi HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n');
  assert.match(negative, /^HTTP\/1\.1 400 /);
  // Claims 100 bytes, sends 4, then closes: the server must not hang or crash.
  await rawRequest(port, 'POST /multi HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabcd', 300);
  const res = await fetch(`${base}/api/v2/version`);
  assert.equal(res.status, 200);
  await res.text();
  assert.equal(parseContentLength('-5'), -1);
  assert.equal(parseContentLength('12abc'), -1);
  assert.equal(parseContentLength('1e3'), 1000);
  assert.equal(parseContentLength(' 42'), 42);
  assert.equal(parseContentLength('99999999999999999999'), -1);
  // No endpoint was created from a raw path or raw method.
  for (const e of meter.snapshot()) {
    assert.ok(e.route.length < 100, `route of length ${e.route.length}`);
    assert.ok(['GET', 'POST', 'HEAD', '_OTHER'].includes(e.method), e.method);
  }
});

test('a flood of 100,000 distinct unmatched paths keeps the registry and memory flat', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  await pipelineGets(port, 5000, (i) => `/warm/${i}`);
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const sizeBefore = meter.registry.size;
  const unmatchedBefore = snap('GET', UNMATCHED_ROUTE)!.count;
  const statuses = await pipelineGets(port, 100_000, (i) => `/scan/${i}/${(i * 2654435761) % 1e9}.php`);
  assert.equal(statuses.get(404), 100_000);
  assert.equal(meter.registry.size, sizeBefore);
  assert.equal(snap('GET', UNMATCHED_ROUTE)!.count - unmatchedBefore, 100_000);
  gc();
  const grown = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(grown < 8 * 1024 * 1024, `heap grew ${(grown / 1048576).toFixed(1)} MB`);
});
