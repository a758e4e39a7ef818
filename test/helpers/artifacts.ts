import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { apimeter, apimeterApi } from '../../src/adapters/fastify.js';
import { noteQuery } from '../../src/core/detail.js';
import { createMeter } from '../../src/core/meter.js';
import type { Meter, MeterOptions } from '../../src/core/meter.js';

/**
 * A test API measured by apimeter, served with the metrics API's /metrics open to Prometheus. Every
 * route exercises one panel family: errors, auth, rate limits, database queries, body sizes.
 */
export interface TestApp {
  readonly app: FastifyInstance;
  readonly meter: Meter;
  readonly host: string;
  /** Sends one round of traffic; `fail` requests answer 500. */
  round(fail: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTestApp(options: MeterOptions): Promise<TestApp> {
  const meter = createMeter({
    iniPath: false,
    env: {},
    metricsExcludedEndpoints: ['/metrics', '/api/v2/metrics'],
    ...options,
  });
  const app = Fastify({ logger: false });
  await app.register(apimeter, { meter });
  app.get('/items/:id', async (req, reply) => {
    if (req.headers.authorization === 'Bearer bad') return reply.code(401).send({ error: 'no' });
    return { id: (req.params as { id: string }).id, padding: 'x'.repeat(300) };
  });
  app.post('/items', async (req) => ({ got: JSON.stringify(req.body).length }));
  app.get('/fail', async (_req, reply) => reply.code(500).send({ error: 'down' }));
  app.get('/limited', async (_req, reply) =>
    reply.code(429).header('RateLimit-Limit', '10').header('RateLimit-Remaining', '0').send({ error: 'slow down' }),
  );
  app.get('/db', async () => {
    noteQuery(3);
    noteQuery(4);
    return { rows: 2 };
  });
  await app.register(apimeterApi, { meter, token: 'artifacts-token', openPrometheus: true });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const send = async (path: string, init?: RequestInit) => {
    await (await fetch(base + path, init)).arrayBuffer();
  };
  return {
    app,
    meter,
    host: new URL(base).host,
    async round(fail: number) {
      await send('/items/1', { headers: { authorization: 'Bearer good' } });
      await send('/items/2', { headers: { authorization: 'Bearer bad' } });
      await send('/items', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'y'.repeat(500) }),
      });
      await send('/limited');
      await send('/db');
      for (let i = 0; i < fail; i++) await send('/fail');
    },
    close: () => app.close(),
  };
}

export { PROMETHEUS_SKIP, PROMTOOL_SKIP, promtoolCheckRules, startPrometheus } from './prometheus-server.js';
export type { RunningPrometheus, VectorResult } from './prometheus-server.js';
