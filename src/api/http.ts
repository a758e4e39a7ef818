/** A request as the metrics API sees it: any server (node:http, Fastify, Express, Hono) can build one. */
export interface ApiRequest {
  method: string;
  /** Path and query string, as received (`/api/v2/metrics/endpoints?limit=5`). */
  url: string;
  /** Header names in lower case, as node:http gives them. */
  headers: Record<string, string | string[] | undefined>;
}

/** What the API answers; the caller writes it to its own response object. */
export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * An error answer with a JSON body `{ detail, status, title }`; 400s name the `parameter` at fault and,
 * where there is a closed set, the `allowed` values. Thrown inside route code, turned into a response by
 * the router.
 */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly extra: { parameter?: string; allowed?: readonly string[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'ApiProblem';
  }
}

/** A 400 for one query parameter; the detail starts with the parameter's name. */
export function badParameter(parameter: string, detail: string, allowed?: readonly string[]): ApiProblem {
  const list = allowed === undefined ? '' : `; allowed: ${allowed.join(', ')}`;
  return new ApiProblem(400, `${parameter}: ${detail}${list}`, { parameter, allowed });
}

const JSON_TYPE = 'application/json; charset=utf-8';

export function jsonResponse(status: number, value: unknown, headers: Record<string, string> = {}): ApiResponse {
  return {
    status,
    headers: {
      'content-type': JSON_TYPE,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    },
    body: JSON.stringify(value),
  };
}

export function problemResponse(problem: ApiProblem): ApiResponse {
  const { parameter, allowed, headers } = problem.extra;
  const body: Record<string, unknown> = {
    detail: problem.detail,
    status: problem.status,
    title: TITLES[problem.status] ?? 'Error',
  };
  if (parameter !== undefined) body.parameter = parameter;
  if (allowed !== undefined) body.allowed = [...allowed];
  return jsonResponse(problem.status, body, headers);
}

/** First value of a header (names are matched in lower case). */
export function headerOf(request: ApiRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
