import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { createMeter, LATENCY_SKETCH, relativeErrorBound } from '../src/index.js';
import type { Meter } from '../src/index.js';
import { apimeter, apimeterApi } from '../src/adapters/fastify.js';
import type { EndpointDetailJson, EndpointListJson, SummaryJson } from '../src/api/index.js';
import { get, schemaValidator } from './helpers/api.js';

const P = '/api/v2/metrics';
const AUTH = { authorization: 'Bearer fastify-token' };

async function start(meter: Meter): Promise<{ app: FastifyInstance; base: string }> {
  const app = Fastify();
  await app.register(apimeter, { meter });
  app.get('/slow/:id', async () => {
    await sleep(30);
    return { ok: true };
  });
  app.get('/fast', async () => 'hi');
  app.post('/fail', async () => {
    throw new Error('kaput');
  });
  await app.register(apimeterApi, { meter, token: 'fastify-token' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

describe('Fastify: apimeter + apimeterApi end to end', () => {
  let app: FastifyInstance;
  let base: string;
  let meter: Meter;
  let validate: (name: string, value: unknown) => void;
  const sent = { slow: 12, fast: 40, fail: 6 };

  before(async () => {
    meter = createMeter({ iniPath: false, env: {}, metricsExcludedEndpoints: [P, '/metrics'] });
    ({ app, base } = await start(meter));
    await Promise.all(Array.from({ length: sent.slow }, (_, i) => fetch(`${base}/slow/${i}`).then((r) => r.text())));
    for (let i = 0; i < sent.fast; i++) await (await fetch(`${base}/fast`)).text();
    for (let i = 0; i < sent.fail; i++) await (await fetch(`${base}/fail`, { method: 'POST' })).text();
    for (let i = 0; i < 3; i++) await (await fetch(`${base}/nowhere/${i}`)).text();
    // The client can read a response before Fastify's onResponse hook records it.
    const deadline = Date.now() + 3000;
    while (meter.summary('all').count < 61 && Date.now() < deadline) await sleep(10);
    validate = schemaValidator((await get<Record<string, unknown>>(`${base}${P}/openapi.json`, AUTH)).json);
  });
  after(() => app?.close());

  test('the list counts exactly what was sent, by route template; the API itself is excluded', async () => {
    const res = await get<EndpointListJson>(`${base}${P}/endpoints?window=5m&order_by=route`, AUTH);
    assert.equal(res.status, 200);
    validate('EndpointList', res.json);
    const counts = Object.fromEntries(res.json.endpoints.map((e) => [`${e.method} ${e.route}`, e.count]));
    assert.deepEqual(counts, {
      'GET /fast': sent.fast,
      'POST /fail': sent.fail,
      'GET /slow/{id}': sent.slow,
      'GET __unmatched__': 3,
    });
    const slow = res.json.endpoints.find((e) => e.route === '/slow/{id}')!;
    // Each request slept 30 ms: every percentile is at least that (within the sketch's bound).
    assert.ok(slow.latency_ms.min! >= 29, `min ${slow.latency_ms.min}`);
    assert.ok(slow.latency_ms.p50! >= 30 * (1 - relativeErrorBound(LATENCY_SKETCH)), `p50 ${slow.latency_ms.p50}`);
    assert.ok(slow.latency_ms.p99! <= slow.latency_ms.max! * (1 + relativeErrorBound(LATENCY_SKETCH)));
    const fail = res.json.endpoints.find((e) => e.route === '/fail')!;
    assert.deepEqual(fail.status_codes, { '500': sent.fail });
    assert.equal(fail.error_types.exception, sent.fail);
  });

  test('detail, summary and /metrics agree with the list', async () => {
    const detail = await get<EndpointDetailJson>(`${base}${P}/endpoints/%2Ffail?window=5m`, AUTH);
    validate('EndpointDetail', detail.json);
    assert.deepEqual(
      detail.json.exceptions.map((e) => [e.class, e.count, e.last_message]),
      [['Error', sent.fail, 'kaput']],
    );
    const summary = await get<SummaryJson>(`${base}${P}/summary?window=5m`, AUTH);
    validate('Summary', summary.json);
    assert.equal(summary.json.count, sent.slow + sent.fast + sent.fail + 3);
    assert.equal(summary.json.status_classes['5xx'], sent.fail);
    const prom = await get(`${base}/metrics`, AUTH);
    assert.equal(prom.status, 200);
    assert.match(prom.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(
      prom.text,
      new RegExp(
        `^http_server_request_duration_seconds_count\\{method="GET",route="/slow/\\{id\\}"\\} ${sent.slow}$`,
        'm',
      ),
    );
    assert.match(
      prom.text,
      /^http_server_request_duration_seconds_bucket\{method="GET",route="\/slow\/\{id\}",le="0\.025"\} 0$/m,
    );
  });

  test('HEAD, unknown paths under the prefix, and the routes Fastify registered', async () => {
    const head = await fetch(`${base}${P}/summary`, { method: 'HEAD', headers: AUTH });
    assert.equal(head.status, 200);
    const unknown = await get<{ detail: string }>(`${base}${P}/whatever/deep`, AUTH);
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.detail, /no metrics API route/);
    assert.equal((await get(`${base}${P}/summary`)).status, 401);
    assert.equal((await get(`${base}${P}/endpoints/`, AUTH)).status, 200, 'a trailing slash is the list');
  });

  test('without an exclusion the API routes are measured under their own templates', async () => {
    const m = createMeter({ iniPath: false, env: {} });
    const s = await start(m);
    try {
      await (await fetch(`${s.base}${P}/summary`, { headers: AUTH })).text();
      await (await fetch(`${s.base}${P}/endpoints/%2Fx`, { headers: AUTH })).text();
      await (await fetch(`${s.base}/metrics`, { headers: AUTH })).text();
      const deadline = Date.now() + 3000;
      while (m.summary('all').count < 3 && Date.now() < deadline) await sleep(10);
      assert.deepEqual(
        m
          .snapshot('all')
          .map((e) => `${e.method} ${e.route} ${e.count}`)
          .sort(),
        [`GET ${P}/endpoints/* 1`, `GET ${P}/summary 1`, 'GET /metrics 1'],
      );
    } finally {
      await s.app.close();
    }
  });
});
