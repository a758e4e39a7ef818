/**
 * Credentials never leave the request. Real HTTP requests to a Fastify app in detailed mode carry a
 * Bearer token, Basic credentials, an API key and a session cookie, and a handler throws an exception
 * whose message holds a token: none of those values may appear in any answer of the metrics API, the
 * Prometheus exposition (both formats), StatsD / DogStatsD datagrams, or an OTLP export.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { apimeter } from '../src/adapters/fastify.js';
import { createMeter } from '../src/core/meter.js';
import type { Meter } from '../src/core/meter.js';
import { MemoryTransport } from '../src/exporters/memory.js';
import { startOtelExporter } from '../src/exporters/otel.js';
import { createStatsdExporter } from '../src/exporters/statsd.js';
import type { EndpointDetailJson } from '../src/api/index.js';
import { get, serveApi } from './helpers/api.js';
import type { Served } from './helpers/api.js';
import { eventually, startOtlpReceiver } from './helpers/exporters.js';

const BEARER = 'sk_live_SECRET123abcdefXYZ7890';
const PASSWORD = 'hunter2-Pa55word';
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64');
const API_KEY = 'key_SECRETKEY987654321';
const COOKIE = 'sess_SECRETCOOKIE456789';
const EMAIL = 'alice.secret@example.com';
/** Every credential, and distinctive parts of them (a value cut or re-encoded must not leak either). */
const SECRETS = [BEARER, 'SECRET123', PASSWORD, 'Pa55word', BASIC, API_KEY, 'SECRETKEY', COOKIE, 'SECRETCOOKIE', EMAIL];

function assertClean(where: string, text: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} contains ${JSON.stringify(secret)}`);
}

describe('no credential reaches any output (detailed mode, real HTTP)', () => {
  let app: FastifyInstance;
  let meter: Meter;
  let served: Served;

  before(async () => {
    meter = createMeter({ metricsDetailed: true, iniPath: false, env: {} });
    app = Fastify({ logger: false });
    await app.register(apimeter, { meter });
    app.get('/orders/:id', async (req, reply) => {
      if (req.headers.authorization === 'Bearer wrong') return reply.code(401).send({ detail: 'bad token' });
      return { id: (req.params as { id: string }).id };
    });
    app.get('/boom', async () => {
      throw new Error(`upstream refused token ${BEARER} (password ${PASSWORD}) for ${EMAIL}`);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const headerSets: Record<string, string>[] = [
      { authorization: `Bearer ${BEARER}` },
      { authorization: `Basic ${BASIC}` },
      { 'x-api-key': API_KEY },
      { cookie: `theme=dark; session=${COOKIE}` },
      { authorization: 'Bearer wrong' },
      { authorization: `Bearer ${BEARER}`, 'x-api-key': API_KEY, cookie: `session=${COOKIE}` },
    ];
    for (const headers of headerSets) {
      for (const path of ['/orders/17', '/boom']) {
        const res = await fetch(base + path, { headers });
        await res.arrayBuffer();
      }
    }
    served = await serveApi({ meter, cacheSeconds: 0, openPrometheus: true });
  });

  after(async () => {
    await served?.close();
    await app?.close();
  });

  test('the requests were recorded in detail (the check below is not vacuous)', async () => {
    const { json } = await get<EndpointDetailJson>(`${served.base}/api/v2/metrics/endpoints/%2Forders%2F%7Bid%7D`);
    assert.deepEqual(
      json.detail!.auth.by_type.map((t) => t.type),
      ['bearer', 'basic', 'api_key', 'session'],
    );
    const boom = (await get<EndpointDetailJson>(`${served.base}/api/v2/metrics/endpoints/%2Fboom`)).json;
    assert.equal(boom.detail!.error_samples.length, 5);
    assert.equal(boom.detail!.error_messages[0].count, 6);
    assert.match(boom.detail!.error_messages[0].message, /^upstream refused token <token>/);
  });

  test('metrics API answers: /endpoints (JSON and CSV), /endpoints/{endpoint}, /summary', async () => {
    const p = `${served.base}/api/v2/metrics`;
    for (const path of [
      '/endpoints?window=all',
      '/endpoints?format=csv',
      '/endpoints/%2Forders%2F%7Bid%7D',
      '/endpoints/%2Fboom?window=all',
      '/summary',
    ]) {
      const answer = await get(p + path);
      assert.equal(answer.status, 200, path);
      assertClean(path, answer.text);
    }
  });

  test('/metrics in text 0.0.4 and OpenMetrics', async () => {
    for (const accept of ['text/plain', 'application/openmetrics-text']) {
      const answer = await get(`${served.base}/metrics`, { accept });
      assert.equal(answer.status, 200);
      assert.match(answer.text, /apimeter_auth_attempts_total/);
      assertClean(`/metrics (${accept})`, answer.text);
    }
  });

  test('StatsD and DogStatsD datagrams', async () => {
    for (const dialect of ['statsd', 'datadog'] as const) {
      const transport = new MemoryTransport();
      const statsd = createStatsdExporter(meter, { transport, dialect, flushIntervalMs: 0, onStateChange: () => {} });
      await statsd.flush();
      await statsd.close();
      const text = transport.datagrams.join('\n');
      assert.match(text, /auth\.count/);
      assertClean(dialect, text);
    }
  });

  test('OTLP export', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const otel = await startOtelExporter(meter, { url: receiver.url, intervalMs: 3_600_000, env: {} });
      await otel.forceFlush();
      await eventually(() => receiver.bodies.length > 0, 'an OTLP request');
      await otel.close();
      const text = JSON.stringify(receiver.bodies);
      assert.match(text, /apimeter\.auth\.attempts/);
      assertClean('OTLP', text);
    } finally {
      await receiver.close();
    }
  });
});
