import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { createMetricsApi } from '../api/api.js';
import type { MetricsApi } from '../api/api.js';
import type { MetricsApiOptions } from '../api/options.js';

export type ApimeterApiFastifyOptions = MetricsApiOptions | { api: MetricsApi };

function apimeterApiFastify(
  fastify: FastifyInstance,
  options: ApimeterApiFastifyOptions,
  done: (err?: Error) => void,
): void {
  let api: MetricsApi;
  try {
    api = 'api' in options ? options.api : createMetricsApi(options);
  } catch (error) {
    done(error as Error);
    return;
  }
  async function apimeterApiRoute(request: FastifyRequest, reply: FastifyReply) {
    const raw = request.raw;
    const answer = await api.handle({ method: raw.method ?? 'GET', url: raw.url ?? '/', headers: raw.headers });
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  }
  const { prefix, prometheusPath } = api.options;
  const paths = ['endpoints', 'endpoints/*', 'summary', 'health', 'openapi.json'].map((p) => `${prefix}/${p}`);
  // The catch-all answers unknown paths under the prefix with the API's JSON 404; at the root it would
  // swallow the application's own 404s.
  if (prefix !== '') paths.push(`${prefix}/*`);
  if (prometheusPath !== '') paths.push(prometheusPath);
  for (const url of paths) fastify.get(url, apimeterApiRoute);
  // The web page (docs/web-page.md): its own paths, for a prefix at the root, and its login and logout.
  if (prefix === '') for (const url of ['/ui', '/ui/*']) fastify.get(url, apimeterApiRoute);
  for (const url of ['login', 'logout']) fastify.post(`${prefix}/ui/${url}`, apimeterApiRoute);
  if (!('api' in options)) fastify.addHook('onClose', (_instance, next) => (api.close(), next()));
  done();
}

/**
 * Fastify 5 plugin serving the metrics REST API and the Prometheus exposition through the
 * framework-free handler of `apimeter/api`. Its routes are ordinary routes: register `apimeter` first
 * and they are measured under their templates (`/api/v2/metrics/summary`) unless
 * `metrics_excluded_endpoints` lists the prefix and the Prometheus path.
 *
 * @example
 * await app.register(apimeter, { meter });
 * await app.register(apimeterApi, { meter, token: process.env.METRICS_TOKEN });
 */
export const apimeterApi = fp(apimeterApiFastify, { fastify: '5.x', name: 'apimeter-api' });
