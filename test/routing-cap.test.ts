/**
 * Declared routes against a flood of invented templates (heuristic normalization on): a scanner's
 * random paths fill the cardinality cap with normalizer templates, yet every route of the route table
 * keeps its own endpoint, recorded under its template; overflowed requests keep their method.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apimeter } from '../src/adapters/node.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { OVERFLOW_ROUTE, UNMATCHED_ROUTE } from '../src/core/record.js';
import { createProxy, Normalizer, RouteMatcher } from '../src/proxy/index.js';
import { pipelineGets } from './helpers/http.js';

const CAP = 1000;
const FLOOD = 30_000;
const ROUTES = ['GET /known/{id}', 'POST /orders', '/health'];

/** A path of letters only (no digit, no hex run): the normalizer keeps it as a literal template. */
function randomPath(i: number): string {
  let s = '';
  let n = i * 2654435761 + 12345;
  for (let k = 0; k < 10; k++) {
    n = (n * 1103515245 + 12345) % 2147483648;
    s += String.fromCharCode(103 + (n % 20)); // g…z
  }
  return `/${s}/${s.slice(0, 4)}`;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => unknown) {
  const server = http.createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    base: `http://127.0.0.1:${port}`,
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

/** Floods, then calls each declared route a known number of times, and checks where everything went. */
async function floodThenDeclared(meter: Meter, port: number, base: string): Promise<void> {
  const statuses = await pipelineGets(port, FLOOD, randomPath);
  assert.equal(statuses.get(200), FLOOD);
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${base}/known/${42 + i}`)).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await fetch(`${base}/orders`, { method: 'POST', body: '{}' })).status, 200);
  assert.equal((await fetch(`${base}/health`)).status, 200); // any-method route: declared on first use
  assert.equal((await fetch(`${base}/known/7`, { method: 'HEAD' })).status, 200); // HEAD on a GET route

  assert.equal(meter.endpointSnapshot('GET', '/known/{id}')?.count, 3);
  assert.equal(meter.endpointSnapshot('POST', '/orders')?.count, 2);
  assert.equal(meter.endpointSnapshot('GET', '/health')?.count, 1);
  assert.equal(meter.endpointSnapshot('HEAD', '/known/{id}')?.count, 1);

  const snapshot = meter.snapshot();
  const declared = new Set(['GET /known/{id}', 'POST /orders', 'GET /health', 'HEAD /known/{id}']);
  const invented = snapshot.filter(
    (e) => !declared.has(`${e.method} ${e.route}`) && e.route !== UNMATCHED_ROUTE && e.route !== OVERFLOW_ROUTE,
  );
  // The flood went to invented templates, the overflow endpoint of its method and the unmatched one.
  const floodCounted = snapshot
    .filter((e) => !declared.has(`${e.method} ${e.route}`))
    .reduce((sum, e) => sum + e.count, 0);
  assert.equal(floodCounted, FLOOD);
  // Invented templates share what the two operations declared up front leave of the cap.
  assert.equal(invented.length, CAP - 2);
  const overflow = snapshot.filter((e) => e.route === OVERFLOW_ROUTE);
  assert.deepEqual(
    overflow.map((e) => e.method),
    ['GET'],
  );
  assert.ok(overflow[0].count > 0);
}

test('node adapter with normalize: declared routes keep their endpoints after 30,000 random paths', async () => {
  const meter = createMeter({ iniPath: false, env: {}, metricsMaxEndpoints: CAP });
  const { port, base, close } = await listen(apimeter(ok, { meter, routes: ROUTES, normalize: true }));
  try {
    await floodThenDeclared(meter, port, base);
  } finally {
    await close();
  }
});

test('proxy with --normalize: declared routes keep their endpoints after 30,000 random paths', async () => {
  const meter = createMeter({ iniPath: false, env: {}, metricsMaxEndpoints: CAP });
  const upstream = await listen(ok);
  const proxy = createProxy({
    target: upstream.base,
    meter,
    matcher: RouteMatcher.fromRoutes(ROUTES),
    normalizer: new Normalizer({ maxTemplates: CAP }),
  });
  const { port } = await proxy.listen(0);
  try {
    await floodThenDeclared(meter, port, `http://127.0.0.1:${port}`);
  } finally {
    await proxy.close();
    await upstream.close();
  }
});
