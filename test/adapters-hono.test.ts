/**
 * Hono-specific behaviour of apimeter/hono: route naming, and the Web-standard path used on runtimes
 * other than @hono/node-server (exercised here through `app.request()`, which passes no Node objects).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { stream } from 'hono/streaming';
import { apimeter, honoTemplate } from '../src/adapters/hono.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { UNMATCHED_ROUTE } from '../src/core/record.js';

test('Hono path syntax becomes OpenAPI-style templates', () => {
  assert.equal(honoTemplate('/dags/:dag_id'), '/dags/{dag_id}');
  assert.equal(honoTemplate('/posts/:id{[0-9]+}/comments/:cid?'), '/posts/{id}/comments/{cid}');
  assert.equal(honoTemplate('/files/:name{.+\\.png}'), '/files/{name}');
  assert.equal(honoTemplate('/static/*'), '/static/*');
  assert.equal(honoTemplate('/api/'), '/api');
  assert.equal(honoTemplate('/'), '/');
});

function buildApp(meter: Meter): Hono {
  const app = new Hono().basePath('/svc');
  app.use(apimeter({ meter }));
  const posts = new Hono();
  posts.get('/:id{[0-9]+}', (c) => c.json({ id: c.req.param('id') }));
  posts.get('/:id{[0-9]+}/comments/:cid?', (c) => c.text('comments'));
  posts.post('/', (c) => c.text('created', 201));
  app.route('/posts', posts);
  app.get('/json', (c) => c.json({ hello: 'world' }));
  app.get('/slow', async (c) => {
    await sleep(300);
    return c.text('slow');
  });
  app.get('/internal/ping', (c) => c.text('pong'));
  app.get('/stream', (c) =>
    stream(c, async (s) => {
      for (const part of ['a;', 'b;', 'c;']) {
        await s.write(part);
        await sleep(30);
      }
    }),
  );
  app.all('/catch/*', (c) => c.text('caught'));
  return app;
}

describe('apimeter/hono without Node bindings (Web APIs only)', () => {
  const meter = createMeter({ iniPath: false, env: {}, metricsExcludedEndpoints: ['/svc/internal'] });
  const app = buildApp(meter);
  const snap = (method: string, route: string) => meter.endpointSnapshot(method, route, 'all');

  test('templates include base paths and app.route() prefixes; regex params are named', async () => {
    for (const path of ['/svc/posts/1', '/svc/posts/22', '/svc/posts/3/comments', '/svc/posts/3/comments/9']) {
      const res = await app.request(path);
      assert.equal(res.status, 200);
      await res.text();
    }
    const created = await app.request('/svc/posts', { method: 'POST' });
    assert.deepEqual([created.status, await created.text()], [201, 'created']);
    assert.equal(snap('GET', '/svc/posts/{id}')?.count, 2);
    assert.equal(snap('GET', '/svc/posts/{id}/comments/{cid}')?.count, 2);
    assert.equal(snap('POST', '/svc/posts')?.count, 1);
  });

  test('bodies without Content-Length: one in memory is recorded at once with its size and handed back sized', async () => {
    const res = await app.request('/svc/json');
    assert.equal(res.headers.get('content-length'), null);
    assert.equal(snap('GET', '/svc/json')?.count, 1, 'recorded before the body is read');
    assert.equal(snap('GET', '/svc/json')?.inflight, 0);
    const text = await res.text();
    assert.equal(text, '{"hello":"world"}');
    assert.equal(snap('GET', '/svc/json')?.responseBytes.totalBytes, Buffer.byteLength(text));
  });

  test('a streamed body is counted as it is read; the record waits for its end', async () => {
    const res = await app.request('/svc/stream');
    await sleep(20);
    assert.equal(snap('GET', '/svc/stream')?.count ?? 0, 0, 'not recorded before the body ends');
    assert.equal(meter.registry.find('GET', '/svc/stream')?.inflight, 1);
    const text = await res.text();
    assert.equal(text, 'a;b;c;');
    assert.equal(snap('GET', '/svc/stream')?.count, 1);
    assert.equal(snap('GET', '/svc/stream')?.responseBytes.totalBytes, 6);
    assert.equal(snap('GET', '/svc/stream')?.inflight, 0);
  });

  test('HEAD is recorded and leaves nothing in flight (Hono drops the GET body unread)', async () => {
    const head = await app.request('/svc/json', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
    assert.equal(snap('HEAD', '/svc/json')?.count, 1);
    assert.equal(snap('HEAD', '/svc/json')?.inflight, 0);
    const streamHead = await app.request('/svc/stream', { method: 'HEAD' });
    assert.equal(streamHead.status, 200);
    assert.equal(snap('HEAD', '/svc/stream')?.count, 1);
    assert.equal(meter.registry.find('HEAD', '/svc/stream')?.inflight, 0);
  });

  test('an aborted request is recorded once, as 499, from its AbortSignal', async () => {
    const controller = new AbortController();
    const pending = app.request('/svc/slow', { signal: controller.signal });
    await sleep(50);
    assert.equal(meter.registry.find('GET', '/svc/slow')?.inflight, 1);
    controller.abort();
    await (await pending).text().catch(() => '');
    await sleep(50);
    const s = snap('GET', '/svc/slow')!;
    assert.deepEqual(s.statusCodes, { '499': 1 });
    assert.equal(s.inflight, 0);
  });

  test('catch-all routes, 404s and excluded routes', async () => {
    const caught = await app.request('/svc/catch/a/b');
    assert.deepEqual([caught.status, await caught.text()], [200, 'caught']);
    assert.equal(snap('GET', '/svc/catch/*')?.count, 1);
    for (const path of ['/svc/nope', '/svc/posts/abc']) {
      const res = await app.request(path);
      assert.deepEqual([res.status, await res.text()], [404, '404 Not Found']);
    }
    assert.equal(snap('GET', UNMATCHED_ROUTE)?.count, 2);
    assert.equal(await (await app.request('/svc/internal/ping')).text(), 'pong');
    assert.equal(snap('GET', '/svc/internal/ping'), undefined);
  });
});

describe('apimeter/hono on @hono/node-server', () => {
  test('HEAD requests are measured as HEAD on the GET route; the same routes as without Node', async () => {
    const meter = createMeter({ iniPath: false, env: {} });
    const server = serve({ fetch: buildApp(meter).fetch, port: 0, hostname: '127.0.0.1' }) as http.Server;
    await new Promise<void>((r) => (server.listening ? r() : server.once('listening', () => r())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const head = await fetch(`${base}/svc/json`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      const get = await fetch(`${base}/svc/posts/5`);
      assert.equal(await get.text(), '{"id":"5"}');
      assert.equal(meter.endpointSnapshot('HEAD', '/svc/json')?.count, 1);
      assert.equal(meter.endpointSnapshot('GET', '/svc/posts/{id}')?.responseBytes.totalBytes, 10);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('requires a meter; off when metrics are disabled', async () => {
    assert.throws(() => apimeter({} as { meter: Meter }), TypeError);
    const meter = createMeter({ iniPath: false, env: {}, metricsEnabled: false });
    const res = await buildApp(meter).request('/svc/json');
    assert.equal(res.status, 200);
    await res.text();
    assert.equal(meter.snapshot().length, 0);
  });
});
