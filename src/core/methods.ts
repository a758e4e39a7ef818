/** HTTP methods kept as themselves (OpenTelemetry's list); every other method becomes `_OTHER`. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);

export const OTHER_METHOD = '_OTHER';

/** Bounded set of method labels: a client sending `FOO` or 10 kB of letters cannot add series. */
export function normalizeMethod(method: string | undefined): string {
  if (method === undefined) return OTHER_METHOD;
  if (KNOWN_METHODS.has(method)) return method;
  if (method.length <= 7) {
    const upper = method.toUpperCase();
    if (KNOWN_METHODS.has(upper)) return upper;
  }
  return OTHER_METHOD;
}
