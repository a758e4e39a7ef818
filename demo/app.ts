import Fastify from 'fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Meter } from '../src/index.js';
import type { HistorySource } from '../src/api/index.js';
import { apimeter, apimeterApi } from '../src/adapters/fastify.js';
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
  /** Bearer token of the metrics API (the demo generates one when none is configured). */
  token: string;
  /** Stored history (when `api_metrics_persistence` is on): windows of 6h, 24h, 7d, 30d. */
  history?: HistorySource | null;
}

/** Where the metrics REST API lives; the meter excludes it (`metricsExcludedEndpoints`). */
export const METRICS_PREFIX = '/api/v2/metrics';
/** The Prometheus exposition, open (no token), as Prometheus users expect. */
export const PROMETHEUS_PATH = '/metrics';

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
  // Incidents the traffic generator induces (demo/traffic.ts): a 5xx burst and a latency regression.
  app.addHook('onRequest', async function demoIncident(request, reply) {
    const fault = request.headers['x-demo-incident'];
    if (fault === 'error') return reply.code(503).send({ detail: 'Service Unavailable: induced incident' });
    if (fault === 'slow') await new Promise((resolve) => setTimeout(resolve, 1500 * (opts.latencyScale ?? 1)));
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
  await app.register(apimeterApi, {
    meter: opts.meter,
    prefix: METRICS_PREFIX,
    prometheusPath: PROMETHEUS_PATH,
    token: opts.token,
    history: opts.history ?? null,
    openPrometheus: true,
    onError: (error) => app.log.error(error),
  });
  return app;
}
