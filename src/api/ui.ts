import type { AccessDecision } from './auth.js';
import { bearerToken, TOKEN_COOKIE } from './auth.js';
import { ApiProblem, headerOf } from './http.js';
import type { ApiRequest, ApiResponse } from './http.js';
import type { ResolvedOptions } from './options.js';
import { loadAssets, PUBLIC_ASSETS } from '../ui/assets.js';
import type { Asset } from '../ui/assets.js';
import { appPage, loginPage } from '../ui/page.js';

/** The web page under `{prefix}/ui`: the login page, the app page, their assets, login and logout. */
export interface Ui {
  owns(path: string): boolean;
  answer(request: ApiRequest, path: string): Promise<ApiResponse>;
}

/** Twelve hours: a browser session, not a standing credential. */
const COOKIE_SECONDS = 12 * 3600;

// No inline script or style, nothing from another origin; uPlot's inline styles are set through the
// CSSOM (element.style), which style-src does not restrict.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

function refuse(decision: Exclude<AccessDecision, 'ok'>): ApiProblem {
  if (decision === 403) return new ApiProblem(403, 'the credentials given are not valid for the metrics API');
  if (decision === 'unconfigured') {
    return new ApiProblem(
      401,
      'the metrics API has no token configured: set [api] metrics_api_token, or pass authorize()',
    );
  }
  return new ApiProblem(401, 'credentials required: sign in at the web page, or send "Authorization: Bearer <token>"');
}

/**
 * A state-changing POST must come from the page itself: an Origin naming this host (browsers send it on
 * every POST), `Sec-Fetch-Site` (when sent) same-origin, and a JSON content type, which a cross-site form
 * cannot send and a cross-site fetch cannot send without a CORS preflight this API never grants.
 */
function checkSameOrigin(request: ApiRequest): URL {
  const origin = headerOf(request, 'origin');
  let url: URL | null = null;
  try {
    url = origin === undefined ? null : new URL(origin);
  } catch {
    url = null;
  }
  const hosts = [headerOf(request, 'host'), headerOf(request, 'x-forwarded-host')];
  if (url === null || !hosts.includes(url.host)) {
    throw new ApiProblem(403, 'the login and logout routes take requests from the web page only (Origin)');
  }
  const site = headerOf(request, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') {
    throw new ApiProblem(403, 'the login and logout routes take requests from the web page only (Sec-Fetch-Site)');
  }
  if (!/^application\/json\s*(;|$)/i.test(headerOf(request, 'content-type') ?? '')) {
    throw new ApiProblem(415, 'send Content-Type: application/json');
  }
  return url;
}

export function createUi(opts: ResolvedOptions, access: (request: ApiRequest) => Promise<AccessDecision>): Ui {
  const base = `${opts.prefix}/ui`;
  const cookiePath = opts.prefix === '' ? '/' : opts.prefix;
  let assets: ReadonlyMap<string, Asset> | undefined;
  let app: string | undefined;
  let login: string | undefined;

  function cookie(value: string, seconds: number, secure: boolean): string {
    const flags = `Path=${cookiePath}; Max-Age=${seconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
    return `${TOKEN_COOKIE}=${value}; ${flags}`;
  }

  function page(html: string): ApiResponse {
    return { status: 200, headers: { ...PAGE_HEADERS }, body: html };
  }

  function serveAsset(request: ApiRequest, file: Asset): ApiResponse {
    const headers: Record<string, string> = {
      'content-type': file.type,
      'cache-control': 'no-cache',
      etag: file.etag,
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
    };
    if (headerOf(request, 'if-none-match') === file.etag) return { status: 304, headers, body: '' };
    if (/\bgzip\b/i.test(headerOf(request, 'accept-encoding') ?? '')) {
      return { status: 200, headers: { ...headers, 'content-encoding': 'gzip' }, body: file.gzip };
    }
    return { status: 200, headers, body: file.body };
  }

  async function postRoute(request: ApiRequest, sub: string): Promise<ApiResponse> {
    const origin = checkSameOrigin(request);
    const secure = origin.protocol === 'https:';
    if (sub === 'logout') {
      return { status: 204, headers: { 'set-cookie': cookie('', 0, secure), 'cache-control': 'no-store' }, body: '' };
    }
    const token = bearerToken(request);
    if (token === undefined) throw new ApiProblem(400, 'send the token as "Authorization: Bearer <token>"');
    const decision = await access(request);
    if (decision !== 'ok') throw refuse(decision);
    return {
      status: 204,
      headers: { 'set-cookie': cookie(encodeURIComponent(token), COOKIE_SECONDS, secure), 'cache-control': 'no-store' },
      body: '',
    };
  }

  return {
    owns(path: string): boolean {
      return path === base || path.startsWith(base + '/');
    },
    async answer(request: ApiRequest, path: string): Promise<ApiResponse> {
      const sub = path === base ? '' : path.slice(base.length + 1);
      if (sub === 'login' || sub === 'logout') {
        if (request.method !== 'POST') {
          throw new ApiProblem(405, `${request.method.slice(0, 20)} is not allowed; use POST`, {
            headers: { allow: 'POST' },
          });
        }
        return postRoute(request, sub);
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        throw new ApiProblem(405, `${request.method.slice(0, 20)} is not allowed; use GET`, {
          headers: { allow: 'GET, HEAD' },
        });
      }
      assets ??= loadAssets();
      if (sub === '') {
        if ((await access(request)) !== 'ok') return page((login ??= loginPage(base, opts.prefix)));
        return page((app ??= appPage(base, opts.prefix, opts.meter.config.metricsUiTraceUrl)));
      }
      const name = sub.startsWith('assets/') ? sub.slice('assets/'.length) : null;
      const file = name === null ? undefined : assets.get(name);
      if (file !== undefined && PUBLIC_ASSETS.has(name as string)) return serveAsset(request, file);
      const decision = await access(request);
      if (decision !== 'ok') throw refuse(decision);
      if (file === undefined)
        throw new ApiProblem(404, `no page at ${JSON.stringify(path.slice(0, 200))}; the page is ${base}`);
      return serveAsset(request, file);
    },
  };
}
