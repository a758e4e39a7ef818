/**
 * One small API, written the idiomatic way in each framework apimeter supports, measured by that
 * framework's adapter. Every app answers the same requests with the same bodies, so the registry
 * content they produce must be identical (test/contracts/adapters.test.ts).
 *
 *   auth middleware (x-deny → 401)        before routing, app-wide
 *   GET  /api/v2/version                  prefix mount
 *   GET  /api/v2/dags/:dag_id/dagRuns/:dag_run_id   router mounted at a path with a parameter
 *   POST /api/v2/dags/:dag_id/dagRuns     JSON body; 400 validation (no `conf`), 400 malformed JSON
 *   GET  /boom                            throws SchedulerUnavailableError → 500
 *   GET  /slow                            answers after SLOW_MS
 *   GET  /stream                          STREAM_CHUNKS × STREAM_CHUNK bytes, no Content-Length
 *   anything else                         404
 */
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import express5 from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import type { FastifyError } from 'fastify';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { apimeter as fastifyApimeter } from '../../src/adapters/fastify.js';
import { apimeter as expressApimeter, apimeterErrors } from '../../src/adapters/express.js';
import { apimeter as honoApimeter } from '../../src/adapters/hono.js';
import { apimeter as nodeApimeter, recordError } from '../../src/adapters/node.js';
import type { Meter } from '../../src/core/meter.js';

export const SLOW_MS = 400;
export const STREAM_CHUNKS = 50;
export const STREAM_CHUNK = 'x'.repeat(1000);

export class SchedulerUnavailableError extends Error {}
export class ValidationError extends Error {}
class MalformedBodyError extends Error {
  status = 400;
}

export const BODY = {
  version: JSON.stringify({ version: '1' }),
  denied: JSON.stringify({ detail: 'denied' }),
  created: JSON.stringify({ created: true }),
  invalid: JSON.stringify({ detail: 'invalid body' }),
  malformed: JSON.stringify({ detail: 'malformed body' }),
  internal: JSON.stringify({ detail: 'Internal Server Error' }),
  notFound: JSON.stringify({ detail: 'Not Found' }),
  slow: JSON.stringify({ done: true }),
  run: (dagId: string) => JSON.stringify({ dag_id: dagId }),
};

export interface RunningApp {
  port: number;
  close(): Promise<void>;
}

const streamBody = () => Readable.from(Array.from({ length: STREAM_CHUNKS }, () => STREAM_CHUNK));
const hasConf = (body: unknown) =>
  body !== null && typeof body === 'object' && typeof (body as { conf?: unknown }).conf === 'object';

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function fastifyApp(meter: Meter): Promise<RunningApp> {
  const app = Fastify({ logger: false });
  await app.register(fastifyApimeter, { meter });
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers['x-deny'] !== undefined) await reply.code(401).type('application/json').send(BODY.denied);
  });
  app.setErrorHandler<FastifyError>((error, _request, reply) => {
    if (error.validation) return reply.code(400).type('application/json').send(BODY.invalid);
    if (error.statusCode === 400) return reply.code(400).type('application/json').send(BODY.malformed);
    return reply.code(500).type('application/json').send(BODY.internal);
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).type('application/json').send(BODY.notFound));
  await app.register(
    async (v2) => {
      v2.get('/version', async (_req, reply) => reply.type('application/json').send(BODY.version));
      await v2.register(
        async (dag) => {
          dag.get<{ Params: { dag_id: string } }>('/dagRuns/:dag_run_id', async (req, reply) =>
            reply.type('application/json').send(BODY.run(req.params.dag_id)),
          );
          dag.post(
            '/dagRuns',
            { schema: { body: { type: 'object', required: ['conf'], properties: { conf: { type: 'object' } } } } },
            async (_req, reply) => reply.code(201).type('application/json').send(BODY.created),
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
  app.get('/slow', async (_req, reply) => {
    await sleep(SLOW_MS);
    return reply.type('application/json').send(BODY.slow);
  });
  app.get('/stream', (_req, reply) => reply.type('text/plain').send(streamBody()));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}

type ExpressModule = typeof express5;

export async function expressApp(meter: Meter, express: ExpressModule): Promise<RunningApp> {
  const app = express();
  app.use(expressApimeter({ meter }));
  app.use((req, res, next) => {
    if (req.headers['x-deny'] !== undefined) res.status(401).type('application/json').send(BODY.denied);
    else next();
  });
  const v2 = express.Router();
  const dag = express.Router({ mergeParams: true });
  dag.get('/dagRuns/:dag_run_id', (req, res) => {
    res.type('application/json').send(BODY.run((req.params as Record<string, string>).dag_id));
  });
  dag.post('/dagRuns', express.json(), (req, res, next) => {
    if (!hasConf(req.body)) return next(new ValidationError('body must have conf'));
    res.status(201).type('application/json').send(BODY.created);
  });
  v2.get('/version', (_req, res) => {
    res.type('application/json').send(BODY.version);
  });
  v2.use('/dags/:dag_id', dag);
  app.use('/api/v2', v2);
  app.get('/boom', () => {
    throw new SchedulerUnavailableError('scheduler 42 is down');
  });
  app.get('/slow', (_req, res) => {
    setTimeout(() => res.type('application/json').send(BODY.slow), SLOW_MS);
  });
  app.get('/stream', (_req, res) => {
    res.type('text/plain');
    streamBody().pipe(res);
  });
  app.use((_req: IncomingMessage, res: express5.Response) => {
    res.status(404).type('application/json').send(BODY.notFound);
  });
  app.use(apimeterErrors());
  app.use((err: unknown, _req: express5.Request, res: express5.Response, _next: express5.NextFunction) => {
    if (err instanceof ValidationError) res.status(400).type('application/json').send(BODY.invalid);
    else if ((err as { status?: number }).status === 400) res.status(400).type('application/json').send(BODY.malformed);
    else res.status(500).type('application/json').send(BODY.internal);
  });
  const server = http.createServer(app);
  return { port: await listen(server), close: () => closeServer(server) };
}

export async function honoApp(meter: Meter): Promise<RunningApp> {
  const app = new Hono();
  app.use(honoApimeter({ meter }));
  app.use(async (c, next) => {
    if (c.req.header('x-deny') !== undefined) return c.body(BODY.denied, 401, { 'content-type': 'application/json' });
    await next();
  });
  const dag = new Hono();
  dag.get('/dagRuns/:dag_run_id', (c) =>
    c.body(BODY.run(c.req.param('dag_id') ?? ''), 200, { 'content-type': 'application/json' }),
  );
  dag.post('/dagRuns', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new MalformedBodyError('malformed JSON');
    }
    if (!hasConf(body)) throw new ValidationError('body must have conf');
    return c.body(BODY.created, 201, { 'content-type': 'application/json' });
  });
  const v2 = new Hono();
  v2.get('/version', (c) => c.body(BODY.version, 200, { 'content-type': 'application/json' }));
  v2.route('/dags/:dag_id', dag);
  app.route('/api/v2', v2);
  app.get('/boom', () => {
    throw new SchedulerUnavailableError('scheduler 42 is down');
  });
  app.get('/slow', async (c) => {
    await sleep(SLOW_MS);
    return c.body(BODY.slow, 200, { 'content-type': 'application/json' });
  });
  app.get('/stream', (c) =>
    c.body(Readable.toWeb(streamBody()) as ReadableStream<Uint8Array>, 200, { 'content-type': 'text/plain' }),
  );
  app.notFound((c) => c.body(BODY.notFound, 404, { 'content-type': 'application/json' }));
  app.onError((err, c) => {
    const json = { 'content-type': 'application/json' };
    if (err instanceof ValidationError) return c.body(BODY.invalid, 400, json);
    if (err instanceof MalformedBodyError) return c.body(BODY.malformed, 400, json);
    return c.body(BODY.internal, 500, json);
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as http.Server;
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  return { port: (server.address() as AddressInfo).port, close: () => closeServer(server) };
}

/** A plain node:http API with a hand-written router; apimeter gets the route table. */
export async function nodeApp(meter: Meter): Promise<RunningApp> {
  const json = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers['x-deny'] !== undefined) return json(res, 401, BODY.denied);
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/api/v2/version') return json(res, 200, BODY.version);
    if (method === 'GET' && (m = /^\/api\/v2\/dags\/([^/]+)\/dagRuns\/[^/]+$/.exec(path))) {
      return json(res, 200, BODY.run(decodeURIComponent(m[1])));
    }
    if (req.method === 'POST' && /^\/api\/v2\/dags\/[^/]+\/dagRuns$/.test(path)) {
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return json(res, 400, BODY.malformed);
      }
      if (!hasConf(body)) {
        recordError(res, new ValidationError('body must have conf'));
        return json(res, 400, BODY.invalid);
      }
      return json(res, 201, BODY.created);
    }
    if (method === 'GET' && path === '/boom') throw new SchedulerUnavailableError('scheduler 42 is down');
    if (method === 'GET' && path === '/slow') {
      await sleep(SLOW_MS);
      return json(res, 200, BODY.slow);
    }
    if (method === 'GET' && path === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      streamBody().pipe(res);
      return;
    }
    return json(res, 404, BODY.notFound);
  }
  const measured = nodeApimeter(handler, {
    meter,
    routes: [
      'GET /api/v2/version',
      'GET /api/v2/dags/:dag_id/dagRuns/:dag_run_id',
      'POST /api/v2/dags/{dag_id}/dagRuns',
      'GET /boom',
      'GET /slow',
      'GET /stream',
    ],
    onError: (_err, _req, res) => json(res, 500, BODY.internal),
  });
  const server = http.createServer((req, res) => void measured(req, res));
  return { port: await listen(server), close: () => closeServer(server) };
}

export const ADAPTERS: readonly { name: string; start: (meter: Meter) => Promise<RunningApp> }[] = [
  { name: 'fastify', start: fastifyApp },
  { name: 'express 4', start: (meter) => expressApp(meter, express4) },
  { name: 'express 5', start: (meter) => expressApp(meter, express5) },
  { name: 'hono (node-server)', start: honoApp },
  { name: 'node:http', start: nodeApp },
];
