import { redactUrl } from '../../core/redact.js';

/** `http://user:pw@host/x` → [`http://host/x`, `Basic dXNlcjpwdw==`]: undici ignores userinfo, so it becomes a header. */
export function splitUserinfo(url: string): [string, string | null] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [url, null];
  }
  if (parsed.username === '' && parsed.password === '') return [url, null];
  const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = '';
  parsed.password = '';
  return [parsed.href, `Basic ${Buffer.from(credentials).toString('base64')}`];
}

/**
 * Wait before retry number `attempt` (1 = the first retry): `baseMs × 2^(attempt−1)` capped at `maxMs`,
 * with "equal jitter" (half of it fixed, half scaled by `random` in [0, 1)), and never shorter than the
 * server's `Retry-After` (itself capped at `maxMs`).
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: number, retryAfterMs = 0): number {
  const exp = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.max(exp / 2 + (exp / 2) * random, Math.min(retryAfterMs, maxMs));
}

/** `Retry-After` in ms: delta-seconds or an HTTP date; 0 when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return 0;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? 0 : Math.max(0, at - now);
}

/** An error's code and message, URLs redacted. */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return redactText(String(error));
  const code = (error as { code?: unknown }).code;
  const prefix = typeof code === 'string' && !error.message.includes(code) ? `${code} ` : '';
  return redactText(prefix + error.message);
}

/** Every URL inside a text, redacted. */
export function redactText(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (url) => redactUrl(url));
}
