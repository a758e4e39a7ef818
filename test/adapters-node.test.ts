/**
 * apimeter/node: templates from a route table, an OpenAPI document or the normalizer, and what a plain
 * handler can do that frameworks do for you (throw, fail mid-stream, report its own errors).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apimeter, recordError } from '../src/adapters/node.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { UNMATCHED_ROUTE } from '../src/core/record.js';

const AIRFLOW = new URL('./fixtures/airflow-v2-openapi.yaml', import.meta.url).pathname;

async function serveWith(
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
): Promise<{ base: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const ok = (_req: IncomingMessage, res: ServerResponse) => {
  res.end('ok');
};

const fetchText = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return [res.status, await res.text()] as const;
};

test('templates from an OpenAPI file (Airflow), with multi-segment parameters', async () => {
  const meter = createMeter({ iniPath: false, env: {} });
  const { base, close } = await serveWith(
    apimeter(ok, { meter, openapi: AIRFLOW, matcherOptions: { multiSegmentParams: ['variable_key'] } }),
  );
  try {
    await fetchText(`${base}/api/v2/dags/etl.daily/dagRuns/manual__2024-01-01T00%3A00%3A00%2B00%3A00`);
    await fetchText(`${base}/api/v2/variables/config/prod/db`);
    await fetchText(`${base}/api/v2/variables/config/prod/db`, { method: 'DELETE' });
    await fetchText(`${base}/api/v2/no/such`);
    const routes = meter
      .snapshot()
      .map((e) => `${e.method} ${e.route} ${e.count}`)
      .sort();
    assert.deepEqual(routes, [
      'DELETE /api/v2/variables/{variable_key} 1',
      'GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id} 1',
      'GET /api/v2/variables/{variable_key} 1',
      `GET ${UNMATCHED_ROUTE} 1`,
    ]);
  } finally {
    await close();
  }
});

test('the normalizer names paths no route matches, within the cardinality cap', async () => {
  const meter = createMeter({ iniPath: false, env: {}, metricsMaxEndpoints: 20 });
  const { base, close } = await serveWith(apimeter(ok, { meter, routes: ['GET /health'], normalize: true }));
  try {
    await fetchText(`${base}/health`);
    for (let i = 0; i < 5; i++)
      await fetchText(`${base}/users/${1000 + i}/orders/3f2504e0-4f89-11d3-9a0c-03${i}5e82c3301`);
    for (let i = 0; i < 60; i++) await fetchText(`${base}/word${String.fromCharCode(97 + (i % 26))}${i}x`);
    assert.equal(meter.endpointSnapshot('GET', '/health')?.count, 1);
    assert.equal(meter.endpointSnapshot('GET', '/users/{id}/orders/{uuid}')?.count, 5);
    assert.ok(meter.registry.size <= 20 + 2, `${meter.registry.size} endpoints`);
    const unmatched = meter.endpointSnapshot('GET', UNMATCHED_ROUTE)?.count ?? 0;
    const overflow = meter.endpointSnapshot('GET', '__overflow__')?.count ?? 0;
    assert.ok(unmatched + overflow >= 60 - 20, `unmatched ${unmatched}, overflow ${overflow}`);
  } finally {
    await close();
  }
});

test('thrown and rejected errors become 500s with their class; HEAD and any-method routes', async () => {
  const meter = createMeter({ iniPath: false, env: {} });
  class QuotaError extends Error {}
  const errors: unknown[] = [];
  const handler = apimeter(
    async (req, res) => {
      if (req.url === '/sync') throw new QuotaError('sync');
      if (req.url === '/async') {
        await Promise.resolve();
        throw new RangeError('async');
      }
      if (req.url === '/midway') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('failed mid-stream');
      }
      if (req.url === '/validate') {
        recordError(res, Object.assign(new Error('bad'), { name: 'ValidationError' }));
        res.statusCode = 422;
        res.end('{"detail":"bad"}');
        return;
      }
      res.end(req.method === 'HEAD' ? undefined : 'hi');
    },
    {
      meter,
      routes: ['GET /sync', 'GET /async', 'GET /midway', 'POST /validate', '/any'],
      onError: (err, _req, res) => {
        errors.push(err);
        if (res.headersSent) res.destroy();
        else {
          res.statusCode = 500;
          res.end('{"detail":"Internal Server Error"}');
        }
      },
    },
  );
  const { base, close } = await serveWith(handler);
  try {
    assert.deepEqual(await fetchText(`${base}/sync`), [500, '{"detail":"Internal Server Error"}']);
    assert.equal((await fetchText(`${base}/async`))[0], 500);
    await fetch(`${base}/midway`)
      .then((r) => r.text())
      .catch(() => 'cut');
    assert.equal((await fetchText(`${base}/validate`, { method: 'POST' }))[0], 422);
    assert.equal((await fetchText(`${base}/any`, { method: 'PUT' }))[0], 200);
    assert.equal((await fetch(`${base}/any`, { method: 'HEAD' })).status, 200);
    await new Promise((r) => setTimeout(r, 30));
    const by = (m: string, r: string) => meter.endpointSnapshot(m, r, 'all')!;
    assert.deepEqual(
      by('GET', '/sync').exceptions.map((e) => e.class),
      ['QuotaError'],
    );
    assert.deepEqual(
      by('GET', '/async').exceptions.map((e) => e.class),
      ['RangeError'],
    );
    assert.deepEqual([by('GET', '/midway').statusCodes, by('GET', '/midway').errorTypes.exception], [{ '500': 1 }, 1]);
    assert.equal(by('POST', '/validate').errorTypes.validation, 1);
    assert.equal(by('PUT', '/any').count, 1);
    assert.equal(by('HEAD', '/any').count, 1);
    assert.equal(errors.length, 3);
  } finally {
    await close();
  }
});

test('requires a meter; excluded routes and disabled metrics pass straight through', async () => {
  assert.throws(() => apimeter(ok, {} as { meter: Meter }), TypeError);
  const meter = createMeter({ iniPath: false, env: {}, metricsExcludedEndpoints: ['/internal'] });
  const { base, close } = await serveWith(apimeter(ok, { meter, routes: ['GET /internal/ping'] }));
  const off = createMeter({ iniPath: false, env: {}, metricsEnabled: false });
  const second = await serveWith(apimeter(ok, { meter: off, routes: ['GET /x'] }));
  try {
    assert.deepEqual(await fetchText(`${base}/internal/ping`), [200, 'ok']);
    assert.deepEqual(await fetchText(`${base}/internal/other`), [200, 'ok']);
    assert.equal(meter.snapshot().length, 0);
    assert.deepEqual(await fetchText(`${second.base}/x`), [200, 'ok']);
    assert.equal(off.snapshot().length, 0);
  } finally {
    await close();
    await second.close();
  }
});
