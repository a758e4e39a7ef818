import type { HeaderReader } from './context.js';

/** Authentication schemes told apart. `none`: no credentials presented (counted only when refused). */
export const AUTH_TYPES = ['bearer', 'basic', 'api_key', 'session', 'other', 'none'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];
const AUTH_OTHER = AUTH_TYPES.indexOf('other');

export interface AuthHeaderRules {
  apiKeyHeaders: readonly string[];
  sessionCookies: readonly string[];
}

/**
 * The kind of credentials a request presents, as an index into AUTH_TYPES, or -1 for none. Reads only
 * the scheme word of Authorization, and only whether an API-key header or session cookie is present:
 * values are never copied anywhere.
 */
export function authTypeOf(header: HeaderReader, rules: AuthHeaderRules): number {
  const auth = header('authorization');
  if (typeof auth === 'string' && auth.length > 0) {
    const space = auth.indexOf(' ');
    const scheme = (space === -1 ? auth : auth.slice(0, space)).toLowerCase();
    if (scheme === 'bearer') return 0;
    if (scheme === 'basic') return 1;
    return AUTH_OTHER;
  }
  for (const name of rules.apiKeyHeaders) {
    const v = header(name);
    if (v !== undefined && v !== null && v !== '') return 2;
  }
  if (rules.sessionCookies.length > 0) {
    const cookie = header('cookie');
    if (typeof cookie === 'string' && hasCookie(cookie, rules.sessionCookies)) return 3;
  }
  return -1;
}

function hasCookie(cookie: string, names: readonly string[]): boolean {
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (names.includes(name) && part.slice(eq + 1).trim() !== '') return true;
  }
  return false;
}
