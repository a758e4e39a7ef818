import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetricsApi } from './api.js';
import type { ApiResponse } from './http.js';

/** Writes an API answer to a node:http response (status, headers, Content-Length, body). */
export function writeResponse(res: ServerResponse, answer: ApiResponse): void {
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  if (!res.hasHeader('content-length')) res.setHeader('content-length', body.length);
  res.end(body);
}

/**
 * The API as a node:http request listener, which is also an Express / Connect middleware: requests for
 * the API's paths are answered, anything else goes to `next` (or gets the API's JSON 404 without one).
 * Express' `originalUrl` is used when present, so the middleware may be mounted under a path.
 *
 * @example
 * http.createServer(createNodeHandler(api)).listen(9464);
 * expressApp.use(createNodeHandler(api));
 */
export function createNodeHandler(
  api: MetricsApi,
): (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void {
  return function apimeterApiHandler(req, res, next) {
    const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    if (next !== undefined && !api.owns(url)) {
      next();
      return;
    }
    void api.handle({ method: req.method ?? 'GET', url, headers: req.headers }).then((answer) => {
      try {
        writeResponse(res, answer);
      } catch (error) {
        // The client went away or headers were already sent: nothing more to do for this request.
        api.options.onError(error);
      }
    });
  };
}
