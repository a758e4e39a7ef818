/**
 * A real server for the web page's tests: Fastify with apimeter (detailed mode) and apimeterApi on
 * loopback, fed with traffic the test counts itself, plus endpoints, error messages and trace ids
 * carrying markup (XSS payloads) recorded through the meter.
 */
import Fastify from 'fastify';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { apimeter, apimeterApi } from '../../src/adapters/fastify.js';
import { createMeter } from '../../src/core/meter.js';
import type { Meter } from '../../src/core/meter.js';
import { send } from './detail-traffic.js';

export const TOKEN = 'ui-test-token-0123456789';
export const TRACE_URL = 'https://traces.example/trace/{trace_id}?span={span_id}';
/** Each payload sets window.__xss if it ever runs. */
export const XSS_ROUTE = '/x/<script>window.__xss="route"</script>';
/** Survives the message normalizer (no quotes or numbers); would open a dialog if it ran. */
export const XSS_MESSAGE = '<img src=x onerror=alert(document.domain)><script>alert(document.title)</script>';
export const XSS_TRACE = '<img src=x onerror=window.__xss="trace">';
export const XSS_CLASS = '<svg/onload=window.__xss="class">';
export const XSS_CONSUMER = '<img src=x onerror=window.__xss="consumer">';
/** The consumer (X-Client-Id) of the i-th GET /items request. */
export const consumerOfItem = (i: number): string => (i % 4 === 0 ? XSS_CONSUMER : i % 2 === 0 ? 'acme' : 'globex');

export interface UiServer {
  app: FastifyInstance;
  meter: Meter;
  base: string;
  /** Requests the test sent, by "METHOD route". */
  sent: Map<string, number>;
  /** GET /items requests the test sent, by consumer. */
  consumers: Map<string, number>;
  close(): Promise<void>;
}

export async function startUiServer(extraEndpoints = 0): Promise<UiServer> {
  const meter = createMeter({
    metricsDetailed: true,
    metricsUiTraceUrl: TRACE_URL,
    metricsExcludedEndpoints: ['/api/v2/metrics'],
    metricsMaxEndpoints: 2000,
    iniPath: false,
    env: {},
    traceSource: false,
    metricsConsumers: true,
    metricsConsumerHeader: 'x-client-id',
  });
  const app = Fastify();
  await app.register(apimeter, { meter });
  await app.register(apimeterApi, { meter, token: TOKEN });
  app.get('/items/:id', async (req, reply) => {
    const id = Number((req.params as { id: string }).id);
    if (id % 5 === 0) return reply.code(404).send({ error: 'no such item' });
    return { id, name: `item ${id}`, tags: ['a', 'b'] };
  });
  app.post('/orders', async (_req, reply) => reply.code(201).send({ ok: true }));
  app.get('/slow/:ms', async (req) => {
    await new Promise((r) => setTimeout(r, Number((req.params as { ms: string }).ms)));
    return { slow: true };
  });
  // Deprecated (the inventory view shows it as deprecated but called), and a route never called.
  app.get('/boom', { schema: { deprecated: true } as FastifySchema }, async () => {
    throw new Error('order 123 failed for user 456');
  });
  app.delete('/items/:id', async () => ({ deleted: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const base = `http://127.0.0.1:${port}`;

  const sent = new Map<string, number>();
  const count = (name: string) => sent.set(name, (sent.get(name) ?? 0) + 1);
  const jobs: Promise<unknown>[] = [];
  const consumers = new Map<string, number>();
  for (let i = 1; i <= 60; i++) {
    const consumer = consumerOfItem(i);
    jobs.push(fetch(`${base}/items/${i}`, { headers: { 'x-client-id': consumer } }).then((r) => r.arrayBuffer()));
    count('GET /items/:id');
    consumers.set(consumer, (consumers.get(consumer) ?? 0) + 1);
  }
  for (let i = 0; i < 12; i++) {
    jobs.push(
      fetch(`${base}/orders`, {
        method: 'POST',
        body: '{"a":1}',
        headers: { 'content-type': 'application/json' },
      }).then((r) => r.arrayBuffer()),
    );
    count('POST /orders');
  }
  for (let i = 0; i < 8; i++) {
    jobs.push(fetch(`${base}/slow/40`).then((r) => r.arrayBuffer()));
    count('GET /slow/:ms');
  }
  for (let i = 0; i < 4; i++) {
    jobs.push(fetch(`${base}/boom`).then((r) => r.arrayBuffer()));
    count('GET /boom');
  }
  await Promise.all(jobs);

  // Markup in every place a recorded value reaches the page: route, exception class and message, trace id.
  const xss = meter.endpoint('GET', XSS_ROUTE)!;
  class XssError extends Error {}
  Object.defineProperty(XssError, 'name', { value: XSS_CLASS });
  for (let i = 0; i < 3; i++) {
    send(meter, xss, {
      status: 500,
      ms: 5 + i,
      error: new XssError(XSS_MESSAGE),
      trace: [XSS_TRACE, `<b>span${i}</b>`],
    });
  }
  for (let i = 0; i < extraEndpoints; i++) {
    const ep = meter.endpoint('GET', `/generated/${i}/{id}`)!;
    meter.record(ep, 200, 1 + (i % 50), -1, 100, 0);
  }
  return { app, meter, base, sent, consumers, close: () => app.close() };
}
