import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { createMetricsApi } from '../api/api.js';
import type { MetricsApi } from '../api/api.js';
import type { MetricsApiOptions } from '../api/options.js';

export type ApimeterApiFastifyOptions = MetricsApiOptions | { api: MetricsApi };

/** Answers with the API; `mount` is the prefix of an enclosing Fastify plugin, which the API does not see. */
async function answerWith(api: MetricsApi, request: FastifyRequest, reply: FastifyReply, mount = '') {
  const raw = request.raw;
  let url = raw.url ?? '/';
  if (mount !== '' && url.startsWith(mount)) url = url.slice(mount.length);
  const answer = await api.handle({ method: raw.method ?? 'GET', url, headers: raw.headers });
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}

/**
 * Fastify's `frameworkErrors` server option for the metrics API. Fastify rejects a malformed
 * percent-encoding (`/api/v2/metrics/endpoints/%`, FST_ERR_BAD_URL) before any route or plugin sees it;
 * with this option such requests under the API's paths get the API's own answer (access checked first,
 * then a 400 or 404 in its JSON error format). Other requests go to `fallback`, or get Fastify's default.
 *
 * @example
 * const api = createMetricsApi({ meter, token });
 * const app = Fastify({ frameworkErrors: apimeterFrameworkErrors(api) });
 * await app.register(apimeterApi, { api });
 */
export function apimeterFrameworkErrors(
  api: MetricsApi,
  fallback?: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return function apimeterFrameworkErrors(error, request, reply) {
    if (api.owns(request.raw.url ?? '/')) void answerWith(api, request, reply);
    else if (fallback !== undefined) fallback(error, request, reply);
    else void reply.send(error);
  };
}

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
  // Inside a prefixed plugin, the routes sit under that prefix too: the API sees URLs without it.
  const mount = fastify.prefix;
  async function apimeterApiRoute(request: FastifyRequest, reply: FastifyReply) {
    return answerWith(api, request, reply, mount);
  }
  const { prefix, prometheusPath } = api.options;
  const paths = ['endpoints', 'endpoints/*', 'summary', 'health', 'openapi.json'].map((p) => `${prefix}/${p}`);
  // The catch-all answers unknown paths under the prefix with the API's JSON 404; at the root it would
  // swallow the application's own 404s.
  if (prefix !== '') paths.push(prefix, `${prefix}/*`);
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
