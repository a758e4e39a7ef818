/**
 * Express-specific behaviour of apimeter/express, on Express 4 and Express 5 (the shared behaviour is
 * in test/contracts/adapters.test.ts): how every kind of route and mount is named, and the paths a
 * request can take that other frameworks do not have.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express5 from 'express';
import express4 from 'express4';
import {
  apimeter,
  apimeterErrors,
  express4MountTemplate,
  express4Path,
  express5Path,
  regexpTemplate,
} from '../src/adapters/express.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { UNMATCHED_ROUTE } from '../src/core/record.js';

test('Express path syntaxes become OpenAPI-style templates', () => {
  assert.equal(express4Path('/dags/:dag_id/runs/:run_id(\\d+)?'), '/dags/{dag_id}/runs/{run_id}');
  assert.equal(express4Path('/files/*'), '/files/*');
  assert.equal(express4Path('/a/:from-:to.:ext'), '/a/{from}-{to}.{ext}');
  assert.equal(express5Path('/dags/:dag_id/runs{/:run_id}'), '/dags/{dag_id}/runs/{run_id}');
  assert.equal(express5Path('/files/*path'), '/files/*');
  assert.equal(express5Path('/q/:"odd name"/\\(x\\)'), '/q/{odd name}/(x)');
  assert.equal(regexpTemplate(/^\/commits\/(\w+)$/i), '/commits/(\\w+)');
  assert.equal(regexpTemplate(/.*fly$/), '/.*fly');
  // Express 4 keeps only the compiled expression of a mount path: it is read back.
  const compiled = (path: string | string[]) => {
    const router = express4.Router();
    router.use(path as string, (_req, _res, next) => next());
    const layer = (router as unknown as { stack: { regexp: RegExp; keys: { name: string | number }[] }[] }).stack[0];
    return express4MountTemplate(layer.regexp, layer.keys);
  };
  assert.equal(compiled('/api/v2'), '/api/v2');
  assert.equal(compiled('/dags/:dag_id'), '/dags/{dag_id}');
  assert.equal(compiled('/a/:b?/c.json'), '/a/{b}/c.json');
  assert.equal(compiled('/files/*'), '/files/*');
  assert.equal(compiled('/x/:id(\\d+)'), '/x/{id}');
  assert.match(compiled(['/v1', '/v2']), /^\/.*\|/, 'arrays show as their expression');
});

for (const [name, express] of [
  ['Express 4', express4],
  ['Express 5', express5],
] as const) {
  describe(`apimeter/express on ${name}`, () => {
    let meter: Meter;
    let server: http.Server;
    let base: string;
    const snap = (method: string, route: string) => meter.endpointSnapshot(method, route, 'all');
    const call = async (path: string, init?: RequestInit) => {
      const res = await fetch(base + path, init);
      await res.text();
      return res.status;
    };

    before(async () => {
      meter = createMeter({ iniPath: false, env: {}, metricsExcludedEndpoints: ['/internal'] });
      const app = express();
      app.set('env', 'test'); // Express logs unhandled errors otherwise
      app.use(apimeter({ meter }));
      app.use(express.json({ limit: 100 }));
      // Three levels of routers, one of them mounted at two paths.
      const items = express.Router({ mergeParams: true });
      items.get('/:item_id', (req, res) => {
        res.json({ route: (req as unknown as { route: { path: string } }).route.path });
      });
      const v = express.Router();
      v.use('/shops/:shop_id/items', items);
      v.get('/', (_req, res) => {
        res.send('root');
      });
      app.use(['/v1', '/v2'], v);
      app.use('/beta', v);
      app.get(/^\/commits\/([0-9a-f]+)$/, (_req, res) => {
        res.send('commit');
      });
      app.get(['/alias-a', '/alias-b/:id'], (_req, res) => {
        res.send('alias');
      });
      app
        .route('/multi')
        .get((_req, res) => {
          res.send('get');
        })
        .post((_req, res) => {
          res.status(201).send('post');
        });
      app.get('/next-route', (_req, _res, next) => next('route'));
      app.get('/next-route', (_req, res) => {
        res.send('second');
      });
      app.get('/replaced-locals', (_req, res) => {
        res.locals = { user: 'someone' }; // an app may replace res.locals: the request is still measured
        res.send('ok');
      });
      app.get('/internal/status', (_req, res) => {
        res.send('ok');
      });
      app.get('/unreported-error', () => {
        throw new RangeError('no error middleware saw this');
      });
      app.get('/async-error', async () => {
        await Promise.resolve();
        throw new TypeError('async failure');
      });
      app.post('/upload', (_req, res) => {
        res.send('ok');
      });
      const admin = express();
      admin.get('/users/:user_id', (_req, res) => {
        res.send('admin');
      });
      app.use('/tenants/:tenant/admin', admin);
      app.use('/late-errors', apimeterErrors());
      app.use(
        (
          err: { status?: number; message?: string },
          _req: express5.Request,
          res: express5.Response,
          next: express5.NextFunction,
        ) => {
          if (err.message === 'async failure') {
            res.status(500).send('handled');
            return;
          }
          next(err);
        },
      );
      server = http.createServer(app);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    test('a router mounted at several paths gets one template per mount', async () => {
      assert.equal(await call('/v1/shops/s1/items/i1'), 200);
      assert.equal(await call('/v2/shops/s2/items/i2'), 200);
      assert.equal(await call('/beta/shops/s3/items/i3'), 200);
      assert.equal(await call('/beta/shops/s4/items/i4'), 200);
      assert.equal(snap('GET', '/beta/shops/{shop_id}/items/{item_id}')?.count, 2);
      const arrays = meter
        .snapshot()
        .filter(
          (e) =>
            e.route.endsWith('/shops/{shop_id}/items/{item_id}') && e.route !== '/beta/shops/{shop_id}/items/{item_id}',
        );
      assert.deepEqual(
        arrays.map((e) => [e.route, e.count]),
        [
          ['/v1/shops/{shop_id}/items/{item_id}', 1],
          ['/v2/shops/{shop_id}/items/{item_id}', 1],
        ],
      );
      // req.route still reads as Express sets it.
      const res = await fetch(`${base}/beta/shops/s/items/i`);
      assert.deepEqual(await res.json(), { route: '/:item_id' });
      assert.equal(await call('/beta'), 200);
      assert.equal(await call('/beta/'), 200);
      assert.equal(snap('GET', '/beta')?.count, 2, 'a router root has no trailing slash');
    });

    test('RegExp routes, array routes and sub-applications mounted at a parameter', async () => {
      assert.equal(await call('/commits/9fceb02'), 200);
      assert.equal(await call('/commits/abc123'), 200);
      assert.equal(snap('GET', '/commits/([0-9a-f]+)')?.count, 2);
      assert.equal(await call('/alias-a'), 200);
      assert.equal(await call('/alias-b/7'), 200);
      assert.equal(snap('GET', '/alias-a|/alias-b/{id}')?.count, 2);
      assert.equal(await call('/tenants/acme/admin/users/1'), 200);
      assert.equal(await call('/tenants/globex/admin/users/2'), 200);
      assert.equal(snap('GET', '/tenants/{tenant}/admin/users/{user_id}')?.count, 2);
    });

    test('one endpoint per method; HEAD, next("route"), exclusions', async () => {
      assert.equal(await call('/multi'), 200);
      assert.equal(await call('/multi', { method: 'POST' }), 201);
      assert.equal(await call('/multi', { method: 'HEAD' }), 200);
      assert.equal(snap('GET', '/multi')?.count, 1);
      assert.equal(snap('POST', '/multi')?.count, 1);
      assert.equal(snap('HEAD', '/multi')?.count, 1);
      assert.equal(await call('/next-route'), 200);
      assert.equal(snap('GET', '/next-route')?.count, 1);
      assert.equal(snap('GET', '/next-route')?.inflight, 0);
      assert.equal(await call('/replaced-locals'), 200);
      assert.deepEqual([snap('GET', '/replaced-locals')?.count, snap('GET', '/replaced-locals')?.inflight], [1, 0]);
      assert.equal(await call('/internal/status'), 200);
      assert.equal(snap('GET', '/internal/status'), undefined);
    });

    test('errors: without the error middleware a 5xx is a server error; handled ones keep their status', async () => {
      assert.equal(await call('/unreported-error'), 500);
      assert.deepEqual(snap('GET', '/unreported-error')?.errorTypes.server_error, 1);
      if (name === 'Express 5') {
        assert.equal(await call('/async-error'), 500);
        assert.equal(snap('GET', '/async-error')?.errorTypes.server_error, 1);
      }
    });

    test('requests a body parser rejects are counted on the route they were headed for', async () => {
      const big = JSON.stringify({ pad: 'z'.repeat(500) });
      const status = await call('/upload', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: big,
      });
      assert.equal(status, 413);
      assert.deepEqual(snap('POST', '/upload')?.statusCodes, { '413': 1 });
      assert.equal(snap('POST', '/upload')?.requestBytes.totalBytes, big.length);
    });

    test('404s, OPTIONS and malformed paths go to the unmatched endpoint', async () => {
      const before = snap('GET', UNMATCHED_ROUTE)?.count ?? 0;
      assert.equal(await call('/nope'), 404);
      assert.equal(await call('/v1/shops/s/nope/x'), 404);
      assert.equal(snap('GET', UNMATCHED_ROUTE)!.count - before, 2);
      assert.equal(await call('/multi', { method: 'OPTIONS' }), 200);
      assert.equal(snap('OPTIONS', UNMATCHED_ROUTE)?.count, 1);
      assert.equal(snap('OPTIONS', '/multi'), undefined);
      for (const e of meter.snapshot()) assert.ok(!/s1|s2|acme|9fceb02|nope/.test(e.route), e.route);
    });
  });
}

test('apimeter/express requires a meter and does nothing when metrics are off', async () => {
  assert.throws(() => apimeter({} as { meter: Meter }), TypeError);
  const meter = createMeter({ iniPath: false, env: {}, metricsEnabled: false });
  const app = express5();
  app.use(apimeter({ meter }));
  app.get('/x', (_req, res) => {
    res.send('x');
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`);
  assert.equal(await res.text(), 'x');
  assert.equal(meter.snapshot().length, 0);
  await new Promise<void>((r) => server.close(() => r()));
});
