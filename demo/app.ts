import Fastify from 'fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import { WINDOW_NAMES } from '../src/index.js';
import type { Meter, WindowName } from '../src/index.js';
import { apimeter } from '../src/adapters/fastify.js';
import type { DemoDb } from './db.js';
import { Latency } from './latency.js';
import { apiRoutes, SchedulerUnavailableError } from './routes.js';

export interface DemoAppOptions {
  db: DemoDb;
  meter: Meter;
  /** Multiplies every artificial delay; 0 turns them off (tests). Default 1. */
  latencyScale?: number;
  /** Share of task-instance listings that throw SchedulerUnavailableError. Default 0.03. */
  faultRate?: number;
  random?: () => number;
  logger?: boolean;
}

/** Where the interim metrics routes live; the meter must exclude it (`metricsExcludedEndpoints`). */
export const METRICS_PREFIX = '/apimeter';

/** The demo API: an Airflow-shaped REST API under `/api/v2`, measured by apimeter. */
export async function buildApp(opts: DemoAppOptions): Promise<FastifyInstance> {
  const random = opts.random ?? Math.random;
  const app = Fastify({ logger: opts.logger ?? false });

  // Before any route: the plugin reads each route as it is added.
  await app.register(apimeter, { meter: opts.meter });

  app.setErrorHandler<FastifyError>(function demoErrorHandler(error, request, reply) {
    if (error.validation) return reply.code(400).send({ detail: error.message });
    const status = error.statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ detail: error.message });
    if (!(error instanceof SchedulerUnavailableError)) request.log.error(error);
    return reply.code(status).send({ detail: status === 500 ? `Internal Server Error: ${error.name}` : error.message });
  });
  app.setNotFoundHandler(function demoNotFound(_request, reply) {
    return reply.code(404).send({ detail: 'Not Found' });
  });

  await app.register(apiRoutes, {
    prefix: '/api/v2',
    db: opts.db,
    latency: new Latency(opts.latencyScale ?? 1, random),
    faultRate: opts.faultRate ?? 0.03,
    random,
  });
  await app.register(metricsRoutes, { prefix: METRICS_PREFIX, meter: opts.meter });
  return app;
}

/** Interim metrics API until src/api exists: live snapshots straight from the meter. */
async function metricsRoutes(app: FastifyInstance, opts: { meter: Meter }): Promise<void> {
  const windowOf = (q: unknown): string => {
    const w = (q as { window?: unknown }).window;
    return typeof w === 'string' ? w : '1m';
  };
  const isWindow = (w: string): w is WindowName => (WINDOW_NAMES as readonly string[]).includes(w);
  const badWindow = (w: string) => ({ detail: `window must be one of ${WINDOW_NAMES.join(', ')} (got "${w}")` });

  app.get('/endpoints', async (req, reply) => {
    const w = windowOf(req.query);
    if (!isWindow(w)) return reply.code(400).send(badWindow(w));
    return { endpoints: opts.meter.snapshot(w) };
  });
  app.get('/summary', async (req, reply) => {
    const w = windowOf(req.query);
    if (!isWindow(w)) return reply.code(400).send(badWindow(w));
    return opts.meter.summary(w);
  });
}
