import { createHash, timingSafeEqual } from 'node:crypto';
import { headerOf } from './http.js';
import type { ApiRequest } from './http.js';
import type { ResolvedOptions } from './options.js';

/**
 * `ok`, or the status to answer: 401 without (usable) credentials, 403 with wrong ones, and
 * `unconfigured` (also a 401) when neither a token nor an authorize function was set up.
 */
export type AccessDecision = 'ok' | 401 | 403 | 'unconfigured';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** The bearer token of an Authorization header, or undefined when there is none (or another scheme). */
export function bearerToken(request: ApiRequest): string | undefined {
  const header = headerOf(request, 'authorization');
  if (header === undefined) return undefined;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return m === null ? undefined : m[1];
}

/** The cookie the web page's login sets (HttpOnly, SameSite=Strict, Path = the API's prefix). */
export const TOKEN_COOKIE = 'apimeter_token';

/** The token of the web page's cookie, or undefined when the request carries none. */
function cookieToken(request: ApiRequest): string | undefined {
  const header = headerOf(request, 'cookie');
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== TOKEN_COOKIE) continue;
    try {
      const value = decodeURIComponent(part.slice(eq + 1).trim());
      return value === '' ? undefined : value;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * The access check: the user's `authorize` function if given, else the bearer token. With neither, the
 * API stays closed (never open by default: docs/api.md, Access) and says how to open it. Tokens
 * are compared as SHA-256 digests with `timingSafeEqual`: equal lengths always, and the time taken says
 * nothing about how much of the token was right. Without an Authorization header, the web page's cookie
 * is taken as the bearer token (for `authorize`, as if it had been sent as `Authorization: Bearer …`).
 */
export function createAccessCheck(opts: ResolvedOptions): (request: ApiRequest) => Promise<AccessDecision> {
  const { authorize, token } = opts;
  if (authorize !== null) {
    return async function authorizeAccess(request) {
      const fromCookie = headerOf(request, 'authorization') === undefined ? cookieToken(request) : undefined;
      const asked =
        fromCookie === undefined
          ? request
          : { ...request, headers: { ...request.headers, authorization: `Bearer ${fromCookie}` } };
      if (await authorize(asked)) return 'ok';
      return headerOf(asked, 'authorization') === undefined ? 401 : 403;
    };
  }
  if (token === '') return async () => 'unconfigured';
  const expected = digest(token);
  return async function tokenAccess(request) {
    const given = headerOf(request, 'authorization') === undefined ? cookieToken(request) : bearerToken(request);
    if (given === undefined) return 401;
    return timingSafeEqual(digest(given), expected) ? 'ok' : 403;
  };
}

export const CHALLENGE = { 'www-authenticate': 'Bearer realm="apimeter"' };
